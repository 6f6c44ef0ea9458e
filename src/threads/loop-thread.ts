/**
 * Loop threads: worker threads that each run their own event loop and expose functions to others.
 */
import { Worker, threadId, type SHARE_ENV, type ResourceLimits } from "node:worker_threads";
import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { ThreadExitError } from "../core/errors.js";
import { fromEnvelope, isEnvelope } from "./error-envelope.js";
import { LoopHandle } from "./loop-handle.js";
import { publishDeath, type DeathInfo } from "./thread-death.js";
import { THREAD_NAME_KEY } from "../core/thread-name.js";
import { checkObject, checkString, checkTime, rangeError, readOptions } from "../core/validate.js";
import type { Remote } from "./remote-types.js";
import type { CallArgs, CallOptions, CallResult, ExposedModule, ExposedName, StreamItem, StreamName } from "./exposed-types.js";
import type { ThreadStream } from "./stream-consumer.js";
import type { StreamOptions } from "./stream-wire.js";
import { awaitCall, checkCallOptions } from "./call-options.js";
import { debugThread } from "../core/log.js";
import { readSpinMicros } from "../core/mailbox-spin.js";
import { PARENT_THREAD_KEY, trackLoopThread } from "./thread-snapshot.js";

export interface SpawnLoopThreadOptions {
  /** The thread's name: `currentThreadName()` inside it, and in errors. Default `Worker-<threadId>`. */
  name?: string;
  /**
   * A module to import in the new thread (absolute path, `file:` URL, or package name); its
   * exported functions are exposed on the thread's loop under their export names. It may also call
   * `getEventLoop().exposeObject(obj)` at top level for `wrap()`.
   */
  module?: string | URL;
  /** Passed to `new Worker` (heap limits; a thread over them dies with `ThreadExitError`). */
  resourceLimits?: ResourceLimits;
  /** The thread's `process.env`: an object, or `SHARE_ENV` from node:worker_threads. Default: a copy. */
  env?: NodeJS.Dict<string> | typeof SHARE_ENV;
  /** Extra `execArgv` for the thread (e.g. a loader for TypeScript modules). */
  execArgv?: string[];
  /**
   * Opt-in: the thread's loop polls its mailbox for up to `micros` microseconds before it parks
   * (`loop.setMailboxSpin`): calls reach it faster, and the thread keeps a core busy while it polls.
   */
  spin?: { micros: number } | null;
}

interface ReadyMessage {
  kind: "ready";
  handle: unknown;
  threadName: string;
}

interface FailedMessage {
  kind: "failed";
  error: unknown;
}

function moduleSpecifier(module: string | URL): string {
  if (module instanceof URL) return module.href;
  checkString("options.module", module);
  if (module.startsWith("file:") || module.startsWith("data:")) return module;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (module.startsWith(".")) {
    throw new TypeError(
      `Expected \`options.module\` to be an absolute path, a URL or a package name, got a relative path ${JSON.stringify(module)}: ` +
        "it would be resolved from multiloop's worker file, not from your code. Use new URL(\"./x.js\", import.meta.url).",
    );
  }
  return module;
}

const workerFile = new URL("../../workers/loop-thread.js", import.meta.url);

/**
 * Starts a worker thread that runs its own event loop (made with `newEventLoop()` +
 * `setEventLoop()`), imports `module` and exposes its exported functions, and runs until stopped.
 * Resolves once the thread's loop is ready, so no call can race the start-up.
 *
 * Typed calls: pass the module's type, `spawnLoopThread<typeof import("./io-tasks.js")>(...)`, and
 * `call`/`callWith` check the export's name, its parameters and its (awaited) result. Without it
 * any name is accepted and results are `unknown`.
 *
 * @example
 * const io = await spawnLoopThread<typeof import("./io-tasks.js")>({
 *   name: "io-1",
 *   module: new URL("./io-tasks.js", import.meta.url),
 * });
 * const page = await io.call("fetchPage", "https://example.com"); // typed as fetchPage's result
 * await io.stop();
 */
export async function spawnLoopThread<M = ExposedModule>(options: SpawnLoopThreadOptions = {}): Promise<LoopThread<M>> {
  options = readOptions("options", options);
  if (options.name !== undefined) checkString("options.name", options.name);
  const module = options.module === undefined ? null : moduleSpecifier(options.module);
  const spin = readSpinMicros("options.spin", options.spin);
  const workerData: Record<string, unknown> = { module, spin, [PARENT_THREAD_KEY]: threadId };
  if (options.name !== undefined) workerData[THREAD_NAME_KEY] = options.name;
  const worker = new Worker(workerFile, {
    workerData,
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
  });
  debugThread("spawning loop thread %s (module %s)", options.name ?? `Worker-${worker.threadId}`, module ?? "none");
  return new Promise<LoopThread<M>>((resolve, reject) => {
    let startError: unknown;
    const onError = (err: unknown): void => {
      startError = err;
    };
    const onExit = (code: number): void => {
      reject(
        new ThreadExitError(options.name ?? `Worker-${worker.threadId}`, code, {
          ...(startError === undefined ? {} : { cause: startError }),
          hint: "The thread exited before its loop was ready (see `cause`).",
        }),
      );
    };
    const onMessage = (message: ReadyMessage | FailedMessage): void => {
      worker.off("error", onError);
      worker.off("exit", onExit);
      // The thread's first message is ours (workers/loop-thread.ts), but user code ran before it
      // (the module's top level): whatever arrives, answer spawnLoopThread instead of throwing.
      try {
        if (message.kind === "ready") {
          resolve(new LoopThread<M>(worker, LoopHandle.from<M>(message.handle), String(message.threadName)));
          return;
        }
        const error = message.kind === "failed" && isEnvelope(message.error) ? fromEnvelope(message.error) : message.error;
        reject(error instanceof Error ? error : new Error(`The loop thread failed to start: ${String(error)}`));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
      void worker.terminate();
    };
    worker.once("message", onMessage);
    worker.on("error", onError);
    worker.once("exit", onExit);
  });
}

/** Options of `LoopThread.stop`. */
export interface LoopThreadStopOptions {
  /**
   * Milliseconds to wait for the thread to exit by itself before it is terminated.
   * @default 5000
   */
  timeout?: number;
}

const DEFAULT_STOP_TIMEOUT = 5_000;

/**
 * A worker thread running its own event loop (see `spawnLoopThread`).
 *
 * Nothing hangs when the thread dies: if it exits, throws at top level, calls `process.exit` or
 * runs out of memory, every call still pending on it rejects with `ThreadExitError` (with the exit
 * code and the error as `cause`), and `handle.isClosed()` turns true.
 *
 * `M` is the type of the thread's module (see `spawnLoopThread`): it types `call` and `callWith`.
 */
export class LoopThread<M = ExposedModule> implements AsyncDisposable {
  readonly handle: LoopHandle<M>;
  readonly threadName: string;
  /** Resolves with the thread's exit code once it has exited (never rejects). */
  readonly exited: Promise<number>;
  readonly #worker: Worker;
  #error: unknown = undefined;
  #inFlight = 0;
  #idleWaiters: (() => void)[] | null = null;

  /** @internal use `spawnLoopThread`. */
  constructor(worker: Worker, handle: LoopHandle<M>, threadName: string) {
    this.#worker = worker;
    this.handle = handle;
    this.threadName = threadName;
    let resolveDeath!: (info: DeathInfo) => void;
    const death = new Promise<DeathInfo>((resolve) => {
      resolveDeath = resolve;
    });
    const channel = handle.channel;
    if (channel !== null) channel.deathInfo = death;
    const control = channel?.control;
    worker.on("error", (err) => {
      this.#error = err;
    });
    this.exited = new Promise<number>((resolve) => {
      worker.once("exit", (code) => {
        // Every other copy of the handle waits for this to report the real exit code.
        if (control !== undefined) publishDeath(control, code);
        debugThread("loop thread '%s' exited with code %d", threadName, code);
        resolveDeath(this.#error === undefined ? { exitCode: code } : { exitCode: code, cause: this.#error });
        resolve(code);
      });
    });
    trackLoopThread(worker.threadId, threadName, control ?? null, this.exited);
  }

  /** The Node thread id of the worker. */
  get threadId(): number {
    return this.#worker.threadId;
  }

  /**
   * Runs the exposed function `name` as a task on the thread's loop and returns its result (a
   * trailing `carryContext(...)` argument sends context variables along). Cancelling the task
   * that awaits it cancels the remote task.
   */
  async call<K extends ExposedName<M>>(name: K, ...args: CallArgs<M, K>): Promise<CallResult<M, K>> {
    this.#inFlight++;
    try {
      return await this.handle.runCoroutineThreadsafe(name, ...args);
    } finally {
      this.#settled();
    }
  }

  /**
   * `call` with options: `{ signal }` (an abort cancels the remote task, which sees
   * `CancelledError`, and rejects with the signal's reason; an already aborted signal sends
   * nothing) and `{ timeout }` (after that many milliseconds, the same with a `TimeoutError`).
   *
   * @example
   * const page = await io.callWith({ signal: request.signal, timeout: 5_000 }, "fetchPage", url);
   */
  async callWith<K extends ExposedName<M>>(options: CallOptions, name: K, ...args: CallArgs<M, K>): Promise<CallResult<M, K>> {
    checkCallOptions(options);
    this.#inFlight++;
    try {
      return await awaitCall(this.handle.runCoroutineThreadsafe(name, ...args), options, name, this.threadName);
    } finally {
      this.#settled();
    }
  }

  /**
   * Streams the items the exposed async generator `name` (or a function returning an async
   * iterable) yields, into this thread, in order, each once; backpressure keeps the producer at
   * most 16 items ahead. `break` (or `return()`, or cancelling the task that awaits `next()`)
   * closes the producer, whose `finally` runs in its thread first.
   *
   * @example
   * for await (const row of db.stream("rows", "select *")) console.log(row);
   */
  stream<K extends StreamName<M>>(name: K, ...args: CallArgs<M, K>): ThreadStream<StreamItem<M, K>> {
    return this.handle.stream(name, ...args);
  }

  /**
   * `stream` with options: `{ highWaterMark }` (how far ahead the producer may get, default 16)
   * and `{ signal }` (closes the producer; `next()` rejects with the signal's reason).
   *
   * @example
   * const rows = db.streamWith({ highWaterMark: 64, signal: AbortSignal.timeout(5_000) }, "rows", "q");
   */
  streamWith<K extends StreamName<M>>(options: StreamOptions, name: K, ...args: CallArgs<M, K>): ThreadStream<StreamItem<M, K>> {
    return this.handle.streamWith(options, name, ...args);
  }

  /**
   * Calls made with `call`/`callWith` that have not settled yet (a pool routes on it). Calls
   * made on `handle` directly are not counted.
   */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once no call made with `call`/`callWith` is in flight (at once when none is). */
  whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#idleWaiters ??= []).push(resolve));
  }

  #settled(): void {
    if (--this.#inFlight !== 0 || this.#idleWaiters === null) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = null;
    for (const wake of waiters) wake();
  }

  /**
   * What the thread died of once it has exited: the error it threw at top level, or Node's
   * `ERR_WORKER_OUT_OF_MEMORY`; `undefined` while it runs and after a clean exit.
   */
  get exitCause(): unknown {
    return this.#error;
  }

  /** A typed comlink proxy of the object the thread exposed with `exposeObject`. */
  wrap<T>(): Remote<T> {
    return this.handle.wrap<T>();
  }

  /**
   * Stops the thread's loop, cancels its tasks, closes the loop, and waits until the thread has
   * exited by itself. A thread that has not exited after `timeout` milliseconds (stuck in
   * synchronous code, say, so its loop never sees the request) is terminated; every call still
   * pending on it then rejects with `ThreadExitError`. Idempotent; resolves once the thread is gone.
   *
   * @param options.timeout milliseconds to wait before terminating; `Infinity` waits for ever.
   * @default { timeout: 5000 }
   */
  async stop(options: LoopThreadStopOptions = {}): Promise<void> {
    checkObject("options", options);
    const timeout = options.timeout ?? DEFAULT_STOP_TIMEOUT;
    checkTime("options.timeout", timeout);
    if (timeout < 0) throw rangeError("options.timeout", "a number of milliseconds >= 0", timeout);
    if (!this.handle.isClosed()) this.handle.stop();
    if (timeout === Infinity) {
      await this.exited;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(resolve, timeout, "expired");
    });
    try {
      if ((await Promise.race([this.exited, expired])) === "expired") await this.terminate();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the thread at once (`worker.terminate()`); pending calls reject with `ThreadExitError`. */
  async terminate(): Promise<number> {
    await this.#worker.terminate();
    return this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  toString(): string {
    return `<LoopThread ${JSON.stringify(this.threadName)}>`;
  }
}
