/**
 * `Event`: a flag tasks can wait for (asyncio.Event).
 *
 * `set()` wakes every task waiting at that moment, even if `clear()` follows before they run: a
 * woken waiter's future is already done, so it returns `true` whatever the flag is by then.
 */
import { inspect } from "node:util";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { RESOLVED_TRUE, rejected } from "./lock.js";
import { kDescribeWait, kWaitsFor } from "../core/symbols.js";
import { bindLoop } from "./loop-bound.js";

/**
 * A flag, initially false, that tasks of one loop can wait for (asyncio.Event).
 *
 * @example
 * const ready = new Event();
 * createTask(async () => {
 *   await ready.wait();
 *   console.log("go");
 * });
 * await sleep(10);
 * ready.set(); // the waiting task prints "go"
 *
 * Cancellation: a task cancelled in `wait()` just stops waiting; other waiters are unaffected.
 *
 * The event binds to the running loop the first time a task has to wait for it; waiting on it later
 * from another loop throws `RuntimeError("... is bound to a different event loop")`.
 */
export class Event {
  #value = false;
  readonly #waiters = new Set<Future<boolean>>();
  #loop: EventLoop | null = null;

  /** Whether the flag is set. */
  isSet(): boolean {
    return this.#value;
  }

  /** Sets the flag and wakes every waiting task; later `wait()` calls return at once. */
  set(): void {
    if (this.#value) return;
    this.#value = true;
    for (const fut of this.#waiters) if (!fut.done()) fut.setResult(true);
  }

  /** Clears the flag; later `wait()` calls wait for the next `set()`. */
  clear(): void {
    this.#value = false;
  }

  /**
   * Resolves to `true` once the flag is set: at once (without yielding to the loop) if it is set
   * now, else when `set()` is next called.
   */
  wait(): Promise<true> {
    if (this.#value) return RESOLVED_TRUE;
    return this.#waitSlow();
  }

  /* The waiting path as continuations of the waiter future; see `Lock` for why. */
  #waitSlow(): Promise<true> {
    let fut: Future<boolean>;
    try {
      fut = (this.#loop = bindLoop(this.#loop, this)).createFuture<boolean>();
    } catch (err) {
      return rejected(err as Error);
    }
    this.#waiters.add(fut);
    fut[kWaitsFor](this);
    return fut.then(
      () => {
        this.#waiters.delete(fut);
        return true as const;
      },
      (err: unknown) => {
        this.#waiters.delete(fut);
        throw err;
      },
    );
  }

  /** @internal what a task waiting in `wait()` waits for (see core/call-graph.ts). */
  [kDescribeWait](): string {
    return `${this.constructor.name}.wait() on ${this.toString()}`;
  }

  toString(): string {
    let extra = this.#value ? "set" : "unset";
    if (this.#waiters.size > 0) extra += `, waiters:${this.#waiters.size}`;
    return `<Event [${extra}]>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
