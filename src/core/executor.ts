/**
 * The executor interface the loop's `runInExecutor` talks to. The loop core knows only this; the
 * piscina-backed `PoolExecutor` lives with the other thread features and registers itself as the
 * factory of default executors (see index.ts).
 */
import { types } from "node:util";
import { RuntimeError } from "./errors.js";
import { safeGet } from "./format.js";
import { typeError } from "./validate.js";
import type { Future } from "./future.js";

/**
 * What `runInExecutor` runs in another thread: a self-contained function (sent by its source text,
 * so it cannot use variables from outside its own body), or an export of a module, like piscina.
 */
export type ExecutorFn<R> =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any argument list must fit here
  | ((...args: any[]) => R | Promise<R>)
  | { filename?: string | URL; name?: string };

export interface SubmitOptions {
  /** Aborted when the caller cancels; an executor should drop queued work and may stop running work. */
  signal: AbortSignal;
  /** The values of context variables to carry across (used by `toThread`). */
  context?: ReadonlyArray<[name: string, value: unknown]>;
}

export interface ShutdownOptions {
  /** Wait for running work to finish (default true). */
  wait?: boolean;
  /** With `wait`, give up waiting after this many milliseconds and stop the threads. */
  timeout?: number;
}

/** Runs functions in other threads. */
export interface Executor {
  submit<R>(fn: ExecutorFn<R>, args: unknown[], options: SubmitOptions): Promise<R>;
  /** Resolves to true when everything stopped in time (false when `timeout` passed). */
  shutdown(options?: ShutdownOptions): Promise<boolean>;
}

/**
 * @internal an executor's cheaper way in: submit without an AbortSignal (which costs ~10 us per
 * call to build and listen to in Node) and get back a function that cancels the call.
 */
export const kSubmitCancellable = Symbol("multiloop.submitCancellable");

export interface CancellableSubmission<R> {
  promise: Promise<R>;
  cancel(): void;
}

export interface FastExecutor extends Executor {
  [kSubmitCancellable]<R>(
    fn: ExecutorFn<R>,
    args: unknown[],
    context: ReadonlyArray<[string, unknown]> | undefined,
  ): CancellableSubmission<R>;
}

export function isExecutor(value: unknown): value is Executor {
  return (
    typeof value === "object" &&
    value !== null &&
    !types.isProxy(value) &&
    typeof safeGet(value, "submit") === "function" &&
    typeof safeGet(value, "shutdown") === "function"
  );
}

/** `runInExecutor`'s arguments, checked before anything is sent. */
export function checkExecutorCall(executor: unknown, fn: unknown): void {
  if (executor !== null && !isExecutor(executor)) {
    throw typeError("executor", "an Executor (with submit() and shutdown()) or null", executor);
  }
  checkExecutorFn(fn);
}

/**
 * `fn` of `runInExecutor` / `toThread` / `PoolExecutor.run`: a function sent by its source, or
 * `{ filename, name }`. Refused here, naming `fn`: proxies (their source cannot be read),
 * generator functions (their result is an iterator, which cannot cross threads), and objects
 * without a string or URL `filename` / string `name`.
 */
export function checkExecutorFn(fn: unknown): void {
  const expected = "a self-contained function or { filename, name }";
  if (types.isProxy(fn)) throw typeError("fn", expected, fn);
  if (typeof fn === "function") {
    if (types.isGeneratorFunction(fn)) {
      throw typeError("fn", `${expected} (a generator function returns an iterator, which cannot cross threads)`, fn);
    }
    return;
  }
  if (typeof fn !== "object" || fn === null) throw typeError("fn", expected, fn);
  const filename = safeGet(fn, "filename");
  const name = safeGet(fn, "name");
  if (filename === undefined && name === undefined) throw typeError("fn", expected, fn);
  if (filename !== undefined && typeof filename !== "string" && !(filename instanceof URL)) {
    throw typeError("fn.filename", "a module path or URL", filename);
  }
  if (name !== undefined && typeof name !== "string") throw typeError("fn.name", "the name of an exported function", name);
}



let defaultExecutorFactory: (() => Executor) | null = null;

/** @internal set by the executor module. */
export function setDefaultExecutorFactory(factory: () => Executor): void {
  defaultExecutorFactory = factory;
}

export function createDefaultExecutor(): Executor {
  if (defaultExecutorFactory === null) {
    throw new Error("multiloop: no default executor is available (the executor module was not loaded)");
  }
  return defaultExecutorFactory();
}

/**
 * A loop's default executor: made on first use, refused once shut down (what `run()` does on
 * its way out, as asyncio's `shutdown_default_executor`).
 */
export class DefaultExecutorSlot {
  #executor: Executor | null = null;
  #shutdownCalled = false;

  get(): Executor {
    if (this.#shutdownCalled) {
      throw new RuntimeError("Executor shutdown has been called", {
        code: "ERR_LOOP_EXECUTOR_SHUTDOWN",
        hint: "The loop's default executor was shut down (run() does this on exit); pass an executor of your own.",
      });
    }
    return (this.#executor ??= createDefaultExecutor());
  }

  set(executor: Executor): void {
    this.#executor = executor;
  }

  /** Shuts the executor down and waits for its threads (at most `timeoutMs`, then a warning). */
  async shutdown(timeoutMs: number | undefined): Promise<void> {
    const executor = this.take();
    if (executor === null) return;
    const inTime = await executor.shutdown(timeoutMs === undefined ? { wait: true } : { wait: true, timeout: timeoutMs });
    if (!inTime) {
      process.emitWarning(`The executor did not finishing joining its threads within ${timeoutMs} ms.`, {
        type: "RuntimeWarning",
        code: "MULTILOOP_EXECUTOR_JOIN_TIMEOUT",
      });
    }
  }

  /** Marks the slot shut down and hands back the executor to shut down, if one was made. */
  take(): Executor | null {
    this.#shutdownCalled = true;
    const executor = this.#executor;
    this.#executor = null;
    return executor;
  }
}

/**
 * Runs `fn(...args)` on `executor` and settles `fut` with the outcome; cancelling `fut` drops the
 * call (through the executor's cheap path when it has one, else an AbortSignal).
 */
export function submitToExecutor<R>(
  fut: Future<R>,
  executor: Executor,
  fn: ExecutorFn<R>,
  args: unknown[],
  context?: ReadonlyArray<[string, unknown]>,
): void {
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
}
