/**
 * `Semaphore` and `BoundedSemaphore`: a counter of permits (asyncio.Semaphore, 3.13 algorithm).
 *
 * Fairness, as in asyncio after 3.11.7: `release()` hands the permit straight to the first waiter
 * (the value is decremented for it at wake-up time), and a newcomer takes a permit at once only if
 * no live waiter is queued, so it never overtakes one. A woken waiter that is cancelled before its
 * task runs gives its permit back; and every waiter that gets through wakes as many others as there
 * are permits left, so permits released while tasks queued are never stranded.
 */
import { inspect } from "node:util";
import { CancelledError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { RESOLVED_TRUE, RESOLVED_VOID, allCancelled, holding, rejected } from "./lock.js";
import { kDescribeWait, kWaitsFor } from "../core/symbols.js";
import { bindLoop } from "./loop-bound.js";
import { typeError } from "../core/validate.js";

function checkInitialValue(value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw typeError("value", "an integer >= 0", value);
  if (value < 0) throw new RangeError("Semaphore initial value must be >= 0");
}

/** Caps a semaphore at its current value (set by `Semaphore`'s static block: it needs its #fields). */
let makeBounded: (sem: Semaphore) => void;

/**
 * A semaphore for tasks of one loop (asyncio.Semaphore): `acquire()` takes one of `value`
 * permits, waiting in FIFO order while there are none; `release()` gives one back. `release()` may
 * raise the count above the initial value (use `BoundedSemaphore` to forbid that).
 *
 * @example
 * const slots = new Semaphore(3); // at most 3 downloads at a time
 * await gather(...urls.map((url) => () => slots.run(() => download(url))));
 *
 * Cancellation: a task cancelled while it waits takes no permit; if `release()` had already
 * handed it one, the permit goes back and on to the next waiter. `run()` and `await using` release
 * the permit when the block is cancelled.
 *
 * The semaphore binds to the running loop the first time a task has to wait for it; waiting on it
 * later from another loop throws `RuntimeError("... is bound to a different event loop")`.
 */
export class Semaphore implements AsyncDisposable {
  #value: number;
  /** The most permits `release()` may bring back: Infinity, or the initial value when bounded. */
  #bound = Infinity;
  #waiters: Set<Future<boolean>> | null = null;
  #loop: EventLoop | null = null;

  /**
   * @param value the number of permits (an integer >= 0); `RangeError("Semaphore initial value
   *   must be >= 0")` when negative.
   * @default 1
   */
  constructor(value = 1) {
    checkInitialValue(value);
    this.#value = value;
  }

  /**
   * Whether `acquire()` would have to wait: no permit is left, or a live waiter is queued (FIFO:
   * it goes first, even while a permit is free).
   */
  locked(): boolean {
    return this.#value === 0 || !allCancelled(this.#waiters);
  }

  /** Takes a permit, waiting for one in FIFO order if needed; resolves to `true`. */
  acquire(): Promise<true> {
    if (!this.locked()) {
      this.#value--;
      return RESOLVED_TRUE;
    }
    return this.#acquireSlow();
  }

  /* The waiting path as continuations of the waiter future; see `Lock` for why. */
  #acquireSlow(): Promise<true> {
    let fut: Future<boolean>;
    try {
      fut = (this.#loop = bindLoop(this.#loop, this)).createFuture<boolean>();
    } catch (err) {
      return rejected(err as Error);
    }
    (this.#waiters ??= new Set()).add(fut);
    fut[kWaitsFor](this);
    return fut.then(
      () => this.#acquired(fut),
      (err: unknown) => this.#acquireFailed(fut, err),
    );
  }

  #acquired(fut: Future<boolean>): true {
    this.#waiters?.delete(fut);
    this.#wakeUpQueued();
    return true;
  }

  #acquireFailed(fut: Future<boolean>, err: unknown): never {
    this.#waiters?.delete(fut);
    // release() already counted the permit as ours (it decrements when it wakes a waiter); we
    // are leaving without it, so give it back, and pass it on below.
    if (err instanceof CancelledError && fut.done() && !fut.cancelled()) this.#value++;
    this.#wakeUpQueued();
    throw err;
  }

  /**
   * Waiters that arrived while permits were free had to queue behind the one leaving now (FIFO):
   * wake as many as there are permits.
   */
  #wakeUpQueued(): void {
    while (this.#value > 0) if (!this.#wakeUpNext()) break;
  }

  /** Gives a permit back and hands it to the first waiter, if any. */
  release(): void {
    if (this.#value >= this.#bound) throw new RangeError("BoundedSemaphore released too many times");
    this.#value++;
    this.#wakeUpNext();
  }

  /** Wakes the first waiter that is not done, taking a permit for it; false if there was none. */
  #wakeUpNext(): boolean {
    const waiters = this.#waiters;
    if (waiters === null || waiters.size === 0) return false;
    for (const fut of waiters) {
      if (!fut.done()) {
        this.#value--;
        fut.setResult(true);
        return true;
      }
    }
    return false;
  }

  /** Runs `fn` holding a permit (see `Lock.run`; asyncio's `async with semaphore:`). */
  run<R>(fn: () => R | PromiseLike<R>): Promise<R> {
    return holding(this, fn);
  }

  /**
   * Takes a permit and resolves to the semaphore, whose `[Symbol.asyncDispose]` gives it back:
   * `await using _ = await semaphore.enter();` (see `Lock.enter`).
   */
  async enter(): Promise<this> {
    const acquiring = this.acquire();
    if (acquiring !== RESOLVED_TRUE) await acquiring; // no microtask on the fast path (see Lock)
    return this;
  }

  /** Releases a permit: the exit half of `await using` (see `enter()`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return RESOLVED_VOID;
  }

  static {
    makeBounded = (sem) => {
      sem.#bound = sem.#value;
    };
  }

  /** @internal what a task waiting in `acquire()` waits for (see core/call-graph.ts). */
  [kDescribeWait](): string {
    return `${this.constructor.name}.acquire() on ${this.toString()}`;
  }

  toString(): string {
    let extra = this.locked() ? "locked" : `unlocked, value:${this.#value}`;
    const n = this.#waiters === null ? 0 : this.#waiters.size;
    if (n > 0) extra += `, waiters:${n}`;
    return `<${this.constructor.name} [${extra}]>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * A semaphore that refuses to be released more often than it was acquired (asyncio.BoundedSemaphore):
 * `release()` above the initial value throws `RangeError("BoundedSemaphore released too many times")`.
 *
 * @example
 * const sem = new BoundedSemaphore(2);
 * await sem.acquire();
 * sem.release();
 * sem.release(); // RangeError: BoundedSemaphore released too many times
 */
export class BoundedSemaphore extends Semaphore {
  /** @default 1 */
  constructor(value = 1) {
    super(value);
    makeBounded(this);
  }
}
