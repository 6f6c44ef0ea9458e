/**
 * Streams across threads (issue 16 §1): 1,000,000 small items from an async generator on one loop
 * thread to a `for await` on another, with the default window (16) and a wider one, against
 * ThreadQueue putMany/getMany between two loop threads and raw postMessage per item between two
 * plain workers, measured in the same run. Also the peak resident memory each adds while it runs:
 * the stream's is bounded by its window, raw postMessage has no backpressure at all.
 */
import { spawnLoopThread, type LoopThread } from "multiloop";
import type { BenchContext, Measurement, Scenario, ScenarioResult } from "../scenario-types.js";
import { RawPair, queueRun } from "./thread-queue.js";

const streamPeer = new URL("../workers/stream-peer.js", import.meta.url);
const queuePeer = new URL("../workers/thread-queue-peer.js", import.meta.url);
const QUEUE_BATCH = 1000;

function sizes(ctx: BenchContext): { reps: number; n: number } {
  if (ctx.tiny) return { reps: 1, n: 5_000 };
  if (ctx.quick) return { reps: 3, n: 1_000_000 };
  return { reps: 5, n: 1_000_000 };
}

async function streamRun(producer: LoopThread, consumer: LoopThread, n: number, hwm: number): Promise<number> {
  const started = performance.now();
  const [count, sum] = (await consumer.call("drain", producer.handle, n, hwm)) as [number, number];
  const elapsed = performance.now() - started;
  if (count !== n || sum !== (n * (n - 1)) / 2) throw new Error(`the stream lost or repeated items: ${count} items, sum ${sum}`);
  return n / (elapsed / 1000);
}

/** Runs `measure` while sampling RSS every few ms; returns its result and the peak RSS above the start. */
async function withPeakRss(measure: () => Promise<number>): Promise<[number, number]> {
  globalThis.gc?.();
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const value = await measure();
    peak = Math.max(peak, process.memoryUsage.rss());
    return [value, Math.max(0, peak - base)];
  } finally {
    clearInterval(timer);
  }
}

async function run(ctx: BenchContext): Promise<ScenarioResult> {
  const { reps, n } = sizes(ctx);
  const producer = await spawnLoopThread({ name: "stream-producer", module: streamPeer });
  const consumer = await spawnLoopThread({ name: "stream-consumer", module: streamPeer });
  const queueProducer = await spawnLoopThread({ name: "tq-producer", module: queuePeer });
  const queueConsumer = await spawnLoopThread({ name: "tq-consumer", module: queuePeer });
  const raw = new RawPair();
  const defaultLabel = "multiloop stream (highWaterMark 16)";
  const cases: Array<{ label: string; measure: () => Promise<number> }> = [
    { label: defaultLabel, measure: () => streamRun(producer, consumer, n, 16) },
    { label: "multiloop stream (highWaterMark 256)", measure: () => streamRun(producer, consumer, n, 256) },
    { label: `ThreadQueue putMany/getMany (${QUEUE_BATCH})`, measure: () => queueRun(queueProducer, queueConsumer, n, QUEUE_BATCH, false) },
    { label: "postMessage per item", measure: () => raw.run(n, 1, false) },
  ];
  const measurements: Measurement[] = [];
  try {
    for (const c of cases) {
      if (!ctx.tiny) await c.measure();
      const samples: number[] = [];
      const memory: number[] = [];
      for (let r = 0; r < reps; r++) {
        const [rate, rss] = await withPeakRss(c.measure);
        samples.push(rate);
        memory.push(rss);
        ctx.progress(`${c.label}: ${Math.round(rate).toLocaleString("en-US")} items/s, peak RSS +${(rss / 2 ** 20).toFixed(1)} MiB`);
      }
      measurements.push({ label: c.label, unit: "items/s", lowerIsBetter: false, samples });
      measurements.push({ label: `${c.label}: peak RSS added`, unit: "bytes", lowerIsBetter: true, samples: memory });
    }
  } finally {
    await Promise.all([producer.stop(), consumer.stop(), queueProducer.stop(), queueConsumer.stop(), raw.close()]);
  }
  return {
    measurements,
    ratios: [
      { numerator: defaultLabel, denominator: "postMessage per item" },
      { numerator: defaultLabel, denominator: `ThreadQueue putMany/getMany (${QUEUE_BATCH})` },
    ],
    targets: [{ label: defaultLabel, min: 1_000_000, source: "issue 16 §1", node: 26 }],
    notes: [
      `${n.toLocaleString("en-US")} small integers per repetition, ${reps} repetitions after a warm-up. Stream: an async ` +
        "generator on one loop thread, `for await` over `handle.streamWith({ highWaterMark }, ...)` on another, checked for " +
        "loss and repeats (count and sum).",
      "ThreadQueue: maxsize 10,000, putMany/getMany of 1,000 between two loop threads. postMessage: two plain workers, " +
        "one message per item, no backpressure (the receiver's queue grows as far as the sender gets ahead).",
      "Peak RSS added: the whole process's resident memory sampled every 5 ms during a repetition, above its level at " +
        "the start (after a GC); it includes the threads' heaps and noise of a few MiB.",
    ],
  };
}

export const scenarios: Scenario[] = [
  {
    id: "threads.stream",
    group: "across threads",
    title: "Streams across threads: stream vs ThreadQueue vs raw postMessage (items/s, peak memory)",
    run,
  },
];
