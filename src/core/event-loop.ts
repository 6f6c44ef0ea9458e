/**
 * The event loop: a ready queue, a timer heap driven by one Node timer, and a runner that drains
 * them in asyncio's order on top of Node's own event loop.
 *
 * How one iteration runs (asyncio's `_run_once`, adapted):
 * 1. calls that other threads posted to the loop's mailbox move to the ready queue (they are also
 *    taken in before any callback the loop queues itself, so they keep their arrival order);
 * 2. timers that are due move to the end of the ready queue, in (when, scheduling) order;
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
import { type Context, type ContextMarker, currentData } from "./context.js";
import { AsyncGenRegistry } from "./async-gens.js";
import { dispatchException, formatExceptionContext, reportCallbackError, runAfterClose, watchReturned } from "./exception-handler.js";
import type { ExceptionContext, ExceptionHandler } from "./exception-handler.js";
import { LoopClosedError } from "./errors.js";
import { alreadyRunningError, anotherLoopRunningError, closeRunningError } from "./loop-errors.js";
import { DefaultExecutorSlot, checkExecutorCall, isExecutor, submitToExecutor, type Executor, type ExecutorFn } from "./executor.js";
import { EMPTY_DATA, als, state, type Frame } from "./frame.js";
import { Future, type FutureOptions } from "./future.js";
import { Handle, type TimerHandle, kRun, newHandle, newTimerHandle, sliceArguments, type Runnable, type TimerOwner } from "./handle.js";
import { StepHandshake } from "./step-handshake.js";
import { UnretrievedFutures, callbackStarts, checkNotCoroutineFunction, debugFromEnvironment } from "./debug-reports.js";
import { reportAfterCallback, withHandleTraceback } from "./debug-reports.js";
import { NodeTimerAlarm } from "./node-timer.js";
import type { LoopInbox } from "./loop-inbox.js";
import { TaskList } from "./task-list.js";
import { channels, debugLogEnabled, debugThread, logger, loopStarted, loopStopped } from "./log.js";
import { ReadyQueue } from "./ready-queue.js";
import { runUntilDone } from "./run-until-done.js";
import { readSpinMicros, spinBeforePark } from "./mailbox-spin.js";
import { kLogDestroyPending, kMailbox, kSchedule, kScheduleCall, kStepBegin, kStepEnd } from "./symbols.js";
import { kTaskAdd, kTaskDone, kTasks, kUnretrieved, kWake } from "./symbols.js";
import { noteLoop } from "./loop-registry.js";
import { Task, checkCoroutine, checkTaskOptions, constructTask, type Coroutine, type TaskOptions } from "./task.js";
import { TimerHeap } from "./timer-heap.js";
import { checkTime, rangeError, typeError } from "./validate.js";

export type { ExceptionContext, ExceptionHandler } from "./exception-handler.js";
export type { LoopInbox } from "./loop-inbox.js";

/** A future or anything `await`able. */
export type Awaitable<T> = Future<T> | PromiseLike<T>;

/** Builds the tasks of `createTask`; the loop applies `name` afterwards with `setName`. */
export type TaskFactory = (
  loop: EventLoop,
  coro: Coroutine<unknown>,
  options: { context?: Context },
) => Task<unknown>;

const RESOLVED = Promise.resolve();

/** Lets Node run its I/O callbacks and timers once (a macrotask turn). */
const yieldToNode = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

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
  /** Time each callback: debug mode, or NODE_DEBUG=multiloop (which reports slow ones too). */
  #timed = this.#debug || debugLogEnabled;
  #slowCallbackDuration = 100;
  #exceptionHandler: ExceptionHandler | null = null;
  #taskFactory: TaskFactory | null = null;
  readonly #defaultExecutor = new DefaultExecutorSlot();
  readonly #asyncgens = new AsyncGenRegistry();
  readonly #unretrieved = new UnretrievedFutures();
  #inbox: LoopInbox | null = null;
  readonly #tasks = new TaskList();

  // Runner state.
  #parked = false;
  #wakeResolve: (() => void) | null = null;
  readonly #alarm = new NodeTimerAlarm(() => {
    this.#wake();
  });
  readonly #step = new StepHandshake();
  readonly #callbackFrame: Frame = { loop: this, task: null, ctx: null, data: EMPTY_DATA };
  /** See `setMailboxSpin`; 0: park at once. */
  #spinMicros = 0;

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
    noteLoop(this);
    loopStarted(this);
    const frame: Frame = { loop: this, task: null, ctx: null, data: currentData() };
    try {
      await als.run(frame, () => this.#runLoop());
    } finally {
      this.#stopping = false;
      this.#running = false;
      if (state.runningLoop === this) state.runningLoop = null;
      this.#parked = false;
      this.#wakeResolve = null;
      this.#alarm.clear();
      this.#inbox?.stop();
      loopStopped(this);
    }
  }

  /**
   * Runs until `aw` is done and returns its result (or throws its error). A function is started as
   * a task on this loop; a promise is wrapped in one; a future is used as is.
   */
  async runUntilComplete<T>(aw: Awaitable<T> | (() => T | PromiseLike<T>)): Promise<T> {
    this.#checkClosed();
    this.#checkNotRunning();
    return runUntilDone(this, aw);
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
    if (this.#running) throw closeRunningError();
    if (this.#closed) return;
    debugThread("close %s", this.toString());
    this.#closed = true;
    for (const task of this[kTasks]()) {
      if (!task.done() && task[kLogDestroyPending]) {
        this.callExceptionHandler({ message: "Task was destroyed but it is pending!", task });
      }
    }
    this.#unretrieved.report((context) => {
      this.callExceptionHandler(context);
    });
    this.#ready.clear();
    this.#timers.clear();
    this.#alarm.clear();
    const executor = this.#defaultExecutor.take();
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
    await this.#asyncgens.shutdown((context) => {
      this.callExceptionHandler(context);
    });
  }

  /**
   * Registers an async generator so `shutdownAsyncgens()` (and `run()`) closes it; returns it.
   *
   * @example
   * for await (const row of loop.trackAsyncGen(readRows())) { ... }
   */
  trackAsyncGen<G extends AsyncGenerator<unknown, unknown, unknown>>(gen: G): G {
    return this.#asyncgens.track(gen);
  }

  /**
   * Shuts the default executor down and waits for its threads (at most `timeoutMs`, then they are
   * stopped and a `RuntimeWarning` is emitted). Afterwards `runInExecutor(null, ...)` throws.
   */
  async shutdownDefaultExecutor(timeoutMs?: number): Promise<void> {
    if (timeoutMs !== undefined) checkTime("timeoutMs", timeoutMs);
    await this.#defaultExecutor.shutdown(timeoutMs);
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
    if (this.#debug) checkNotCoroutineFunction("callSoon", cb);
    // Rest parameters would allocate an array per call, even for none: read `arguments` instead.
    // eslint-disable-next-line prefer-rest-params
    const handle = newHandle(cb, arguments.length > 1 ? sliceArguments(arguments, 1) : null, this.#debug);
    this.#inbox?.poll();
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
    if (this.#debug) checkNotCoroutineFunction(method, cb);
    const timer = newTimerHandle(when, cb, args, this.#timerOwner, this.#debug);
    this.#timers.push(timer, delay);
    if (this.#parked && !(when >= this.#alarm.when)) this.#wake();
    return timer;
  }

  /**
   * Opt-in: with nothing to run, poll the mailbox (and replies this thread awaits) for up to
   * `micros` microseconds before parking (see mailbox-spin.ts). `null` or 0: off (the default).
   */
  setMailboxSpin(options: { micros: number } | null): void {
    this.#spinMicros = readSpinMicros("options", options);
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
    checkTaskOptions(options);
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
    checkExecutorCall(executor, fn);
    const fut = this.createFuture<R>();
    submitToExecutor(fut, executor ?? this.defaultExecutor(), fn, args);
    return fut;
  }

  /** @internal the default executor, created on first use; throws after it was shut down. */
  defaultExecutor(): Executor {
    return this.#defaultExecutor.get();
  }

  setDefaultExecutor(executor: Executor): void {
    if (!isExecutor(executor)) throw typeError("executor", "an Executor (with submit() and shutdown())", executor);
    this.#defaultExecutor.set(executor);
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
    logger.error(formatExceptionContext(withHandleTraceback(this, context)));
  }

  /** Hands `context` to the custom exception handler (in the task's context), or to the default. */
  callExceptionHandler(context: ExceptionContext): void {
    if (channels.exception.hasSubscribers) channels.exception.publish({ loop: this, context });
    dispatchException(this, this.#exceptionHandler, context);
  }

  getDebug(): boolean {
    return this.#debug;
  }

  /** Debug mode: slow callbacks, promise-returning callbacks and unretrieved errors get reported. */
  setDebug(enabled: boolean): void {
    if (typeof enabled !== "boolean") throw typeError("enabled", "a boolean", enabled);
    this.#debug = enabled;
    this.#timed = enabled || debugLogEnabled;
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
      runAfterClose(this, runnable);
      return;
    }
    this.#inbox?.poll();
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
    this.#step.begin(task, ticks, this.stepHandshakeTicks);
  }

  /** @internal `task` suspended on a loop future or settled. */
  [kStepEnd](task: Task<unknown>): void {
    this.#step.end(task);
  }

  /** @internal registers a new task (see `allTasks`). */
  [kTaskAdd](task: Task<unknown>): void {
    this.#tasks.add(task);
  }

  /** @internal a task finished: unlink it. */
  [kTaskDone](task: Task<unknown>): void {
    this.#tasks.remove(task);
  }

  /** @internal the tasks that are not done, newest first. */
  [kTasks](): Iterable<Task<unknown>> {
    return this.#tasks;
  }

  /** @internal debug mode: remember a failed future to report at close if nobody looks at it. */
  [kUnretrieved](fut: Future<unknown>): void {
    this.#unretrieved.add(fut);
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
    const step = this.#step;
    let iterations = 0;
    for (;;) {
      this.#inbox?.poll();
      if (this.#timers.size > 0) this.#moveDueTimers();
      const batch = ready.takeBatch();
      const count = ready.batchLength;
      for (let i = 0; i < count; i++) {
        const handle = batch[i] as Runnable;
        batch[i] = undefined;
        if (handle.cancelled()) continue;
        const debug = this.#timed;
        const started = debug ? callbackStarts(this, handle) : 0;
        let returned: unknown;
        try {
          returned = handle[kRun](frame);
          if (typeof returned === "object" && returned !== null) watchReturned(this, handle, returned);
        } catch (err) {
          reportCallbackError(this, handle, err);
        }
        state.sync = null;
        if (step.open && !step.deferredTo(i + 1 < count ? (batch[i + 1]) : undefined)) {
          // The step handshake: let the woken task run its microtasks until it suspends again.
          let ticks = 0;
          do {
            if (++ticks > step.ticks) {
              step.giveUp();
              break;
            }
            await RESOLVED;
          } while (step.open);
        }
        if (debug) reportAfterCallback(this, handle, returned, started);
      }
      ready.recycle(batch);
      if (this.#stopping) break;
      const spun = ready.length === 0 && this.#spinMicros > 0 && spinBeforePark(this.#spinMicros, this.#timers.peek(), this.#inbox);
      // Something arrived while spinning: what it settles may resume a task through microtasks first.
      if (spun) for (let ticks = 0; ready.length === 0 && ticks < this.stepHandshakeTicks; ticks++) await RESOLVED;
      if (ready.length === 0 && !spun) {
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
    this.#alarm.arm(next === undefined ? Infinity : next.heapWhen, this.time());
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

  #checkClosed(): void {
    if (this.#closed) throw new LoopClosedError();
  }

  #checkNotRunning(): void {
    if (this.#running) throw alreadyRunningError();
    if (state.runningLoop !== null) throw anotherLoopRunningError();
  }
}

