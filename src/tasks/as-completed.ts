/**
 * `asCompleted`: iterate over awaitables in the order they finish (asyncio 3.13 semantics).
 */
import { TimeoutError } from "../core/errors.js";
import type { Awaitable, EventLoop } from "../core/event-loop.js";
import { Future } from "../core/future.js";
import { getEventLoop } from "../core/policy.js";
import { ensureFuture } from "../core/tasks.js";
import { checkOptionalTime, className, isInstance, isIterableObject, isThenable, readChecked, readOptions, typeError } from "../core/validate.js";

export interface AsCompletedOptions {
  /** After this many milliseconds, every further item throws `TimeoutError`. */
  timeout?: number | null;
}

function checkAsCompletedItem(aw: unknown, i: number): void {
  if (!(aw instanceof Future) && typeof aw !== "function" && !isThenable(aw)) {
    throw typeError(`aws[${i}]`, "a Future, a Task, a promise or a function returning one", aw);
  }
}

/**
 * Iterates over `aws` in completion order.
 *
 * - `for await (const fut of asCompleted(tasks))` gives the original futures/tasks as they finish;
 * - `for (const next of asCompleted(tasks)) await next` gives promises of their results instead;
 *   each one takes the next future to finish when it is awaited, not when the iterator made it.
 *
 * With `timeout`, items still missing when it passes throw `TimeoutError`.
 *
 * @example
 * for await (const task of asCompleted(downloads, { timeout: 10_000 })) {
 *   console.log("finished", task.getName(), task.result());
 * }
 */
export function asCompleted<T>(
  aws: Iterable<Awaitable<T>>,
  options: AsCompletedOptions = {},
): AsyncIterable<Future<T>> & Iterable<Promise<T>> {
  if (isInstance(aws, Future) || isThenable(aws)) {
    // asyncio's own message, byte for byte.
    throw new TypeError(`expects an iterable of awaitables, not ${className(aws)}`);
  }
  if (!isIterableObject(aws)) throw typeError("aws", "an iterable of futures, tasks or promises", aws);
  options = readOptions("options", options);
  const ms = options.timeout ?? null;
  checkOptionalTime("options.timeout", ms);
  // Checked before any promise or function is wrapped in a task.
  const list = readChecked(aws, checkAsCompletedItem);
  return new AsCompletedIterator<T>(new Set(list), ms);
}

class AsCompletedIterator<T> implements AsyncIterable<Future<T>>, Iterable<Promise<T>> {
  readonly #loop: EventLoop;
  readonly #todo: Set<Future<T>>;
  /**
   * Finished futures not yet handed out; null marks "timed out". Boxed, because resolving a future
   * with another future (a thenable) would adopt its result instead of passing it on.
   */
  readonly #done: Array<{ item: Future<T> | null }> = [];
  readonly #getters: Future<{ item: Future<T> | null }>[] = [];
  #todoLeft: number;
  #timeoutHandle: { cancel(): void } | null = null;

  constructor(aws: Set<Awaitable<T>>, ms: number | null) {
    const loop = getEventLoop();
    this.#loop = loop;
    this.#todo = new Set([...aws].map((aw) => ensureFuture(aw, { loop })));
    for (const f of this.#todo) f.addDoneCallback(this.#onCompletion);
    if (this.#todo.size > 0 && ms !== null) this.#timeoutHandle = loop.callLater(ms, this.#onTimeout);
    this.#todoLeft = this.#todo.size;
  }

  readonly #onTimeout = (): void => {
    for (const f of this.#todo) {
      f.removeDoneCallback(this.#onCompletion);
      this.#put(null);
    }
    this.#todo.clear();
  };

  readonly #onCompletion = (f: Future<T>): void => {
    if (this.#todo.size === 0) return; // the timeout came first
    this.#todo.delete(f);
    this.#put(f);
    if (this.#todo.size === 0 && this.#timeoutHandle !== null) this.#timeoutHandle.cancel();
  };

  #put(item: Future<T> | null): void {
    for (let getter = this.#getters.shift(); getter !== undefined; getter = this.#getters.shift()) {
      if (!getter.done()) {
        getter.setResult({ item });
        return;
      }
    }
    this.#done.push({ item });
  }

  /** The next finished future, boxed (an async function's result adopts thenables). */
  async #next(): Promise<{ item: Future<T> }> {
    let box = this.#done.shift();
    if (box === undefined) {
      const getter = this.#loop.createFuture<{ item: Future<T> | null }>();
      this.#getters.push(getter);
      box = await getter;
    }
    const item = box.item;
    if (item === null) throw new TimeoutError();
    return { item };
  }

  readonly #nextResult = async (): Promise<T> => (await this.#next()).item.result();

  [Symbol.asyncIterator](): AsyncIterator<Future<T>> {
    return {
      next: async (): Promise<IteratorResult<Future<T>>> => {
        if (this.#todoLeft === 0) return { done: true, value: undefined };
        this.#todoLeft--;
        return { done: false, value: (await this.#next()).item };
      },
    };
  }

  [Symbol.iterator](): Iterator<Promise<T>> {
    return {
      next: (): IteratorResult<Promise<T>> => {
        if (this.#todoLeft === 0) return { done: true, value: undefined };
        this.#todoLeft--;
        // Typed as the Promise it stands for; like the thenables Future.then() returns.
        return { done: false, value: new NextCompleted(this.#nextResult) as unknown as Promise<T> };
      },
    };
  }
}

/**
 * One item of the plain iterator: it takes a finished future only when it is first awaited (or
 * chained on), as asyncio's `_wait_for_one()` coroutines do. So the first item awaited gets the
 * first future to finish, whichever item it is: `const [a, b] = asCompleted(fs); await b` gives
 * the first result.
 */
class NextCompleted<T> implements PromiseLike<T> {
  #take: (() => Promise<T>) | null;
  #promise: Promise<T> | null = null;

  constructor(take: () => Promise<T>) {
    this.#take = take;
  }

  #started(): Promise<T> {
    const take = this.#take;
    if (take !== null) {
      this.#take = null;
      this.#promise = take();
    }
    return this.#promise as Promise<T>;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#started().then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#started().catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#started().finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return "Promise";
  }
}
