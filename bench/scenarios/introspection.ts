/**
 * What `snapshotThreads()` costs (issue 16 §2): no target, a documented figure. Four loop threads
 * with 1,000 waiting tasks each, plus the main thread's own loop with 1,000, each snapshot taken
 * from the main thread; and the same snapshot with the main thread alone, and `formatThreads` of
 * the four-thread one. Every figure is milliseconds of wall time per snapshot, median of the runs.
 */
import { formatThreads, run, snapshotThreads, spawnLoopThread, type LoopThread } from "multiloop";
import type { BenchContext, Scenario, ScenarioResult } from "../scenario-types.js";
import type * as Target from "../workers/snapshot-target.js";
import { startTasks } from "../workers/snapshot-target.js";

const target = new URL("../workers/snapshot-target.js", import.meta.url);
const THREADS = 4;

function sizes(ctx: BenchContext): { tasks: number; reps: number } {
  if (ctx.tiny) return { tasks: 20, reps: 2 };
  return { tasks: 1_000, reps: ctx.quick ? 10 : 30 };
}

async function runSnapshot(ctx: BenchContext): Promise<ScenarioResult> {
  const { tasks, reps } = sizes(ctx);
  const threads: LoopThread<typeof Target>[] = [];
  try {
    for (let i = 0; i < THREADS; i++) threads.push(await spawnLoopThread<typeof Target>({ name: `snap-${i}`, module: target }));
    await Promise.all(threads.map((t) => t.call("startTasks", tasks)));
    const alone: number[] = [];
    const all: number[] = [];
    const format: number[] = [];
    await run(async () => {
      startTasks(tasks);
      // Each round: the whole snapshot, formatting it, and the main thread's own report alone
      // (timeout 0: the others' replies are not waited for).
      for (let i = 0; i < reps + 2; i++) {
        let started = performance.now();
        const snapshot = await snapshotThreads({ timeout: 10_000 });
        const took = performance.now() - started;
        const seen = snapshot.threads.reduce((n, t) => n + t.loops.reduce((m, l) => m + l.tasks.length, 0), 0);
        if (seen < tasks * (THREADS + 1)) throw new Error(`the snapshot holds ${seen} tasks, expected ${tasks * (THREADS + 1)} or more`);
        started = performance.now();
        formatThreads(snapshot);
        const formatted = performance.now() - started;
        started = performance.now();
        await snapshotThreads({ timeout: 0 });
        const own = performance.now() - started;
        if (i < 2) continue; // warm-up
        all.push(took);
        format.push(formatted);
        alone.push(own);
      }
    });
    return {
      measurements: [
        { label: `snapshotThreads, ${THREADS} loop threads + main, ${tasks} tasks each`, unit: "ms/op", lowerIsBetter: true, samples: all },
        { label: `formatThreads of that snapshot`, unit: "ms/op", lowerIsBetter: true, samples: format },
        { label: `snapshotThreads({ timeout: 0 }), main thread's ${tasks} tasks`, unit: "ms/op", lowerIsBetter: true, samples: alone },
      ],
      notes: [
        `Each task waits on a sleep or a future; every snapshot is taken from the main thread and holds ${tasks * (THREADS + 1)} tasks.`,
        "timeout 0: only the own thread's report (built synchronously) and the replies already in are taken.",
      ],
    };
  } finally {
    await Promise.all(threads.map((t) => t.stop()));
  }
}

export const scenarios: Scenario[] = [
  { id: "introspection.snapshot", group: "introspection", title: "snapshotThreads: 4 threads x 1,000 tasks", run: runSnapshot },
];
