/**
 * What a future schedules on its loop when it completes: the callbacks of `addDoneCallback`, and
 * the continuations of `then()`, which for a task's `await` are the task's wake-up.
 */
import { CancelledError, InvalidStateError } from "./errors.js";
import type { Context, ContextData } from "./context.js";
import { functionName } from "./format.js";
import { state, type Frame } from "./frame.js";
import { kRun, type Runnable } from "./handle.js";
import type { LazyPromise } from "./lazy-promise.js";
import { kFutWaiter, kMakeCancelled, kMarkRetrieved, kMustCancel, kStepBegin, kTaskOf } from "./symbols.js";
// Types only: a future schedules these, and a wake-up resumes a task (the model's circle, see
// scripts/check-layers.ts).
import type { Future } from "./future.js";
import type { Task } from "./task.js";

/**
 * A task's count of wake-ups. A `then()` registration remembers the count it saw; only a
 * registration made in the task's current suspension may wake the task (see `Wakeup`). Declared
 * here rather than in symbols.ts because only future.ts and task.ts use it.
 */
export const kResumes = Symbol("multiloop.resumes");
/** Step handshake budget for the later wake-ups of a suspension that already ran one out. */
const STALLED_STEP_TICKS = 4;
/** The wake-up count at which the task's step handshake ran out (set by the loop). */
export const kStalledAt = Symbol("multiloop.stalledAt");
/**
 * The wake-up count a task's coroutine leaves behind when it returns or throws: no registration
 * made before carries it, so every later wake-up of the task counts as stale (and one made after,
 * by code still running in the task's async context, is a plain continuation). A task made done from outside
 * keeps its count, and the wake-up of the suspension it was stopped in stays fresh.
 */
export const COROUTINE_ENDED = -1;

/**
 * A step of a task that is already done: the task was finished from outside
 * (`Future.prototype.setResult.call(task, v)`), so its coroutine's outcome has nowhere to go.
 * asyncio's `__step` raises this and does not resume the coroutine.
 */
export function alreadyDone(task: { toString(): string }): InvalidStateError {
  return new InvalidStateError(`__step(): already done: ${task.toString()}, None`);
}

/** What every future-like awaiting a cancel needs from a task (kept structural to avoid cycles). */
export interface AwaitingTask {
  [kFutWaiter]: Future<unknown> | null;
  [kMustCancel]: boolean;
  [kResumes]: number;
  [kStalledAt]: number;
  cancelMessage(): string | undefined;
  makeCancelledError(): CancelledError;
  done(): boolean;
}


/** A done callback registered with `addDoneCallback`, scheduled on completion. */
export class DoneCallback implements Runnable {
  readonly fn: (fut: Future<unknown>) => unknown;
  readonly #fut: Future<unknown>;
  readonly #ctx: Context | null;
  readonly #data: ContextData;

  constructor(fut: Future<unknown>, fn: (fut: Future<unknown>) => unknown, ctx: Context | null, data: ContextData) {
    this.#fut = fut;
    this.fn = fn;
    this.#ctx = ctx;
    this.#data = data;
  }

  cancelled(): boolean {
    return false;
  }

  /** How a pending future's repr lists it. */
  get label(): string {
    return `${this.fn.name || "<anonymous>"}()`;
  }

  [kRun](frame: Frame): unknown {
    frame.ctx = this.#ctx;
    frame.data = this.#data;
    state.sync = frame;
    return this.fn(this.#fut);
  }

  toString(): string {
    return `<Handle ${functionName(this.fn)}(${this.#fut.toString()})>`;
  }
}

/**
 * The continuation of a `then()` (so of an `await`): settles the promise `then()` returned.
 *
 * If a task awaited the future, running this is that task's wake-up, and a cancel requested
 * meanwhile is delivered here instead of the value (asyncio's `__step` with `_must_cancel`). Only
 * the first registration of the task's current suspension counts as its wake-up: with
 * `Promise.race([a, b])` the other one, running later, is a stale continuation and must not take
 * a cancel meant for whatever the task awaits by then, nor touch its waiter.
 */
export class Wakeup implements Runnable {
  readonly #fut: Future<unknown>;
  readonly #frame: Frame;
  /** The task suspended on this registration (an `await`); null for a plain continuation. */
  readonly #task: Task<unknown> | null;
  /** The task's wake-up count when it registered. */
  readonly #resumes: number;
  readonly #onFulfilled: ((value: never) => unknown) | null | undefined;
  readonly #onRejected: ((reason: unknown) => unknown) | null | undefined;
  readonly #derived: LazyPromise<unknown>;

  constructor(
    fut: Future<unknown>,
    frame: Frame,
    task: Task<unknown> | null,
    onFulfilled: ((value: never) => unknown) | null | undefined,
    onRejected: ((reason: unknown) => unknown) | null | undefined,
    derived: LazyPromise<unknown>,
  ) {
    this.#fut = fut;
    this.#frame = frame;
    this.#task = task;
    this.#resumes = task === null ? 0 : (task as unknown as AwaitingTask)[kResumes];
    this.#onFulfilled = onFulfilled;
    this.#onRejected = onRejected;
    this.#derived = derived;
  }

  get [kTaskOf](): Task<unknown> | null {
    return this.#task;
  }

  /** How a pending future's repr lists it: a task's wake-up, or a plain continuation. */
  get label(): string {
    return this.#task === null ? "Future.then()" : "Task.task_wakeup()";
  }

  cancelled(): boolean {
    return false;
  }

  [kRun](): void {
    state.sync = this.#frame;
    const task = this.#task as unknown as AwaitingTask | null;
    if (task === null) {
      this.deliver();
      return;
    }
    const fresh = task[kResumes] === this.#resumes;
    if (task.done()) {
      // The wake-up of the suspension a task was made done in from outside: its coroutine is
      // not resumed (asyncio). Any other wake-up of a done task is a stale continuation (see
      // COROUTINE_ENDED).
      if (fresh && this.#resumes !== COROUTINE_ENDED) throw alreadyDone(task);
      this.deliver();
      return;
    }
    // Any of the task's awaits may resume it (with Promise.all, the last one to settle does), so
    // the step handshake waits for the task after each of them. Once a wake-up of this suspension
    // ran the handshake out (a combinator still waiting for the others), the later ones wait only
    // a few ticks: enough for the last one to resume the task in its slot, while 10,000 calls
    // under one Promise.all do not cost 10,000 full timeouts.
    const stalled = !fresh && task[kStalledAt] === task[kResumes];
    this.#fut.getLoop()[kStepBegin](this.#task as Task<unknown>, stalled ? STALLED_STEP_TICKS : 0);
    if (fresh) {
      task[kResumes]++;
      // The waiter is this future, or another one the same suspension registered after it (a
      // Promise combinator): either way it is not what the task will be waiting for next.
      task[kFutWaiter] = null;
      if (task[kMustCancel]) {
        task[kMustCancel] = false;
        // Like asyncio's __step: a CancelledError coming from the awaited future is thrown in as
        // is (so the first cancel's message wins); anything else is replaced by the task's own.
        const fut = this.#fut;
        if (fut.cancelled()) {
          this.reject(fut[kMakeCancelled]());
          return;
        }
        const exc = fut[kMarkRetrieved]();
        this.reject(exc !== undefined && exc.error instanceof CancelledError ? exc.error : task.makeCancelledError());
        return;
      }
    }
    this.deliver();
  }

  /** Settles with the future's outcome. */
  deliver(): void {
    const fut = this.#fut;
    if (fut.cancelled()) {
      this.reject(fut[kMakeCancelled]());
      return;
    }
    const exc = fut[kMarkRetrieved]();
    if (exc !== undefined) this.reject(exc.error);
    else this.fulfil(fut.result());
  }

  fulfil(value: unknown): void {
    const onFulfilled = this.#onFulfilled;
    try {
      this.#derived.fulfil(typeof onFulfilled === "function" ? (onFulfilled as (v: unknown) => unknown)(value) : value);
    } catch (err) {
      this.#derived.reject(err);
    }
  }

  reject(reason: unknown): void {
    const onRejected = this.#onRejected;
    if (typeof onRejected !== "function") {
      this.#derived.reject(reason);
      return;
    }
    try {
      this.#derived.fulfil(onRejected(reason));
    } catch (err) {
      this.#derived.reject(err);
    }
  }

  toString(): string {
    const task = this.#task;
    return task === null ? `<Handle Future.then(${this.#fut.toString()})>` : `<Handle ${task.toString()} wakeup>`;
  }
}

