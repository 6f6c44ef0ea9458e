/**
 * Memory: bytes per pending Task, per TimerHandle and per idle loop thread, each next to what the
 * same thing costs without multiloop. Heap figures are `process.memoryUsage().heapUsed` deltas
 * after forced full collections (the runner starts scenario processes with --expose-gc); a thread's
 * heap is not in its parent's heap, so threads are measured by resident set size instead.
 *
 * Anything that would be allocated during the measured stretch and is not the object under test
 * (the arrays that keep the objects alive, the shared future they await) is allocated before the
 * first reading.
 */
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { createTask, getRunningLoop, run, sleep, type Task, type TimerHandle } from "multiloop";
import { withCleanup } from "../cleanup.js";
import { feature, notAvailable, type SpawnLoopThread } from "../features.js";
import { canForceGc, forceGc, pick, rounds, toMeasurements, type Rounds, type Variant } from "../measure.js";
import type { BenchContext, Scenario, ScenarioResult } from "../scenario-types.js";
import { workerUrl } from "../thread-peers.js";

function heapUsed(): number {
  forceGc();
  return process.memoryUsage().heapUsed;
}

function rss(): number {
  forceGc();
  return process.memoryUsage().rss;
}

function memoryRounds(ctx: BenchContext): Rounds {
  return pick(ctx, { full: { warmup: 1, reps: 5 }, quick: { warmup: 1, reps: 3 }, tiny: { warmup: 0, reps: 1 } });
}

const noop = (): void => {};

function gcNote(): string[] {
  return canForceGc ? [] : ["This process has no gc() (run with --expose-gc): the figures include garbage and are unreliable."];
}

// ------------------------------------------------------------------ tasks

/** `n` tasks suspended on one future; bytes per task. */
async function pendingTasks(n: number): Promise<number> {
  return run(async () => {
    const loop = getRunningLoop();
    const gate = loop.createFuture<void>();
    const tasks = new Array<Task<void> | undefined>(n).fill(undefined);
    const body = async (): Promise<void> => {
      await gate;
    };
    const before = heapUsed();
    for (let i = 0; i < n; i++) tasks[i] = createTask(body);
    // Let every task take its first step and suspend on the gate.
    await sleep(0);
    await sleep(0);
    const after = heapUsed();
    gate.setResult();
    for (const t of tasks) await (t as Task<void>);
    return (after - before) / n;
  });
}

/** `n` plain async functions suspended on one promise; bytes per call. */
async function pendingAsyncFunctions(n: number): Promise<number> {
  let open = noop;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const calls = new Array<Promise<void> | undefined>(n).fill(undefined);
  const body = async (): Promise<void> => {
    await gate;
  };
  const before = heapUsed();
  for (let i = 0; i < n; i++) calls[i] = body();
  const after = heapUsed();
  open();
  await Promise.all(calls as Promise<void>[]);
  return (after - before) / n;
}

async function runTasks(ctx: BenchContext): Promise<ScenarioResult> {
  const n = pick(ctx, { full: 100_000, quick: 20_000, tiny: 500 });
  const samples = await rounds(memoryRounds(ctx), [
    async () => ({ "multiloop pending Task": await pendingTasks(n) }),
    async () => ({ "pending async function call": await pendingAsyncFunctions(n) }),
  ]);
  return {
    measurements: toMeasurements(samples, {
      "multiloop pending Task": { unit: "bytes/task" },
      "pending async function call": { unit: "bytes/task" },
    }),
    ratios: [{ numerator: "multiloop pending Task", denominator: "pending async function call" }],
    notes: [`${n.toLocaleString("en-US")} tasks (or calls), each suspended on one shared future (or promise).`, ...gcNote()],
  };
}

// ------------------------------------------------------------------ timers

async function pendingTimerHandles(n: number): Promise<number> {
  return run(() => {
    const loop = getRunningLoop();
    const handles = new Array<TimerHandle | undefined>(n).fill(undefined);
    const before = heapUsed();
    for (let i = 0; i < n; i++) handles[i] = loop.callLater(1e9 + i, noop);
    const after = heapUsed();
    for (const h of handles) h?.cancel();
    return (after - before) / n;
  });
}

/**
 * Node keeps one list per distinct duration: with distinct durations (like the callLater side's
 * distinct deadlines) each timer also pays for a list; with one shared duration it does not.
 */
async function pendingTimeouts(n: number, distinct: boolean): Promise<number> {
  const timers = new Array<NodeJS.Timeout | undefined>(n).fill(undefined);
  const before = heapUsed();
  for (let i = 0; i < n; i++) timers[i] = setTimeout(noop, distinct ? 1e9 + i : 1e9);
  const after = heapUsed();
  for (const t of timers) clearTimeout(t);
  return Promise.resolve((after - before) / n);
}

async function runTimers(ctx: BenchContext): Promise<ScenarioResult> {
  const n = pick(ctx, { full: 100_000, quick: 20_000, tiny: 500 });
  const samples = await rounds(memoryRounds(ctx), [
    async () => ({ "multiloop TimerHandle (callLater)": await pendingTimerHandles(n) }),
    async () => ({ "Node Timeout (setTimeout), distinct durations": await pendingTimeouts(n, true) }),
    async () => ({ "Node Timeout (setTimeout), one duration": await pendingTimeouts(n, false) }),
  ]);
  return {
    measurements: toMeasurements(samples, {
      "multiloop TimerHandle (callLater)": { unit: "bytes/timer" },
      "Node Timeout (setTimeout), distinct durations": { unit: "bytes/timer" },
      "Node Timeout (setTimeout), one duration": { unit: "bytes/timer" },
    }),
    ratios: [
      { numerator: "multiloop TimerHandle (callLater)", denominator: "Node Timeout (setTimeout), distinct durations" },
      { numerator: "multiloop TimerHandle (callLater)", denominator: "Node Timeout (setTimeout), one duration" },
    ],
    notes: [`${n.toLocaleString("en-US")} pending timers, each with its own far-away deadline.`, ...gcNote()],
  };
}

// ------------------------------------------------------------------ idle threads

/** Starts `k` threads with `start`, lets them settle, and returns resident bytes per thread. */
async function residentPerThread(k: number, start: (stops: (() => Promise<unknown>)[]) => Promise<void>): Promise<number> {
  return withCleanup(async (cleanup) => {
    const stops: (() => Promise<unknown>)[] = [];
    cleanup.add(stops, async (list) => {
      for (const stop of list) await stop();
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = rss();
    for (let i = 0; i < k; i++) await start(stops);
    // Threads finish their start-up allocations a little after they report ready.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = rss();
    return (after - before) / k;
  });
}

async function rawIdleWorker(stops: (() => Promise<unknown>)[]): Promise<void> {
  const worker = new Worker(workerUrl("idle"));
  stops.push(() => worker.terminate());
  await once(worker, "message");
}

async function runThreads(ctx: BenchContext): Promise<ScenarioResult> {
  const k = pick(ctx, { full: 8, quick: 4, tiny: 1 });
  const spawnLoopThread = feature<SpawnLoopThread>("spawnLoopThread");
  const variants: Variant[] = [async () => ({ "raw idle Worker": await residentPerThread(k, rawIdleWorker) })];
  // ---- multiloop: an idle loop thread
  if (spawnLoopThread !== null) {
    variants.push(async () => ({
      "multiloop idle loop thread": await run(() =>
        residentPerThread(k, async (stops) => {
          const thread = await spawnLoopThread({ name: `idle-${stops.length}` });
          stops.push(() => thread.stop());
        }),
      ),
    }));
  }
  const samples = await rounds(memoryRounds(ctx), variants);
  return {
    measurements: toMeasurements(samples, {
      "multiloop idle loop thread": { unit: "bytes/thread" },
      "raw idle Worker": { unit: "bytes/thread" },
    }),
    ratios: [{ numerator: "multiloop idle loop thread", denominator: "raw idle Worker" }],
    notes: [
      `${k} threads started and left idle; resident set size per thread (a thread's heap is not in its parent's heapUsed).`,
      ...(spawnLoopThread === null ? [notAvailable("spawnLoopThread", "the idle loop thread")] : []),
      ...gcNote(),
    ],
  };
}

export const scenarios: Scenario[] = [
  { id: "memory.task", group: "memory", title: "bytes per pending Task", run: runTasks },
  { id: "memory.timer", group: "memory", title: "bytes per TimerHandle", run: runTimers },
  { id: "memory.thread", group: "memory", title: "bytes per idle loop thread", run: runThreads },
];
