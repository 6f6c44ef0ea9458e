/**
 * `Task`: runs an async function on a loop as a series of steps (asyncio.Task).
 *
 * JS async functions start eagerly and resume in microtasks, so a step here is: from the task's
 * wake-up callback until its coroutine suspends on a loop future (it calls that future's `then`)
 * or settles. The loop waits for that before it runs the next callback (see the runner in
 * event-loop.ts), which gives asyncio's ordering. A task that awaits a plain Promise or a Node API
 * is suspended on something the loop cannot see; its step ends when the loop's handshake budget
 * runs out, and it resumes whenever that promise settles.
 *
 * Cancellation is delivered by cancelling the loop future the task awaits now (`_fut_waiter`). If
 * there is none (the task is running, or awaits a plain Promise), the cancel is remembered
 * (`_must_cancel`) and lands at the task's next await of a pending loop future; a task that returns
 * with a cancel pending ends cancelled.
 */
import { CancelledError, LoopClosedError, RuntimeError } from "./errors.js";
import { Context, currentData } from "./context.js";
import { EMPTY_DATA, als, currentFrame, type Frame } from "./frame.js";
import { Future, isLoop, type FutureOptions } from "./future.js";
import { COROUTINE_ENDED, alreadyDone, kResumes, kStalledAt } from "./future-callbacks.js";
import { functionName, isErrorLike, pyStr, safeGet } from "./format.js";
import { kRun, type Runnable } from "./handle.js";
import {
  kCancelInternal,
  kFrame,
  kFutWaiter,
  kLogDestroyPending,
  kMarkRetrieved,
  kMustCancel,
  kNextTask,
  kPrevTask,
  kSchedule,
  kSetException,
  kSetResult,
  kStepBegin,
  kStepEnd,
  kTaskAdd,
  kTaskDone,
  kTaskOf,
} from "./symbols.js";
import { describeValue, isInstance, isThenable, readOptions, typeError } from "./validate.js";
import type { EventLoop } from "./event-loop.js";

/** What `createTask` and friends accept: a function to start in the task, or a started promise. */
export type Coroutine<T> = (() => T | PromiseLike<T>) | PromiseLike<T>;

export interface TaskOptions {
  /** The task's name; default `Task-<n>`. */
  name?: string;
  /** The context the task runs in; default: a copy of the current context. */
  context?: Context;
}

export interface TaskConstructorOptions extends TaskOptions {
  loop?: EventLoop;
}

let taskCounter = 0;

/** Set only while this package constructs a task whose arguments it already checked. */
let trustedLoop: EventLoop | null = null;
let trustedArgs: unknown[] | null = null;

export const kCompleted = Symbol("multiloop.completed");

/**
 * @internal `new cls(coro, options)` on `loop` without checking the arguments again, calling
 * `coro(...args)` when `args` is given (the mailbox hands over arguments, not a closure).
 */
export function constructTask<T, C extends Task<T>>(
  cls: new (coro: Coroutine<T>, options: TaskConstructorOptions) => C,
  loop: EventLoop,
  coro: Coroutine<T>,
  options: TaskOptions,
  args: unknown[] | null = null,
): C {
  trustedLoop = loop;
  trustedArgs = args;
  try {
    return new cls(coro, options);
  } finally {
    trustedLoop = null;
    trustedArgs = null;
  }
}

const kStepStart = Symbol("multiloop.stepStart");

/**
 * @internal The CancelledError that `err` stands for, or null: `err` itself, or the cause of the
 * AbortError a Node API rejects with when it was handed `task.signal` and the task was cancelled
 * (the signal's reason is a CancelledError). Such an AbortError is the cancellation arriving
 * through a Promise the loop cannot see.
 */
export function cancellationOf(err: unknown): CancelledError | null {
  if (err instanceof CancelledError) return err;
  // Guarded reads: `err` may be anything a coroutine threw (a revoked proxy, a throwing getter).
  if (isErrorLike(err) && safeGet(err, "name") === "AbortError") {
    const cause = safeGet(err, "cause");
    if (cause instanceof CancelledError) return cause;
  }
  return null;
}

export function checkCoroutine(name: string, coro: unknown): void {
  if (typeof coro !== "function" && !isThenable(coro)) {
    throw typeError(name, "an async function (or a function returning a promise) or a promise", coro);
  }
}

/** `createTask`'s options, checked at the boundary. */
export function checkTaskOptions(options: unknown): void {
  if (typeof options !== "object" || options === null) throw typeError("options", "an options object", options);
  let context: unknown;
  try {
    context = (options as TaskOptions).context;
  } catch (err) {
    throw new TypeError(`Expected \`options.context\` to be readable, but reading it threw ${describeValue(err)}`, { cause: err });
  }
  if (context !== undefined && !isInstance(context, Context)) throw typeError("options.context", "a Context", context);
}

/**
 * An async function running on a loop, as a future of its result (asyncio.Task).
 *
 * Cancellation: `cancel(msg)` cancels the loop future the task awaits now, so `CancelledError`
 * reaches the coroutine at that `await`; the coroutine may catch it and go on (then call
 * `uncancel()`), or let it escape, which ends the task cancelled. Awaits of plain Promises cannot
 * be interrupted: the cancel lands at the next await of a loop future. Pass `task.signal` to Node
 * APIs that take an `AbortSignal`.
 *
 * @example
 * const task = createTask(async () => { await sleep(1000); return "done"; }, { name: "slow" });
 * task.cancel("not needed");
 * await task; // throws CancelledError("not needed")
 */
export class Task<T = unknown> extends Future<T> implements Runnable {
  /** The name, or the task number until a name string is needed (saves a string per task). */
  #name: string | number;
  readonly #coro: Coroutine<T>;
  /** Arguments to call `#coro` with (the mailbox's calls); null: none. */
  readonly #args: unknown[] | null;
  readonly [kFrame]: Frame;
  [kFutWaiter]: Future<unknown> | null = null;
  [kMustCancel] = false;
  /** How many times the task was woken up (see Wakeup in future-callbacks.ts). */
  [kResumes] = 0;
  [kStalledAt] = -1;
  [kLogDestroyPending] = true;
  [kPrevTask]: Task<unknown> | null = null;
  [kNextTask]: Task<unknown> | null = null;
  #cancelMessage: string | undefined = undefined;
  #numCancelsRequested = 0;
  #abort: AbortController | null = null;

  constructor(coro: Coroutine<T>, options: TaskConstructorOptions = {}) {
    super(Task.#prepare(coro, options));
    const loop = this.getLoop();
    if (loop.isClosed()) throw new LoopClosedError();
    this.#coro = coro;
    this.#args = trustedArgs;
    this.#name = options.name === undefined ? ++taskCounter : String(options.name);
    // The task's own copy of the context: the snapshot is immutable, so the Context object itself
    // is only built when the task first needs it (a ContextVar.set, getContext()).
    const ctx = options.context ?? null;
    this[kFrame] = { loop, task: this, ctx, data: ctx === null ? currentData() : EMPTY_DATA };
    loop[kTaskAdd](this);
    // The task is its own first step in the ready queue (one allocation less per task).
    loop[kSchedule](this);
  }

  /**
   * Checks the constructor's arguments, unless the loop already did (`createTask`, which then
   * passes its loop here instead of spreading `{ ...options, loop }` into a new object per task).
   */
  static #prepare(coro: unknown, options: TaskConstructorOptions): FutureOptions {
    const loop = trustedLoop;
    if (loop !== null) return loop as unknown as FutureOptions;
    checkCoroutine("coro", coro);
    options = readOptions("options", options);
    if (options.context !== undefined && !isInstance(options.context, Context)) {
      throw typeError("options.context", "a Context", options.context);
    }
    if (options.loop !== undefined && !isLoop(options.loop)) throw typeError("options.loop", "an EventLoop", options.loop);
    // Passing the loop itself (not `{ loop }`) saves an object per task; Future accepts both.
    return options.loop === undefined ? {} : (options.loop as unknown as FutureOptions);
  }

  /** @internal called once the task is done (subclasses in this package answer other threads). */
  [kCompleted](): void {
    // Nothing by default.
  }

  getName(): string {
    const name = this.#name;
    return typeof name === "number" ? (this.#name = `Task-${name}`) : name;
  }

  setName(name: string): void {
    this.#name = String(name);
  }

  /** The context the task runs in. */
  getContext(): Context {
    const frame = this[kFrame];
    return frame.ctx ?? (frame.ctx = Context.fromData(frame.data));
  }

  /** The function (or promise) the task runs. */
  getCoro(): Coroutine<T> {
    return this.#coro;
  }

  /**
   * Requests cancellation; see the class docs. Returns false if the task is already done. Each call
   * increments `cancelling()`; the first message wins.
   */
  override cancel(msg?: string): boolean {
    if (msg !== undefined && typeof msg !== "string") throw typeError("msg", "a string or undefined", msg);
    // As Future.cancel: a failed task that is cancelled has its error taken as seen.
    this[kMarkRetrieved]();
    if (this.done()) return false;
    this.#numCancelsRequested++;
    // Kept in both paths below: a signal first read after this cancel needs the message too.
    this.#cancelMessage = msg;
    const abort = this.#abort;
    if (abort !== null && !abort.signal.aborted) abort.abort(new CancelledError(msg ?? ""));
    const waiter = this[kFutWaiter];
    // Leave the waiter in place: it may be a task that swallows the cancel, to be cancelled again.
    if (waiter !== null && waiter.cancel(msg)) return true;
    this[kMustCancel] = true;
    return true;
  }

  /** How many cancel requests are pending (`cancel()` calls minus `uncancel()` calls). */
  cancelling(): number {
    return this.#numCancelsRequested;
  }

  /** Takes back one cancel request; at zero a pending cancel is dropped. Returns the new count. */
  uncancel(): number {
    if (this.#numCancelsRequested > 0) this.#numCancelsRequested--;
    if (this.#numCancelsRequested === 0) {
      this[kMustCancel] = false;
      // Every request is taken back (a timeout() that expired, say): what the task starts from now
      // on gets a signal that is not aborted. Operations holding the old one stay aborted.
      const abort = this.#abort;
      if (abort !== null && abort.signal.aborted && !this.done()) this.#abort = null;
    }
    return this.#numCancelsRequested;
  }

  /**
   * Aborted when cancellation is requested, with a `CancelledError` as its reason; hand it to Node
   * APIs (`fetch`, `fs.promises`, `timers/promises`) so a cancel reaches awaits the loop cannot see.
   * The `AbortError` such an API then rejects with counts as the cancellation: escaping the task it
   * ends the task cancelled, and `timeout()` turns it into `TimeoutError`. Once `uncancel()` has
   * taken every request back, this returns a new signal that is not aborted.
   */
  get signal(): AbortSignal {
    let abort = this.#abort;
    if (abort === null) {
      abort = this.#abort = new AbortController();
      if (this.#numCancelsRequested > 0 || this.cancelled()) {
        abort.abort(new CancelledError(this.#cancelMessage ?? ""));
      }
    }
    return abort.signal;
  }

  override setResult(): never {
    throw new RuntimeError("Task does not support setResult operation");
  }

  override setException(): never {
    throw new RuntimeError("Task does not support setException operation");
  }

  /** @internal the message of the pending cancel request. */
  cancelMessage(): string | undefined {
    return this.#cancelMessage;
  }

  /** @internal the CancelledError to throw into the coroutine for a pending cancel. */
  makeCancelledError(): CancelledError {
    return new CancelledError(this.#cancelMessage ?? "");
  }

  /** @internal the task as a runnable: its first step. */
  [kRun](): void {
    this[kStepStart]();
  }

  /** @internal */
  get [kTaskOf](): Task<unknown> {
    return this;
  }

  /** @internal first step: start the coroutine inside the task's frame. */
  [kStepStart](): void {
    // Made done from outside before its first step: the coroutine never starts (asyncio).
    if (this.done()) throw alreadyDone(this);
    const loop = this.getLoop();
    loop[kStepBegin](this);
    if (this[kMustCancel]) {
      // Cancelled before it started: the body never runs (asyncio item 77).
      this[kMustCancel] = false;
      this.#finishCancelled(this.makeCancelledError());
      return;
    }
    const coro = this.#coro;
    als.run(this[kFrame], Task.#start<T>, this, coro, this.#args);
  }

  /**
   * Starts the coroutine inside the task's frame and routes its outcome to the task. `.then()`
   * with two shared handlers, called inside `als.run`, so the reaction runs in the task's frame and
   * finds the task there: no closures, no async function (a generator and a promise) per task.
   */
  static #start<T>(task: Task<T>, coro: Coroutine<T>, args: unknown[] | null): void {
    let result: T | PromiseLike<T>;
    try {
      result = typeof coro !== "function" ? coro : args === null ? coro() : (coro as (...a: unknown[]) => T)(...args);
    } catch (err) {
      task.#onThrow(err);
      return;
    }
    if (!isThenable(result)) task.#onReturn(result);
    // Native promises and loop futures call back inside the task's frame; any other thenable may
    // call back from anywhere (or throw from `then`), so it gets handlers bound to the task.
    else if (result instanceof Promise || result instanceof Future) result.then(Task.#returned, Task.#threw);
    else Task.#adopt(task, result);
  }

  static #adopt<T>(task: Task<T>, thenable: PromiseLike<T>): void {
    try {
      thenable.then(
        (value) => {
          task.#onReturn(value);
        },
        (err: unknown) => {
          task.#onThrow(err);
        },
      );
    } catch (err) {
      task.#onThrow(err);
    }
  }

  static readonly #returned = (value: unknown): void => {
    (currentFrame().task as Task<unknown>).#onReturn(value);
  };

  static readonly #threw = (err: unknown): void => {
    (currentFrame().task as Task<unknown>).#onThrow(err);
  };

  #onReturn(value: T): void {
    this.getLoop()[kStepEnd](this);
    this[kResumes] = COROUTINE_ENDED;
    if (this.done()) {
      this.#outcomeLost();
      return;
    }
    if (this[kMustCancel]) {
      // The task was cancelled right before its coroutine returned (asyncio test_cancel_at_end).
      this[kMustCancel] = false;
      this.#finishCancelled(this.makeCancelledError());
      return;
    }
    this[kSetResult](value);
    this.getLoop()[kTaskDone](this);
    this[kCompleted]();
  }

  #onThrow(err: unknown): void {
    this.getLoop()[kStepEnd](this);
    this[kResumes] = COROUTINE_ENDED;
    if (this.done()) {
      this.#outcomeLost();
      return;
    }
    const cancelled = cancellationOf(err);
    if (cancelled !== null) {
      this.#finishCancelled(cancelled);
      return;
    }
    this[kSetException](err);
    this.getLoop()[kTaskDone](this);
    this[kCompleted]();
  }

  /**
   * The coroutine ended (it resumed by itself, from a plain Promise) after the task was made done
   * from outside: its outcome is lost, which asyncio reports from the step as InvalidStateError.
   */
  #outcomeLost(): void {
    this.getLoop().callExceptionHandler({
      message: `Exception in callback ${this.toString()}`,
      exception: alreadyDone(this),
      task: this,
    });
  }

  #finishCancelled(exc: CancelledError): void {
    this[kCancelInternal](exc.message, exc);
    this.getLoop()[kTaskDone](this);
    this[kCompleted]();
  }

  override toString(): string {
    const coro = this.#coro;
    const coroName = typeof coro === "function" ? functionName(coro) : "<promise>";
    // asyncio 3.11+: a task with a cancel request pending shows "cancelling" as its state.
    const stateName = this.#numCancelsRequested > 0 && !this.done() ? "cancelling" : this.stateName();
    let s = `<Task ${stateName} name=${pyStr(this.getName())} coro=<${coroName}()>`;
    const waiter = this[kFutWaiter];
    if (waiter !== null && !this.done()) s += ` wait_for=${waiter.toString()}`;
    return `${s}${this.outcomeRepr()}${this.callbacksRepr()}>`;
  }
}
