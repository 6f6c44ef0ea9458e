/**
 * `run()` and `Runner`: the way into a loop (asyncio.run / asyncio.Runner).
 */
import { RuntimeError } from "../core/errors.js";
import { copyContext, type Context } from "../core/context.js";
import { EventLoop, type Awaitable } from "../core/event-loop.js";
import { Future } from "../core/future.js";
import { state } from "../core/frame.js";
import { gather } from "./gather.js";
import { kMarkRetrieved } from "../core/symbols.js";
import { newEventLoop, setEventLoop } from "../core/policy.js";
import { allTasks } from "../core/tasks.js";
import { checkFunction, checkKnownOptions, isThenable, readOptions, typeError } from "../core/validate.js";

export interface RunnerOptions {
  /** Turn the loop's debug mode on (true) or off (false); default: the environment's setting. */
  debug?: boolean;
  /**
   * Build the loop with this instead of `newEventLoop()` (asyncio 3.12's `loop_factory`); the
   * runner then never calls `setEventLoop`, and still closes the loop at the end.
   */
  loopFactory?: () => EventLoop;
}

/** The options of `run()`: those of `Runner`. */
export type RunOptions = RunnerOptions;

const RUNNER_OPTIONS = ["debug", "loopFactory"] as const;

/** Checks `Runner`/`run()` options at the boundary; unknown keys are a TypeError, as in asyncio. */
function checkRunnerOptions(what: string, options: unknown): asserts options is RunnerOptions {
  if (typeof options !== "object" || options === null) throw typeError("options", "an options object", options);
  checkKnownOptions(what, options, RUNNER_OPTIONS);
  const { debug, loopFactory } = options as RunnerOptions;
  if (debug !== undefined && typeof debug !== "boolean") throw typeError("options.debug", "a boolean", debug);
  if (loopFactory !== undefined) checkFunction("options.loopFactory", loopFactory);
}

/** How long `close()` waits for the default executor's threads (asyncio: 300 s). */
const EXECUTOR_SHUTDOWN_TIMEOUT_MS = 300_000;

function runningLoopMessage(what: string): RuntimeError {
  return new RuntimeError(`${what} cannot be called from a running event loop`, {
    code: "ERR_LOOP_RUN_IN_LOOP",
    hint: "Inside a running loop, await the function (or createTask it) instead of starting another loop.",
  });
}

/**
 * Runs several top-level calls on one loop, then closes it (asyncio.Runner).
 *
 * @example
 * await using runner = new Runner();
 * await runner.run(setUp);
 * await runner.run(main);
 */
export class Runner {
  readonly #debug: boolean | undefined;
  readonly #loopFactory: (() => EventLoop) | undefined;
  #state: "created" | "initialized" | "closed" = "created";
  #loop: EventLoop | null = null;
  #context: Context | null = null;
  #setLoop = false;

  constructor(options: RunnerOptions = {}) {
    options = readOptions("options", options);
    checkRunnerOptions("new Runner()", options);
    this.#debug = options.debug;
    this.#loopFactory = options.loopFactory;
  }

  /**
   * Runs `fn` as a task on the runner's loop until it completes and returns its result. Context
   * variable changes persist between calls (they share the runner's context) unless `context` is
   * given. A future of the runner's loop, or a promise, is awaited by such a task (asyncio 3.12
   * accepts any awaitable).
   */
  async run<T>(fn: (() => T | PromiseLike<T>) | Awaitable<T>, options: { context?: Context } = {}): Promise<T> {
    if (state.runningLoop !== null) throw runningLoopMessage("Runner.run()");
    if (typeof fn !== "function" && !(fn instanceof Future) && !isThenable(fn)) {
      throw typeError("fn", "a function, a Future or a promise", fn);
    }
    const loop = this.#lazyInit();
    const main = typeof fn === "function" ? fn : (): Awaitable<T> => fn;
    const task = loop.createTask(main, { context: options.context ?? (this.#context as Context) });
    return loop.runUntilComplete(task);
  }

  /** The runner's loop (created on first use). */
  getLoop(): EventLoop {
    return this.#lazyInit();
  }

  /**
   * Cancels the tasks still running and waits for them, closes tracked async generators, shuts the
   * default executor down, unsets the thread's loop and closes it. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state !== "initialized") {
      this.#state = "closed";
      return;
    }
    const loop = this.#loop as EventLoop;
    try {
      await cancelAllTasks(loop);
      await loop.runUntilComplete(() => loop.shutdownAsyncgens());
      await loop.runUntilComplete(() => loop.shutdownDefaultExecutor(EXECUTOR_SHUTDOWN_TIMEOUT_MS));
    } finally {
      if (this.#setLoop) setEventLoop(null);
      loop.close();
      this.#loop = null;
      this.#state = "closed";
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #lazyInit(): EventLoop {
    if (this.#state === "closed") throw new RuntimeError("Runner is closed", { code: "ERR_LOOP_RUNNER_CLOSED" });
    if (this.#state === "initialized") return this.#loop as EventLoop;
    let loop: EventLoop;
    if (this.#loopFactory === undefined) {
      loop = newEventLoop();
      if (!this.#setLoop) {
        setEventLoop(loop);
        this.#setLoop = true;
      }
    } else {
      loop = this.#loopFactory();
      if (!(loop instanceof EventLoop)) throw typeError("the value options.loopFactory returned", "an EventLoop", loop);
    }
    if (this.#debug !== undefined) loop.setDebug(this.#debug);
    this.#loop = loop;
    this.#context = copyContext();
    this.#state = "initialized";
    return loop;
  }
}

async function cancelAllTasks(loop: EventLoop): Promise<void> {
  const toCancel = allTasks(loop);
  if (toCancel.size === 0) return;
  for (const task of toCancel) task.cancel();
  await loop.runUntilComplete(gather([...toCancel], { returnExceptions: true }));
  for (const task of toCancel) {
    if (task.cancelled()) continue;
    // Boxed: a task may fail with `null`, which exception() cannot tell from success.
    const failure = task[kMarkRetrieved]();
    if (failure !== undefined) {
      loop.callExceptionHandler({ message: "unhandled exception during run() shutdown", exception: failure.error, task });
    }
  }
}

/**
 * Runs `main` as a task on a new loop and returns its result (asyncio.run). Afterwards every other
 * task is cancelled and awaited, async generators registered with `trackAsyncGen` are closed, the
 * default executor is shut down, and the loop is unset and closed. With `loopFactory` the loop
 * comes from that function and the thread's current loop is left alone.
 *
 * @example
 * const answer = await run(async () => {
 *   await sleep(10);
 *   return 42;
 * });
 */
export async function run<T>(main: () => T | PromiseLike<T>, options: RunOptions = {}): Promise<T> {
  if (state.runningLoop !== null) throw runningLoopMessage("run()");
  checkFunction("main", main);
  options = readOptions("options", options);
  checkRunnerOptions("run()", options);
  const runner = new Runner(options);
  try {
    return await runner.run(main);
  } finally {
    await runner.close();
  }
}
