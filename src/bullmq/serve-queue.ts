/**
 * `serveQueue`: the worker's side of a `QueueExecutor`. A BullMQ `Worker` takes jobs from the
 * queue, and each job runs as a task on this process's running loop, so it may await, use
 * Queue/Lock, `runInExecutor` on a local pool, or call loop threads, as any task does.
 *
 * Only modules named in `allow` run: a job names its function as `{ filename, name }`, resolved
 * here against `baseDir`, and any other module is refused without being imported. No code travels
 * in a job. What the job carries is read defensively (codec.ts): data multiloop did not write, data
 * past `maxJobBytes`, a module outside `allow`, an export that is not a function, each fail that
 * job alone with a `JobRefusedError` (its `cause` says why) and are not retried.
 *
 * Cancellation reaches a running job's task as `CancelledError`, whichever worker process runs it:
 * callers publish a cancel event on the queue's control stream (a BullMQ event stream every
 * worker reads), and the worker that runs the job cancels its task. (BullMQ's own
 * `worker.cancelJob` reaches one worker only, and makes the worker build an AbortController and
 * signal for every job, about 3% of a small job's cost; the task is at hand here.) A cancel that
 * arrives before its job started here is remembered for a while, so the job is refused when it
 * starts; and the caller marks a running job's data cancelled before it sends the event, so a job
 * whose worker died before it acted on the cancel is refused by the worker that gets it next.
 */
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Job, QueueEvents, Worker, WorkerOptions } from "bullmq";
import { CancelledError, JobRefusedError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import { debug } from "../core/log.js";
import { getRunningLoop } from "../core/policy.js";
import type { Task } from "../core/task.js";
import { checkInteger, checkKnownOptions, checkObject, checkTime, rangeError, readOptions, typeError } from "../core/validate.js";
import { DEFAULT_MAX_JOB_BYTES, failureText, jobResult, readJobData, type JobCall, type JobResult } from "./codec.js";
import { bullmq } from "./load.js";
import { CANCEL_EVENT, baseOptions, checkQueueOptions, controlQueue, type QueueOptions } from "./options.js";

/** BullMQ worker options serveQueue passes through (the rest it sets itself). */
export type QueueWorkerOptions = Omit<WorkerOptions, "connection" | "prefix" | "concurrency" | "autorun">;

export interface ServeQueueOptions extends QueueOptions {
  /** The modules jobs may run: paths (from `baseDir`) or URLs. Any other module is refused. */
  allow: readonly (string | URL)[];
  /** Jobs run at once, each a task on this loop. @default 1 */
  concurrency?: number;
  /** What relative `filename`s of jobs and of `allow` are resolved against. @default process.cwd() */
  baseDir?: string | URL;
  /** Largest job (its encoded arguments, decoded) this worker reads; bigger ones are refused. @default 64 MiB */
  maxJobBytes?: number;
  /**
   * BullMQ's worker options: `lockDuration`, `stalledInterval`, `maxStalledCount`, `limiter`...
   * A job whose worker stops renewing its lock for `lockDuration` ms is given to another worker.
   */
  worker?: QueueWorkerOptions;
}

export interface QueueServerCloseOptions {
  /**
   * How long running jobs may take to finish. Past it their tasks are cancelled (their `finally`
   * blocks run) and their jobs are left to BullMQ's stalled-job recovery, which gives them to
   * another worker. @default no limit
   */
  timeout?: number;
}

/** A running `serveQueue`: `close()` stops it. */
export interface QueueServer extends AsyncDisposable {
  /** Stops taking jobs and lets the running ones finish (see `timeout`); then disconnects. Idempotent. */
  close(options?: QueueServerCloseOptions): Promise<void>;
  /** Jobs running here now. */
  readonly running: number;
  /** The BullMQ worker (its events: "completed", "failed", "error"...). */
  readonly worker: Worker;
}

/** How long a cancel for a job not running here is remembered, and how many at most. */
const REMEMBER_CANCEL_MS = 10 * 60_000;
const REMEMBER_CANCELS = 10_000;

type JobFunction = (...args: unknown[]) => unknown;

/** How many spellings of allowed modules' names are remembered. */
const REMEMBER_SPELLINGS = 1000;

/** A job's module as a URL: a URL stays one; a path is taken from `base`. */
function moduleHref(spec: string, base: string): string {
  // "C:\x.js" is a path, not a URL with scheme "c".
  if (/^[A-Za-z][A-Za-z\d+.-]+:/u.test(spec)) return new URL(spec).href;
  return pathToFileURL(isAbsolute(spec) ? spec : resolve(base, spec)).href;
}

function checkServeOptions(options: ServeQueueOptions): void {
  checkKnownOptions("serveQueue()", options, ["queue", "connection", "prefix", "allow", "concurrency", "baseDir", "maxJobBytes", "worker"]);
  checkQueueOptions(options);
  const { allow, concurrency, baseDir, maxJobBytes, worker } = options;
  if (!Array.isArray(allow)) throw typeError("options.allow", "an array of module paths or URLs", allow);
  if (allow.length === 0) throw rangeError("options.allow", "at least one module (a worker that may run nothing serves nothing)", allow);
  for (const [i, item] of allow.entries()) {
    if (!(item instanceof URL) && (typeof item !== "string" || item === "")) throw typeError(`options.allow[${i}]`, "a module path or URL", item);
  }
  if (concurrency !== undefined) checkInteger("options.concurrency", concurrency, 1);
  if (baseDir !== undefined && !(baseDir instanceof URL) && typeof baseDir !== "string") throw typeError("options.baseDir", "a directory path or file: URL", baseDir);
  if (maxJobBytes !== undefined) checkInteger("options.maxJobBytes", maxJobBytes, 1);
  checkObject("options.worker", worker);
}

/** What a job's task gives: its result, or its error (CancelledError when it was cancelled). */
function outcome<T>(task: Task<T>): Promise<T> {
  return new Promise<T>((resolveOutcome, reject) => {
    task.addDoneCallback((t) => {
      try {
        resolveOutcome(t.result());
      } catch (err) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a job may throw anything; it is passed on as thrown
        reject(err);
      }
    });
  });
}

/** Whether BullMQ should not run the job again after `err`. */
function final(err: unknown): boolean {
  return err instanceof CancelledError || err instanceof JobRefusedError || (err instanceof Error && err.name === "UnrecoverableError");
}

/**
 * The error BullMQ records for a failed job: the envelope in its message, the real stack kept.
 * `noRetry` for failures that running the job again would only repeat.
 */
function forBullMQ(err: unknown, noRetry = final(err)): Error {
  const text = failureText(err);
  const out = noRetry ? new bullmq.UnrecoverableError(text) : new Error(text);
  if (err instanceof Error && typeof err.stack === "string") out.stack = err.stack;
  return out;
}

function refused(label: string, reason: unknown, props: Record<string, unknown> = {}): JobRefusedError {
  const message = reason instanceof Error ? reason.message : String(reason);
  const err = new JobRefusedError(`The worker refused ${label}: ${message}`, {
    cause: reason,
    hint: "The job was not run and will not be retried. Jobs come from QueueExecutor.submit() with { filename, name } of a module every worker lists in `allow`.",
  });
  for (const [key, value] of Object.entries(props)) Object.defineProperty(err, key, { value, enumerable: true, configurable: true, writable: true });
  return err;
}

function exportedFunction(mod: Record<string, unknown>, call: JobCall, href: string, label: string): JobFunction {
  const exported = Object.hasOwn(mod, call.name) ? mod[call.name] : undefined;
  if (typeof exported !== "function") {
    throw refused(label, new TypeError(`module '${call.filename}' has no exported function named '${call.name}'`), { module: href });
  }
  return exported as JobFunction;
}

class Server implements QueueServer {
  readonly #loop: EventLoop;
  readonly #label: (job: Job) => string;
  readonly #allowed: ReadonlySet<string>;
  readonly #base: string;
  readonly #maxBytes: number;
  /** Allowed modules by URL: loading, then loaded. */
  readonly #loading = new Map<string, Promise<Record<string, unknown>>>();
  readonly #loaded = new Map<string, Record<string, unknown>>();
  /** The URL each spelling of an allowed module's name in jobs stands for. */
  readonly #hrefs = new Map<string, string>();
  readonly #tasks = new Map<string, Task<unknown>>();
  readonly #cancelled = new Map<string, number>();
  readonly #control: QueueEvents;
  readonly worker: Worker;
  #closing: Promise<void> | null = null;
  /** Ends the wait for running jobs: true when they finished, false when the time is up. */
  #stopWaiting: ((finished: boolean) => void) | null = null;

  constructor(loop: EventLoop, options: ServeQueueOptions) {
    this.#loop = loop;
    const queue = options.queue;
    this.#label = (job) => `job ${job.id ?? "?"} of queue '${queue}'`;
    const baseDir = options.baseDir ?? process.cwd();
    this.#base = baseDir instanceof URL || baseDir.startsWith("file:") ? fileURLToPath(baseDir) : resolve(baseDir);
    this.#allowed = new Set(options.allow.map((m) => (m instanceof URL ? m.href : moduleHref(m, this.#base))));
    this.#maxBytes = options.maxJobBytes ?? DEFAULT_MAX_JOB_BYTES;
    const base = baseOptions(options);
    this.#control = new bullmq.QueueEvents(controlQueue(queue), { ...base, autorun: true });
    this.#control.on("error", (err) => debug("serveQueue control stream: %s", err.message));
    this.#control.on(CANCEL_EVENT as "completed", (args: { jobId?: unknown; reason?: unknown }) => {
      if (typeof args.jobId === "string") this.#cancel(args.jobId, typeof args.reason === "string" ? args.reason : "");
    });
    // Two parameters: with a third, BullMQ would make an AbortSignal per job (see the module docs).
    const processor = (job: Job): Promise<JobResult> => this.#process(job);
    this.worker = new bullmq.Worker(queue, processor, {
      ...options.worker,
      ...base,
      concurrency: options.concurrency ?? 1,
      autorun: true,
    });
    this.worker.on("error", (err) => debug("serveQueue worker: %s", err.message));
  }

  get running(): number {
    return this.#tasks.size;
  }

  async ready(): Promise<void> {
    await Promise.all([this.worker.waitUntilReady(), this.#control.waitUntilReady()]);
  }

  #cancel(jobId: string, reason: string): void {
    const task = this.#tasks.get(jobId);
    if (task !== undefined) {
      task.cancel(reason === "" ? undefined : reason);
      return;
    }
    // Not running here (yet): remember it, so the job is refused if it starts here.
    const now = Date.now();
    if (this.#cancelled.size >= REMEMBER_CANCELS) {
      for (const [id, at] of this.#cancelled) if (now - at > REMEMBER_CANCEL_MS || this.#cancelled.size >= REMEMBER_CANCELS) this.#cancelled.delete(id);
    }
    this.#cancelled.set(jobId, now);
  }

  async #process(job: Job): Promise<JobResult> {
    const label = this.#label(job);
    let call: JobCall;
    let fn: JobFunction;
    try {
      call = readJobData(job.data, label, this.#maxBytes);
      const found = this.#function(call, label);
      fn = typeof found === "function" ? found : await found;
    } catch (err) {
      throw forBullMQ(err instanceof JobRefusedError ? err : refused(label, err));
    }
    const jobId = job.id ?? "";
    if (call.cancelled !== undefined) {
      // Its caller cancelled it while another worker ran it, and that worker died before it
      // acted on the cancel: stalled-job recovery must not run it again.
      const why = call.cancelled === "" ? "" : `: ${call.cancelled}`;
      throw forBullMQ(new CancelledError(`The ${label} was cancelled by its caller while another worker ran it${why}`));
    }
    const cancelledAt = this.#cancelled.get(jobId);
    if (cancelledAt !== undefined) {
      this.#cancelled.delete(jobId);
      if (Date.now() - cancelledAt <= REMEMBER_CANCEL_MS) throw forBullMQ(new CancelledError(`The ${label} was cancelled before it started`));
    }
    const args = call.args;
    // A plain call, not an async wrapper: a job that returns at once ends its task in its first
    // step, without an await that would let the worker's next-job fetch go first.
    const task = this.#loop.createTask(() => fn(...args), { name: label });
    this.#tasks.set(jobId, task);
    let value: unknown;
    try {
      value = await outcome(task);
    } catch (err) {
      throw forBullMQ(err);
    } finally {
      this.#tasks.delete(jobId);
      if (this.#tasks.size === 0) this.#stopWaiting?.(true);
    }
    try {
      return jobResult(value, call.name);
    } catch (err) {
      // The result cannot be sent back (a function in it...): the same next time.
      throw forBullMQ(err, true);
    }
  }

  /**
   * The exported function a job names, if its module is allowed: at once when the module is
   * loaded (an await here would let the worker's own next-job fetch go first, about 0.1 ms of a
   * small job's round trip), else once it is.
   */
  #function(call: JobCall, label: string): JobFunction | Promise<JobFunction> {
    const href = this.#href(call.filename, label);
    const mod = this.#loaded.get(href);
    if (mod !== undefined) return exportedFunction(mod, call, href, label);
    let loading = this.#loading.get(href);
    if (loading === undefined) {
      loading = import(href) as Promise<Record<string, unknown>>;
      this.#loading.set(href, loading);
      loading.then(
        (loaded) => this.#loaded.set(href, loaded),
        // A module that failed to load is tried again by the next job (the file may be fixed).
        () => this.#loading.delete(href),
      );
    }
    return loading.then((loaded) => exportedFunction(loaded, call, href, label));
  }

  /** The URL of a job's module, if it is allowed (remembered for the spellings of allowed modules). */
  #href(filename: string, label: string): string {
    const known = this.#hrefs.get(filename);
    if (known !== undefined) return known;
    let href: string;
    try {
      href = moduleHref(filename, this.#base);
    } catch (err) {
      throw refused(label, new TypeError(`its module '${filename}' is not a path or URL (${String(err)})`));
    }
    if (!this.#allowed.has(href)) {
      throw refused(label, `its module '${filename}' (${href}) is not in this worker's allow list`, { module: href });
    }
    // Bounded: jobs choose the spelling, and "./a.js", ".//a.js"... are all the same module.
    if (this.#hrefs.size < REMEMBER_SPELLINGS) this.#hrefs.set(filename, href);
    return href;
  }

  close(options: QueueServerCloseOptions = {}): Promise<void> {
    options = readOptions("options", options);
    checkKnownOptions("QueueServer.close()", options, ["timeout"]);
    const timeout = options.timeout;
    if (timeout !== undefined) checkTime("options.timeout", timeout);
    if (this.#closing === null) {
      this.#closing = this.#close(timeout);
    } else if (timeout !== undefined) {
      // Closing already: a shorter timeout still applies (a second SIGTERM means "now").
      const timer = setTimeout(() => this.#stopWaiting?.(false), timeout);
      const clear = (): void => clearTimeout(timer);
      void this.#closing.then(clear, clear);
    }
    return this.#closing;
  }

  async #close(timeout: number | undefined): Promise<void> {
    // Paused, the worker takes no new job; the running ones finish and are reported as usual.
    await this.worker.pause(true);
    let inTime = true;
    if (this.#tasks.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      inTime = await new Promise<boolean>((resolveWait) => {
        this.#stopWaiting = resolveWait;
        if (timeout !== undefined) timer = setTimeout(resolveWait, timeout, false);
      });
      clearTimeout(timer);
      this.#stopWaiting = null;
    }
    // Past the timeout the worker is closed first, so what the cancelled tasks end with is not
    // reported: their jobs keep their (expiring) locks and stalled-job recovery hands them on.
    await this.worker.close(!inTime);
    if (!inTime) for (const task of this.#tasks.values()) task.cancel("the worker is shutting down");
    await this.#control.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Serves the jobs of a BullMQ queue that `QueueExecutor`s add: each job runs as a task on this
 * process's running loop (so call it inside `run()`), at most `concurrency` at once. Resolves once
 * the worker is connected.
 *
 * Delivery is at least once: if this process dies mid-job, BullMQ gives the job to another worker
 * after `lockDuration` (the job's `attempts` and the worker's `maxStalledCount` bound how often).
 * Long synchronous work blocks the lock renewal too: keep it in an executor or raise `lockDuration`.
 *
 * Cancellation: a cancelled job's task sees `CancelledError` at its current await, and its
 * `finally` blocks run; the job then fails with that error and is not retried.
 *
 * @example
 * await run(async () => {
 *   const server = await serveQueue({ queue: "images", connection, concurrency: 50, allow: ["./resize.js"] });
 *   process.once("SIGTERM", () => void server.close({ timeout: 10_000 }));
 * });
 */
export async function serveQueue(options: ServeQueueOptions): Promise<QueueServer> {
  const loop = getRunningLoop();
  options = readOptions("options", options);
  checkServeOptions(options);
  const server = new Server(loop, options);
  try {
    await server.ready();
  } catch (err) {
    await server.close({ timeout: 0 }).catch(() => undefined);
    throw err;
  }
  return server;
}
