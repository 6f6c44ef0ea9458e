/**
 * `LoopPool`: a supervised pool of loop threads for a multithreaded service. Every thread is a
 * loop thread as `spawnLoopThread` makes it (its own loop, the module's exports exposed), so one
 * thread serves many calls at once, each a task on its loop. The pool routes each call to the
 * thread with the fewest calls in flight, replaces threads that die (with a backoff, within a
 * restart budget), and stops gracefully.
 *
 * Supervision, in order: a thread dies -> its own calls in flight reject with `ThreadExitError`
 * (LoopThread does that; nothing is retried, a call may not be idempotent) -> "exit" -> after the
 * backoff a replacement starts under the same name -> "restart", and calls waiting for a thread
 * go to it. Meanwhile the other threads keep serving.
 */
import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import { LoopClosedError, RuntimeError, ThreadExitError, TimeoutError } from "../core/errors.js";
import { debugThread } from "../core/log.js";
import { checkInteger, checkKnownOptions, checkObject, checkOptionalTime, checkString } from "../core/validate.js";
import { checkCallOptions } from "./call-options.js";
import type { CallArgs, CallOptions, CallResult, ExposedModule, ExposedName } from "./exposed-types.js";
import type { LoopHandle } from "./loop-handle.js";
import { spawnLoopThread, type LoopThread } from "./loop-thread.js";
import { backoffDelay, checkPoolOptions, type PoolConfig, type SpawnLoopPoolOptions } from "./pool-options.js";

/** The events of a `LoopPool` and their arguments. */
export interface LoopPoolEvents {
  /**
   * A thread exited without `pool.stop()` asking it to: its exit code, and what it died of (the
   * error it threw at top level, `ERR_WORKER_OUT_OF_MEMORY`, ...; `undefined` for a clean exit).
   */
  exit: [threadName: string, exitCode: number, cause: unknown];
  /** A replacement for the thread of slot `index` is up (under the same name) and takes calls. */
  restart: [threadName: string, index: number];
  /**
   * The pool gave a slot up: its thread died more than `maxRestarts` times within `withinMs`
   * (`RuntimeError`, code `ERR_LOOP_POOL_RESTARTS`, the last death as `cause`). The other threads
   * keep serving. Without a listener this is a process warning, not a crash.
   */
  error: [error: Error];
}

/** Options of `pool.stop()`. */
export interface PoolStopOptions {
  /**
   * Milliseconds to let the calls in flight finish. When they expire the loops are stopped, which
   * cancels what is left (each remote task sees `CancelledError`), and a thread still running a
   * moment later (at most 1 s, or `timeout` if shorter) is terminated. `null`/absent: no limit.
   */
  timeout?: number | null | undefined;
}

type SlotState = "up" | "waiting" | "starting" | "given-up";

interface Slot<M> {
  readonly index: number;
  readonly name: string;
  /** The slot's current thread (the dead one until its replacement is up). */
  thread: LoopThread<M>;
  state: SlotState;
  /** When this slot's restarts within the window started (performance.now()). */
  restarts: number[];
  timer: NodeJS.Timeout | undefined;
  starting: Promise<void> | null;
  /** Why the slot last went down. */
  reason: unknown;
}

/** A call made while no thread is up, waiting for one. */
interface Waiter {
  dispatch(thread: LoopThread): void;
  fail(err: unknown): void;
}

/** The longest a thread gets after its loop was told to stop at a stop's deadline. */
const STOP_GRACE_MS = 1_000;

/** A promise rejected with what a check threw: the pool's promise-returning methods never throw. */
function rejectWith(err: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the checks throw Errors, but an aborted signal's reason may be any value and is passed on as is, as Node does
  return Promise.reject(err);
}

/** Resolves `true` once `work` settles, or `false` after `ms` (the timer is cleared either way). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), false);
  });
  try {
    return await Promise.race([work.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts `size` loop threads that each import `module` and expose its exported functions, and
 * resolves once all are ready (if one fails to start, the others are stopped and the failure is
 * thrown). Threads are named `<name>-0`, `<name>-1`, ...
 *
 * Typed calls: pass the module's type, as for `spawnLoopThread`.
 *
 * @example
 * const pool = await spawnLoopPool<typeof import("./handler.js")>({
 *   module: new URL("./handler.js", import.meta.url),
 *   size: 4,
 *   name: "api",
 *   restart: { maxRestarts: 10, withinMs: 60_000, backoffMs: [100, 5_000] },
 * });
 * const reply = await pool.call("handle", request);
 * await pool.stop({ timeout: 10_000 });
 */
export async function spawnLoopPool<M = ExposedModule>(options: SpawnLoopPoolOptions): Promise<LoopPool<M>> {
  const config = checkPoolOptions(options);
  const starts = await Promise.allSettled(
    Array.from({ length: config.size }, (_, i) => spawnLoopThread<M>({ ...config.threadOptions, name: `${config.name}-${i}` })),
  );
  const threads: LoopThread<M>[] = [];
  let failure: { reason: unknown } | null = null;
  for (const s of starts) {
    if (s.status === "fulfilled") threads.push(s.value);
    else failure ??= { reason: s.reason };
  }
  if (failure !== null) {
    await Promise.all(threads.map((t) => t.stop()));
    throw failure.reason;
  }
  debugThread("pool '%s' started %d threads", config.name, config.size);
  return new LoopPool<M>(config, threads);
}

/**
 * A supervised pool of loop threads (see `spawnLoopPool`).
 *
 * **Routing:** `call` goes to the thread with the fewest calls in flight (calls made through the
 * pool or through `pool.thread(i).call`, not yet settled); among equals, round-robin: the scan for
 * the least loaded starts after the thread chosen last. So a slow call holds its thread's count
 * up and the next calls go elsewhere, and idle threads take turns. Pin a call with
 * `pool.thread(i).call(...)`.
 *
 * **Supervision:** a thread that dies rejects only its own calls in flight (`ThreadExitError`,
 * never retried), and is replaced after the backoff while the other threads keep serving; past
 * `maxRestarts` within `withinMs` its slot is given up ("error"). A call made while no thread is
 * up waits for a replacement, up to its `timeout` or `signal`, or rejects at once when no slot
 * will come back (`RuntimeError`, code `ERR_LOOP_POOL_EXHAUSTED`).
 *
 * **Stopping:** `stop()` takes no new calls (they reject with `LoopClosedError`, "Event loop is
 * closed"), lets the calls in flight finish, then stops every loop and waits for the threads to
 * exit. A second `stop()` joins the first.
 *
 * Thread-safety: a pool belongs to the thread that made it; other threads reach its threads
 * through `pool.handles`.
 */
export class LoopPool<M = ExposedModule> extends EventEmitter<LoopPoolEvents> implements AsyncDisposable {
  /** The pool's name; its threads are `<name>-<index>`. */
  readonly name: string;
  readonly #config: PoolConfig;
  readonly #slots: Slot<M>[];
  /** Where the next scan for the least loaded thread starts (round-robin among equals). */
  #cursor = 0;
  readonly #waiters: Waiter[] = [];
  #closing = false;
  #stopped: Promise<void> | null = null;

  /** @internal use `spawnLoopPool`. */
  constructor(config: PoolConfig, threads: LoopThread<M>[]) {
    super();
    this.name = config.name;
    this.#config = config;
    this.#slots = threads.map((thread, index) => ({
      index,
      name: thread.threadName,
      thread,
      state: "up",
      restarts: [],
      timer: undefined,
      starting: null,
      reason: undefined,
    }));
    for (const slot of this.#slots) this.#watch(slot, slot.thread);
  }

  /** The number of threads the pool keeps (live or being replaced). */
  get size(): number {
    return this.#slots.length;
  }

  /** Calls not settled yet: in flight on the threads (also pinned ones), plus those waiting for a thread. */
  get inFlight(): number {
    let n = this.#waiters.length;
    for (const slot of this.#slots) n += slot.thread.inFlight;
    return n;
  }

  /** The handles of the threads that are up, in thread order (pass them to other threads). */
  get handles(): LoopHandle<M>[] {
    return this.#slots.filter((s) => this.#isUp(s)).map((s) => s.thread.handle);
  }

  /**
   * The thread of slot `i` (0 <= i < size), for pinned calls: `pool.thread(0).call(...)`. After a
   * restart the slot has a new `LoopThread`; while it is down this is the dead one, whose calls
   * reject at once.
   */
  thread(i: number): LoopThread<M> {
    checkInteger("i", i, 0);
    const slot = this.#slots[i];
    if (slot === undefined) throw new RangeError(`Expected \`i\` to be a thread index below the pool's size (${this.#slots.length}), got ${i}`);
    return slot.thread;
  }

  /**
   * Runs the exposed function `name` on the least loaded thread (see the class docs) and returns
   * its result; as `LoopThread.call` otherwise (a trailing `carryContext(...)` is sent along).
   */
  call<K extends ExposedName<M>>(name: K, ...args: CallArgs<M, K>): Promise<CallResult<M, K>> {
    if (this.#closing) return Promise.reject(this.#closedError());
    const thread = this.#pick();
    if (thread !== null) return thread.call(name, ...args);
    return this.#callWhenUp(name, args as unknown[], {}) as Promise<CallResult<M, K>>;
  }

  /**
   * `call` with `{ signal, timeout }`, as `LoopThread.callWith`: an abort or the deadline cancels
   * the remote task and rejects with the signal's reason or a `TimeoutError`. Both also end a wait
   * for a thread while none is up.
   */
  callWith<K extends ExposedName<M>>(options: CallOptions, name: K, ...args: CallArgs<M, K>): Promise<CallResult<M, K>> {
    try {
      checkCallOptions(options);
    } catch (err) {
      return rejectWith(err);
    }
    if (this.#closing) return Promise.reject(this.#closedError());
    const thread = this.#pick();
    if (thread !== null) return thread.callWith(options, name, ...args);
    return this.#callWhenUp(name, args as unknown[], options) as Promise<CallResult<M, K>>;
  }

  /**
   * Calls `name` on every thread of the pool, in thread order, and resolves to their results in
   * that order. If any fails, it rejects, once all have settled, with an `AggregateError` of the
   * failures (a thread that is down at the time fails at once: `ThreadExitError` if it died,
   * `LoopClosedError` if its loop was stopped).
   */
  async broadcast<K extends ExposedName<M>>(name: K, ...args: CallArgs<M, K>): Promise<CallResult<M, K>[]> {
    if (this.#closing) throw this.#closedError();
    const settled = await Promise.allSettled(this.#slots.map((s) => s.thread.call(name, ...args)));
    const errors: unknown[] = [];
    const results: CallResult<M, K>[] = [];
    for (const s of settled) {
      if (s.status === "fulfilled") results.push(s.value);
      else errors.push(s.reason);
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, `broadcast of '${name}' failed on ${errors.length} of ${settled.length} threads of pool '${this.name}'`);
    }
    return results;
  }

  /**
   * Takes no new calls, rejects the calls waiting for a thread, lets the calls in flight finish
   * (up to `timeout`, see `PoolStopOptions`), then stops every loop (its tasks are cancelled and
   * its thread exits by itself). Resolves once every thread has exited. A second call joins the
   * first (its options are not used).
   */
  stop(options: PoolStopOptions = {}): Promise<void> {
    if (this.#stopped !== null) return this.#stopped;
    try {
      checkObject("options", options);
      checkKnownOptions("pool.stop()", options, ["timeout"]);
      checkOptionalTime("options.timeout", options.timeout);
    } catch (err) {
      return rejectWith(err);
    }
    this.#closing = true;
    this.#stopped = this.#stop(options.timeout ?? null);
    return this.#stopped;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  override toString(): string {
    const up = this.#slots.filter((s) => this.#isUp(s)).length;
    const state = this.#stopped !== null ? " stopped" : "";
    return `<LoopPool ${JSON.stringify(this.name)} size=${this.#slots.length} up=${up} inFlight=${this.inFlight}${state}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  #isUp(slot: Slot<M>): boolean {
    return slot.state === "up" && !slot.thread.handle.isClosed();
  }

  /** The least loaded thread that is up, round-robin among equals; null when none is up. */
  #pick(): LoopThread<M> | null {
    const slots = this.#slots;
    const n = slots.length;
    let best: Slot<M> | null = null;
    let bestLoad = Infinity;
    for (let k = 0, i = this.#cursor; k < n; k++, i = i + 1 === n ? 0 : i + 1) {
      const slot = slots[i] as Slot<M>;
      if (!this.#isUp(slot)) continue;
      const load = slot.thread.inFlight;
      if (load < bestLoad) {
        best = slot;
        bestLoad = load;
        if (load === 0) break;
      }
    }
    if (best === null) return null;
    this.#cursor = best.index + 1 === n ? 0 : best.index + 1;
    return best.thread;
  }

  /** Whether any slot will have a thread up again (up now, or being replaced). */
  #canServe(): boolean {
    return this.#slots.some((s) => s.state !== "given-up");
  }

  /**
   * A call while no thread is up: waits for a replacement (the deadline and the signal count from
   * now and go on through the call itself), or fails at once if none will come.
   */
  async #callWhenUp(name: string, args: unknown[], options: CallOptions): Promise<unknown> {
    checkString("name", name);
    if (!this.#canServe()) throw this.#exhaustedError();
    const timeout = options.timeout ?? null;
    const outer = options.signal;
    if (timeout === null && outer === undefined) return await new Promise((resolve, reject) => this.#wait(name, args, undefined, resolve, reject));
    // One signal for the wait and the call: the caller's, or the deadline's TimeoutError.
    const controller = new AbortController();
    const forward = (): void => controller.abort((outer as AbortSignal).reason);
    outer?.addEventListener("abort", forward, { once: true });
    const timer =
      timeout === null
        ? undefined
        : setTimeout(() => {
            controller.abort(
              new TimeoutError(`Call of '${name}' in pool '${this.name}' timed out after ${timeout} ms`, {
                hint: "No thread of the pool was up in time, or the call itself took longer (its remote task was cancelled). Raise `timeout`.",
              }),
            );
          }, timeout);
    try {
      return await new Promise((resolve, reject) => this.#wait(name, args, controller.signal, resolve, reject));
    } finally {
      clearTimeout(timer);
      outer?.removeEventListener("abort", forward);
    }
  }

  #wait(name: string, args: unknown[], signal: AbortSignal | undefined, resolve: (value: unknown) => void, reject: (err: unknown) => void): void {
    const onAbort = (): void => {
      const at = this.#waiters.indexOf(waiter);
      if (at !== -1) this.#waiters.splice(at, 1);
      reject((signal as AbortSignal).reason);
    };
    const waiter: Waiter = {
      dispatch: (thread) => {
        signal?.removeEventListener("abort", onAbort);
        // Called synchronously, so the thread's in-flight count includes it before the next pick.
        resolve(signal === undefined ? thread.call(name, ...args) : thread.callWith({ signal }, name, ...args));
      },
      fail: (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(err);
      },
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#waiters.push(waiter);
  }

  /** A thread came up: hand it (and any other that is up) the calls waiting, least loaded first. */
  #serveWaiters(): void {
    while (this.#waiters.length > 0) {
      const thread = this.#pick();
      if (thread === null) return;
      (this.#waiters.shift() as Waiter).dispatch(thread as unknown as LoopThread);
    }
  }

  #failWaiters(makeError: () => unknown): void {
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) w.fail(makeError());
  }

  #watch(slot: Slot<M>, thread: LoopThread<M>): void {
    void thread.exited.then((code) => {
      this.#onExit(slot, thread, code);
    });
  }

  #onExit(slot: Slot<M>, thread: LoopThread<M>, code: number): void {
    if (this.#closing || slot.thread !== thread) return;
    const cause = thread.exitCause;
    debugThread("pool '%s': thread '%s' exited with code %d", this.name, thread.threadName, code);
    slot.reason = new ThreadExitError(thread.threadName, code, cause === undefined ? {} : { cause });
    try {
      this.emit("exit", thread.threadName, code, cause);
    } finally {
      // Even if a listener throws: the slot must not be left unattended.
      this.#scheduleRestart(slot);
    }
  }

  #scheduleRestart(slot: Slot<M>): void {
    const policy = this.#config.restart;
    if (policy === null) {
      this.#giveUp(slot, null);
      return;
    }
    const now = performance.now();
    slot.restarts = slot.restarts.filter((t) => now - t < policy.withinMs);
    if (slot.restarts.length >= policy.maxRestarts) {
      this.#giveUp(
        slot,
        new RuntimeError(
          `Thread '${slot.name}' of pool '${this.name}' went down after ${slot.restarts.length} restart(s) within ${policy.withinMs} ms; ` +
            "the pool does not restart it again",
          {
            code: "ERR_LOOP_POOL_RESTARTS",
            cause: slot.reason,
            hint: "See `cause` for why it died. The other threads keep serving; raise `restart.maxRestarts` or fix the crash.",
          },
        ),
      );
      return;
    }
    const delay = backoffDelay(policy, slot.restarts.length);
    slot.restarts.push(now);
    slot.state = "waiting";
    debugThread("pool '%s': restarting '%s' in %d ms", this.name, slot.name, delay);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      this.#respawn(slot);
    }, delay);
  }

  #respawn(slot: Slot<M>): void {
    slot.state = "starting";
    slot.starting = spawnLoopThread<M>({ ...this.#config.threadOptions, name: slot.name }).then(
      (thread) => {
        slot.starting = null;
        slot.thread = thread;
        // During a stop, the new thread is stopped with the others.
        if (this.#closing) return;
        slot.state = "up";
        this.#watch(slot, thread);
        this.#serveWaiters();
        this.emit("restart", slot.name, slot.index);
      },
      (err: unknown) => {
        slot.starting = null;
        if (this.#closing) return;
        // A replacement that cannot start counts as a restart that died.
        slot.reason = err;
        this.#scheduleRestart(slot);
      },
    );
  }

  #giveUp(slot: Slot<M>, error: RuntimeError | null): void {
    slot.state = "given-up";
    if (!this.#canServe()) this.#failWaiters(() => this.#exhaustedError());
    if (error === null) return;
    debugThread("pool '%s': %s", this.name, error.message);
    if (this.listenerCount("error") > 0) this.emit("error", error);
    else process.emitWarning(error.message, { type: "MultiloopWarning", code: "MULTILOOP_POOL_GAVE_UP", detail: error.hint });
  }

  #closedError(): LoopClosedError {
    return new LoopClosedError({ hint: `Pool '${this.name}' is stopped or stopping and takes no new calls.` });
  }

  #exhaustedError(): RuntimeError {
    const last = [...this.#slots].reverse().find((s) => s.reason !== undefined);
    const policy = this.#config.restart;
    return new RuntimeError(
      `Pool '${this.name}' has no thread left: ` +
        (policy === null
          ? "every thread died and the pool does not restart threads (restart: false)"
          : `every thread died more than ${policy.maxRestarts} times within ${policy.withinMs} ms`),
      {
        code: "ERR_LOOP_POOL_EXHAUSTED",
        ...(last === undefined ? {} : { cause: last.reason }),
        hint: "See `cause` for the last death. Stop this pool and spawn a new one once the crash is fixed.",
      },
    );
  }

  async #stop(timeout: number | null): Promise<void> {
    const started = performance.now();
    this.#failWaiters(() => this.#closedError());
    for (const slot of this.#slots) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    // A replacement being started is stopped with the others once it is up.
    await Promise.all(this.#slots.flatMap((s) => (s.starting === null ? [] : [s.starting])));
    const idle = Promise.all(this.#slots.map((s) => s.thread.whenIdle()));
    if (timeout === null) await idle;
    else await within(idle, timeout - (performance.now() - started));
    const grace = timeout === null ? null : Math.max(0, timeout - (performance.now() - started)) + Math.min(timeout, STOP_GRACE_MS);
    // A thread stuck in synchronous code is terminated once the grace is over (no limit: none).
    await Promise.all(this.#slots.map(({ thread }) => thread.stop({ timeout: grace ?? Infinity })));
    debugThread("pool '%s' stopped", this.name);
  }
}
