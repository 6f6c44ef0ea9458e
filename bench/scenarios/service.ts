/**
 * The service benchmark (issue 15 §3): a whole HTTP service, not a primitive. Every variant does
 * the same job per request (about 50 us of CPU, one 1 ms sleep, a JSON reply) on the machine's
 * cores, and autocannon (in a process of its own) loads each over 127.0.0.1 for a bounded time:
 * (a) node:http on the main thread + spawnLoopPool (size = cores); (b) the same on raw
 * worker_threads with a hand-written postMessage dispatch; (c) on piscina; (d) the job on the main
 * thread alone; (e) per-thread reusePort listeners with the job in each loop thread (Node >=
 * 22.12), with multiloop's streams and with node:http. Requests/s and p50/p99 latency for each,
 * rounds rotating the variants' order. The targets are judged on Node 26.
 *
 * The soak (`service.soak`): 100,000 requests through (a) after warm-up; RSS growth, heap after
 * GC in every thread, and what is left after `pool.stop()` (OS threads, Node handles).
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { RuntimeError } from "multiloop";
import { withCleanup } from "../cleanup.js";
import { forceGc, pick, rounds, toMeasurements, type MeasurementSpec } from "../measure.js";
import { calibrate } from "../service-job.js";
import { LoadGenerator, type LoadResult } from "../service-load.js";
import {
  mainThreadDispatch,
  poolDispatch,
  startFront,
  startLoopPool,
  startPerThread,
  startPiscina,
  startRawWorkers,
} from "../service-servers.js";
import type { BenchContext, Measurement, RatioSpec, Scenario, ScenarioResult, Target } from "../scenario-types.js";

const SOURCE = "issue 15 §3";
/** The Node line the speed targets are judged on. */
const JUDGED_ON = 26;
const JOB_US = 50;

const A = "(a) node:http + spawnLoopPool";
const B = "(b) node:http + raw workers, postMessage";
const C = "(c) node:http + piscina";
const D = "(d) node:http, job on the main thread";
const E_STREAMS = "(e) reusePort listeners, multiloop streams";
const E_HTTP = "(e) reusePort listeners, node:http in loop threads";

const rps = (label: string): string => `${label} req/s`;
const p50 = (label: string): string => `${label} p50`;
const p99 = (label: string): string => `${label} p99`;

interface Load {
  readonly connections: number;
  /** Per run: a duration, or (tiny mode) a number of requests. */
  readonly durationMs?: number;
  readonly amount?: number;
}

function loadFor(ctx: BenchContext): Load {
  return pick<Load>(ctx, { full: { connections: 32, durationMs: 4_000 }, quick: { connections: 32, durationMs: 1_500 }, tiny: { connections: 8, amount: 40 } });
}

function checked(result: LoadResult, label: string): LoadResult {
  if (result.failures > 0) throw new Error(`${label}: ${result.failures} requests failed under load (non-2xx, socket errors or timeouts)`);
  if (result.requests === 0) throw new Error(`${label}: no request was answered`);
  return result;
}

const http: Scenario = {
  id: "service.http",
  group: "services",
  title: `HTTP service, one job per request (~${JOB_US} us CPU + sleep(1) + JSON), autocannon on 127.0.0.1`,
  async run(ctx): Promise<ScenarioResult> {
    return withCleanup(async (cleanup) => {
      const cores = availableParallelism();
      const load = loadFor(ctx);
      const spinRounds = calibrate(JOB_US);
      const generator = cleanup.add(await LoadGenerator.start(), (g) => g.stop());
      const notes: string[] = [];

      const ports = new Map<string, number>();
      const poolA = await startLoopPool(cleanup, "svc-a", cores);
      ports.set(A, await startFront(cleanup, poolDispatch(poolA, spinRounds)));
      ports.set(B, await startFront(cleanup, await startRawWorkers(cleanup, cores, spinRounds)));
      ports.set(C, await startFront(cleanup, await startPiscina(cleanup, cores, spinRounds, load.connections)));
      ports.set(D, await startFront(cleanup, mainThreadDispatch(spinRounds)));
      const poolE = await startLoopPool(cleanup, "svc-e", cores);
      try {
        ports.set(E_STREAMS, await startPerThread(cleanup, poolE, "streams", spinRounds));
        ports.set(E_HTTP, await startPerThread(cleanup, poolE, "node:http", spinRounds));
      } catch (err) {
        // On a Node that ignores reusePort, multiloop refuses it and says why.
        if (!(err instanceof RuntimeError && err.code === "ERR_LOOP_REUSEPORT_UNSUPPORTED")) throw err;
        notes.push(`(e) not measured: ${err.message}.`);
      }

      const labels = [...ports.keys()];
      const variants = labels.map((label) => async (): Promise<Record<string, number>> => {
        const port = ports.get(label) as number;
        const r = checked(await generator.run({ port, ...load }), label);
        return { [rps(label)]: r.rps, [p50(label)]: r.p50, [p99(label)]: r.p99 };
      });
      const plan = pick(ctx, { full: { warmup: 1, reps: 5 }, quick: { warmup: 1, reps: 2 }, tiny: { warmup: 0, reps: 1 } });
      let round = 0;
      const samples = await rounds(plan, [
        ...variants,
        () => {
          if (++round > plan.warmup) ctx.progress(`round ${round - plan.warmup}/${plan.reps} done`);
          return {};
        },
      ]);

      const specs: Record<string, MeasurementSpec> = {};
      for (const label of labels) specs[rps(label)] = { unit: "req/s", lowerIsBetter: false };
      for (const label of labels) {
        specs[p50(label)] = { unit: "ms" };
        specs[p99(label)] = { unit: "ms" };
      }
      const target = (bound: { min?: number; max?: number }): Target => ({ source: SOURCE, node: JUDGED_ON, ...bound });
      const ratios: RatioSpec[] = [
        { numerator: rps(A), denominator: rps(B), target: target({ min: 0.9 }) },
        { numerator: rps(A), denominator: rps(C), target: target({ min: 1 }) },
        { numerator: p99(A), denominator: p99(B), target: target({ max: 1.2 }) },
        { numerator: rps(D), denominator: rps(A) },
        { numerator: rps(E_STREAMS), denominator: rps(A) },
        { numerator: rps(E_HTTP), denominator: rps(A) },
      ];
      notes.push(
        `${cores} cores; every pool, worker set and piscina has ${cores} threads; ${spinRounds} xorshift rounds per job ` +
          `(calibrated to ~${JOB_US} us here); ${load.connections} connections, ` +
          (load.amount === undefined ? `${(load.durationMs as number) / 1_000} s per run` : `${load.amount} requests per run`) +
          `; the load generator runs in its own process on the same cores; node ${process.version}.`,
        `(c) piscina: concurrentTasksPerWorker ${load.connections} (no task waits for a slot), atomics "async". ` +
          `(b) dispatches round-robin; (a) routes to the least loaded thread.`,
      );
      return { measurements: toMeasurements(samples, specs), ratios, notes };
    });
  },
};

/** OS threads of this process (Linux), or null elsewhere. */
function osThreads(): number | null {
  try {
    const m = /^Threads:\s+(\d+)/mu.exec(readFileSync("/proc/self/status", "utf8"));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** The entries of `after` that `before` does not have (as multisets). */
function leftOver(before: readonly string[], after: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const r of before) counts.set(r, (counts.get(r) ?? 0) + 1);
  const extra: string[] = [];
  for (const r of after) {
    const n = counts.get(r) ?? 0;
    if (n > 0) counts.set(r, n - 1);
    else extra.push(r);
  }
  return extra;
}

const MB = 1024 * 1024;

/**
 * The young generation's size in every thread, fixed for the soak: V8 grows it under allocation
 * pressure, in steps of several MB per thread and at any time (measured: from 7 to 26 MB in the
 * main thread and from 4 to 26 MB in each loop thread between 20,000 and 140,000 requests, with
 * the heaps' used size flat; raw workers the same), which RSS would show as growth. Fixed, the
 * warm-up commits it and the RSS figure shows what the requests leave behind.
 */
const SEMI_SPACE_MB = 16;

const soak: Scenario = {
  id: "service.soak",
  group: "services",
  title: "Soak: requests through (a) node:http + spawnLoopPool after warm-up; memory, and what pool.stop() leaves",
  execArgv: [`--min-semi-space-size=${SEMI_SPACE_MB}`, `--max-semi-space-size=${SEMI_SPACE_MB}`],
  async run(ctx): Promise<ScenarioResult> {
    const requests = pick(ctx, { full: 100_000, quick: 20_000, tiny: 300 });
    // Enough for every thread to have used its whole young generation once (see SEMI_SPACE_MB).
    const warmup = pick(ctx, { full: 20_000, quick: 10_000, tiny: 50 });
    const connections = pick(ctx, { full: 32, quick: 32, tiny: 8 });
    const cores = availableParallelism();
    return withCleanup(async (cleanup) => {
      const generator = cleanup.add(await LoadGenerator.start(), (g) => g.stop());
      const spinRounds = calibrate(JOB_US);
      forceGc();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const threadsBefore = osThreads();
      const handlesBefore = process.getActiveResourcesInfo();

      const pool = await startLoopPool(cleanup, "soak", cores);
      const server = await withCleanup(async (front) => {
        const port = await startFront(front, poolDispatch(pool, spinRounds));
        checked(await generator.run({ port, connections, amount: warmup }), "warm-up");
        forceGc();
        const rss0 = process.memoryUsage().rss;
        const heap0 = process.memoryUsage().heapUsed;
        const threadHeaps0 = await pool.broadcast("heapAfterGc");
        const started = performance.now();
        const run = checked(await generator.run({ port, connections, amount: requests }), "soak");
        const seconds = (performance.now() - started) / 1_000;
        forceGc();
        const threadHeaps1 = await pool.broadcast("heapAfterGc");
        return {
          run,
          seconds,
          rssGrowth: (process.memoryUsage().rss - rss0) / MB,
          heapGrowth: (process.memoryUsage().heapUsed - heap0) / MB,
          threadHeapGrowth: Math.max(...threadHeaps1.map((h, i) => h - (threadHeaps0[i] as number))) / MB,
        };
      });
      await pool.stop();
      forceGc();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const threadsAfter = osThreads();
      const handles = leftOver(handlesBefore, process.getActiveResourcesInfo());
      ctx.progress(`${server.run.requests} requests in ${server.seconds.toFixed(1)} s; RSS +${server.rssGrowth.toFixed(1)} MB`);

      const one = (label: string, unit: string, value: number, lowerIsBetter = true): Measurement => ({ label, unit, lowerIsBetter, samples: [value] });
      const measurements: Measurement[] = [
        one("soak throughput", "req/s", server.run.requests / server.seconds, false),
        one("soak p99", "ms", server.run.p99),
        one("RSS growth over the soak", "MB", server.rssGrowth),
        one("main-thread heap growth after GC", "MB", server.heapGrowth),
        one("loop-thread heap growth after GC (largest)", "MB", server.threadHeapGrowth),
        one("Node handles left after pool.stop()", "handles", handles.length),
      ];
      if (threadsBefore !== null && threadsAfter !== null) {
        measurements.push(one("OS threads left after pool.stop()", "threads", threadsAfter - threadsBefore));
      }
      return {
        measurements,
        targets: [
          { label: "RSS growth over the soak", max: 20, source: SOURCE },
          // "Heap after GC flat": within 1 MB in every thread, over all the requests.
          { label: "main-thread heap growth after GC", max: 1, source: SOURCE },
          { label: "loop-thread heap growth after GC (largest)", max: 1, source: SOURCE },
          { label: "Node handles left after pool.stop()", max: 0, source: SOURCE },
          { label: "OS threads left after pool.stop()", max: 0, source: SOURCE },
        ],
        notes: [
          `${requests} requests after ${warmup} of warm-up, ${connections} connections, a pool of ${cores} loop threads; ` +
            `memory after a full collection in every thread; young generation fixed at 2 x ${SEMI_SPACE_MB} MB per thread ` +
          `(V8 would grow it during the run, which is not a leak); node ${process.version}.`,
          ...(handles.length > 0 ? [`left after pool.stop(): ${handles.join(", ")}`] : []),
        ],
      };
    });
  },
};

export const scenarios: Scenario[] = [http, soak];
