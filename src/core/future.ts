/**
 * `Future`: a result that will be set later, bound to one loop (asyncio.Future).
 *
 * It is a thenable, not a Promise subclass. Ordering rules (asyncio's, not the Promise spec's):
 * - done callbacks and the continuations of `await`s are never called synchronously: completion
 *   schedules each of them with the loop's ready queue, in registration order;
 * - a task that awaits a future resumes in the ready-queue slot of its wake-up;
 * - awaiting a future that is already done does not yield to the loop (it resolves in a microtask).
 *
 * When a task awaits a pending future, the future records itself as the task's waiter, so
 * `task.cancel()` can cancel it: that is how `CancelledError` reaches the task's `await`.
 */
import { inspect } from "node:util";
import { CancelledError, InvalidStateError, RuntimeError } from "./errors.js";
import { ContextMarker, contextData, currentData } from "./context.js";
import { currentFrame, lookupEventLoop } from "./frame.js";
import { errorRepr, isErrorLike, safeGet, shortRepr } from "./format.js";
import { debugThread } from "./log.js";
import { kRun, type Runnable } from "./handle.js";
import { DoneCallback, Wakeup, type AwaitingTask } from "./future-callbacks.js";
import { LazyPromise } from "./lazy-promise.js";
import {
  kCallbacksOf,
  kCancelInternal,
  kFutWaiter,
  kGatherStamp,
  kMakeCancelled,
  kMarkRetrieved,
  kMustCancel,
  kOnCancel,
  kSchedule,
  kSetException,
  kSetResult,
  kStepEnd,
  kUnretrieved,
  kWaitInfo,
  kWaitsFor,
  kYieldOnce,
} from "./symbols.js";
import { checkFunction, readOptions, typeError } from "./validate.js";
import type { EventLoop } from "./event-loop.js";
import type { Task } from "./task.js";

// The state word: one of three states, and flags.
const PENDING = 0;
const FINISHED = 1;
const CANCELLED = 2;
const STATE_MASK = 3;
/** FINISHED with an exception (in #result). */
const FAILED = 4;
/** An exception nobody retrieved yet (reported if the future dies that way). */
const LOG_TRACEBACK = 8;
/** sleep(0): complete on the first await, so it yields exactly one iteration. */
const YIELD_ONCE = 16;

interface FutureExtra {
  cancelMessage: string | undefined;
  cancelledExc: CancelledError | null;
  onCancel: { cancel(): void } | null;
  sourceTraceback: string | undefined;
}

/** Reports futures whose exception nobody looked at, when they are garbage-collected. */
const neverRetrieved = new FinalizationRegistry<{
  loop: EventLoop;
  kind: string;
  exception: unknown;
  repr: string;
}>((held) => {
  if (held.loop.isClosed() && !held.loop.getDebug()) return;
  debugThread("%s exception was never retrieved: %s", held.kind, held.repr);
  held.loop.callExceptionHandler({
    message: `${held.kind} exception was never retrieved`,
    exception: held.exception,
    future: held.repr,
  });
});

export interface FutureOptions {
  /** The loop the future belongs to; default: the running loop, else `getEventLoop()`. */
  loop?: EventLoop;
}

/**
 * A result that will be available later, bound to one event loop (asyncio.Future).
 *
 * @example
 * const fut = loop.createFuture<number>();
 * loop.callLater(10, () => fut.setResult(42));
 * await fut; // 42
 *
 * Cancellation: `cancel()` marks the future cancelled and wakes its awaiters with `CancelledError`.
 */
export class Future<T = unknown> implements PromiseLike<T> {
  readonly #loop: EventLoop;
  /** PENDING / FINISHED / CANCELLED in the low bits, plus the FAILED / LOG_TRACEBACK / YIELD_ONCE flags. */
  #state = PENDING as number;
  /** The result; the exception when FAILED; the result to set on the first await when YIELD_ONCE. */
  #result: unknown = undefined;
  /** What only cancelled, sleeping or debugged futures need (kept out of every other future). */
  #extra: FutureExtra | null = null;
  /** One callback as is (most futures have one awaiter), more in an array. */
  #callbacks: Runnable | Runnable[] | null = null;
  /** @internal lets `gather` spot a future passed twice without hashing every future. */
  [kGatherStamp] = 0;
  /** Where the future was created (debug mode only). */
  get sourceTraceback(): string | undefined {
    return this.#extra?.sourceTraceback;
  }

  set sourceTraceback(stack: string | undefined) {
    this.#more().sourceTraceback = stack;
  }

  #more(): FutureExtra {
    return (this.#extra ??= { cancelMessage: undefined, cancelledExc: null, onCancel: null, sourceTraceback: undefined });
  }

  constructor(options: FutureOptions = {}) {
    // Subclasses in this package pass their loop directly (no options object per task).
    let loop: EventLoop;
    if (isLoop(options)) {
      loop = options;
    } else {
      const given = readOptions("options", options).loop;
      if (given === undefined) loop = lookupEventLoop();
      else if (isLoop(given)) loop = given;
      else throw typeError("options.loop", "an EventLoop", given);
    }
    this.#loop = loop;
    if (loop.getDebug()) this.sourceTraceback = new Error("Future created at").stack;
  }

  getLoop(): EventLoop {
    return this.#loop;
  }

  done(): boolean {
    return (this.#state & STATE_MASK) !== PENDING;
  }

  cancelled(): boolean {
    return (this.#state & STATE_MASK) === CANCELLED;
  }

  /** The result; throws the future's exception, `CancelledError`, or `InvalidStateError` if pending. */
  result(): T {
    const state = this.#state & STATE_MASK;
    if (state === CANCELLED) throw this.#makeCancelledError();
    if (state === PENDING) throw new InvalidStateError("Result is not set.");
    this.#retrieved();
    if ((this.#state & FAILED) !== 0) throw this.#result;
    return this.#result as T;
  }

  /** The exception (null if none); throws `CancelledError` or `InvalidStateError` if pending. */
  exception(): unknown {
    const state = this.#state & STATE_MASK;
    if (state === CANCELLED) throw this.#makeCancelledError();
    if (state === PENDING) throw new InvalidStateError("Exception is not set.");
    this.#retrieved();
    return (this.#state & FAILED) !== 0 ? this.#result : null;
  }

  setResult(value: T): void {
    this[kSetResult](value);
  }

  setException(exception: unknown): void {
    this[kSetException](exception);
  }

  /**
   * Cancels the future; returns false if it was already done. Either way its exception, if it
   * failed, no longer counts as unretrieved: whoever cancels has given up on the outcome (asyncio's
   * `cancel()` clears `__log_traceback` first), so "cancel everything at shutdown" logs nothing.
   */
  cancel(msg?: string): boolean {
    if (msg !== undefined && typeof msg !== "string") throw typeError("msg", "a string or undefined", msg);
    this.#retrieved();
    return this[kCancelInternal](msg);
  }

  /**
   * Runs `cb(future)` (through the loop's ready queue) once the future is done, in the context
   * current now, or in the one given with a trailing `withContext(ctx)`.
   */
  addDoneCallback(cb: (future: this) => unknown, context?: ContextMarker): void {
    checkFunction("cb", cb);
    if (context !== undefined && !ContextMarker.is(context)) {
      throw typeError("context", "a marker from withContext(ctx)", context);
    }
    const ctx = context === undefined ? null : context.context;
    const entry = new DoneCallback(
      this,
      cb as unknown as (fut: Future<unknown>) => unknown,
      ctx,
      ctx === null ? currentData() : contextData(ctx),
    );
    if ((this.#state & STATE_MASK) !== PENDING) {
      this.#loop[kSchedule](entry);
      return;
    }
    this.#addCallback(entry);
    // A sleep(0) handed to gather/wait/shield/asCompleted: watching it starts its one-iteration yield.
    if ((this.#state & YIELD_ONCE) !== 0) this[kSetResult](this.#result as T);
  }

  /** Removes every registration of `cb`; returns how many were removed. */
  removeDoneCallback(cb: (future: this) => unknown): number {
    checkFunction("cb", cb);
    const current = this.#callbacks;
    if (current === null) return 0;
    const cbs = Array.isArray(current) ? current : [current];
    const kept = cbs.filter((c) => !(c instanceof DoneCallback && c.fn === (cb as unknown)));
    const removed = cbs.length - kept.length;
    if (removed > 0) this.#callbacks = kept.length === 0 ? null : kept.length === 1 ? (kept[0] as Runnable) : kept;
    return removed;
  }

  #addCallback(entry: Runnable): void {
    const cbs = this.#callbacks;
    if (cbs === null) this.#callbacks = entry;
    else if (Array.isArray(cbs)) cbs.push(entry);
    else this.#callbacks = [cbs, entry];
  }

  /**
   * Like `Promise.prototype.then`. Called by `await` (and by the Promise combinators) with both
   * callbacks: from inside a task that is an await, so the task resumes in this future's callback
   * slot and a `cancel()` of the task cancels this future. With one callback (`fut.then(cb)`,
   * `fut.catch(cb)`, `fut.finally(cb)`) it only registers a continuation and returns a plain
   * Promise; awaiting that is awaiting a plain Promise (a cancel lands at the next loop await).
   */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#register(onFulfilled, onRejected, typeof onFulfilled === "function" && typeof onRejected === "function");
  }

  #register<R1, R2>(
    onFulfilled: ((value: T) => R1 | PromiseLike<R1>) | null | undefined,
    onRejected: ((reason: unknown) => R2 | PromiseLike<R2>) | null | undefined,
    isAwait: boolean,
  ): Promise<R1 | R2> {
    const derived = new LazyPromise<R1 | R2>();
    this.#attach(derived as LazyPromise<unknown>, onFulfilled, onRejected, isAwait);
    // A thenable with catch/finally; a real Promise only once somebody chains on it (see LazyPromise).
    return derived;
  }

  #attach<R1, R2>(
    derived: LazyPromise<unknown>,
    onFulfilled: ((value: T) => R1 | PromiseLike<R1>) | null | undefined,
    onRejected: ((reason: unknown) => R2 | PromiseLike<R2>) | null | undefined,
    isAwait: boolean,
  ): void {
    const frame = currentFrame();
    const awaiting = isAwait ? frame.task : null;
    const wakeup = new Wakeup(
      this,
      frame,
      awaiting,
      onFulfilled,
      onRejected,
      derived,
    );
    if ((this.#state & STATE_MASK) !== PENDING) {
      // Python would not suspend on a done future either; a microtask keeps then() asynchronous.
      queueMicrotask(() => {
        wakeup.deliver();
      });
      return;
    }
    const task = frame.task;
    if (task !== null) {
      // Awaiting itself would never end; a mere continuation on itself (task.finally(cb)) is fine.
      if (awaiting !== null && (task as unknown) === this) {
        wakeup.reject(new RuntimeError(`Task cannot await on itself: ${task.toString()}`));
        return;
      }
      if (frame.loop !== this.#loop) {
        wakeup.reject(
          new RuntimeError(`Task ${task.toString()} got Future ${this.toString()} attached to a different loop`),
        );
        return;
      }
    }
    // A subclass that overrides addDoneCallback sees the await through it, as asyncio's task
    // subscribes with add_done_callback; this class's own futures take the direct path.
    if (this.addDoneCallback === ownAddDoneCallback) this.#addCallback(wakeup);
    else this.addDoneCallback(wakeupCallback(wakeup));
    if (awaiting !== null) this.#awaitedBy(awaiting, awaiting);
    if (this.#state === (PENDING | YIELD_ONCE)) this[kSetResult](this.#result as T);
  }

  /** The task `task` is now suspended on this future: make it the task's cancel target. */
  #awaitedBy(awaiting: AwaitingTask, task: Task<unknown>): void {
    if (awaiting.done()) return;
    awaiting[kFutWaiter] = this;
    this.#loop[kStepEnd](task);
    if (awaiting[kMustCancel] && this.cancel(awaiting.cancelMessage())) awaiting[kMustCancel] = false;
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    if (typeof onFinally !== "function") return this.#register(undefined, undefined, false);
    // A continuation, not an await (see then()), although it passes both callbacks.
    return this.#register(
      async (value) => {
        await Promise.resolve(onFinally());
        return value;
      },
      async (reason: unknown) => {
        await Promise.resolve(onFinally());
        throw reason;
      },
      false,
    );
  }

  get [Symbol.toStringTag](): string {
    return "Future";
  }

  // ---- internal protocol (symbol-keyed so Task can override the public setters) ----

  [kSetResult](value: T): void {
    if ((this.#state & STATE_MASK) !== PENDING) throw new InvalidStateError("invalid state");
    this.#result = value;
    this.#state = FINISHED;
    this.#scheduleCallbacks();
  }

  [kSetException](exception: unknown): void {
    if ((this.#state & STATE_MASK) !== PENDING) throw new InvalidStateError("invalid state");
    let exc = exception;
    if (typeof exc === "function" && isErrorLike(safeGet(exc, "prototype"))) {
      exc = new (exc as new () => Error)();
    }
    this.#result = exc;
    this.#state = FINISHED | FAILED | LOG_TRACEBACK;
    const loop = this.#loop;
    // The registry holds the error strongly until the future is collected. An Error whose stack
    // was never read still holds V8's raw frames, receivers included: for a task that threw
    // before its first await that is the task itself, so the task was never collected (a leak)
    // and the error never reported. Reading the stack once turns those frames into a string.
    if (typeof exc === "object" && exc !== null) {
      try {
        void (exc as { stack?: unknown }).stack;
      } catch {
        // A throwing stack getter: nothing to release.
      }
    }
    neverRetrieved.register(
      this,
      { loop, kind: this.constructor.name, exception: exc, repr: this.toString() },
      this,
    );
    if (loop.getDebug()) loop[kUnretrieved](this);
    this.#scheduleCallbacks();
  }

  /** Cancels the future itself (`Task.cancel` only requests; this is what marks it cancelled). */
  [kCancelInternal](msg: string | undefined, exc?: CancelledError): boolean {
    if ((this.#state & STATE_MASK) !== PENDING) return false;
    this.#state = CANCELLED;
    if (msg !== undefined || exc !== undefined) {
      const extra = this.#more();
      extra.cancelMessage = msg;
      if (exc !== undefined) extra.cancelledExc = exc;
    }
    this.#retrieved();
    const onCancel = this.#extra?.onCancel ?? null;
    if (onCancel !== null) {
      (this.#extra as FutureExtra).onCancel = null;
      onCancel.cancel();
    }
    this.#scheduleCallbacks();
    return true;
  }

  /** Marks the exception as looked at; returns it (boxed) if there is one. */
  [kMarkRetrieved](): { error: unknown } | undefined {
    if ((this.#state & FAILED) === 0) return undefined;
    this.#retrieved();
    return { error: this.#result };
  }

  /**
   * Makes the first `then()` or `addDoneCallback()` complete the future at once, so an await of it
   * yields exactly one iteration (asyncio's bare `yield` in `sleep(0)`), without a timer.
   */
  [kYieldOnce](result: T): void {
    this.#state |= YIELD_ONCE;
    this.#result = result;
  }

  /** Something to cancel along with the future (the timer behind `sleep`). */
  [kOnCancel](target: { cancel(): void }): void {
    this.#more().onCancel = target;
  }

  /**
   * @internal Records what this waiter future waits for (a Queue, a Lock, the inner future of a
   * shield), for the call graph. It costs one store and no memory: a pending future's result slot
   * is empty (only sleep(0)'s one-iteration yield keeps a result there, and is left alone), and
   * setting the outcome overwrites it.
   */
  [kWaitsFor](owner: object): void {
    if (this.#state === PENDING) this.#result = owner;
  }

  /** @internal What the call graph can tell about this pending future: its timer, or what it waits for. */
  [kWaitInfo](): unknown {
    if ((this.#state & STATE_MASK) !== PENDING) return undefined;
    const onCancel = this.#extra?.onCancel ?? null;
    if (onCancel !== null) return onCancel;
    return this.#state === PENDING ? this.#result : undefined;
  }

  /** @internal The callbacks and wake-ups waiting for this future (for the call graph). */
  [kCallbacksOf](): readonly Runnable[] {
    const cbs = this.#callbacks;
    return cbs === null ? [] : Array.isArray(cbs) ? cbs : [cbs];
  }

  /** Whether an exception is set that nobody retrieved (used by the loop's close-time report). */
  hasUnretrievedException(): boolean {
    return (this.#state & LOG_TRACEBACK) !== 0;
  }

  #retrieved(): void {
    if ((this.#state & LOG_TRACEBACK) !== 0) {
      this.#state &= ~LOG_TRACEBACK;
      neverRetrieved.unregister(this);
    }
  }

  /** The CancelledError that awaiting this (cancelled) future raises. */
  [kMakeCancelled](): CancelledError {
    return this.#makeCancelledError();
  }

  #makeCancelledError(): CancelledError {
    const extra = this.#extra;
    if (extra === null) return new CancelledError("");
    return extra.cancelledExc ?? new CancelledError(extra.cancelMessage ?? "");
  }

  #scheduleCallbacks(): void {
    const cbs = this.#callbacks;
    if (cbs === null) return;
    this.#callbacks = null;
    const loop = this.#loop;
    if (!Array.isArray(cbs)) loop[kSchedule](cbs);
    else for (const cb of cbs) loop[kSchedule](cb);
  }

  protected stateName(): string {
    const state = this.#state & STATE_MASK;
    return state === PENDING ? "pending" : state === CANCELLED ? "cancelled" : "finished";
  }

  protected outcomeRepr(): string {
    if ((this.#state & STATE_MASK) !== FINISHED) return "";
    return (this.#state & FAILED) !== 0 ? ` exception=${errorRepr(this.#result)}` : ` result=${shortRepr(this.#result)}`;
  }

  /** ` cb=[first(), <n more>, last()]`, as asyncio shows the callbacks of a pending future. */
  protected callbacksRepr(): string {
    const cbs = this.#callbacks;
    if (cbs === null) return "";
    const list = Array.isArray(cbs) ? cbs : [cbs];
    const label = (cb: Runnable | undefined): string => (cb as { label?: string } | undefined)?.label ?? String(cb);
    const n = list.length;
    if (n <= 2) return ` cb=[${list.map(label).join(", ")}]`;
    return ` cb=[${label(list[0])}, <${n - 2} more>, ${label(list[n - 1])}]`;
  }

  toString(): string {
    return `<Future ${this.stateName()}${this.outcomeRepr()}${this.callbacksRepr()}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// eslint-disable-next-line @typescript-eslint/unbound-method -- compared, never called
const ownAddDoneCallback = Future.prototype.addDoneCallback;

/** A wake-up as a done callback, for futures whose subclass overrides `addDoneCallback`. */
function wakeupCallback(wakeup: Wakeup): () => void {
  return () => {
    wakeup[kRun]();
  };
}

/** @internal whether `value` is an EventLoop (without importing the loop module: no cycle). */
export function isLoop(value: unknown): value is EventLoop {
  // A try, not safeGet: this runs for every future made (a loop passed as the options), and a
  // read that throws (a revoked proxy) is all that must not escape.
  try {
    return typeof value === "object" && value !== null && typeof (value as { [kSchedule]?: unknown })[kSchedule] === "function";
  } catch {
    return false;
  }
}


export function isFuture(value: unknown): value is Future<unknown> {
  // Its own instanceof (one class: a fast site, unlike isInstance's), caught: a revoked proxy throws.
  if (typeof value !== "object" || value === null) return false;
  try {
    return value instanceof Future;
  } catch {
    return false;
  }
}
