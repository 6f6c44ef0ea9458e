/**
 * `gather`: run awaitables concurrently and collect their results in argument order.
 */
import { CancelledError } from "../core/errors.js";
import type { EventLoop, Awaitable } from "../core/event-loop.js";
import { Future, isFuture } from "../core/future.js";
import { getEventLoop } from "../core/policy.js";
import { kCallGraphParts, kDescribeWait, kGatherStamp, kLogDestroyPending, kMakeCancelled, kMarkRetrieved } from "../core/symbols.js";
import { Task } from "../core/task.js";
import { ensureFuture } from "../core/tasks.js";
import { types } from "node:util";
import { isThenable, readChecked, readOptions, typeError } from "../core/validate.js";

/** What `gather` accepts per item: an awaitable, or a function to start as a task. */
export type GatherInput<T = unknown> = Awaitable<T> | (() => T | PromiseLike<T>);

/** What an input gives: a function's awaited return value, else the awaited input (distributes over unions). */
type ResultOf<I> = I extends () => infer R ? Awaited<R> : Awaited<I>;

/** The results of a tuple (or array) of inputs, position by position. */
type Results<I extends readonly unknown[]> = { -readonly [K in keyof I]: ResultOf<I[K]> };

/** The same with `returnExceptions: true`: each position may hold the error instead. */
type ResultsOrErrors<I extends readonly unknown[]> = { -readonly [K in keyof I]: ResultOf<I[K]> | Error };

export interface GatherOptions {
  /** Put errors (and `CancelledError`s) in the result list instead of failing at the first one. */
  returnExceptions?: boolean;
}

let gatherCount = 0;

/** The outer future of `gather`: cancelling it cancels every child that is not done. */
class GatheringFuture<T> extends Future<T> {
  readonly #children: Future<unknown>[];
  cancelRequested = false;

  constructor(children: Future<unknown>[], loop: EventLoop) {
    super({ loop });
    this.#children = children;
  }

  override cancel(msg?: string): boolean {
    if (msg !== undefined && typeof msg !== "string") throw typeError("msg", "a string or undefined", msg);
    if (this.done()) return false;
    let cancelledAny = false;
    for (const child of this.#children) {
      if (child.cancel(msg)) cancelledAny = true;
    }
    // If a child swallows the cancel, the outer still ends with CancelledError (asyncio).
    if (cancelledAny) this.cancelRequested = true;
    return cancelledAny;
  }

  /** @internal the children, for the call graph (core/call-graph.ts). */
  [kCallGraphParts](): Iterable<Future<unknown>> {
    return this.#children;
  }

  /** @internal */
  [kDescribeWait](): string {
    const done = this.#children.filter((child) => child.done()).length;
    return `gather() of ${this.#children.length} (${done} done)`;
  }
}

function checkGatherItem(arg: unknown, i: number): void {
  if (!isFuture(arg) && (typeof arg !== "function" || types.isProxy(arg)) && !isThenable(arg)) {
    throw typeError(`aws[${i}]`, "a Future, a Task, a promise or a function returning one", arg);
  }
}

function isListForm(args: unknown[]): boolean {
  if (args.length === 0 || args.length > 2) return false;
  const first = args[0];
  if (typeof first !== "object" || first === null || types.isProxy(first) || isThenable(first) || isFuture(first)) return false;
  if (typeof (first as Iterable<unknown>)[Symbol.iterator] !== "function") return false;
  const second = args[1];
  return args.length === 1 || second === undefined || (typeof second === "object" && second !== null && !isThenable(second));
}

/**
 * Runs the awaitables concurrently; the result is the list of their results in argument order.
 *
 * Two forms: `gather(a, b, c)` and `gather([a, b, c], { returnExceptions })`. A function is started
 * as a task; the same awaitable given twice runs once. Without `returnExceptions`, the first error
 * fails the gather (the others keep running); with it, errors take their place in the list.
 * Cancelling the gather cancels every child that is not done.
 *
 * @example
 * const [user, posts] = await gather(() => getUser(id), () => getPosts(id));
 * const results = await gather(jobs, { returnExceptions: true });
 */
export function gather<const I extends readonly GatherInput[]>(
  aws: I,
  options?: GatherOptions & { returnExceptions?: false },
): Future<Results<I>>;
export function gather<const I extends readonly GatherInput[]>(
  aws: I,
  options: GatherOptions & { returnExceptions: true },
): Future<ResultsOrErrors<I>>;
export function gather<I extends GatherInput>(
  aws: Iterable<I>,
  options?: GatherOptions & { returnExceptions?: false },
): Future<Array<ResultOf<I>>>;
export function gather<I extends GatherInput>(aws: Iterable<I>, options?: GatherOptions): Future<Array<ResultOf<I> | Error>>;
export function gather<const I extends readonly GatherInput[]>(...aws: I): Future<Results<I>>;
export function gather(...args: unknown[]): Future<unknown[]> {
  let items: unknown[];
  let returnExceptions = false;
  if (isListForm(args)) {
    items = readChecked(args[0] as Iterable<unknown>, checkGatherItem);
    const options = readOptions("options", args[1] as GatherOptions | undefined);
    {
      if (options.returnExceptions !== undefined && typeof options.returnExceptions !== "boolean") {
        throw typeError("options.returnExceptions", "a boolean", options.returnExceptions);
      }
      returnExceptions = options.returnExceptions === true;
    }
  } else {
    items = args;
    // Checked up front, so a bad item does not leave tasks started for the items before it.
    for (let i = 0; i < items.length; i++) checkGatherItem(items[i], i);
  }
  if (items.length === 0) {
    const done = getEventLoop().createFuture<unknown[]>();
    done.setResult([]);
    return done;
  }

  let loop: EventLoop | undefined;
  const stamp = ++gatherCount;
  // Futures are recognised by a stamp; other awaitables need a map. Functions are not
  // deduplicated: like calling a coroutine function twice, each one starts its own task.
  let byThenable: Map<unknown, Future<unknown>> | null = null;
  const children: Future<unknown>[] = [];
  let nfuts = 0;
  let nfinished = 0;
  let outer: GatheringFuture<unknown[]> | null = null;

  const onChildDone = (fut: Future<unknown>): void => {
    nfinished++;
    if (outer === null || outer.done()) {
      // Nobody will see this child's error now; mark it retrieved so it is not reported.
      if (!fut.cancelled()) fut.exception();
      return;
    }
    if (!returnExceptions) {
      if (fut.cancelled()) {
        outer.setException(fut[kMakeCancelled]());
        return;
      }
      // Boxed: a child may fail with null (exception() would return null as for no error).
      const exc = fut[kMarkRetrieved]();
      if (exc !== undefined) {
        outer.setException(exc.error);
        return;
      }
    }
    if (nfinished === nfuts) {
      const results = children.map((child) => {
        if (child.cancelled()) return new CancelledError(child[kMakeCancelled]().message);
        const exc = child[kMarkRetrieved]();
        return exc === undefined ? child.result() : exc.error;
      });
      if (outer.cancelRequested) outer.setException(fut[kMakeCancelled]());
      else outer.setResult(results);
    }
  };

  for (const arg of items) {
    let fut: Future<unknown> | undefined;
    if (arg instanceof Future) {
      if (arg[kGatherStamp] === stamp) {
        children.push(arg);
        continue;
      }
      arg[kGatherStamp] = stamp;
    } else if (typeof arg !== "function") {
      byThenable ??= new Map();
      fut = byThenable.get(arg);
      if (fut !== undefined) {
        children.push(fut);
        continue;
      }
    }
    fut = ensureFuture(arg as GatherInput, loop === undefined ? {} : { loop });
    loop ??= fut.getLoop();
    // Tasks gather made itself are its own business: no "destroyed while pending" report.
    if (fut !== arg && fut instanceof Task) fut[kLogDestroyPending] = false;
    if (byThenable !== null && typeof arg !== "function" && !(arg instanceof Future)) byThenable.set(arg, fut);
    nfuts++;
    fut.addDoneCallback(onChildDone);
    children.push(fut);
  }
  outer = new GatheringFuture(children, loop as EventLoop);
  return outer;
}
