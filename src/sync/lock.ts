/**
 * `Lock`: mutual exclusion between tasks of one loop (asyncio.Lock, 3.13 algorithm).
 *
 * Fairness, as in asyncio: waiters queue in FIFO order, and a newcomer takes a free lock at once
 * only when every queued waiter is cancelled, so it can never overtake a waiter that `release()`
 * already woke. The lock is marked held by the woken waiter itself, when its task runs; if that
 * task is cancelled in between, it passes the wake-up on to the next waiter, so a cancel never
 * strands the queue and never leaks the lock.
 *
 * Speed: the uncontended path allocates nothing and does not touch the loop (it returns a shared,
 * already resolved promise); only a caller that has to wait gets a future.
 */
import { inspect } from "node:util";
import { CancelledError, RuntimeError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { bindLoop } from "./loop-bound.js";
import { checkFunction, isThenable } from "../core/validate.js";
import { kDescribeWait, kWaitsFor } from "../core/symbols.js";

/** @internal shared results of the fast paths: resolved promises are immutable, so one serves all. */
export const RESOLVED_TRUE: Promise<true> = Promise.resolve(true);
/** @internal */
export const RESOLVED_VOID: Promise<void> = Promise.resolve();

/**
 * @internal a promise rejected with what a fast path threw, so callers of a promise-returning
 * method always get a rejection, never a synchronous throw. (Typed `Error` for the lint rule: what
 * we throw is one; a user's PriorityQueue comparison could throw anything, and is passed on as is.)
 */
export function rejected(err: Error): Promise<never> {
  return Promise.reject(err);
}

/** @internal true when the set is empty or holds only cancelled futures. */
export function allCancelled(waiters: ReadonlySet<Future<unknown>> | null): boolean {
  if (waiters === null || waiters.size === 0) return true;
  for (const w of waiters) if (!w.cancelled()) return false;
  return true;
}

/** @internal `async with lock:` — acquire, run, release in `finally`. */
export async function holding<R>(
  lock: { acquire(): Promise<unknown>; release(): void },
  fn: () => R | PromiseLike<R>,
): Promise<R> {
  checkFunction("fn", fn);
  const acquiring = lock.acquire();
  // The fast path's shared resolved promise means the lock is ours already: go on without the
  // microtask an await costs (asyncio's uncontended `await acquire()` does not suspend either).
  if (acquiring !== RESOLVED_TRUE) await acquiring;
  try {
    const result = fn();
    // A synchronous fn returns here, without the microtask an `await` of a plain value costs.
    return isThenable(result) ? await result : result;
  } finally {
    lock.release();
  }
}

/**
 * A mutual-exclusion lock for tasks of one event loop (asyncio.Lock). Not owned by a task (any
 * code may release it) and not reentrant.
 *
 * Three ways to hold it for a block of code; all release it however the block ends:
 * - `await lock.run(async () => ...)` (resolves to what the function returns);
 * - `await using _ = await lock.enter();` (TypeScript 5.2+ / Node's `await using`);
 * - `await lock.acquire(); try { ... } finally { lock.release(); }`.
 *
 * @example
 * const lock = new Lock();
 * let balance = 100;
 * async function withdraw(amount: number): Promise<void> {
 *   await using _ = await lock.enter();
 *   const current = balance;
 *   await sleep(1); // another task may run here, but cannot enter the block
 *   balance = current - amount;
 * }
 * await gather(withdraw(10), withdraw(20)); // balance === 70
 *
 * Cancellation: a task cancelled while it waits in `acquire()` leaves the queue without taking the
 * lock; if it had already been woken, the wake-up goes to the next waiter. `run()` and
 * `await using` release the lock when the block is cancelled.
 *
 * The lock binds to the running loop the first time a task has to wait for it; waiting on it later
 * from another loop throws `RuntimeError("... is bound to a different event loop")`.
 */
export class Lock implements AsyncDisposable {
  #locked = false;
  #waiters: Set<Future<boolean>> | null = null;
  #loop: EventLoop | null = null;

  /** Whether some task holds the lock. */
  locked(): boolean {
    return this.#locked;
  }

  /**
   * Waits until the lock is free and this caller's turn has come (FIFO), takes it, and resolves to
   * `true`. A free lock with nobody queued is taken at once, without yielding to the loop.
   */
  acquire(): Promise<true> {
    if (!this.#locked && allCancelled(this.#waiters)) {
      this.#locked = true;
      return RESOLVED_TRUE;
    }
    return this.#acquireSlow();
  }

  /*
   * The waiting path is asyncio's `await fut` followed by its `finally`/`except` blocks, written as
   * the waiter future's continuations: `then()` called here, in the caller's task, makes the
   * waiter the task's cancel target as an `await` would, and saves an async function per wait.
   */
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
    this.#locked = true;
    return true;
  }

  #acquireFailed(fut: Future<boolean>, err: unknown): never {
    this.#waiters?.delete(fut);
    // Keep the invariant "a free lock with live waiters has its first waiter woken": this waiter
    // may have been the one release() woke, and it is leaving without taking the lock.
    if (err instanceof CancelledError && !this.#locked) this.#wakeUpFirst();
    throw err;
  }

  /**
   * Releases the lock and wakes the first waiter (which takes the lock when its task runs).
   * Throws `RuntimeError("Lock is not acquired.")` when the lock is free.
   */
  release(): void {
    if (!this.#locked) {
      throw new RuntimeError("Lock is not acquired.", {
        code: "ERR_LOOP_LOCK_NOT_ACQUIRED",
        hint: "Release a lock only after acquire() resolved; run(fn) and `await using` pair them for you.",
      });
    }
    this.#locked = false;
    this.#wakeUpFirst();
  }

  #wakeUpFirst(): void {
    const waiters = this.#waiters;
    if (waiters === null || waiters.size === 0) return;
    // Only the first: if it is done it was already woken (and will take the lock) or cancelled
    // (and will pass the wake-up on when its task runs).
    for (const fut of waiters) {
      if (!fut.done()) fut.setResult(true);
      return;
    }
  }

  /**
   * Runs `fn` while holding the lock: acquire, call, release in `finally` (asyncio's
   * `async with lock:`). Resolves or rejects as `fn` does.
   *
   * @example
   * const total = await lock.run(async () => {
   *   const value = await load();
   *   await save(value + 1);
   *   return value + 1;
   * });
   *
   * Cancellation: cancelled while waiting for the lock, `fn` is not called; cancelled inside `fn`,
   * the lock is released and `CancelledError` goes on.
   */
  run<R>(fn: () => R | PromiseLike<R>): Promise<R> {
    return holding(this, fn);
  }

  /**
   * Acquires the lock and resolves to the lock itself, whose `[Symbol.asyncDispose]` releases it:
   * the entry half of `await using` (asyncio's `async with lock:`).
   *
   * @example
   * {
   *   await using _ = await lock.enter();
   *   // ... the lock is held here, and released when the block ends, even by throwing
   * }
   */
  async enter(): Promise<this> {
    const acquiring = this.acquire();
    if (acquiring !== RESOLVED_TRUE) await acquiring; // see holding()
    return this;
  }

  /**
   * Releases the lock: the exit half of `await using` (see `enter()`). Throws like `release()` if
   * the lock is not held. There is deliberately no synchronous `Symbol.dispose`: like asyncio,
   * which refuses a plain `with lock:`, a lock is only held with `await`.
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return RESOLVED_VOID;
  }

  /** @internal what a task waiting in `acquire()` waits for (see core/call-graph.ts). */
  [kDescribeWait](): string {
    return `Lock.acquire() on ${this.toString()}`;
  }

  toString(): string {
    let extra = this.#locked ? "locked" : "unlocked";
    const n = this.#waiters === null ? 0 : this.#waiters.size;
    if (n > 0) extra += `, waiters:${n}`;
    return `<Lock [${extra}]>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
