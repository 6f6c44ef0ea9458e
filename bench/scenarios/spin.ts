/**
 * The opt-in spinning mailbox (issue 14 §3): a `runCoroutineThreadsafe` round trip between two
 * loops that both spin (`spawnLoopThread({ spin })` and `loop.setMailboxSpin` on the caller's
 * loop), against the default mailbox, raw MessagePort and the blocking Atomics floor. The CPU each
 * side used shows what spinning costs; so does an idle stretch (the bound: a spinning loop parks).
 */
import { withCleanup } from "../cleanup.js";
import { pick, rounds, toMeasurements, type Variant } from "../measure.js";
import type { BenchContext, Scenario, ScenarioResult } from "../scenario-types.js";
import { startLoopThread } from "../thread-multiloop.js";
import { startAtomicsEcho, startPortEcho } from "../thread-peers.js";

const SOURCE = "issue 14 §3";
/** The spin bound the issue names. */
const SPIN_MICROS = 50;
const IDLE_MS = 200;

const SPUN = `multiloop round trip, both sides spinning (${SPIN_MICROS} us)`;
const DEFAULT = "multiloop round trip, default mailbox";
const PORT = "raw MessagePort ping-pong";
const ATOMICS = "raw Atomics.wait/notify ping-pong";

async function runSpin(ctx: BenchContext): Promise<ScenarioResult> {
  const count = pick(ctx, { full: 10_000, quick: 2_000, tiny: 20 });
  const idle = pick(ctx, { full: IDLE_MS, quick: IDLE_MS, tiny: 10 });
  return withCleanup(async (cleanup) => {
    const port = await startPortEcho(cleanup);
    const atomics = await startAtomicsEcho(cleanup);
    const variants: Variant[] = [
      async () => ({ [PORT]: await port.roundTrips(count) }),
      () => ({ [ATOMICS]: atomics.roundTrips(count) }),
    ];
    const plain = await startLoopThread(cleanup);
    const spun = await startLoopThread(cleanup, { spinMicros: SPIN_MICROS });
    const cpu: Record<string, number> = {};
    const withCpu = (label: string, r: { us: number; mainCpu: number | null; threadCpu: number | null }): Record<string, number> => {
      const out: Record<string, number> = { [label]: r.us };
      if (r.mainCpu !== null) out[`${label}: CPU, calling thread`] = r.mainCpu;
      if (r.threadCpu !== null) out[`${label}: CPU, loop thread`] = r.threadCpu;
      return out;
    };
    if (plain.value !== null) {
      const thread = plain.value;
      variants.push(async () => withCpu(DEFAULT, await thread.roundTripsWithCpu(count)));
    }
    if (spun.value !== null) {
      const thread = spun.value;
      variants.push(async () => withCpu(SPUN, await thread.roundTripsWithCpu(count)));
    }
    const samples = await rounds(pick(ctx, { full: { warmup: 2, reps: 7 }, quick: { warmup: 1, reps: 3 }, tiny: { warmup: 0, reps: 1 } }), variants);
    if (spun.value !== null && spun.thread !== null && spun.runner !== null) {
      // The bound: with nothing to do, both spinning loops park, so idling costs (almost) nothing.
      const handle = spun.thread.handle;
      const idleCpu = await spun.runner.run(async () => {
        const t0 = await handle.runCoroutineThreadsafe<number>("cpuMicros");
        await new Promise((resolve) => setTimeout(resolve, idle));
        const t1 = await handle.runCoroutineThreadsafe<number>("cpuMicros");
        return t0 < 0 ? null : ((t1 - t0) / (idle * 1e3)) * 100;
      });
      if (idleCpu !== null) cpu[`spinning loop thread idle ${idle} ms: CPU`] = idleCpu;
    }
    for (const [label, value] of Object.entries(cpu)) samples.set(label, [value]);
    const us = { unit: "us/round trip" };
    const share = { unit: "% of one core" };
    return {
      measurements: toMeasurements(samples, {
        [SPUN]: us,
        [DEFAULT]: us,
        [PORT]: us,
        [ATOMICS]: us,
        [`${SPUN}: CPU, calling thread`]: share,
        [`${SPUN}: CPU, loop thread`]: share,
        [`${DEFAULT}: CPU, calling thread`]: share,
        [`${DEFAULT}: CPU, loop thread`]: share,
        [`spinning loop thread idle ${idle} ms: CPU`]: share,
      }),
      ratios: [
        { numerator: SPUN, denominator: PORT },
        { numerator: SPUN, denominator: DEFAULT },
        { numerator: SPUN, denominator: ATOMICS },
      ],
      targets: [{ label: SPUN, max: 10, source: SOURCE }],
      notes: [
        `${count.toLocaleString("en-US")} sequential round trips per round, a number there and back. The spinning variant: ` +
          `spawnLoopThread({ spin: { micros: ${SPIN_MICROS} } }) and loop.setMailboxSpin({ micros: ${SPIN_MICROS} }) on the calling loop.`,
        "CPU: the thread's CPU time during the round trips in % of their wall-clock time (process.threadCpuUsage, Node 22 and later).",
        ...plain.notes,
        ...spun.notes,
      ],
    };
  });
}

export const scenarios: Scenario[] = [
  { id: "threads.spin", group: "across threads", title: "round trip between two spinning loops (opt-in spinning mailbox)", run: runSpin },
];
