/**
 * `timeout` / `timeoutAt`: a deadline on a block of code (asyncio.timeout, 3.11+).
 *
 * When the deadline passes, the task running the block is cancelled; the block sees
 * `CancelledError` at its current await of a loop future, and when it ends that way the
 * cancellation is turned into `TimeoutError` — only if no other cancel is pending for the task
 * (asyncio compares `uncancel()` with the count seen on entry), so an outside cancel stays a cancel.
 */
import { inspect } from "node:util";
import { CancelledError, RuntimeError, TimeoutError } from "../core/errors.js";
import type { TimerHandle, Handle } from "../core/handle.js";
import { getRunningLoop } from "../core/policy.js";
import { currentTask } from "../core/tasks.js";
import { cancellationOf, type Task } from "../core/task.js";
import { checkFunction, checkTime } from "../core/validate.js";

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
    if (when !== null) checkTime("when", when);
    this.#when = when;
  }

  /** The deadline on the loop's clock (ms), or null for none. */
  when(): number | null {
    return this.#when;
  }

  /** Moves the deadline (`null`: none). Only while the block runs. */
  reschedule(whenMs: number | null): void {
    if (whenMs !== null) checkTime("whenMs", whenMs);
    if (this.#state === "created") throw new RuntimeError("Timeout has not been entered");
    if (this.#state !== "active") throw new RuntimeError(`Cannot change state of ${this.#state} Timeout`);
    this.#when = whenMs;
    if (this.#handle !== null) this.#handle.cancel();
    this.#handle = null;
    if (whenMs === null) return;
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
      if (task.uncancel() <= this.#cancelling && threw) {
        // No other cancel request is pending: the cancellation is ours to handle.
        // Also the AbortError of a Node API stopped through task.signal (see cancellationOf).
        if (cancellationOf(err) !== null) return new TimeoutError("", { cause: err });
        insertTimeoutError(err);
        if (err instanceof AggregateError) for (const sub of err.errors) insertTimeoutError(sub);
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

/**
 * The body replaced our cancellation with an error of its own: put a `TimeoutError` between that
 * error and the `CancelledError` in its `cause` chain, so the chain tells that the deadline passed
 * (asyncio 3.12 does this with `__context__`, which JS errors do not have).
 */
function insertTimeoutError(err: unknown): void {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (typeof current === "object" && current !== null && !seen.has(current)) {
    seen.add(current);
    const cause = (current as { cause?: unknown }).cause;
    if (cause instanceof CancelledError) {
      try {
        (current as { cause: unknown }).cause = new TimeoutError("", { cause });
      } catch {
        // A frozen error keeps its chain as it is.
      }
      return;
    }
    current = cause;
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
  // Required, as in asyncio (null: no deadline); undefined is far more likely a forgotten argument.
  if (ms !== null) checkTime("ms", ms);
  checkFunction("body", body);
  const when = ms === null ? null : getRunningLoop().time() + ms;
  return runWithin(new Timeout(when), body);
}

/** Like `timeout`, with an absolute deadline on the loop's clock (`loop.time()` milliseconds). */
export async function timeoutAt<T>(whenMs: number | null, body: (t: Timeout) => Promise<T>): Promise<T> {
  if (whenMs !== null) checkTime("whenMs", whenMs);
  checkFunction("body", body);
  return runWithin(new Timeout(whenMs), body);
}
