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
import { ContextMarker, contextData, currentData, type Context, type ContextData } from "./context.js";
import { als, alsUsesPromiseHooks, currentFrame, lookupEventLoop, state, type Frame } from "./frame.js";
import { shortRepr } from "./format.js";
import { kRun, type Runnable } from "./handle.js";
import {
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
  kStepBegin,
  kStepEnd,
  kTaskOf,
  kUnretrieved,
  kYieldOnce,
} from "./symbols.js";
import { checkFunction, typeError } from "./validate.js";
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

const LAZY_PENDING = 0;
const LAZY_FULFILLED = 1;
const LAZY_REJECTED = 2;

/**
 * What `Future.then()` returns. An `await` hands `then` its own resolving functions and never
 * looks at the returned promise, yet a native `new Promise` costs an executor and two resolving
 * closures (and, on Node 20 with AsyncLocalStorage, an async_hooks init) on every await. This
 * thenable is a plain object until somebody chains on it a second time, or with `catch`/`finally`,
 * and becomes a real Promise on a rejection nobody handles, so Node still reports it.
 *
 * Its first `then(onFulfilled, onRejected)` is served without a native promise: what an `await`
 * of the object (a queue's `get()` that had to wait, say) hands over. Only where AsyncLocalStorage
 * runs on promise hooks (Node 20): there a native promise costs hooks and `als.run` is cheap; with
 * Node 24's AsyncContextFrame it is the other way round (Queue maxsize 1: 2.0-2.5 us with native
 * promises against 2.6-3.4 us with `als.run` per delivery). The callbacks are called
 * when it settles, which is always later than `then()` returned (a loop callback settles it), as
 * Promises require; a thenable result is adopted through a real promise.
 */
interface RealPromise<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T | PromiseLike<T>) => void;
  readonly reject: (reason: unknown) => void;
}

class LazyPromise<T> implements PromiseLike<T> {
  /** The native promise, once somebody needed one. */
  #native: RealPromise<T> | null = null;
  /** Settled before it became a real promise: the value (or the reason) is kept for later subscribers. */
  #settled: typeof LAZY_PENDING | typeof LAZY_FULFILLED | typeof LAZY_REJECTED = LAZY_PENDING;
  #value: unknown = undefined;
  /** The first subscriber, while there is no native promise. */
  #onFulfilled: ((value: T) => unknown) | null = null;
  #onRejected: ((reason: unknown) => unknown) | null = null;
  #next: LazyPromise<unknown> | null = null;
  /** Where the first subscriber subscribed: its callback runs there, as a promise reaction would. */
  #frame: Frame | null = null;

  fulfil(value: T | PromiseLike<T>): void {
    let native = this.#native;
    if (native === null) {
      const onFulfilled = this.#onFulfilled;
      if (onFulfilled === null || !isThenableValue(value)) {
        this.#settled = LAZY_FULFILLED;
        this.#value = value;
        if (onFulfilled !== null) this.#deliver(onFulfilled, value as T);
        return;
      }
      native = this.#real();
    }
    native.resolve(value);
  }

  reject(reason: unknown): void {
    if (this.#native === null && this.#onFulfilled !== null) {
      this.#settled = LAZY_REJECTED;
      this.#value = reason;
      const onRejected = this.#onRejected;
      if (onRejected !== null) {
        this.#deliver(onRejected, reason);
        return;
      }
      const next = this.#takeSubscriber();
      next.reject(reason);
      return;
    }
    // Nobody subscribed yet: a real promise, so Node reports the rejection if nobody ever does.
    this.#real().reject(reason);
  }

  #deliver<V>(callback: (value: V) => unknown, value: V): void {
    const frame = this.#frame as Frame;
    const next = this.#takeSubscriber();
    // A native reaction runs in the async context of its then(): so does this callback (the
    // task's shared handlers find their task that way; context variables stay right).
    const outer = state.sync;
    state.sync = frame;
    let result: unknown;
    try {
      result = als.run(frame, callback, value);
    } catch (err) {
      state.sync = outer;
      next.reject(err);
      return;
    }
    state.sync = outer;
    next.fulfil(result);
  }

  #takeSubscriber(): LazyPromise<unknown> {
    const next = this.#next as LazyPromise<unknown>;
    this.#onFulfilled = null;
    this.#onRejected = null;
    this.#next = null;
    this.#frame = null;
    return next;
  }

  #real(): RealPromise<T> {
    let native = this.#native;
    if (native === null) {
      let resolve: RealPromise<T>["resolve"] | undefined;
      let reject: RealPromise<T>["reject"] | undefined;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      native = this.#native = {
        promise,
        resolve: resolve as RealPromise<T>["resolve"],
        reject: reject as RealPromise<T>["reject"],
      };
      if (this.#onFulfilled !== null) {
        // The first subscriber moves onto the real promise, ahead of whoever comes next, in the
        // async context it subscribed in (a reaction runs in the context of its then()).
        const onFulfilled = this.#onFulfilled;
        const onRejected = this.#onRejected;
        const frame = this.#frame as Frame;
        this.#takeSubscriber().fulfil(als.run(frame, subscribe, promise, onFulfilled, onRejected));
      }
      // Settled already: the caller attaches its handlers right after this returns, so a
      // rejection the first subscriber handled is not reported as unhandled.
      if (this.#settled === LAZY_FULFILLED) native.resolve(this.#value as T);
      else if (this.#settled === LAZY_REJECTED) native.reject(this.#value);
      this.#value = undefined;
    }
    return native;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    if (
      alsUsesPromiseHooks &&
      this.#native === null &&
      this.#settled === LAZY_PENDING &&
      this.#onFulfilled === null &&
      typeof onFulfilled === "function"
    ) {
      this.#onFulfilled = onFulfilled;
      this.#onRejected = typeof onRejected === "function" ? onRejected : null;
      this.#frame = currentFrame();
      const next = new LazyPromise<R1 | R2>();
      this.#next = next as LazyPromise<unknown>;
      return next;
    }
    return this.#real().promise.then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#real().promise.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#real().promise.finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return "Promise";
  }
}

function subscribe<T>(
  promise: Promise<T>,
  onFulfilled: (value: T) => unknown,
  onRejected: ((reason: unknown) => unknown) | null,
): Promise<unknown> {
  return promise.then(onFulfilled, onRejected);
}

/** Whether a value must be adopted (a Promise resolved with it would call its `then`). */
function isThenableValue(value: unknown): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  try {
    return typeof (value as { then?: unknown }).then === "function";
  } catch {
    // A throwing `then` getter: the real promise rejects with what it throws.
    return true;
  }
}

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

/** What every future-like awaiting a cancel needs from a task (kept structural to avoid cycles). */
interface AwaitingTask {
  [kFutWaiter]: Future<unknown> | null;
  [kMustCancel]: boolean;
  [kResumes]: number;
  [kStalledAt]: number;
  cancelMessage(): string | undefined;
  makeCancelledError(): CancelledError;
  done(): boolean;
}

/** Reports futures whose exception nobody looked at, when they are garbage-collected. */
const neverRetrieved = new FinalizationRegistry<{
  loop: EventLoop;
  kind: string;
  exception: unknown;
  repr: string;
}>((held) => {
  if (held.loop.isClosed() && !held.loop.getDebug()) return;
  held.loop.callExceptionHandler({
    message: `${held.kind} exception was never retrieved`,
    exception: held.exception,
    future: held.repr,
  });
});

/** A done callback registered with `addDoneCallback`, scheduled on completion. */
class DoneCallback implements Runnable {
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

  [kRun](frame: Frame): unknown {
    frame.ctx = this.#ctx;
    frame.data = this.#data;
    state.sync = frame;
    return this.fn(this.#fut);
  }

  toString(): string {
    return `<Handle ${this.fn.name || "<anonymous>"}(${this.#fut.toString()})>`;
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
class Wakeup implements Runnable {
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

  cancelled(): boolean {
    return false;
  }

  [kRun](): void {
    state.sync = this.#frame;
    const task = this.#task as unknown as AwaitingTask | null;
    if (task === null || task.done()) {
      this.deliver();
      return;
    }
    // Any of the task's awaits may resume it (with Promise.all, the last one to settle does), so
    // the step handshake waits for the task after each of them. Once a wake-up of this suspension
    // ran the handshake out (a combinator still waiting for the others), the later ones wait only
    // a few ticks: enough for the last one to resume the task in its slot, while 10,000 calls
    // under one Promise.all do not cost 10,000 full timeouts.
    const fresh = task[kResumes] === this.#resumes;
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
    if (typeof options !== "object" || options === null) throw typeError("options", "an options object", options);
    // Subclasses in this package pass their loop directly (no options object per task).
    let loop: EventLoop;
    if (isLoop(options)) loop = options;
    else if (options.loop === undefined) loop = lookupEventLoop();
    else if (isLoop(options.loop)) loop = options.loop;
    else throw typeError("options.loop", "an EventLoop", options.loop);
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

  /** Cancels the future; returns false if it was already done. */
  cancel(msg?: string): boolean {
    if (msg !== undefined && typeof msg !== "string") throw typeError("msg", "a string or undefined", msg);
    return this[kCancelInternal](msg);
  }

  /**
   * Runs `cb(future)` (through the loop's ready queue) once the future is done, in the context
   * current now, or in the one given with a trailing `withContext(ctx)`.
   */
  addDoneCallback(cb: (future: this) => unknown, context?: ContextMarker): void {
    checkFunction("cb", cb);
    if (context !== undefined && !(context instanceof ContextMarker)) {
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
    this.#addCallback(wakeup);
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
    if (typeof exc === "function" && exc.prototype instanceof Error) {
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

  toString(): string {
    return `<Future ${this.stateName()}${this.outcomeRepr()}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** @internal whether `value` is an EventLoop (without importing the loop module: no cycle). */
export function isLoop(value: unknown): value is EventLoop {
  return (
    typeof value === "object" && value !== null && typeof (value as { [kSchedule]?: unknown })[kSchedule] === "function"
  );
}

export function errorRepr(err: unknown): string {
  if (err instanceof Error) return `${err.name}(${shortRepr(err.message)})`;
  return shortRepr(err);
}

export function isFuture(value: unknown): value is Future<unknown> {
  return value instanceof Future;
}

export { Wakeup };
