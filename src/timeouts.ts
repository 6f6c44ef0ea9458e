/**
 * `timeout` / `timeoutAt`: a deadline on a block of code (asyncio.timeout, 3.11+).
 *
 * When the deadline passes, the task running the block is cancelled; the block sees
 * `CancelledError` at its current await of a loop future, and when it ends that way the
 * cancellation is turned into `TimeoutError` — only if no other cancel is pending for the task
 * (asyncio compares `uncancel()` with the count seen on entry), so an outside cancel stays a cancel.
 */
import { inspect } from "node:util";
import { CancelledError, RuntimeError, TimeoutError } from "./errors.js";
import type { TimerHandle, Handle } from "./handle.js";
import { getRunningLoop } from "./policy.js";
import { currentTask } from "./tasks.js";
import type { Task } from "./task.js";
import { checkFunction, checkOptionalTime } from "./validate.js";

type TimeoutState = "created" | "active" | "expiring" | "expired" | "finished";

/**
 * The deadline of a `timeout()` block. `reschedule()` moves it while the block runs.
 */
export class Timeout {
  #state: TimeoutState = "created";
  #when: number | null;
  #task: Task<unknown> | null = null;
  #cancelling = 0;
  #handle: TimerHandle | Handle | null = null;

  /** @internal use `timeout()` / `timeoutAt()`. */
  constructor(when: number | null) {
    this.#when = when;
  }

  /** The deadline on the loop's clock (ms), or null for none. */
  when(): number | null {
    return this.#when;
  }

  /** Moves the deadline (`null`: none). Only while the block runs. */
  reschedule(whenMs: number | null): void {
    checkOptionalTime("whenMs", whenMs);
    if (this.#state === "created") throw new RuntimeError("Timeout has not been entered");
    if (this.#state !== "active") throw new RuntimeError(`Cannot change state of ${this.#state} Timeout`);
    this.#when = whenMs ?? null;
    if (this.#handle !== null) this.#handle.cancel();
    this.#handle = null;
    if (whenMs === null || whenMs === undefined) return;
    const task = this.#task as Task<unknown>;
    const loop = task.getLoop();
    this.#handle = whenMs <= loop.time() ? loop.callSoon(this.#onTimeout) : loop.callAt(whenMs, this.#onTimeout);
  }

  /** Whether the deadline passed (and the block was cancelled for it). */
  expired(): boolean {
    return this.#state === "expiring" || this.#state === "expired";
  }

  /** @internal */
  enter(task: Task<unknown>): void {
    if (this.#state !== "created") throw new RuntimeError("Timeout has already been entered");
    this.#task = task;
    this.#cancelling = task.cancelling();
    this.#state = "active";
    this.reschedule(this.#when);
  }

  /** @internal returns the error to throw instead of `err` (the same one if nothing changes). */
  exit(err: unknown, threw: boolean): unknown {
    if (this.#handle !== null) {
      this.#handle.cancel();
      this.#handle = null;
    }
    const task = this.#task as Task<unknown>;
    if (this.#state === "expiring") {
      this.#state = "expired";
      if (task.uncancel() <= this.#cancelling && threw && err instanceof CancelledError) {
        return new TimeoutError("", { cause: err });
      }
    } else if (this.#state === "active") {
      this.#state = "finished";
    }
    return err;
  }

  readonly #onTimeout = (): void => {
    (this.#task as Task<unknown>).cancel();
    this.#state = "expiring";
  };

  toString(): string {
    const when = this.#state === "active" ? ` when=${String(this.#when)}` : "";
    return `<Timeout [${this.#state}]${when}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

async function runWithin<T>(t: Timeout, body: (t: Timeout) => Promise<T>): Promise<T> {
  const task = currentTask();
  if (task === null) {
    throw new RuntimeError("Timeout should be used inside a task", {
      hint: "Call it from code running in a task (run(), createTask()), not from a plain callback.",
    });
  }
  t.enter(task);
  let result: T;
  try {
    result = await body(t);
  } catch (err) {
    throw t.exit(err, true);
  }
  t.exit(undefined, false);
  return result;
}

/**
 * Runs `body` with a deadline `ms` milliseconds from now (`null`: none); throws `TimeoutError` if
 * it passes. Must run inside a task.
 *
 * @example
 * const page = await timeout(5_000, async () => fetchPage(url));
 *
 * Cancellation: the deadline cancels the task; awaits of plain Promises are not interrupted (pass
 * `currentTask().signal` to Node APIs), so the block ends at its next await of a loop future.
 */
export async function timeout<T>(ms: number | null, body: (t: Timeout) => Promise<T>): Promise<T> {
  checkOptionalTime("ms", ms);
  checkFunction("body", body);
  const when = ms === null ? null : getRunningLoop().time() + ms;
  return runWithin(new Timeout(when), body);
}

/** Like `timeout`, with an absolute deadline on the loop's clock (`loop.time()` milliseconds). */
export async function timeoutAt<T>(whenMs: number | null, body: (t: Timeout) => Promise<T>): Promise<T> {
  checkOptionalTime("whenMs", whenMs);
  checkFunction("body", body);
  return runWithin(new Timeout(whenMs), body);
}
