/**
 * The event loop: a ready queue, a timer heap driven by one Node timer, and a runner that drains
 * them in asyncio's order on top of Node's own event loop.
 *
 * How one iteration runs (asyncio's `_run_once`, adapted):
 * 1. timers that are due move to the end of the ready queue, in (when, scheduling) order;
 * 2. calls that other threads posted to the loop's mailbox move to the ready queue;
 * 3. the callbacks queued when the pass starts run, in order; what they schedule waits for the next
 *    pass. After a callback that woke a task, the runner lets microtasks run until that task's step
 *    ends (it suspends on a loop future or settles), so the step finishes before the next callback:
 *    the "step handshake". A task awaiting something the loop cannot see (a plain Promise, a Node
 *    API) gets `stepHandshakeTicks` microtask ticks, then the loop moves on without it.
 * 4. with nothing ready, the runner parks until a callback is scheduled, the next timer is due, or
 *    another thread posts a call; with work ready it gives Node's I/O a turn every
 *    `ioYieldInterval` iterations (Python polls I/O every iteration; here that costs a macrotask).
 *
 * The runner never blocks the thread: parking is an awaited promise. While it runs, the loop keeps
 * its thread alive with one ref'd Node timer (the next deadline, or a long keep-alive); a stopped
 * or closed loop holds nothing, so a worker whose loop is closed can exit.
 */
import { inspect } from "node:util";
import { Context, ContextMarker, currentData, runInContext, type ContextData } from "./context.js";
import { LoopClosedError, RuntimeError } from "./errors.js";
import { createDefaultExecutor, isExecutor, kSubmitCancellable, type CancellableSubmission, type Executor, type ExecutorFn, type FastExecutor } from "./executor-types.js";
import { EMPTY_DATA, als, state, type Frame } from "./frame.js";
import { Future, kResumes, kStalledAt, type FutureOptions } from "./future.js";
import { Handle, TimerHandle, kRun, type Runnable, type TimerOwner } from "./handle.js";
import { channels, debug as debugLog, logger } from "./log.js";
import { ReadyQueue } from "./ready-queue.js";
import {
  kLogDestroyPending,
  kMailbox,
  kNextTask,
  kScheduleCall,
  kPrevTask,
  kTaskAdd,
  kTaskOf,
  kSchedule,
  kStepBegin,
  kStepEnd,
  kTaskDone,
  kTasks,
  kUnretrieved,
  kWake,
} from "./symbols.js";
import { Task, checkCoroutine, constructTask, type Coroutine, type TaskOptions } from "./task.js";
import { TimerHeap } from "./timer-heap.js";
import { checkTime, describeValue, isThenable, rangeError, typeError } from "./validate.js";

/** A future or anything `await`able. */
export type Awaitable<T> = Future<T> | PromiseLike<T>;

/** What the loop's exception handler receives. */
export interface ExceptionContext {
  message: string;
  exception?: unknown;
  future?: Future<unknown> | string;
  task?: Task<unknown>;
  handle?: Handle | Runnable;
  [key: string]: unknown;
}

export type ExceptionHandler = (loop: EventLoop, context: ExceptionContext) => void;

/** Builds the tasks of `createTask`; the loop applies `name` afterwards with `setName`. */
export type TaskFactory = (
  loop: EventLoop,
  coro: Coroutine<unknown>,
  options: { context?: Context },
) => Task<unknown>;

/** How the loop's cross-thread mailbox plugs into the runner (see mailbox.ts). */
export interface LoopInbox {
  /** Moves calls other threads posted into the ready queue; cheap when there are none. */
  poll(): void;
  /** The runner is about to wait: arrange a wake-up; false if calls arrived meanwhile. */
  park(): boolean;
  /** The runner woke up. */
  unpark(): void;
  /** The loop started running. */
  start(): void;
  /** The loop stopped running. */
  stop(): void;
  /** The loop closed: refuse and fail whatever other threads still send. */
  close(): void;
}

const MAX_NODE_TIMER_DELAY = 2 ** 31 - 1;
const RESOLVED = Promise.resolve();

function debugFromEnvironment(): boolean {
  const value = process.env["MULTILOOP_DEBUG"];
  return value !== undefined && value !== "" && value !== "0";
}

/** `Array.prototype.slice.call(args, from)` without `arguments` leaving the function (V8 keeps it cheap). */
function sliceArguments(args: IArguments, from: number): unknown[] {
  const out: unknown[] = [];
  for (let i = from; i < args.length; i++) out.push(args[i]);
  return out;
}

function stopLoopWhenDone(fut: Future<unknown>): void {
  fut.getLoop().stop();
}

function isAsyncFunction(fn: unknown): boolean {
  const name = (fn as { constructor?: { name?: string } }).constructor?.name;
  return name === "AsyncFunction" || name === "AsyncGeneratorFunction";
}

function yieldToNode(): Promise<void> {
  return new Promise((resolve) => {
    setImmediate(resolve);
  });
}

/**
 * An asyncio-style event loop. One per thread: get it with `getEventLoop()` / `newEventLoop()`, or
 * let `run()` manage one.
 *
 * @example
 * const loop = newEventLoop();
 * loop.callSoon(() => console.log("soon"));
 * loop.callLater(10, () => loop.stop());
 * await loop.runForever();
 * loop.close();
 *
 * Thread-safety: a loop object lives in one thread. Other threads reach it through `loop.handle`.
 */
export class EventLoop {
  readonly #ready = new ReadyQueue<Runnable>();
  readonly #timers = new TimerHeap<TimerHandle>();
  readonly #timerOwner: TimerOwner = {
    timerCancelled: () => {
      this.#timers.noteCancelled();
    },
  };
  #closed = false;
  #running = false;
  #stopping = false;
  #debug = debugFromEnvironment();
  #slowCallbackDuration = 100;
  #exceptionHandler: ExceptionHandler | null = null;
  #taskFactory: TaskFactory | null = null;
  #defaultExecutor: Executor | null = null;
  #executorShutdownCalled = false;
  #asyncgens = new Set<WeakRef<AsyncGenerator<unknown, unknown, unknown>>>();
  #asyncgensShutdownCalled = false;
  #unretrieved: Set<WeakRef<Future<unknown>>> | null = null;
  #inbox: LoopInbox | null = null;
  /** The loop's tasks that are not done, as an intrusive list (no hashing per task). */
  #taskHead: Task<unknown> | null = null;

  // Runner state.
  #parked = false;
  #wakeResolve: (() => void) | null = null;
  #nodeTimer: NodeJS.Timeout | null = null;
  #nodeTimerWhen = NaN;
  #stepTask: Task<unknown> | null = null;
  #stepOpen = false;
  #stepTicks = 16;
  /** The open step is a later wake-up of a fan-in whose handshake already ran out (see Wakeup). */
  #stepFanIn = false;
  readonly #callbackFrame: Frame = { loop: this, task: null, ctx: null, data: EMPTY_DATA };
  readonly #onNodeTimer = (): void => {
    this.#nodeTimer = null;
    this.#nodeTimerWhen = NaN;
    this.#wake();
  };

  /**
   * Microtask ticks the runner waits, after waking a task, for the task's step to end before it
   * moves on (a task awaiting a plain Promise never signals; this bounds what that costs).
   * @default 16
   */
  stepHandshakeTicks = 16;

  /**
   * With callbacks ready all the time, the runner still lets Node run I/O callbacks and its own
   * timers once every this many iterations.
   * @default 64
   */
  ioYieldInterval = 64;

  // ---------------------------------------------------------------- lifecycle

  /** Runs until `stop()` is called. Rejects per asyncio's state rules (closed, already running). */
  async runForever(): Promise<void> {
    this.#checkClosed();
    this.#checkNotRunning();
    this.#running = true;
    state.runningLoop = this;
    this.#inbox?.start();
    if (channels.loopStart.hasSubscribers) channels.loopStart.publish({ loop: this });
    const frame: Frame = { loop: this, task: null, ctx: null, data: currentData() };
    try {
      await als.run(frame, () => this.#runLoop());
    } finally {
      this.#stopping = false;
      this.#running = false;
      if (state.runningLoop === this) state.runningLoop = null;
      this.#parked = false;
      this.#wakeResolve = null;
      this.#clearNodeTimer();
      this.#inbox?.stop();
      if (channels.loopStop.hasSubscribers) channels.loopStop.publish({ loop: this });
    }
  }

  /**
   * Runs until `aw` is done and returns its result (or throws its error). A function is started as
   * a task on this loop; a promise is wrapped in one; a future is used as is.
   */
  async runUntilComplete<T>(aw: Awaitable<T> | (() => T | PromiseLike<T>)): Promise<T> {
    this.#checkClosed();
    this.#checkNotRunning();
    let fut: Future<T>;
    const isNew = !(aw instanceof Future);
    if (aw instanceof Future) {
      if (aw.getLoop() !== this) {
        throw new RangeError("The future belongs to a different loop than the one specified as the loop argument");
      }
      fut = aw;
    } else if (typeof aw === "function" || isThenable(aw)) {
      const task = this.createTask(aw);
      // An aborted run must not report its own task as "destroyed while pending".
      task[kLogDestroyPending] = false;
      fut = task;
    } else {
      throw typeError("aw", "a Future, a Task, a promise or a function returning one", aw);
    }
    fut.addDoneCallback(stopLoopWhenDone);
    try {
      await this.runForever();
    } catch (err) {
      if (isNew && fut.done() && !fut.cancelled()) fut.exception();
      throw err;
    } finally {
      fut.removeDoneCallback(stopLoopWhenDone);
    }
    if (!fut.done()) {
      throw new RuntimeError("Event loop stopped before Future completed.", {
        code: "ERR_LOOP_STOPPED_EARLY",
        hint: "stop() was called before the awaitable given to runUntilComplete() finished.",
      });
    }
    return fut.result();
  }

  /** Stops after the current iteration: the callbacks ready now still run, then `run*` returns. */
  stop(): void {
    this.#stopping = true;
    this.#wake();
  }

  isRunning(): boolean {
    return this.#running;
  }

  isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Closes the loop: drops queued callbacks and timers without running them, reports tasks that are
   * still pending, and shuts the default executor down without waiting. Idempotent; throws on a
   * running loop.
   */
  close(): void {
    if (this.#running) {
      throw new RuntimeError("Cannot close a running event loop", {
        code: "ERR_LOOP_RUNNING",
        hint: "Call loop.stop() and wait for runForever()/runUntilComplete() to return first.",
      });
    }
    if (this.#closed) return;
    if (this.#debug) debugLog("Close %s", this.toString());
    this.#closed = true;
    for (const task of this[kTasks]()) {
      if (!task.done() && task[kLogDestroyPending]) {
        this.callExceptionHandler({ message: "Task was destroyed but it is pending!", task });
      }
    }
    this.#reportUnretrieved();
    this.#ready.clear();
    this.#timers.clear();
    this.#clearNodeTimer();
    this.#executorShutdownCalled = true;
    const executor = this.#defaultExecutor;
    this.#defaultExecutor = null;
    if (executor !== null) {
      executor.shutdown({ wait: false }).catch((err: unknown) => {
        logger.error(`Error while shutting down the default executor: ${inspect(err)}`);
      });
    }
    this.#inbox?.close();
  }

  /**
   * Closes the async generators registered with `trackAsyncGen` (JS cannot hook every async
   * generator the way Python's `sys.set_asyncgen_hooks` does). Errors go to the exception handler.
   */
  async shutdownAsyncgens(): Promise<void> {
    this.#asyncgensShutdownCalled = true;
    const gens: AsyncGenerator<unknown, unknown, unknown>[] = [];
    for (const ref of this.#asyncgens) {
      const gen = ref.deref();
      if (gen !== undefined) gens.push(gen);
    }
    this.#asyncgens.clear();
    if (gens.length === 0) return;
    const results = await Promise.allSettled(gens.map((gen) => gen.return(undefined)));
    results.forEach((result, i) => {
      if (result.status === "rejected") {
        this.callExceptionHandler({
          message: `an error occurred during closing of asynchronous generator ${inspect(gens[i])}`,
          exception: result.reason,
          asyncgen: gens[i],
        });
      }
    });
  }

  /**
   * Registers an async generator so `shutdownAsyncgens()` (and `run()`) closes it; returns it.
   *
   * @example
   * for await (const row of loop.trackAsyncGen(readRows())) { ... }
   */
  trackAsyncGen<G extends AsyncGenerator<unknown, unknown, unknown>>(gen: G): G {
    if (
      typeof gen !== "object" ||
      gen === null ||
      typeof (gen as { return?: unknown }).return !== "function" ||
      typeof (gen as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== "function"
    ) {
      throw typeError("gen", "an async generator", gen);
    }
    if (this.#asyncgensShutdownCalled) {
      process.emitWarning(
        `asynchronous generator ${inspect(gen)} was scheduled after loop.shutdownAsyncgens() call`,
        { type: "ResourceWarning", code: "MULTILOOP_ASYNCGEN_AFTER_SHUTDOWN" },
      );
    }
    if (this.#asyncgens.size >= 1024) {
      for (const ref of this.#asyncgens) if (ref.deref() === undefined) this.#asyncgens.delete(ref);
    }
    this.#asyncgens.add(new WeakRef(gen));
    return gen;
  }

  /**
   * Shuts the default executor down and waits for its threads (at most `timeoutMs`, then they are
   * stopped and a `RuntimeWarning` is emitted). Afterwards `runInExecutor(null, ...)` throws.
   */
  async shutdownDefaultExecutor(timeoutMs?: number): Promise<void> {
    if (timeoutMs !== undefined) checkTime("timeoutMs", timeoutMs);
    this.#executorShutdownCalled = true;
    const executor = this.#defaultExecutor;
    if (executor === null) return;
    this.#defaultExecutor = null;
    const inTime = await executor.shutdown(timeoutMs === undefined ? { wait: true } : { wait: true, timeout: timeoutMs });
    if (!inTime) {
      process.emitWarning(`The executor did not finishing joining its threads within ${timeoutMs} ms.`, {
        type: "RuntimeWarning",
        code: "MULTILOOP_EXECUTOR_JOIN_TIMEOUT",
      });
    }
  }

  // ---------------------------------------------------------------- callbacks

  /**
   * Runs `cb(...args)` in the next iteration, after the callbacks already queued; returns its
   * handle. A trailing `withContext(ctx)` runs it in `ctx` instead of a copy of the current context.
   */
  callSoon<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A | [...A, ContextMarker]): Handle;
  callSoon(cb: (...a: unknown[]) => unknown): Handle {
    this.#checkClosed();
    if (typeof cb !== "function") throw typeError("callback", "a function", cb);
    if (this.#debug) this.#checkCallback("callSoon", cb);
    // Rest parameters would allocate an array per call, even for none: read `arguments` instead.
    // eslint-disable-next-line prefer-rest-params
    const handle = this.#newHandle(cb, arguments.length > 1 ? sliceArguments(arguments, 1) : null);
    this.#ready.push(handle);
    if (this.#parked) this.#wake();
    return handle;
  }

  /** Runs `cb(...args)` after `delayMs` milliseconds (negative: as soon as possible). */
  callLater<A extends unknown[]>(delayMs: number, cb: (...args: A) => unknown, ...args: A | [...A, ContextMarker]): TimerHandle;
  callLater(delayMs: number, cb: (...a: unknown[]) => unknown): TimerHandle {
    checkTime("delayMs", delayMs);
    // eslint-disable-next-line prefer-rest-params
    const args = arguments.length > 2 ? sliceArguments(arguments, 2) : null;
    return this.#schedule("callLater", this.time() + delayMs, delayMs, cb, args);
  }

  /** Runs `cb(...args)` at `whenMs` on the `time()` clock; ties run in scheduling order. */
  callAt<A extends unknown[]>(whenMs: number, cb: (...args: A) => unknown, ...args: A | [...A, ContextMarker]): TimerHandle;
  callAt(whenMs: number, cb: (...a: unknown[]) => unknown): TimerHandle {
    checkTime("whenMs", whenMs);
    // eslint-disable-next-line prefer-rest-params
    const args = arguments.length > 2 ? sliceArguments(arguments, 2) : null;
    return this.#schedule("callAt", whenMs, null, cb, args);
  }

  /**
   * `callSoon` that also wakes a parked loop. In the loop's own thread this is the same as
   * `callSoon`; other threads use `loop.handle.callSoonThreadsafe(name, ...args)`.
   */
  callSoonThreadsafe<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A | [...A, ContextMarker]): Handle {
    return this.callSoon(cb, ...args);
  }

  /** The loop's monotonic clock, in milliseconds (the scale of `performance.now()`). */
  time(): number {
    return performance.now();
  }

  #schedule(
    method: string,
    when: number,
    delay: number | null,
    cb: (...a: unknown[]) => unknown,
    args: unknown[] | null,
  ): TimerHandle {
    this.#checkClosed();
    if (typeof cb !== "function") throw typeError("callback", "a function", cb);
    if (this.#debug) this.#checkCallback(method, cb);
    let ctx: Context | null = null;
    let data: ContextData;
    const last = args !== null ? args[args.length - 1] : undefined;
    if (last instanceof ContextMarker) {
      (args as unknown[]).pop();
      ctx = last.context;
      data = EMPTY_DATA;
    } else {
      data = currentData();
    }
    const timer = new TimerHandle(when, cb, args, ctx, data, this.#timerOwner);
    if (this.#debug) timer.sourceTraceback = new Error("Handle created at").stack;
    this.#timers.push(timer, delay);
    if (this.#parked && !(when >= this.#nodeTimerWhen)) this.#wake();
    return timer;
  }

  #newHandle(cb: (...a: unknown[]) => unknown, args: unknown[] | null): Handle {
    let handle: Handle;
    const last = args !== null ? args[args.length - 1] : undefined;
    if (last instanceof ContextMarker) {
      (args as unknown[]).pop();
      handle = new Handle(cb, args, last.context, EMPTY_DATA);
    } else {
      handle = new Handle(cb, args, null, currentData());
    }
    if (this.#debug) handle.sourceTraceback = new Error("Handle created at").stack;
    return handle;
  }

  // ---------------------------------------------------------------- futures and tasks

  createFuture<T = unknown>(): Future<T> {
    // The loop itself as the options: Future's constructor accepts it, and no object per future.
    return new Future<T>(this as unknown as FutureOptions);
  }

  /** Wraps `coro` in a task on this loop (the loop need not be running yet). */
  createTask<T>(coro: Coroutine<T>, options: TaskOptions = {}): Task<T> {
    this.#checkClosed();
    checkCoroutine("coro", coro);
    if (typeof options !== "object" || options === null) throw typeError("options", "an options object", options);
    if (options.context !== undefined && !(options.context instanceof Context)) {
      throw typeError("options.context", "a Context", options.context);
    }
    const factory = this.#taskFactory;
    if (factory === null) return constructTask<T, Task<T>>(Task, this, coro, options);
    const task = factory(this, coro, options.context === undefined ? {} : { context: options.context }) as Task<T>;
    if (options.name !== undefined) task.setName(options.name);
    return task;
  }

  setTaskFactory(factory: TaskFactory | null): void {
    if (factory !== null && typeof factory !== "function") throw typeError("factory", "a function or null", factory);
    this.#taskFactory = factory;
  }

  getTaskFactory(): TaskFactory | null {
    return this.#taskFactory;
  }

  // ---------------------------------------------------------------- executor

  /**
   * Runs `fn(...args)` in another thread and returns a future of its result. `executor` null means
   * the loop's default executor (a piscina pool, created on first use). Cancelling the future drops
   * the call if it has not started; a running call is not interrupted (see `PoolExecutor`).
   */
  runInExecutor<R>(executor: Executor | null, fn: ExecutorFn<R>, ...args: unknown[]): Future<R> {
    this.#checkClosed();
    if (executor !== null && !isExecutor(executor)) {
      throw typeError("executor", "an Executor (with submit() and shutdown()) or null", executor);
    }
    if (typeof fn !== "function" && (typeof fn !== "object" || fn === null || !("filename" in fn || "name" in fn))) {
      throw typeError("fn", "a self-contained function or { filename, name }", fn);
    }
    return this.submitToExecutor(executor ?? this.defaultExecutor(), fn, args);
  }

  /** @internal the default executor, created on first use; throws after it was shut down. */
  defaultExecutor(): Executor {
    if (this.#executorShutdownCalled) {
      throw new RuntimeError("Executor shutdown has been called", {
        code: "ERR_LOOP_EXECUTOR_SHUTDOWN",
        hint: "The loop's default executor was shut down (run() does this on exit); pass an executor of your own.",
      });
    }
    return (this.#defaultExecutor ??= createDefaultExecutor());
  }

  /** @internal `runInExecutor` after the checks; `context` carries context variables across. */
  submitToExecutor<R>(
    executor: Executor,
    fn: ExecutorFn<R>,
    args: unknown[],
    context?: ReadonlyArray<[string, unknown]>,
  ): Future<R> {
    const fut = this.createFuture<R>();
    let submitted: Promise<R>;
    const fast = (executor as Partial<FastExecutor>)[kSubmitCancellable];
    if (typeof fast === "function") {
      const submission = fast.call(executor, fn, args, context) as CancellableSubmission<R>;
      fut.addDoneCallback((f) => {
        if (f.cancelled()) submission.cancel();
      });
      submitted = submission.promise;
    } else {
      const abort = new AbortController();
      fut.addDoneCallback((f) => {
        if (f.cancelled()) abort.abort();
      });
      submitted = executor.submit(fn, args, context === undefined ? { signal: abort.signal } : { signal: abort.signal, context });
    }
    submitted.then(
      (value) => {
        if (!fut.done()) fut.setResult(value);
      },
      (err: unknown) => {
        if (!fut.done()) fut.setException(err);
      },
    );
    return fut;
  }

  setDefaultExecutor(executor: Executor): void {
    if (!isExecutor(executor)) throw typeError("executor", "an Executor (with submit() and shutdown())", executor);
    this.#defaultExecutor = executor;
  }

  // ---------------------------------------------------------------- errors and debug

  /** Sets the function that receives errors nobody else could handle; null restores the default. */
  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== "function") {
      throw typeError("handler", "a function or null", handler);
    }
    this.#exceptionHandler = handler;
  }

  getExceptionHandler(): ExceptionHandler | null {
    return this.#exceptionHandler;
  }

  /** Logs `context` to stderr in asyncio's format: the message, each other key, then the error. */
  defaultExceptionHandler(context: ExceptionContext): void {
    const lines = [context.message || "Unhandled exception in event loop"];
    for (const key of Object.keys(context).sort()) {
      if (key === "message" || key === "exception") continue;
      const value = context[key];
      if (key === "sourceTraceback") {
        lines.push(`Object created at (most recent call last):\n${String(value)}`);
      } else {
        lines.push(`${key}: ${reprForLog(value)}`);
      }
    }
    if (context.exception !== undefined) lines.push(inspect(context.exception));
    logger.error(lines.join("\n"));
  }

  /** Hands `context` to the custom exception handler (in the task's context), or to the default. */
  callExceptionHandler(context: ExceptionContext): void {
    if (channels.exception.hasSubscribers) channels.exception.publish({ loop: this, context });
    const handler = this.#exceptionHandler;
    if (handler === null) {
      try {
        this.defaultExceptionHandler(context);
      } catch (err) {
        logger.error(`Exception in default exception handler\n${inspect(err)}`);
      }
      return;
    }
    try {
      const ctx = contextOfExceptionContext(context);
      if (ctx === null) handler(this, context);
      else runInContext(ctx, handler, [this, context]);
    } catch (err) {
      try {
        this.defaultExceptionHandler({ message: "Unhandled error in exception handler", exception: err, context });
      } catch (err2) {
        logger.error(
          "Exception in default exception handler while handling an unexpected error in custom exception handler\n" +
            inspect(err2),
        );
      }
    }
  }

  getDebug(): boolean {
    return this.#debug;
  }

  /** Debug mode: slow callbacks, promise-returning callbacks and unretrieved errors get reported. */
  setDebug(enabled: boolean): void {
    if (typeof enabled !== "boolean") throw typeError("enabled", "a boolean", enabled);
    this.#debug = enabled;
  }

  /** In debug mode, callbacks and task steps slower than this many milliseconds are reported. */
  get slowCallbackDuration(): number {
    return this.#slowCallbackDuration;
  }

  set slowCallbackDuration(ms: number) {
    if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
      throw rangeError("slowCallbackDuration", "a number of milliseconds >= 0", ms);
    }
    this.#slowCallbackDuration = ms;
  }

  toString(): string {
    return `<EventLoop running=${this.#running} closed=${this.#closed} debug=${this.#debug}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  // ---------------------------------------------------------------- internal protocol

  /** @internal queues a ready-made runnable (future callbacks, task steps). */
  [kSchedule](runnable: Runnable): void {
    if (this.#closed) {
      this.#scheduleAfterClose(runnable);
      return;
    }
    this.#ready.push(runnable);
    if (this.#parked) this.#wake();
  }

  /** @internal `callSoon(cb, ...args)` with the arguments already in an array (the mailbox's case). */
  [kScheduleCall](cb: (...args: unknown[]) => unknown, args: unknown[], ctx: Context | null): Handle {
    const handle = ctx === null ? new Handle(cb, args, null, currentData()) : new Handle(cb, args, ctx, EMPTY_DATA);
    this.#ready.push(handle);
    if (this.#parked) this.#wake();
    return handle;
  }

  /**
   * @internal a task's step starts: the runner waits for `kStepEnd` before the next callback, at
   * most `ticks` microtask ticks (0: `stepHandshakeTicks`; other values mark a fan-in's later
   * wake-up).
   */
  [kStepBegin](task: Task<unknown>, ticks = 0): void {
    this.#stepTask = task;
    this.#stepOpen = true;
    this.#stepFanIn = ticks !== 0;
    this.#stepTicks = ticks === 0 ? this.stepHandshakeTicks : ticks;
  }

  /** @internal `task` suspended on a loop future or settled. */
  [kStepEnd](task: Task<unknown>): void {
    if (this.#stepTask === task) {
      this.#stepOpen = false;
      this.#stepTask = null;
    }
  }

  /** @internal registers a new task (see `allTasks`). */
  [kTaskAdd](task: Task<unknown>): void {
    const head = this.#taskHead;
    task[kNextTask] = head;
    if (head !== null) head[kPrevTask] = task;
    this.#taskHead = task;
  }

  /** @internal a task finished: unlink it. */
  [kTaskDone](task: Task<unknown>): void {
    const prev = task[kPrevTask];
    const next = task[kNextTask];
    if (prev !== null) prev[kNextTask] = next;
    else if (this.#taskHead === task) this.#taskHead = next;
    if (next !== null) next[kPrevTask] = prev;
    task[kPrevTask] = null;
    task[kNextTask] = null;
  }

  /** @internal the tasks that are not done, newest first. */
  *[kTasks](): Generator<Task<unknown>> {
    for (let task = this.#taskHead; task !== null; task = task[kNextTask]) yield task;
  }

  /** @internal debug mode: remember a failed future to report at close if nobody looks at it. */
  [kUnretrieved](fut: Future<unknown>): void {
    (this.#unretrieved ??= new Set()).add(new WeakRef(fut));
  }

  /** @internal the mailbox other threads post to (see mailbox.ts). */
  get [kMailbox](): LoopInbox | null {
    return this.#inbox;
  }

  set [kMailbox](inbox: LoopInbox) {
    this.#inbox = inbox;
    if (this.#running) inbox.start();
  }

  /** @internal wakes a parked runner (the mailbox calls this when another thread posts). */
  [kWake](): void {
    this.#wake();
  }

  // ---------------------------------------------------------------- the runner

  async #runLoop(): Promise<void> {
    const ready = this.#ready;
    const frame = this.#callbackFrame;
    let iterations = 0;
    for (;;) {
      if (this.#timers.size > 0) this.#moveDueTimers();
      const inbox = this.#inbox;
      if (inbox !== null) inbox.poll();
      const batch = ready.takeBatch();
      const count = ready.batchLength;
      for (let i = 0; i < count; i++) {
        const handle = batch[i] as Runnable;
        batch[i] = undefined;
        if (handle.cancelled()) continue;
        const debug = this.#debug;
        const started = debug ? performance.now() : 0;
        let returned: unknown;
        try {
          returned = handle[kRun](frame);
        } catch (err) {
          this.#callbackFailed(handle, err);
        }
        state.sync = null;
        // A fan-in (Promise.all over many futures) wakes its task once per future. When the next
        // callback is another wake-up of the same fan-in, it runs first and the handshake follows
        // the last one: no other callback runs in between, so the order asyncio gives is kept,
        // and 10,000 replies in one batch cost one handshake instead of 10,000.
        if (this.#stepOpen && !(this.#stepFanIn && i + 1 < count && (batch[i + 1] as Runnable)[kTaskOf] === this.#stepTask)) {
          // The step handshake: let the woken task run its microtasks until it suspends again.
          let ticks = 0;
          do {
            if (++ticks > this.#stepTicks) {
              const stalled = this.#stepTask;
              if (stalled !== null) stalled[kStalledAt] = stalled[kResumes];
              this.#stepOpen = false;
              this.#stepTask = null;
              break;
            }
            await RESOLVED;
          } while (this.#stepOpen);
        }
        if (debug) this.#afterCallbackInDebug(handle, returned, started);
      }
      ready.recycle(batch);
      if (this.#stopping) break;
      if (ready.length === 0) {
        iterations = 0;
        const parked = this.#park();
        if (parked !== null) await parked;
        this.#inbox?.unpark();
      } else if (++iterations >= this.ioYieldInterval) {
        iterations = 0;
        await yieldToNode();
      }
    }
  }

  #moveDueTimers(): void {
    this.#timers.takeDue(this.time(), this.#timerDue);
  }

  readonly #timerDue = (timer: TimerHandle): void => {
    timer.detach();
    this.#ready.push(timer);
  };

  /** Waits for work; null when there is work already (a due timer, a posted call). */
  #park(): Promise<void> | null {
    const next = this.#timers.peek();
    if (next !== undefined && next.heapWhen <= this.time()) return null;
    const inbox = this.#inbox;
    if (inbox !== null && !inbox.park()) return null;
    this.#armNodeTimer(next === undefined ? Infinity : next.heapWhen);
    this.#parked = true;
    return new Promise((resolve) => {
      this.#wakeResolve = resolve;
    });
  }

  #wake(): void {
    if (!this.#parked) return;
    this.#parked = false;
    const resolve = this.#wakeResolve;
    this.#wakeResolve = null;
    if (resolve !== null) resolve();
  }

  #armNodeTimer(when: number): void {
    if (this.#nodeTimer !== null) {
      if (this.#nodeTimerWhen === when) return;
      clearTimeout(this.#nodeTimer);
    }
    // Node timers have 1 ms granularity and may fire a little early by this clock: the runner
    // then finds the timer not yet due and parks again for the rest.
    const delay =
      when === Infinity ? MAX_NODE_TIMER_DELAY : Math.min(MAX_NODE_TIMER_DELAY, Math.max(1, Math.ceil(when - this.time())));
    this.#nodeTimerWhen = when;
    this.#nodeTimer = setTimeout(this.#onNodeTimer, delay);
  }

  #clearNodeTimer(): void {
    if (this.#nodeTimer !== null) {
      clearTimeout(this.#nodeTimer);
      this.#nodeTimer = null;
    }
    this.#nodeTimerWhen = NaN;
  }

  #callbackFailed(handle: Runnable, err: unknown): void {
    const what = handle instanceof Handle ? handle.formatCallback() : describeRunnable(handle);
    this.callExceptionHandler({ message: `Exception in callback ${what}`, exception: err, handle });
  }

  #afterCallbackInDebug(handle: Runnable, returned: unknown, started: number): void {
    const duration = performance.now() - started;
    if (duration >= this.#slowCallbackDuration) {
      const what = describeRunnable(handle);
      logger.warning(`Executing ${what} took ${duration.toFixed(3)} ms`);
      if (channels.slowCallback.hasSubscribers) {
        const task = handle[kTaskOf] ?? null;
        channels.slowCallback.publish({ loop: this, handle, task, duration, description: what });
      }
    }
    if (handle instanceof Handle && isThenable(returned)) {
      this.callExceptionHandler({
        message:
          `Callback ${handle.toString()} returned a promise, which the loop does not await ` +
          "(did you mean createTask()?)",
        handle,
      });
    }
  }

  /** Future callbacks that complete after close run in microtasks; a closed loop resumes no task. */
  #scheduleAfterClose(runnable: Runnable): void {
    if ((runnable[kTaskOf] ?? null) !== null) return;
    const frame: Frame = { loop: null, task: null, ctx: null, data: EMPTY_DATA };
    queueMicrotask(() => {
      try {
        runnable[kRun](frame);
      } catch (err) {
        this.callExceptionHandler({ message: `Exception in callback ${runnable.toString()}`, exception: err });
      } finally {
        state.sync = null;
      }
    });
  }

  #reportUnretrieved(): void {
    const refs = this.#unretrieved;
    if (refs === null) return;
    this.#unretrieved = null;
    for (const ref of refs) {
      const fut = ref.deref();
      if (fut === undefined || !fut.hasUnretrievedException()) continue;
      const exception = fut.exception();
      const kind = fut instanceof Task ? "Task" : "Future";
      this.callExceptionHandler({ message: `${kind} exception was never retrieved`, exception, future: fut });
    }
  }

  #checkClosed(): void {
    if (this.#closed) throw new LoopClosedError();
  }

  #checkNotRunning(): void {
    if (this.#running) {
      throw new RuntimeError("This event loop is already running", {
        code: "ERR_LOOP_RUNNING",
        hint: "Inside the loop, await the work (or createTask it) instead of running the loop again.",
      });
    }
    if (state.runningLoop !== null) {
      throw new RuntimeError("Cannot run the event loop while another loop is running", {
        code: "ERR_LOOP_ANOTHER_RUNNING",
        hint:
          "A thread runs one loop at a time. Await the work on the running loop, or run the other " +
          "loop in its own thread (spawnLoopThread).",
      });
    }
  }

  #checkCallback(method: string, cb: unknown): void {
    if (isAsyncFunction(cb)) {
      throw new TypeError(`coroutines cannot be used with ${method}(); use createTask() to run an async function`);
    }
  }
}

function describeRunnable(handle: Runnable): string {
  const task = handle[kTaskOf] ?? null;
  return task !== null ? task.toString() : handle.toString();
}

function contextOfExceptionContext(context: ExceptionContext): Context | null {
  const task = context.task;
  if (task instanceof Task) return task.getContext();
  const handle = context.handle;
  if (handle instanceof Handle) return handle.getContext();
  return null;
}

function reprForLog(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Future || value instanceof Handle || value instanceof EventLoop) return value.toString();
  return describeValue(value).replace(/ \([a-z]+\)$/u, "").replace(/^`|`$/gu, "");
}
