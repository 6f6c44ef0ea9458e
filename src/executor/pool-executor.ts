/**
 * `PoolExecutor` (a piscina pool behind the loop's `Executor` interface) and `toThread`.
 *
 * What runs in the pool is either a module export (`{ filename, name }`, like piscina) or a
 * self-contained function sent by its source text. Results and errors come back through
 * multiloop's error envelope (piscina alone turns every error into a plain Error: piscina#141).
 *
 * Cancellation: each call carries a start flag in shared memory. A call cancelled while still
 * queued wins the flag and never runs (the worker sees the flag taken and returns at once). A call
 * already running is left to finish, as in asyncio (a thread cannot be interrupted), unless the
 * pool was made with `terminateOnCancel: true`: then piscina aborts it, which ends that worker.
 */
import { availableParallelism } from "node:os";
import { types } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isAbsolute } from "node:path";
import { Piscina } from "piscina";
import type { ResourceLimits, Worker } from "node:worker_threads";
import { allContextEntries } from "../core/context.js";
import { CancelledError, QueueFull, RuntimeError, ThreadExitError } from "../core/errors.js";
import { scanValue } from "../threads/crossing.js";
import { functionName } from "../core/format.js";
import { fromEnvelope, isEnvelope } from "../threads/error-envelope.js";
import {
  checkExecutorFn,
  kSubmitCancellable,
  setDefaultExecutorFactory,
  submitToExecutor,
  type CancellableSubmission,
  type Executor,
  type ExecutorFn,
  type ShutdownOptions,
  type SubmitOptions,
} from "../core/executor.js";
import { getRunningLoop } from "../core/policy.js";
import { checkInteger, checkObject, checkTime, rangeError, readOptions, typeError } from "../core/validate.js";
import { checkSignal, type SignalOptions } from "../core/abort.js";

export interface PoolExecutorOptions {
  /** Module whose exports `{ name }` calls refer to when they give no `filename`. */
  filename?: string | URL;
  /** @default 0 */
  minThreads?: number;
  /** @default os.availableParallelism() */
  maxThreads?: number;
  /** Milliseconds an idle thread lives (piscina's default of 0 churns threads: piscina#53). @default 10_000 */
  idleTimeout?: number;
  /**
   * Calls allowed to wait for a thread; more are refused with `QueueFull` (code
   * `ERR_LOOP_QUEUE_FULL`). "auto" is piscina's `maxThreads ** 2`. Like asyncio's default
   * executor, the queue has no bound by default.
   * @default Infinity
   */
  maxQueue?: number | "auto";
  resourceLimits?: ResourceLimits;
  env?: NodeJS.Dict<string>;
  /** Cancelling a call that is already running ends its thread. @default false */
  terminateOnCancel?: boolean;
}

/**
 * What `PoolExecutor.pool` is typed as: the statistics of the piscina pool behind it. The object is
 * the `Piscina` instance itself; its type is not part of this package's declarations because
 * piscina's import its package.json, which fails to compile in consumers that resolve with node16
 * and no `resolveJsonModule`. If you depend on piscina yourself, `executor.pool as Piscina`.
 */
export interface PoolStats {
  /** The pool's threads. */
  readonly threads: readonly Worker[];
  /** Calls waiting for a thread. */
  readonly queueSize: number;
  /** Calls completed so far. */
  readonly completed: number;
  /** Share of the pool's capacity in use, 0 to 1. */
  readonly utilization: number;
  /** Milliseconds since the pool was made. */
  readonly duration: number;
  /** Whether the queue is full (piscina's backpressure signal). */
  readonly needsDrain: boolean;
}

/** The message a pool thread receives (workers/executor.ts). */
export interface ExecutorTask {
  source: string | null;
  filename: string | null;
  name: string | null;
  args: unknown[];
  /**
   * The call's start flag: 0 = queued, 1 = started, 2 = cancelled before it started. A slot of
   * the pool's shared flags (sent once, in workerData), or a buffer of its own when all slots
   * are taken (then `slot` is 0).
   */
  slot: number;
  start: Int32Array | null;
  context: ReadonlyArray<[string, unknown]> | null;
}

export interface ExecutorReply {
  ok: boolean;
  value?: unknown;
  error?: unknown;
  skipped?: boolean;
}

const workerFile = fileURLToPath(new URL("../../workers/executor.js", import.meta.url));

/** Start-flag slots shared with the pool threads; more calls at once fall back to a flag each. */
const FLAG_SLOTS = 4096;
/** The workerData key under which pool threads find the shared start flags. */
export const FLAGS_KEY = "multiloop:executorFlags";

const checkedSources = new WeakMap<object, string>();

/** The source of a self-contained function, checked once per function. */
function functionSource(fn: (...args: never[]) => unknown): string {
  const cached = checkedSources.get(fn);
  if (cached !== undefined) return cached;
  const source = Function.prototype.toString.call(fn);
  if (source.includes("[native code]")) {
    throw new TypeError(
      `Expected \`fn\` to be a function with JavaScript source (it is sent to the executor thread by its text), got a native or bound function ${fn.name || "<anonymous>"}; use { filename, name } instead.`,
    );
  }
  try {
    // Method shorthand (`foo() {}`) and class methods are not expressions; they cannot be rebuilt
    // there. Compiling (not running) the text here is the cheapest exact check.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- only compiled, never called
    new Function(`return (${source});`);
  } catch {
    throw new TypeError(
      `Expected \`fn\` to be a function expression or arrow function, got ${fn.name || "a method"} whose source is not a standalone expression; wrap it: (...a) => obj.method(...a) cannot work either, so export it and use { filename, name }.`,
    );
  }
  checkedSources.set(fn, source);
  return source;
}

function moduleHref(filename: string | URL): string {
  if (filename instanceof URL) return filename.href;
  if (filename.startsWith("file:")) return filename;
  if (isAbsolute(filename)) return pathToFileURL(filename).href;
  throw new TypeError(`Expected \`filename\` to be an absolute path or a URL, got ${JSON.stringify(filename)}`);
}

/** The pool's options, checked before piscina sees them (its own errors do not name the option). */
function checkPoolOptions(options: PoolExecutorOptions): void {
  if (options.minThreads !== undefined) checkInteger("options.minThreads", options.minThreads, 0);
  if (options.maxThreads !== undefined) checkInteger("options.maxThreads", options.maxThreads, 1);
  if (options.idleTimeout !== undefined) {
    checkTime("options.idleTimeout", options.idleTimeout);
    if (options.idleTimeout < 0) throw rangeError("options.idleTimeout", "a number of milliseconds >= 0", options.idleTimeout);
  }
  const maxQueue = options.maxQueue;
  if (maxQueue !== undefined && maxQueue !== "auto" && maxQueue !== Infinity) checkInteger("options.maxQueue", maxQueue, 0);
  if (options.filename !== undefined && typeof options.filename !== "string" && !(options.filename instanceof URL)) {
    throw typeError("options.filename", "a module path or URL", options.filename);
  }
  checkObject("options.resourceLimits", options.resourceLimits);
  checkObject("options.env", options.env);
  if (options.terminateOnCancel !== undefined && typeof options.terminateOnCancel !== "boolean") {
    throw typeError("options.terminateOnCancel", "a boolean", options.terminateOnCancel);
  }
}

/** What a call's arguments may be: what crosses a loop thread's calls, minus its shared objects. */
function checkArguments(fn: ExecutorFn<unknown>, args: unknown[]): void {
  const name = typeof fn === "function" ? functionName(fn) : String(fn.name ?? "default");
  if (scanValue(args, name, "the arguments")) {
    throw new TypeError(
      `Cannot send the arguments of '${name}' to an executor thread: a LoopHandle, ThreadQueue, ThreadLock or ` +
        "ThreadSemaphore crosses only in calls between loops. Pass its share().data and revive it there with from().",
    );
  }
}

/** piscina's plain errors, as the documented classes. */
function poolError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  if (err.message === "Task queue is at limit") {
    return new QueueFull("The executor's queue is full (option maxQueue): the call was refused", {
      cause: err,
      hint: "Raise maxQueue (the default is no limit), or wait for calls to finish before submitting more.",
    });
  }
  const exited = /^worker exited with code: (-?\d+)$/u.exec(err.message);
  if (exited !== null) {
    return new ThreadExitError("PoolExecutor worker", Number(exited[1]), {
      cause: err,
      hint: "A pool thread died while it ran this call (process.exit(), an uncaught error, out of memory); the pool starts a new one.",
    });
  }
  return err;
}

/**
 * Runs functions in a pool of worker threads (piscina) for `loop.runInExecutor` and `toThread`.
 * Threads use `atomics: "async"` so their own timers and I/O keep working between calls.
 *
 * @example
 * const pool = new PoolExecutor({ maxThreads: 4 });
 * const hash = await loop.runInExecutor(pool, (s: string) => require("node:crypto").createHash("sha256").update(s).digest("hex"), text);
 * await pool.shutdown();
 */
export class PoolExecutor implements Executor, AsyncDisposable {
  readonly #pool: Piscina<ExecutorTask, ExecutorReply>;
  readonly #defaultModule: string | null;
  readonly #terminateOnCancel: boolean;
  #shutdown = false;
  /** Start flags shared with every pool thread (workerData), so a call sends a slot number only. */
  readonly #flags = new Int32Array(new SharedArrayBuffer(FLAG_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  readonly #freeSlots: number[] = Array.from({ length: FLAG_SLOTS - 1 }, (_, i) => FLAG_SLOTS - 1 - i);

  constructor(options: PoolExecutorOptions = {}) {
    options = readOptions("options", options);
    checkPoolOptions(options);
    this.#defaultModule = options.filename === undefined ? null : moduleHref(options.filename);
    this.#terminateOnCancel = options.terminateOnCancel === true;
    const maxThreads = options.maxThreads ?? Math.max(1, availableParallelism());
    // When piscina aborts a running task it terminates the worker, and with no thread left it does
    // not start one for the tasks still queued (piscina#805): they would wait forever. A pool that
    // terminates on cancel therefore keeps one thread.
    const minThreads = Math.max(options.minThreads ?? 0, this.#terminateOnCancel ? 1 : 0);
    this.#pool = new Piscina<ExecutorTask, ExecutorReply>({
      filename: workerFile,
      minThreads: Math.min(minThreads, maxThreads),
      maxThreads,
      idleTimeout: options.idleTimeout ?? 10_000,
      maxQueue: options.maxQueue ?? Infinity,
      atomics: "async",
      workerData: { [FLAGS_KEY]: this.#flags },
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
  }

  /**
   * The underlying piscina pool (statistics; it is the `Piscina` instance, for its events and
   * histograms cast it to piscina's own type: see `PoolStats`).
   */
  get pool(): PoolStats {
    return this.#pool;
  }

  /** Checks `fn` at the call site (a function that cannot be sent throws here, not later). */
  submit<R>(fn: ExecutorFn<R>, args: unknown[], options: SubmitOptions): Promise<R> {
    const signal = options.signal;
    if (signal.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new CancelledError());
    const submission = this[kSubmitCancellable]<R>(fn, args, options.context);
    const onAbort = (): void => {
      submission.cancel();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    return submission.promise.finally(() => {
      signal.removeEventListener("abort", onAbort);
    });
  }

  /**
   * @internal `submit` without an AbortSignal (building and listening to one costs ~10 us per call
   * in Node): the loop's `runInExecutor` calls this and cancels through the returned function.
   * Checks `fn` at the call site (a function that cannot be sent throws here, not later).
   */
  [kSubmitCancellable]<R>(
    fn: ExecutorFn<R>,
    args: unknown[],
    contextEntries: ReadonlyArray<[string, unknown]> | undefined,
  ): CancellableSubmission<R> {
    if (this.#shutdown) {
      const error = new RuntimeError("cannot schedule new futures after shutdown", { code: "ERR_LOOP_EXECUTOR_SHUTDOWN" });
      return { promise: Promise.reject(error), cancel: () => undefined };
    }
    checkExecutorFn(fn);
    checkArguments(fn, args);
    const context = contextEntries === undefined || contextEntries.length === 0 ? null : contextEntries;
    let source: string | null = null;
    let filename: string | null = null;
    let name: string | null = null;
    if (typeof fn === "function") {
      source = functionSource(fn);
    } else {
      filename = fn.filename === undefined ? this.#defaultModule : moduleHref(fn.filename);
      if (filename === null) throw typeError("fn.filename", "a module path (the pool has no default `filename`)", fn.filename);
      name = fn.name ?? "default";
    }
    // Slot 0 is never handed out: it means "this call brought its own flag".
    const slot = this.#freeSlots.pop() ?? 0;
    const own = slot === 0 ? new Int32Array(new SharedArrayBuffer(4)) : null;
    const flags = own ?? this.#flags;
    Atomics.store(flags, slot, 0);
    const task: ExecutorTask = { source, filename, name, args, slot, start: own, context };
    // Only a pool that may end a running call needs piscina's abort signal.
    const abort = this.#terminateOnCancel ? new AbortController() : null;
    let cancelled = false;
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      // Queued: take the start flag so it never runs. Running: only stop it when asked to.
      if (Atomics.compareExchange(flags, slot, 0, 2) !== 0 && abort !== null) abort.abort(new CancelledError());
    };
    const release = (): void => {
      if (slot !== 0) this.#freeSlots.push(slot);
    };
    const promise = this.#pool.run(task, abort === null ? {} : { signal: abort.signal }).then(
      (reply) => {
        release();
        if (reply.skipped === true) throw new CancelledError();
        if (!reply.ok) throw isEnvelope(reply.error) ? fromEnvelope(reply.error) : reply.error;
        return reply.value as R;
      },
      (err: unknown) => {
        // Aborted (terminateOnCancel) or the pool failed: the worker will not touch the slot again.
        release();
        throw poolError(err);
      },
    );
    return { promise, cancel };
  }

  /**
   * Runs `fn(...args)` in the pool, with or without an event loop (piscina's `run`). With
   * `{ signal }`, an abort is a cancel of the call (a queued call never runs; a running one
   * finishes in its thread unless the pool has `terminateOnCancel`) and rejects at once with the
   * signal's reason. This is how to give a `toThread`/`runInExecutor`-style call an AbortSignal;
   * the loop's own `runInExecutor` future is cancelled with `cancel()` instead.
   *
   * @example
   * const digest = await pool.run({ name: "hash" }, [bytes], { signal: AbortSignal.timeout(1_000) });
   */
  run<R>(fn: ExecutorFn<R>, args: readonly unknown[] = [], options: SignalOptions = {}): Promise<R> {
    if (types.isProxy(args) || !Array.isArray(args)) throw typeError("args", "an array of arguments", args);
    const signal = readOptions("options", options).signal;
    checkSignal("options.signal", signal);
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    const submission = this[kSubmitCancellable]<R>(fn, args.slice(), undefined);
    if (signal === undefined) return submission.promise;
    return new Promise<R>((resolve, reject) => {
      const onAbort = (): void => {
        submission.cancel();
        reject(signal.reason as Error);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      submission.promise.then(resolve, reject).finally(() => {
        signal.removeEventListener("abort", onAbort);
      });
    });
  }

  async shutdown(options: ShutdownOptions = {}): Promise<boolean> {
    this.#shutdown = true;
    const closing = this.#pool.close();
    if (options.wait === false) {
      closing.catch(() => undefined);
      return true;
    }
    const timeout = options.timeout;
    if (timeout === undefined) {
      await closing;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(resolve, timeout, false);
    });
    try {
      const inTime = await Promise.race([closing.then(() => true as const), expired]);
      if (!inTime) await this.#pool.destroy();
      return inTime;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

setDefaultExecutorFactory(() => new PoolExecutor());

/**
 * Runs `fn(...args)` in the running loop's default executor, with the caller's context variables
 * carried across (asyncio.to_thread). Values arrive in the executor thread's context variables of
 * the same names (module-level ones, for `{ filename, name }` functions).
 *
 * @example
 * const digest = await toThread((data: string) => expensiveHash(data), payload);
 */
export async function toThread<R>(fn: ExecutorFn<R>, ...args: unknown[]): Promise<R> {
  const loop = getRunningLoop();
  const fut = loop.createFuture<R>();
  submitToExecutor(fut, loop.defaultExecutor(), fn, args, allContextEntries());
  return await fut;
}
