/**
 * The thread boundary (issue 11): what checking and encoding a large argument costs the sender,
 * and whether memory stays put over a long run of cross-thread calls.
 *
 * - threads.encode: a 1 MB JSON-like graph with shared references sent with callSoonThreadsafe
 *   (multiloop's walk over it, then the postMessage that serializes it), next to structuredClone
 *   of the same graph and a raw port.postMessage of it. One send per job, so each goes out alone.
 * - memory.soak: three loop threads, 100,000 cross-thread calls per round (round trips, one-way
 *   calls, and calls that pass another thread's handle along); the resident set size before and
 *   after each round, every thread collected first, after warm-up rounds.
 */
import { Runner, spawnLoopThread, type LoopThread } from "multiloop";
import { withCleanup } from "../cleanup.js";
import { jsonGraph } from "../json-graph.js";
import { canForceGc, forceGc, now, pick, rounds, toMeasurements } from "../measure.js";
import type { BenchContext, Scenario, ScenarioResult } from "../scenario-types.js";
import { portPeer, workerUrl } from "../thread-peers.js";

const ISSUE_11 = "issue 11";

async function runEncode(ctx: BenchContext): Promise<ScenarioResult> {
  const graph = jsonGraph(pick(ctx, { full: 1 << 20, quick: 1 << 20, tiny: 1 << 14 }));
  const sends = pick(ctx, { full: 30, quick: 12, tiny: 2 });
  return withCleanup(async (cleanup) => {
    const runner = cleanup.add(new Runner(), (r) => r.close());
    const thread = await runner.run(() => spawnLoopThread({ name: "encode-sink", module: workerUrl("loop-target") }));
    cleanup.add(thread, (t) => runner.run(() => t.stop()));
    const { port } = await portPeer(cleanup, "port-sink");
    // Let the sinks catch up between variants, so one's backlog does not slow the next.
    const settle = (): Promise<unknown> => runner.run(() => thread.call("echo", 0));
    const samples = await rounds(pick(ctx, { full: { warmup: 2, reps: 7 }, quick: { warmup: 1, reps: 3 }, tiny: { warmup: 0, reps: 1 } }), [
      async () => {
        const ms = await runner.run(async () => {
          const start = now();
          for (let i = 0; i < sends; i++) {
            thread.handle.callSoonThreadsafe("sink", graph);
            // End the job: the next send is the first of its own job, posted at once.
            await Promise.resolve();
          }
          return (now() - start) / sends;
        });
        await settle();
        return { "multiloop callSoonThreadsafe": ms };
      },
      () => {
        const start = now();
        for (let i = 0; i < sends; i++) structuredClone(graph);
        return { structuredClone: (now() - start) / sends };
      },
      async () => {
        const start = now();
        for (let i = 0; i < sends; i++) port.postMessage(graph);
        const ms = (now() - start) / sends;
        await settle();
        return { "raw port.postMessage": ms };
      },
    ]);
    const unit = { unit: "ms/send" };
    return {
      measurements: toMeasurements(samples, { "multiloop callSoonThreadsafe": unit, structuredClone: unit, "raw port.postMessage": unit }),
      ratios: [
        { numerator: "multiloop callSoonThreadsafe", denominator: "structuredClone", target: { max: 1.5, source: ISSUE_11 } },
        { numerator: "multiloop callSoonThreadsafe", denominator: "raw port.postMessage" },
      ],
      notes: [
        `${JSON.stringify(graph).length.toLocaleString("en-US")} bytes as JSON: ${graph.records.length.toLocaleString("en-US")} records sharing 50 user and 20 tag objects; ${sends} sends per round, one per job.`,
        "multiloop and postMessage: the sending thread's time (checks, then the serialization postMessage does); structuredClone serializes and deserializes.",
      ],
    };
  });
}

/** Resident set size in MB, after a full collection in this thread and in every thread given. */
async function residentMb(threads: readonly LoopThread[]): Promise<number> {
  await Promise.all(threads.map((t) => t.call("collect")));
  forceGc();
  return process.memoryUsage().rss / (1024 * 1024);
}

/** `calls` cross-thread calls spread over `threads`, in bursts of 1,000 awaited together. */
async function soakCalls(threads: readonly LoopThread[], calls: number): Promise<void> {
  const burst: PromiseLike<unknown>[] = [];
  let ticks = 0;
  for (let i = 0; i < calls; i++) {
    const thread = threads[i % threads.length] as LoopThread;
    const kind = i % 4;
    if (kind === 0 || kind === 1) burst.push(thread.handle.runCoroutineThreadsafe("echo", i));
    else if (kind === 2) burst.push(thread.handle.runCoroutineThreadsafe("touch", (threads[(i + 1) % threads.length] as LoopThread).handle));
    else {
      thread.handle.callSoonThreadsafe("tick");
      ticks++;
    }
    if (burst.length >= 1000) {
      await Promise.all(burst);
      burst.length = 0;
    }
  }
  await Promise.all(burst);
  // The one-way calls have all run once each thread answered a call sent after them.
  if (ticks > 0) await Promise.all(threads.map((t) => t.call("echo", 0)));
}

async function runSoak(ctx: BenchContext): Promise<ScenarioResult> {
  const calls = pick(ctx, { full: 100_000, quick: 100_000, tiny: 2_000 });
  return withCleanup(async (cleanup) => {
    const runner = cleanup.add(new Runner(), (r) => r.close());
    const threads = await runner.run(() =>
      Promise.all([0, 1, 2].map((i) => spawnLoopThread({ name: `soak-${i}`, module: workerUrl("loop-target") }))),
    );
    for (const t of threads) cleanup.add(t, (thread) => runner.run(() => thread.stop()));
    const samples = await rounds(pick(ctx, { full: { warmup: 3, reps: 6 }, quick: { warmup: 3, reps: 3 }, tiny: { warmup: 0, reps: 1 } }), [
      () =>
        runner.run(async () => {
          const before = await residentMb(threads);
          await soakCalls(threads, calls);
          const after = await residentMb(threads);
          return { "RSS growth per 100,000 calls": ((after - before) * 100_000) / calls };
        }),
    ]);
    return {
      measurements: toMeasurements(samples, { "RSS growth per 100,000 calls": { unit: "MB" } }),
      targets: [{ label: "RSS growth per 100,000 calls", max: 10, source: ISSUE_11 }],
      notes: [
        `Three loop threads; ${calls.toLocaleString("en-US")} calls per round: half runCoroutineThreadsafe round trips, a quarter callSoonThreadsafe, a quarter round trips passing another thread's LoopHandle.`,
        "Resident set size of the whole process (all threads), each thread collected first; warm-up rounds not counted.",
        ...(canForceGc ? [] : ["This process has no gc() (run with --expose-gc): the figures include garbage."]),
      ],
    };
  });
}

export const scenarios: Scenario[] = [
  { id: "threads.encode", group: "across threads", title: "sending a 1 MB JSON-like graph with shared references", run: runEncode },
  { id: "memory.soak", group: "memory", title: "RSS growth over a long run of cross-thread calls", run: runSoak },
];
