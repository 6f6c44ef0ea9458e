/**
 * distributed.bullmq (issue 17 §5): jobs through BullMQ on one local redis-server, with two worker
 * processes of concurrency 50 on each side.
 * - round trip: one small job at a time, submit to result, multiloop and direct jobs alternating
 *   one by one (each pair sees the same machine: this 2-core machine is shared, and runs of one
 *   side then the other moved the ratio between 0.55x and 1.6x); the median job of each side;
 * - throughput: a burst of small jobs in flight at once, until the last result.
 * multiloop's `QueueExecutor` + `serveQueue` against BullMQ used directly: `queue.add` +
 * `job.waitUntilFinished(queueEvents)` with a plain BullMQ `Worker` that returns the job's data.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Queue, QueueEvents } from "bullmq";
import { QueueExecutor } from "multiloop/bullmq";
import { spawnRedisServer, type PlainRedisServer } from "../../examples/redis/server-process.js";
import { withCleanup, type Cleanup } from "../cleanup.js";
import { now, opsPerSecond, pick, rounds, toMeasurements, usPerOp, type Rounds } from "../measure.js";
import type { Scenario, ScenarioResult } from "../scenario-types.js";
import { median } from "../stats.js";

const SOURCE = "issue 17 §5";
const WORKERS = 2;
const CONCURRENCY = 50;
const WORKER_FILE = fileURLToPath(new URL("../workers/queue-worker.js", import.meta.url));
const PAYLOAD = [42, "small"];

function startWorker(kind: string, port: number, queue: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER_FILE, kind, String(port), queue, String(CONCURRENCY)], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      out += String(chunk);
      if (out.includes("ready")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`the ${kind} worker exited with ${code} before it was ready`)));
  });
}

function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

async function setUp(cleanup: Cleanup, port: number): Promise<{ remote: QueueExecutor; queue: Queue; events: QueueEvents }> {
  const connection = { host: "127.0.0.1", port };
  for (let i = 0; i < WORKERS; i++) {
    cleanup.add(await startWorker("multiloop", port, "bench-multiloop"), stopWorker);
    cleanup.add(await startWorker("direct", port, "bench-direct"), stopWorker);
  }
  // Same retention on both sides (QueueExecutor's default). Not removeOnComplete: true: the direct
  // side's waitUntilFinished then fails on jobs removed before it looks ("Missing key").
  const retention = { removeOnComplete: { age: 3600 }, removeOnFail: { age: 86_400 } };
  const remote = cleanup.add(new QueueExecutor({ queue: "bench-multiloop", connection, defaultJobOptions: retention }), (r) => r.shutdown());
  const queue = cleanup.add(new Queue("bench-direct", { connection, defaultJobOptions: retention }), (q) => q.close());
  const events = cleanup.add(new QueueEvents("bench-direct", { connection }), (e) => e.close());
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  return { remote, queue, events };
}

const fn = { filename: "./queue-jobs.js", name: "echo" };

const RATIOS = [
  { numerator: "multiloop QueueExecutor round trip", denominator: "BullMQ direct round trip", target: { source: SOURCE, max: 1.1 } },
  { numerator: "multiloop QueueExecutor throughput", denominator: "BullMQ direct throughput", target: { source: SOURCE, min: 0.9 } },
];

const scenario: Scenario = {
  id: "distributed.bullmq",
  group: "across processes",
  title: "BullMQ jobs on 2 worker processes x concurrency 50: QueueExecutor vs BullMQ used directly",
  async run(ctx): Promise<ScenarioResult> {
    let server: PlainRedisServer;
    try {
      server = await spawnRedisServer();
    } catch (err) {
      // The targets stay in the report, as not measured.
      return { measurements: [], ratios: RATIOS, notes: [`skipped: ${String(err)}`] };
    }
    try {
      return await withCleanup(async (cleanup) => {
        const { remote, queue, events } = await setUp(cleanup, server.port);
        const sequential = pick(ctx, { full: 300, quick: 100, tiny: 3 });
        const burst = pick(ctx, { full: 5000, quick: 2000, tiny: 20 });
        const plan: Rounds = pick(ctx, { full: { warmup: 1, reps: 5 }, quick: { warmup: 1, reps: 3 }, tiny: { warmup: 0, reps: 1 } });
        const multiloopJob = (): PromiseLike<unknown> => remote.submit(fn, PAYLOAD);
        const directJob = async (): Promise<unknown> => (await queue.add("echo", PAYLOAD)).waitUntilFinished(events);
        const samples = await rounds(plan, [
          async () => {
            const ml: number[] = [];
            const direct: number[] = [];
            for (let i = 0; i < sequential; i++) {
              // Which side goes first alternates too.
              for (const side of i % 2 === 0 ? [0, 1] : [1, 0]) {
                const start = now();
                await (side === 0 ? multiloopJob() : directJob());
                (side === 0 ? ml : direct).push(usPerOp(start, now(), 1));
              }
            }
            const figures = { "multiloop QueueExecutor round trip": median(ml), "BullMQ direct round trip": median(direct) };
            ctx.progress(`distributed.bullmq round trip: multiloop ${figures["multiloop QueueExecutor round trip"].toFixed(0)} us, direct ${figures["BullMQ direct round trip"].toFixed(0)} us`);
            return figures;
          },
          async () => {
            const start = now();
            await Promise.all(Array.from({ length: burst }, multiloopJob));
            const throughput = opsPerSecond(start, now(), burst);
            ctx.progress(`distributed.bullmq multiloop: ${throughput.toFixed(0)} jobs/s`);
            return { "multiloop QueueExecutor throughput": throughput };
          },
          async () => {
            const start = now();
            await Promise.all(Array.from({ length: burst }, directJob));
            const throughput = opsPerSecond(start, now(), burst);
            ctx.progress(`distributed.bullmq direct: ${throughput.toFixed(0)} jobs/s`);
            return { "BullMQ direct throughput": throughput };
          },
        ]);
        return {
          measurements: toMeasurements(samples, {
            "multiloop QueueExecutor round trip": { unit: "us/job" },
            "BullMQ direct round trip": { unit: "us/job" },
            "multiloop QueueExecutor throughput": { unit: "jobs/s", lowerIsBetter: false },
            "BullMQ direct throughput": { unit: "jobs/s", lowerIsBetter: false },
          }),
          ratios: RATIOS,
          notes: [
            `${WORKERS} worker processes x concurrency ${CONCURRENCY} per side; round trip: the median of ${sequential} sequential jobs per side, ` +
              `the two sides alternating job by job; throughput: ${burst} jobs at once; ` +
              `direct: queue.add + job.waitUntilFinished(queueEvents) and a BullMQ Worker returning job.data; node ${process.version}.`,
          ],
        };
      });
    } finally {
      await server.stop();
    }
  },
};

export const scenarios: Scenario[] = [scenario];
