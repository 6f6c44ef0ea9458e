/**
 * The multiloop side of the cross-thread scenarios, one method per comparison in
 * bench/scenarios/threads.ts. Written against API.md "Other threads" and looked up by name
 * (bench/features.ts): in a build without `spawnLoopThread`, `PoolExecutor` or `ThreadQueue` the
 * starters return null with a note, and the scenarios report those targets as not measured.
 *
 * The main thread's side runs on a multiloop loop, as a user's would: one `Runner` per scenario,
 * whose loop runs only while a multiloop measurement runs. The baselines run with no loop at all,
 * so they do not pay for one.
 */
import { Runner, getRunningLoop } from "multiloop";
import type { Cleanup } from "./cleanup.js";
import {
  feature,
  notAvailable,
  type LoopThreadLike,
  type PoolExecutorClass,
  type SpawnLoopThread,
  type ThreadQueueClass,
} from "./features.js";
import { now } from "./measure.js";
import { workerUrl } from "./thread-peers.js";

export interface Started<T> {
  readonly value: T | null;
  readonly notes: readonly string[];
}

/** A main-thread loop (a Runner), closed by the cleanup after everything that used it. */
function startRunner(cleanup: Cleanup): Runner {
  return cleanup.add(new Runner(), (r) => r.close());
}

export interface MultiloopThread {
  /** `runCoroutineThreadsafe` round trips, one at a time; us per round trip. */
  roundTrips(count: number): Promise<number>;
  /** `count` one-way `callSoonThreadsafe` calls into the thread's loop; calls per second. */
  oneWay(count: number): Promise<number>;
  /** `count` `runCoroutineThreadsafe` calls in flight at once; calls per second. */
  inFlight(count: number): Promise<number>;
  /**
   * `roundTrips`, with the CPU time each side used in that time, in % of the wall-clock time
   * (null where this Node cannot tell: `process.threadCpuUsage` came in Node 22).
   */
  roundTripsWithCpu(count: number): Promise<{ us: number; mainCpu: number | null; threadCpu: number | null }>;
}

/** This thread's CPU time so far in microseconds, or null before Node 22. */
function threadCpuMicros(): number | null {
  const usage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.();
  return usage === undefined ? null : usage.user + usage.system;
}

/** Options of `startLoopThread`. */
export interface LoopThreadOptions {
  /** Both sides spin on their mailbox this long before parking (`spin` / `setMailboxSpin`). */
  readonly spinMicros?: number;
}

/** A loop thread running bench/workers/loop-target.js, stopped by the cleanup. */
export async function startLoopThread(
  cleanup: Cleanup,
  options: LoopThreadOptions = {},
): Promise<Started<MultiloopThread> & { thread: LoopThreadLike | null; runner: Runner | null }> {
  const spawnLoopThread = feature<SpawnLoopThread>("spawnLoopThread");
  if (spawnLoopThread === null) {
    return { value: null, thread: null, runner: null, notes: [notAvailable("spawnLoopThread", "the multiloop side")] };
  }
  const runner = startRunner(cleanup);
  const spin = options.spinMicros ?? 0;
  if (spin > 0) {
    const loop = runner.getLoop() as { setMailboxSpin?: (o: { micros: number }) => void };
    if (typeof loop.setMailboxSpin !== "function") {
      return { value: null, thread: null, runner: null, notes: ["loop.setMailboxSpin is not available in this build: the spinning mailbox not measured."] };
    }
    loop.setMailboxSpin({ micros: spin });
  }
  const thread = await runner.run(() =>
    spawnLoopThread({ name: "bench-target", module: workerUrl("loop-target"), ...(spin > 0 ? { spin: { micros: spin } } : {}) }),
  );
  cleanup.add(thread, (t) => runner.run(() => t.stop()));
  const handle = thread.handle;
  let ticksSent = 0;
  const roundTrips = async (count: number): Promise<number> => {
    const start = now();
    for (let i = 0; i < count; i++) await handle.runCoroutineThreadsafe<number>("echo", i);
    return ((now() - start) * 1e3) / count;
  };
  const value: MultiloopThread = {
    roundTrips: (count) => runner.run(() => roundTrips(count)),
    roundTripsWithCpu: (count) =>
      runner.run(async () => {
        const thread0 = await handle.runCoroutineThreadsafe<number>("cpuMicros");
        const main0 = threadCpuMicros();
        const wall0 = now();
        const us = await roundTrips(count);
        const wall = (now() - wall0) * 1e3;
        const main1 = threadCpuMicros();
        const thread1 = await handle.runCoroutineThreadsafe<number>("cpuMicros");
        return {
          us,
          mainCpu: main0 === null || main1 === null ? null : ((main1 - main0) / wall) * 100,
          threadCpu: thread0 < 0 ? null : ((thread1 - thread0) / wall) * 100,
        };
      }),
    oneWay: (count) =>
      runner.run(async () => {
        const start = now();
        for (let i = 0; i < count; i++) handle.callSoonThreadsafe("tick");
        ticksSent += count;
        // Calls from one thread arrive in order: this answers once every tick above has run.
        await handle.runCoroutineThreadsafe<number>("waitForTicks", ticksSent);
        return (count * 1e3) / (now() - start);
      }),
    inFlight: (count) =>
      runner.run(async () => {
        const start = now();
        const calls: PromiseLike<number>[] = [];
        for (let i = 0; i < count; i++) calls.push(handle.runCoroutineThreadsafe<number>("echo", i));
        await Promise.all(calls);
        return (count * 1e3) / (now() - start);
      }),
  };
  return { value, thread, runner, notes: [] };
}

/**
 * `ThreadQueue` items per second from this thread to the loop thread, which takes them in a task
 * (`drainQueue` in loop-target.ts). Needs the loop thread of `startLoopThread`.
 */
export function threadQueueThroughput(
  started: { thread: LoopThreadLike | null; runner: Runner | null },
  maxsize: number,
): Started<(count: number) => Promise<number>> {
  const ThreadQueue = feature<ThreadQueueClass>("ThreadQueue");
  if (ThreadQueue === null) return { value: null, notes: [notAvailable("ThreadQueue", "ThreadQueue throughput")] };
  const { thread, runner } = started;
  if (thread === null || runner === null) return { value: null, notes: ["ThreadQueue throughput needs a loop thread (spawnLoopThread)."] };
  return {
    value: (count) =>
      runner.run(async () => {
        const queue = new ThreadQueue({ maxsize });
        try {
          const start = now();
          const drained = thread.handle.runCoroutineThreadsafe<number>("drainQueue", queue, count);
          for (let i = 0; i < count; i++) await queue.put(i);
          const sum = await drained;
          const end = now();
          if (sum !== (count * (count - 1)) / 2) throw new Error(`the ThreadQueue lost items (sum ${sum})`);
          return (count * 1e3) / (end - start);
        } finally {
          queue.close();
        }
      }),
    notes: [],
  };
}

export interface MultiloopExecutor {
  /** `runInExecutor` round trips on a one-thread PoolExecutor; us per call. */
  roundTrips(count: number): Promise<number>;
  /** The piscina pool inside the PoolExecutor, when it exposes one as `pool` (then the baseline uses it). */
  readonly pool: unknown;
}

export function startExecutor(cleanup: Cleanup): Started<MultiloopExecutor> {
  const PoolExecutor = feature<PoolExecutorClass>("PoolExecutor");
  if (PoolExecutor === null) return { value: null, notes: [notAvailable("PoolExecutor", "runInExecutor")] };
  const runner = startRunner(cleanup);
  const executor = cleanup.add(new PoolExecutor({ minThreads: 1, maxThreads: 1, idleTimeout: 60_000 }), (e) => e.shutdown({ wait: true }));
  const fn = { filename: workerUrl("piscina-echo").href, name: "echo" };
  return {
    value: {
      pool: (executor as { pool?: unknown }).pool,
      roundTrips: (count) =>
        runner.run(async () => {
          const loop = getRunningLoop();
          // runInExecutor takes the Executor interface of the core; PoolExecutor implements it.
          const target = executor as unknown as Parameters<typeof loop.runInExecutor>[0];
          const start = now();
          for (let i = 0; i < count; i++) await loop.runInExecutor(target, fn, i);
          return ((now() - start) * 1e3) / count;
        }),
    },
    notes: [],
  };
}
