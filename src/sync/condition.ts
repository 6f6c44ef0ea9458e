/**
 * `Condition`: wait until notified, around a lock (asyncio.Condition, 3.13 algorithm).
 *
 * `wait()` releases the lock, waits for a notification, and takes the lock back before it returns
 * or throws, even when cancelled (it keeps trying to re-acquire and throws the cancel afterwards),
 * so code after a `wait()` always holds the lock. A waiter that leaves with an error after it may
 * have been notified passes one notification on, so a cancel cannot swallow a `notify()`; the cost
 * is a possible spurious wake-up, which the condition-variable contract allows (hence `waitFor`).
 */
import { inspect } from "node:util";
import { CancelledError, RuntimeError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { Lock, RESOLVED_TRUE, RESOLVED_VOID, holding } from "./lock.js";
import { kDescribeWait, kWaitsFor } from "../core/symbols.js";
import { bindLoop } from "./loop-bound.js";
import { checkFunction, checkInteger, isInstance, typeError } from "../core/validate.js";

function unacquired(what: "wait" | "notify"): RuntimeError {
  return new RuntimeError(`cannot ${what} on un-acquired lock`, {
    code: "ERR_LOOP_CONDITION_UNACQUIRED",
    hint: `Hold the condition's lock around ${what === "wait" ? "wait()" : "notify()"}: condition.run(async () => ...) or \`await using _ = await condition.enter()\`.`,
  });
}

/**
 * A condition variable for tasks of one loop (asyncio.Condition): tasks wait, holding its lock,
 * until another task notifies them. It owns a new `Lock` unless one is given (to share one lock
 * between several conditions). `acquire`, `release`, `locked`, `run` and `enter` act on that lock.
 *
 * @example
 * const cond = new Condition();
 * const items: string[] = [];
 * createTask(() => cond.run(async () => {
 *   await cond.waitFor(() => items.length > 0); // releases the lock while it waits
 *   console.log("got", items.shift());
 * }));
 * await cond.run(async () => {
 *   items.push("job");
 *   cond.notify();
 * });
 *
 * Cancellation: a task cancelled in `wait()` re-acquires the lock before `CancelledError` reaches
 * it (so its `finally` blocks and `run()` can release it), and hands a notification it may have
 * received to the next waiter.
 *
 * The condition binds to the running loop the first time a task waits on it; waiting on it later
 * from another loop throws `RuntimeError("... is bound to a different event loop")`.
 */
export class Condition implements AsyncDisposable {
  readonly #lock: Lock;
  readonly #waiters = new Set<Future<boolean>>();
  #loop: EventLoop | null = null;

  /** @param lock the lock to use; default: a new one. */
  constructor(lock?: Lock | null) {
    if (lock !== undefined && lock !== null && !isInstance(lock, Lock)) {
      throw typeError("lock", "a Lock, null or undefined", lock);
    }
    this.#lock = lock ?? new Lock();
  }

  /** Whether the underlying lock is held. */
  locked(): boolean {
    return this.#lock.locked();
  }

  /** Acquires the underlying lock (see `Lock.acquire`). */
  acquire(): Promise<true> {
    return this.#lock.acquire();
  }

  /** Releases the underlying lock (see `Lock.release`). */
  release(): void {
    this.#lock.release();
  }

  /**
   * Releases the lock, waits until notified, re-acquires the lock, and resolves to `true`. The
   * caller must hold the lock: otherwise it throws `RuntimeError("cannot wait on un-acquired lock")`.
   * May wake spuriously: re-check the state after it returns, or use `waitFor`.
   */
  async wait(): Promise<true> {
    if (!this.#lock.locked()) throw unacquired("wait");
    // Bind (and fail on a foreign loop) before giving up the lock.
    const fut = (this.#loop = bindLoop(this.#loop, this)).createFuture<boolean>();
    this.#lock.release();
    try {
      let failed = false;
      let failure: unknown;
      this.#waiters.add(fut);
      fut[kWaitsFor](this);
      try {
        await fut;
      } catch (err) {
        failed = true;
        failure = err;
      } finally {
        this.#waiters.delete(fut);
      }
      // The lock must be held again whatever happened; only cancels are retried (the latest one
      // wins), so another error cannot make this spin.
      for (;;) {
        try {
          await this.#lock.acquire();
          break;
        } catch (err) {
          if (!(err instanceof CancelledError)) throw err;
          failed = true;
          failure = err;
        }
      }
      if (failed) throw failure;
      return true;
    } catch (err) {
      // This waiter may have consumed a notification it will not act on: give it to another.
      this.#notify(1);
      throw err;
    }
  }

  /**
   * Waits (as `wait()` does, repeatedly) until `predicate()` returns a truthy value, and resolves
   * to that value. The predicate is called with the lock held, first before any waiting.
   */
  async waitFor<R>(predicate: () => R): Promise<R> {
    checkFunction("predicate", predicate);
    let result = predicate();
    while (!result) {
      await this.wait();
      result = predicate();
    }
    return result;
  }

  /**
   * Wakes up to `n` (default 1) waiting tasks, in the order they started waiting. The caller must
   * hold the lock (otherwise `RuntimeError("cannot notify on un-acquired lock")`); the woken tasks
   * return from `wait()` only after they re-acquire it, so after the caller releases it.
   */
  notify(n = 1): void {
    checkInteger("n", n, 0);
    if (!this.#lock.locked()) throw unacquired("notify");
    this.#notify(n);
  }

  /** Wakes every waiting task (see `notify`). */
  notifyAll(): void {
    if (!this.#lock.locked()) throw unacquired("notify");
    this.#notify(this.#waiters.size);
  }

  #notify(n: number): void {
    let woken = 0;
    for (const fut of this.#waiters) {
      if (woken >= n) break;
      if (!fut.done()) {
        woken++;
        fut.setResult(false);
      }
    }
  }

  /** Runs `fn` holding the lock (see `Lock.run`; asyncio's `async with condition:`). */
  run<R>(fn: () => R | PromiseLike<R>): Promise<R> {
    return holding(this.#lock, fn);
  }

  /**
   * Acquires the lock and resolves to the condition, whose `[Symbol.asyncDispose]` releases it:
   * `await using _ = await condition.enter();` (see `Lock.enter`).
   */
  async enter(): Promise<this> {
    const acquiring = this.#lock.acquire();
    if (acquiring !== RESOLVED_TRUE) await acquiring; // no microtask on the fast path (see Lock)
    return this;
  }

  /** Releases the lock: the exit half of `await using` (see `enter()`). */
  [Symbol.asyncDispose](): Promise<void> {
    this.#lock.release();
    return RESOLVED_VOID;
  }

  /** @internal what a task waiting in `wait()` waits for (see core/call-graph.ts). */
  [kDescribeWait](): string {
    return `${this.constructor.name}.wait() on ${this.toString()}`;
  }

  toString(): string {
    let extra = this.#lock.locked() ? "locked" : "unlocked";
    if (this.#waiters.size > 0) extra += `, waiters:${this.#waiters.size}`;
    return `<Condition [${extra}]>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
