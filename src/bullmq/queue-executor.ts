/**
 * `QueueExecutor`: multiloop's `Executor` on a BullMQ queue, so `loop.runInExecutor(remote, ...)`
 * runs a module's export on whichever worker process (`serveQueue`, `multiloop-worker`) takes the
 * job, on any machine that reaches the same Redis.
 *
 * The caller's side of one job: `submit` encodes the call (codec.ts), registers its future under
 * a job id made here (so an event can never arrive for a job this side does not know yet), and
 * adds the job. One `QueueEvents` reader per executor settles the futures from BullMQ's
 * `completed`, `failed` and `removed` events. It starts reading before the first job is added: a
 * custom event it publishes to itself says its stream read is in place (a reader that starts at
 * "the newest event" could otherwise miss the first jobs' events).
 *
 * Events can be lost (a stream trimmed while the reader was disconnected or behind), so the
 * outcome of every pending job is also read from Redis (job-outcome.ts) when the reader reconnects
 * and every `reconcileInterval` ms while jobs are pending: a future never waits for an event that
 * will not come. A job no longer in Redis (removed by retention or by hand, a flushed Redis) fails
 * its futures with `JobLostError` once two such reads, an interval apart, found it missing.
 *
 * Cancellation: `future.cancel()` settles the future at once; the job is then removed if it still
 * waits. If a worker already runs it (BullMQ refuses to remove a locked job), the job's data is
 * marked cancelled, which makes the cancel durable (a worker that takes the job after its first
 * worker died refuses it instead of running it again), and then a cancel event on the queue's
 * control stream reaches every worker, and the one running it cancels its task.
 */
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { types } from "node:util";
import type { JobsOptions, Queue, QueueEvents, QueueEventsProducer } from "bullmq";
import { JobLostError, RemoteError, RuntimeError } from "../core/errors.js";
import type { Executor, ExecutorFn, ShutdownOptions } from "../core/executor.js";
import { debug } from "../core/log.js";
import { safeGet } from "../core/format.js";
import { checkInteger, checkKnownOptions, checkObject, checkTime, rangeError, readOptions, typeError } from "../core/validate.js";
import { ConcurrentFuture, kSettle, type RemoteCanceller } from "../threads/concurrent-future.js";
import { cancelledJobData, jobData, readFailure, readJobResult } from "./codec.js";
import { readOutcome, type JobOutcome } from "./job-outcome.js";
import { bullmq } from "./load.js";
import { CANCEL_EVENT, READY_EVENT, baseOptions, checkQueueOptions, controlQueue, type QueueOptions } from "./options.js";

export interface QueueExecutorOptions extends QueueOptions {
  /**
   * BullMQ job options for every job (`attempts`, `backoff`, `removeOnComplete`, `priority`...);
   * `submit`'s own `jobId` and `attempts` win over these.
   * @default { removeOnComplete: { age: 3600 }, removeOnFail: { age: 86400 } }
   */
  defaultJobOptions?: JobsOptions;
  /**
   * How often (ms) the outcomes of jobs pending longer than this are read from Redis, in case
   * their events were lost (also done for all pending jobs whenever the event reader
   * reconnects). One read of a job's hash each, at most 1024 jobs per interval (the least
   * recently read first); no reads while nothing is pending.
   * @default 5000
   */
  reconcileInterval?: number;
}

export interface QueueSubmitOptions {
  /**
   * The job's id. A job whose id is already in the queue is not added again: submitting twice
   * with one id runs the work once and both futures get its outcome, which is how to make a job
   * idempotent under at-least-once delivery. Not an integer, no `:` (BullMQ's rules).
   * @default a unique id made by the executor
   */
  jobId?: string;
  /** How many times BullMQ may run it (errors and stalls both count). @default 1 */
  attempts?: number;
  /** Aborting it cancels the job, as `cancel()` does. */
  signal?: AbortSignal;
  /** Ignored: context variables stay in this process (accepted because `toThread` passes them). */
  context?: unknown;
}

/** Reasons BullMQ gives when a job failed because workers kept losing it, not because it threw. */
const LOST_REASONS = new Set(["job stalled more than allowable limit", "job started more than allowable limit"]);

const DEFAULT_JOB_OPTIONS: JobsOptions = { removeOnComplete: { age: 3600 }, removeOnFail: { age: 86_400 } };

/** How often the reader's own ready event is published again until it has read one. */
const READY_REPUBLISH_MS = 50;

const DEFAULT_RECONCILE_MS = 5000;
/** Jobs read from Redis at once by one reconciliation (the rest wait for the next chunk). */
const RECONCILE_CHUNK = 256;
/**
 * The most jobs one periodic reconciliation reads (the least recently read first), so a backlog
 * of many waiting jobs costs Redis a bounded amount per interval. A reconnection reads them all.
 */
const RECONCILE_MAX = 1024;

type Future = ConcurrentFuture<unknown>;

interface EventArgs {
  jobId?: unknown;
  returnvalue?: unknown;
  failedReason?: unknown;
  token?: unknown;
}

/** A module export the workers import, as `{ filename, name }`. */
export interface QueueFunction {
  filename: string | URL;
  name?: string;
}

function checkFunctionSpec(fn: unknown): { filename: string; name: string } {
  const expected = "{ filename, name }: an export of a module the workers may import";
  if (typeof fn === "function") {
    throw new TypeError(
      `Expected \`fn\` to be ${expected}, got a function: a QueueExecutor sends no code to its workers. ` +
        "Export the function from a module, list it in the workers' `allow`, and pass { filename, name }.",
    );
  }
  if (typeof fn !== "object" || fn === null || types.isProxy(fn)) throw typeError("fn", expected, fn);
  const filename = safeGet(fn, "filename");
  const name = safeGet(fn, "name") ?? "default";
  if (filename instanceof URL) return checkName(filename.href, name);
  if (typeof filename !== "string" || filename === "") throw typeError("fn.filename", "a module path or URL, as the workers resolve it", filename);
  return checkName(filename, name);
}

function checkName(filename: string, name: unknown): { filename: string; name: string } {
  if (typeof name !== "string" || name === "") throw typeError("fn.name", "the name of an exported function", name);
  return { filename, name };
}

function checkSubmitOptions(options: QueueSubmitOptions): void {
  checkKnownOptions("QueueExecutor.submit()", options, ["jobId", "attempts", "signal", "context"]);
  const { jobId, attempts, signal } = options;
  if (jobId !== undefined) {
    if (typeof jobId !== "string") throw typeError("options.jobId", "a string", jobId);
    if (jobId === "" || jobId.includes(":") || `${parseInt(jobId, 10)}` === jobId) {
      throw rangeError("options.jobId", "a non-empty id that is not an integer and has no ':' (BullMQ's rules)", jobId);
    }
  }
  if (attempts !== undefined && (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 1)) {
    throw rangeError("options.attempts", "an integer >= 1", attempts);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError("options.signal", "an AbortSignal", signal);
}

function logError(what: string): (err: unknown) => void {
  return (err) => debug("QueueExecutor %s: %s", what, err instanceof Error ? err.message : String(err));
}

/**
 * Runs module exports on the worker processes of a BullMQ queue (`serveQueue`,
 * `multiloop-worker`), behind the loop's `Executor` interface.
 *
 * Delivery is at least once: a job whose worker dies is run again by another (BullMQ's stalled-job
 * recovery), so give work that must not happen twice a `jobId` and make it idempotent. The
 * future settles once, with the result, the error (its class, message, `cause` and own properties,
 * and the worker's `host` and `pid`), a cancellation, or `JobLostError` when the job ran out of
 * attempts by stalling.
 *
 * Cancellation: `cancel()` settles the future at once; the job is removed if it still waits, or
 * its task is cancelled in whichever worker runs it (it sees `CancelledError` and may clean up).
 *
 * @example
 * const remote = new QueueExecutor({ queue: "images", connection: { host: "127.0.0.1", port: 6379 } });
 * const small = await loop.runInExecutor(remote, { filename: "./resize.js", name: "resize" }, img, 320);
 * await remote.shutdown();
 */
export class QueueExecutor implements Executor, RemoteCanceller, AsyncDisposable {
  readonly #queueName: string;
  readonly #base: ReturnType<typeof baseOptions>;
  readonly #queue: Queue;
  readonly #events: QueueEvents;
  #control: QueueEventsProducer | null = null;
  readonly #ready: Promise<void>;
  /** Futures waiting for each job (more than one when callers share a jobId). */
  readonly #pending = new Map<string, Future[]>();
  /** The job of each pending future. */
  readonly #jobOf = new Map<Future, string>();
  readonly #idPrefix = `ml-${randomBytes(6).toString("hex")}-`;
  #nextId = 1;
  /**
   * Jobs whose add has finished, and when: the ones a reconciliation reads. A job read is moved to
   * the end, so the map's order is least recently read first.
   */
  readonly #added = new Map<string, number>();
  /** Jobs a reconciliation found missing from Redis, and when it first did. */
  readonly #missing = new Map<string, number>();
  readonly #reconcileMs: number;
  #reconcileTimer: NodeJS.Timeout | null = null;
  #reconciling: Promise<void> | null = null;
  /** The event reader lost its connection: reconcile once it is back. */
  #dropped = false;
  #shutdown = false;
  #closing: Promise<boolean> | null = null;
  #whenIdle: (() => void) | null = null;

  constructor(options: QueueExecutorOptions) {
    options = readOptions("options", options);
    checkKnownOptions("QueueExecutor", options, ["queue", "connection", "prefix", "defaultJobOptions", "reconcileInterval"]);
    checkQueueOptions(options);
    checkObject("options.defaultJobOptions", options.defaultJobOptions);
    if (options.reconcileInterval !== undefined) checkInteger("options.reconcileInterval", options.reconcileInterval, 1);
    this.#reconcileMs = options.reconcileInterval ?? DEFAULT_RECONCILE_MS;
    this.#queueName = options.queue;
    this.#base = baseOptions(options);
    this.#queue = new bullmq.Queue(options.queue, {
      ...this.#base,
      defaultJobOptions: { ...DEFAULT_JOB_OPTIONS, ...options.defaultJobOptions },
    });
    this.#queue.on("error", logError("queue"));
    this.#events = new bullmq.QueueEvents(options.queue, { ...this.#base, autorun: true });
    this.#events.on("error", logError("queue events"));
    this.#events.on("completed", (args) => this.#onCompleted(args));
    this.#events.on("failed", (args) => this.#onFailed(args));
    this.#events.on("removed", (args) => this.#settleAll(args, "cancelled", "the job was removed from the queue"));
    this.#events.on("ioredis:close", () => {
      this.#dropped = true;
    });
    // BullMQ 6 reports the reader's reconnection on its backend; without that, the periodic
    // reconciliation covers what a reconnection lost.
    const backend = (this.#events as { getBackend?: () => unknown }).getBackend?.();
    if (backend instanceof EventEmitter) {
      backend.on("ready", () => {
        if (!this.#dropped) return;
        this.#dropped = false;
        this.#reconcile(0);
      });
    }
    this.#ready = this.#start();
    // A failed start is reported to each submission; it must not be an unhandled rejection here.
    this.#ready.catch(logError("start"));
  }

  /** The BullMQ queue the jobs go to (its counts, its jobs, pausing it...). */
  get queue(): Queue {
    return this.#queue;
  }

  /** Jobs submitted here whose outcome has not come back yet. */
  get pending(): number {
    return this.#jobOf.size;
  }

  /** Publishes a custom event to this queue's stream until the reader has read it. */
  async #start(): Promise<void> {
    await this.#events.waitUntilReady();
    const producer = new bullmq.QueueEventsProducer(this.#queueName, this.#base);
    producer.on("error", logError("ready event"));
    const token = randomBytes(8).toString("hex");
    try {
      await new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const onReady = (args: EventArgs): void => {
          if (args.token !== token) return;
          clearTimeout(timer);
          this.#events.off(READY_EVENT as "completed", onReady);
          resolve();
        };
        this.#events.on(READY_EVENT as "completed", onReady);
        const publish = (): void => {
          if (this.#shutdown) {
            this.#events.off(READY_EVENT as "completed", onReady);
            reject(new RuntimeError("The QueueExecutor was shut down before it connected", { code: "ERR_LOOP_EXECUTOR_SHUTDOWN" }));
            return;
          }
          producer.publishEvent({ eventName: READY_EVENT, token }).catch(logError("ready event"));
          timer = setTimeout(publish, READY_REPUBLISH_MS);
        };
        publish();
      });
    } finally {
      await producer.close().catch(logError("ready event"));
    }
  }

  /**
   * Adds a job that runs `fn.name` of module `fn.filename` (resolved by each worker against its
   * own base directory) with `args`, which cross as structured clone does (Buffers, typed arrays,
   * Maps, Dates... survive). Throws a TypeError here for what cannot be sent.
   */
  submit<R = unknown>(fn: QueueFunction | ExecutorFn<R>, args: unknown[], options: QueueSubmitOptions = {}): ConcurrentFuture<R> {
    const { filename, name } = checkFunctionSpec(fn);
    if (types.isProxy(args) || !Array.isArray(args)) throw typeError("args", "an array of arguments", args);
    options = readOptions("options", options);
    checkSubmitOptions(options);
    const id = this.#nextId++;
    const future = new ConcurrentFuture<R>(name, `queue '${this.#queueName}'`, this, id);
    if (this.#shutdown) {
      future[kSettle]("failed", new RuntimeError("cannot schedule new futures after shutdown", { code: "ERR_LOOP_EXECUTOR_SHUTDOWN" }));
      return future;
    }
    const data = jobData(filename, name, args);
    const { signal } = options;
    if (signal?.aborted === true) {
      future.cancel();
      return future;
    }
    const jobId = options.jobId ?? `${this.#idPrefix}${id}`;
    this.#track(jobId, future as Future, signal);
    const jobOptions: JobsOptions = { jobId };
    if (options.attempts !== undefined) jobOptions.attempts = options.attempts;
    this.#add(jobId, name, data, jobOptions, options.jobId !== undefined, future as Future).catch((err: unknown) => {
      this.#settle(jobId, future as Future, "failed", err);
    });
    return future;
  }

  #track(jobId: string, future: Future, signal: AbortSignal | undefined): void {
    const list = this.#pending.get(jobId);
    if (list === undefined) this.#pending.set(jobId, [future]);
    else list.push(future);
    this.#jobOf.set(future, jobId);
    if (signal === undefined) return;
    const onAbort = (): void => {
      future.cancel();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    future.addDoneCallback(() => signal.removeEventListener("abort", onAbort));
  }

  async #add(jobId: string, name: string, data: object, jobOptions: JobsOptions, given: boolean, future: Future): Promise<void> {
    await this.#ready;
    if (future.done()) return;
    await this.#queue.add(name, data, jobOptions);
    if (!this.#pending.has(jobId)) return;
    this.#added.set(jobId, performance.now());
    // Stopped by its own tick once nothing is pending (not per job: one job at a time would
    // start and clear a timer each).
    this.#reconcileTimer ??= setInterval(() => this.#tick(), this.#reconcileMs).unref();
    // A caller-chosen id may name a job that already finished (BullMQ then adds nothing and no
    // event comes): read its outcome. One more round trip, only for such ids.
    if (given) this.#apply(jobId, await readOutcome(this.#queue, jobId), false);
  }

  #tick(): void {
    // Also while shutdown() waits for the pending jobs: their events can be lost as well.
    if (this.#added.size > 0) {
      this.#reconcile(this.#reconcileMs, RECONCILE_MAX);
    } else if (this.#reconcileTimer !== null) {
      clearInterval(this.#reconcileTimer);
      this.#reconcileTimer = null;
    }
  }

  /**
   * Reads from Redis the outcome of (at most `max`) jobs added at least `minAge` ms ago whose
   * futures still wait, and settles the ones that ended. One at a time; a failed read waits for
   * the next.
   */
  #reconcile(minAge: number, max = Infinity): void {
    if (this.#reconciling !== null || this.#added.size === 0) return;
    this.#reconciling = this.#readOutcomes(minAge, max)
      .catch(logError("reconciliation"))
      .finally(() => {
        this.#reconciling = null;
      });
  }

  async #readOutcomes(minAge: number, max: number): Promise<void> {
    const before = performance.now() - minAge;
    const ids: string[] = [];
    for (const [jobId, at] of this.#added) {
      if (ids.length >= max) break;
      if (at <= before) ids.push(jobId);
    }
    for (let i = 0; i < ids.length; i += RECONCILE_CHUNK) {
      const chunk = ids.slice(i, i + RECONCILE_CHUNK);
      const outcomes = await Promise.all(chunk.map((jobId) => readOutcome(this.#queue, jobId)));
      for (const [n, jobId] of chunk.entries()) {
        const at = this.#added.get(jobId);
        if (at === undefined) continue;
        this.#added.delete(jobId);
        this.#added.set(jobId, at);
        this.#apply(jobId, outcomes[n] as JobOutcome, true);
      }
    }
  }

  /**
   * Settles a job's futures by what Redis says; `lose` fails a job found missing again at least
   * an interval after it was first found missing (an event on its way may still settle it).
   */
  #apply(jobId: string, outcome: JobOutcome, lose: boolean): void {
    if (outcome.state !== "missing") this.#missing.delete(jobId);
    switch (outcome.state) {
      case "completed":
        this.#onCompleted({ jobId, returnvalue: outcome.returnvalue });
        return;
      case "failed":
        this.#onFailed({ jobId, failedReason: outcome.failedReason });
        return;
      case "missing": {
        if (!lose) return;
        const since = this.#missing.get(jobId);
        if (since === undefined) this.#missing.set(jobId, performance.now());
        else if (performance.now() - since >= this.#reconcileMs) this.#settleAll({ jobId }, "failed", this.#vanished(jobId));
        return;
      }
      case "pending":
        return;
    }
  }

  #vanished(jobId: string): JobLostError {
    return new JobLostError(`The job ${jobId} of queue '${this.#queueName}' is no longer in Redis, and its outcome never reached this executor`, {
      jobId,
      queue: this.#queueName,
      hint:
        "It was removed before its result was read: by retention (removeOnComplete/removeOnFail too small for how far this executor's event reader fell behind), " +
        "by queue.remove()/obliterate()/clean(), or with the data of a flushed or evicting Redis. It may or may not have run.",
    });
  }

  #onCompleted(args: EventArgs): void {
    const jobId = args.jobId;
    if (typeof jobId !== "string" || !this.#pending.has(jobId)) return;
    let value: unknown;
    try {
      value = readJobResult(args.returnvalue, `job ${jobId} of queue '${this.#queueName}'`);
    } catch (err) {
      this.#settleAll(args, "failed", err);
      return;
    }
    this.#settleAll(args, "finished", value);
  }

  #onFailed(args: EventArgs): void {
    const jobId = args.jobId;
    if (typeof jobId !== "string" || !this.#pending.has(jobId)) return;
    const reason = typeof args.failedReason === "string" ? args.failedReason : String(args.failedReason);
    this.#settleAll(args, "failed", this.#failure(jobId, reason));
  }

  /** The error a failed job's reason stands for. */
  #failure(jobId: string, reason: string): unknown {
    const where = `job ${jobId} of queue '${this.#queueName}'`;
    if (LOST_REASONS.has(reason)) {
      return new JobLostError(`The ${where} was lost: ${reason}`, {
        jobId,
        queue: this.#queueName,
        hint:
          "Each worker that took it died or lost its lock while running it, and BullMQ gave up on it (maxStalledCount). " +
          "Delivery is at least once: submit it again (with the same jobId if it must not run twice), or raise the workers' lockDuration for long synchronous work.",
      });
    }
    const error = readFailure(reason);
    if (error !== null) return error;
    // Failed by something other than a multiloop worker (BullMQ itself, another kind of worker).
    return new RemoteError("Error", `The ${where} failed: ${reason}`, `queue '${this.#queueName}'`);
  }

  #settleAll(args: EventArgs, kind: "finished" | "failed" | "cancelled", payload: unknown): void {
    const jobId = args.jobId;
    if (typeof jobId !== "string") return;
    const list = this.#pending.get(jobId);
    if (list === undefined) return;
    for (const future of [...list]) this.#settle(jobId, future, kind, payload);
  }

  #settle(jobId: string, future: Future, kind: "finished" | "failed" | "cancelled", payload: unknown): void {
    this.#forget(jobId, future);
    future[kSettle](kind, payload);
  }

  #forget(jobId: string, future: Future): void {
    const list = this.#pending.get(jobId);
    if (list !== undefined) {
      const at = list.indexOf(future);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.#pending.delete(jobId);
    }
    this.#jobOf.delete(future);
    if (!this.#pending.has(jobId)) {
      this.#added.delete(jobId);
      this.#missing.delete(jobId);
    }
    if (this.#jobOf.size === 0) this.#whenIdle?.();
  }

  /** @internal a future was cancelled: remove its job, or have the worker running it cancel it. */
  cancelRemote(_id: number, msg: string, future: Future): void {
    const jobId = this.#jobOf.get(future);
    if (jobId === undefined) return;
    this.#forget(jobId, future);
    // Another caller still waits for this job (a shared jobId): leave it alone.
    if (this.#pending.has(jobId)) return;
    this.#cancelJob(jobId, msg).catch(logError(`cancel of job ${jobId}`));
  }

  async #cancelJob(jobId: string, msg: string): Promise<void> {
    await this.#ready;
    // BullMQ removes a job that is not locked (waiting, delayed, between attempts); a running one
    // is locked by its worker, which must be told.
    if ((await this.#queue.remove(jobId)) === 1) return;
    // First a mark in the job itself, which outlives its worker: if that worker dies before it
    // acts on the event, the worker that stalled-job recovery gives the job to refuses it.
    const job = await bullmq.Job.fromId(this.#queue, jobId);
    if (job === undefined || job.finishedOn !== undefined) return;
    await job.updateData(cancelledJobData(job.data, msg));
    this.#control ??= this.#openControl();
    await this.#control.publishEvent({ eventName: CANCEL_EVENT, jobId, reason: msg });
  }

  #openControl(): QueueEventsProducer {
    const producer = new bullmq.QueueEventsProducer(controlQueue(this.#queueName), this.#base);
    producer.on("error", logError("control stream"));
    return producer;
  }

  /**
   * Stops taking jobs; with `wait` (the default) waits until every submitted job has settled (at
   * most `timeout` ms), then closes the connections. Futures still pending then fail with a
   * `RuntimeError` (`ERR_LOOP_EXECUTOR_SHUTDOWN`): their jobs stay in the queue and may still run.
   * Resolves to false when the timeout passed. Repeated calls share one shutdown.
   */
  shutdown(options: ShutdownOptions = {}): Promise<boolean> {
    options = readOptions("options", options);
    if (options.timeout !== undefined) checkTime("options.timeout", options.timeout);
    return (this.#closing ??= this.#close(options));
  }

  async #close(options: ShutdownOptions): Promise<boolean> {
    this.#shutdown = true;
    let inTime = true;
    if (options.wait !== false && this.#jobOf.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      inTime = await new Promise<boolean>((resolve) => {
        this.#whenIdle = () => resolve(true);
        if (options.timeout !== undefined) timer = setTimeout(resolve, options.timeout, false);
      });
      clearTimeout(timer);
      this.#whenIdle = null;
    }
    for (const [jobId, list] of [...this.#pending]) {
      for (const future of [...list]) {
        this.#settle(jobId, future, "failed", new RuntimeError(`The QueueExecutor was shut down before job ${jobId} finished`, {
          code: "ERR_LOOP_EXECUTOR_SHUTDOWN",
          hint: "The job is still in the queue and may run; its outcome stays in Redis under its job id.",
        }));
      }
    }
    if (this.#reconcileTimer !== null) clearInterval(this.#reconcileTimer);
    await this.#reconciling;
    await Promise.allSettled([this.#events.close(), this.#queue.close(), this.#control?.close()]);
    return inTime;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}
