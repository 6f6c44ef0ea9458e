/**
 * Across threads: one function per comparison. Each starts its baselines (raw MessagePort, raw
 * Atomics, comlink 4.4.2, piscina 5; bench/thread-peers.ts) and, where this build has it, the
 * multiloop side (bench/thread-multiloop.ts), measures them in the same rounds, and stops them all
 * in `finally`. Every peer talks to exactly one other thread. Targets from issue 3 §8 and issue 4 §5.
 */
import { Piscina } from "piscina";
import { withCleanup } from "../cleanup.js";
import { defaultRounds, pick, rounds, toMeasurements, type Rounds, type Variant } from "../measure.js";
import type { BenchContext, Scenario, ScenarioResult } from "../scenario-types.js";
import { startExecutor, startLoopThread, threadQueueThroughput } from "../thread-multiloop.js";
import {
  piscinaEcho,
  type PiscinaEcho,
  startAtomicsEcho,
  startComlink,
  startPiscina,
  startPortEcho,
  startPortSink,
  workerUrl,
} from "../thread-peers.js";

const ISSUE_3 = "issue 3 §8";
const ISSUE_14 = "issue 14 §2";

/** Items per message in the batched raw postMessage baseline. */
const BATCH = 1000;

/** Cross-thread figures are noisy on a shared machine: the full run takes a few more rounds. */
function threadRounds(ctx: BenchContext): Rounds {
  return pick(ctx, { full: { warmup: 2, reps: 9 }, quick: { warmup: 1, reps: 3 }, tiny: { warmup: 0, reps: 1 } });
}

// ------------------------------------------------------------------ round trip

async function runRoundTrip(ctx: BenchContext): Promise<ScenarioResult> {
  const count = pick(ctx, { full: 10_000, quick: 1_000, tiny: 20 });
  return withCleanup(async (cleanup) => {
    const port = await startPortEcho(cleanup);
    const atomics = await startAtomicsEcho(cleanup);
    const comlink = await startComlink(cleanup);
    const piscinaSync = await startPiscina(cleanup, "sync");
    const piscinaAsync = await startPiscina(cleanup, "async");
    const variants: Variant[] = [
      async () => ({ "raw MessagePort ping-pong": await port.roundTrips(count) }),
      () => ({ "raw Atomics.wait/notify ping-pong": atomics.roundTrips(count) }),
      async () => ({ "comlink 4.4.2": await comlink.roundTrips(count) }),
      async () => ({ "piscina 5 (atomics sync)": await piscinaSync.roundTrips(count) }),
      async () => ({ "piscina 5 (atomics async)": await piscinaAsync.roundTrips(count) }),
    ];
    // ---- multiloop: runCoroutineThreadsafe round trip
    const ml = await startLoopThread(cleanup);
    if (ml.value !== null) {
      const thread = ml.value;
      variants.push(async () => ({ "multiloop runCoroutineThreadsafe": await thread.roundTrips(count) }));
    }
    const samples = await rounds(threadRounds(ctx), variants);
    const unit = { unit: "us/round trip" };
    return {
      measurements: toMeasurements(samples, {
        "multiloop runCoroutineThreadsafe": unit,
        "raw MessagePort ping-pong": unit,
        "raw Atomics.wait/notify ping-pong": unit,
        "comlink 4.4.2": unit,
        "piscina 5 (atomics sync)": unit,
        "piscina 5 (atomics async)": unit,
      }),
      ratios: [
        { numerator: "multiloop runCoroutineThreadsafe", denominator: "raw MessagePort ping-pong", target: { max: 1.05, source: ISSUE_14 } },
        { numerator: "multiloop runCoroutineThreadsafe", denominator: "comlink 4.4.2" },
        { numerator: "multiloop runCoroutineThreadsafe", denominator: "piscina 5 (atomics async)" },
        { numerator: "raw Atomics.wait/notify ping-pong", denominator: "raw MessagePort ping-pong" },
        { numerator: "comlink 4.4.2", denominator: "raw MessagePort ping-pong" },
        { numerator: "piscina 5 (atomics sync)", denominator: "raw MessagePort ping-pong" },
        { numerator: "piscina 5 (atomics async)", denominator: "raw MessagePort ping-pong" },
      ],
      notes: [
        `${count.toLocaleString("en-US")} sequential round trips per round, a number there and back; one worker per peer, piscina with one thread.`,
        "The Atomics ping-pong blocks both threads in Atomics.wait: the floor of this machine, not something an event loop can do.",
        ...ml.notes,
      ],
    };
  });
}

// ------------------------------------------------------------------ one-way throughput

async function runOneWay(ctx: BenchContext): Promise<ScenarioResult> {
  const count = pick(ctx, { full: 500_000, quick: 100_000, tiny: 2_000 });
  return withCleanup(async (cleanup) => {
    const sink = await startPortSink(cleanup);
    const variants: Variant[] = [
      async () => ({ "raw postMessage, one per call": await sink.each(count) }),
      async () => ({ [`raw postMessage, batches of ${BATCH}`]: await sink.batched(count, BATCH) }),
    ];
    // ---- multiloop: callSoonThreadsafe one-way throughput
    const ml = await startLoopThread(cleanup);
    if (ml.value !== null) {
      const thread = ml.value;
      variants.push(async () => ({ "multiloop callSoonThreadsafe": await thread.oneWay(count) }));
    }
    const samples = await rounds(threadRounds(ctx), variants);
    const unit = { unit: "calls/s", lowerIsBetter: false };
    return {
      measurements: toMeasurements(samples, {
        "multiloop callSoonThreadsafe": unit,
        "raw postMessage, one per call": unit,
        [`raw postMessage, batches of ${BATCH}`]: unit,
      }),
      ratios: [
        { numerator: "multiloop callSoonThreadsafe", denominator: "raw postMessage, one per call" },
        { numerator: "multiloop callSoonThreadsafe", denominator: `raw postMessage, batches of ${BATCH}` },
      ],
      targets: [{ label: "multiloop callSoonThreadsafe", min: 2_000_000, source: ISSUE_3 }],
      notes: [
        `${count.toLocaleString("en-US")} calls from the main thread into one other thread, timed until the receiver has handled the last one.`,
        ...ml.notes,
      ],
    };
  });
}

// ------------------------------------------------------------------ 10,000 calls in flight

async function runInFlight(ctx: BenchContext): Promise<ScenarioResult> {
  const count = pick(ctx, { full: 10_000, quick: 10_000, tiny: 100 });
  return withCleanup(async (cleanup) => {
    const port = await startPortEcho(cleanup);
    const comlink = await startComlink(cleanup);
    const piscina = await startPiscina(cleanup, "sync");
    const variants: Variant[] = [
      async () => ({ "raw MessagePort": await port.inFlight(count) }),
      async () => ({ "comlink 4.4.2": await comlink.inFlight(count) }),
      async () => ({ "piscina 5": await piscina.inFlight(count) }),
    ];
    // ---- multiloop: runCoroutineThreadsafe with 10,000 calls in flight
    const ml = await startLoopThread(cleanup);
    if (ml.value !== null) {
      const thread = ml.value;
      variants.push(async () => ({ "multiloop runCoroutineThreadsafe": await thread.inFlight(count) }));
    }
    // Each round moves 10,000 calls per peer (piscina manages about 20,000/s): the usual count of rounds.
    const samples = await rounds(defaultRounds(ctx), variants);
    const unit = { unit: "calls/s", lowerIsBetter: false };
    return {
      measurements: toMeasurements(samples, {
        "multiloop runCoroutineThreadsafe": unit,
        "raw MessagePort": unit,
        "comlink 4.4.2": unit,
        "piscina 5": unit,
      }),
      ratios: [
        { numerator: "multiloop runCoroutineThreadsafe", denominator: "comlink 4.4.2" },
        { numerator: "multiloop runCoroutineThreadsafe", denominator: "piscina 5" },
        { numerator: "multiloop runCoroutineThreadsafe", denominator: "raw MessagePort" },
      ],
      targets: [{ label: "multiloop runCoroutineThreadsafe", min: 400_000, source: ISSUE_14 }],
      notes: [
        `${count.toLocaleString("en-US")} calls started at once, all awaited; piscina with one thread and its defaults (atomics sync, one task per worker at a time).`,
        ...ml.notes,
      ],
    };
  });
}

// ------------------------------------------------------------------ executor

async function runExecutor(ctx: BenchContext): Promise<ScenarioResult> {
  const count = pick(ctx, { full: 10_000, quick: 2_000, tiny: 20 });
  return withCleanup(async (cleanup) => {
    // ---- multiloop: runInExecutor on a one-thread PoolExecutor
    const ml = startExecutor(cleanup);
    const notes: string[] = [...ml.notes];
    // The baseline is piscina's own run() on the same pool when the PoolExecutor exposes it, else on
    // a pool with the same settings (one thread, atomics 'async' as PoolExecutor uses).
    let baseline: PiscinaEcho;
    if (ml.value !== null && ml.value.pool instanceof Piscina) {
      baseline = piscinaEcho(ml.value.pool, workerUrl("piscina-echo").href);
      notes.push("piscina run() is measured on the PoolExecutor's own pool.");
    } else {
      baseline = await startPiscina(cleanup, "async");
      notes.push("piscina run() is measured on a separate one-thread pool with atomics 'async' (the PoolExecutor's settings).");
    }
    const variants: Variant[] = [async () => ({ "piscina run()": await baseline.roundTrips(count) })];
    if (ml.value !== null) {
      const executor = ml.value;
      variants.push(async () => ({ "multiloop runInExecutor": await executor.roundTrips(count) }));
    }
    const samples = await rounds(threadRounds(ctx), variants);
    const unit = { unit: "us/call" };
    return {
      measurements: toMeasurements(samples, { "multiloop runInExecutor": unit, "piscina run()": unit }),
      ratios: [{ numerator: "multiloop runInExecutor", denominator: "piscina run()", target: { max: 1.1, source: ISSUE_3 } }],
      notes: [`${count.toLocaleString("en-US")} sequential calls of an echo task per round.`, ...notes],
    };
  });
}

// ------------------------------------------------------------------ ThreadQueue

async function runThreadQueue(ctx: BenchContext): Promise<ScenarioResult> {
  const count = pick(ctx, { full: 500_000, quick: 100_000, tiny: 2_000 });
  const maxsize = 1024;
  return withCleanup(async (cleanup) => {
    const sink = await startPortSink(cleanup);
    const variants: Variant[] = [async () => ({ "raw postMessage, one per item": await sink.each(count) })];
    // ---- multiloop: ThreadQueue between two threads
    const ml = await startLoopThread(cleanup);
    const queue = threadQueueThroughput(ml, maxsize);
    if (queue.value !== null) {
      const throughput = queue.value;
      variants.push(async () => ({ "multiloop ThreadQueue": await throughput(count) }));
    }
    const samples = await rounds(threadRounds(ctx), variants);
    const unit = { unit: "items/s", lowerIsBetter: false };
    return {
      measurements: toMeasurements(samples, { "multiloop ThreadQueue": unit, "raw postMessage, one per item": unit }),
      ratios: [{ numerator: "multiloop ThreadQueue", denominator: "raw postMessage, one per item" }],
      notes: [
        `${count.toLocaleString("en-US")} items from a task on the main thread's loop (\`await put\`, maxsize ${maxsize}) ` +
          "to a task on a loop thread (`await get`).",
        "One item per await, for scale; issue 4's target (>= 1 M items/s) is for batching and is checked by threads.thread-queue (putMany/getMany).",
        ...ml.notes,
        ...(ml.value === null ? [] : queue.notes),
      ],
    };
  });
}

export const scenarios: Scenario[] = [
  {
    id: "threads.roundtrip",
    group: "across threads",
    title: "round trip: runCoroutineThreadsafe vs MessagePort, Atomics, comlink, piscina",
    run: runRoundTrip,
  },
  { id: "threads.oneway", group: "across threads", title: "one-way throughput: callSoonThreadsafe vs postMessage", run: runOneWay },
  { id: "threads.inflight", group: "across threads", title: "10,000 calls in flight", run: runInFlight },
  { id: "threads.executor", group: "across threads", title: "runInExecutor vs piscina run()", run: runExecutor },
  { id: "threads.threadqueue", group: "across threads", title: "ThreadQueue between two threads", run: runThreadQueue },
];
