/**
 * Single thread: the loop's own costs against what Node offers without it, in the same process.
 *
 * Draining is measured apart from scheduling. Scheduling a million callbacks allocates a million
 * objects that survive until the drain, so its cost is mostly the garbage collector promoting them
 * (about 500 ns per object even for a plain array of objects); the drain is what the loop adds per
 * callback, and it is what issue 2 §7 sets a target for. Both are reported.
 */
import { createTask, gather, getRunningLoop, run, sleep, type Future } from "multiloop";
import { defaultRounds, now, nsPerOp, pick, rounds, seededRandom, toMeasurements, usPerOp } from "../measure.js";
import type { BenchContext, Scenario, ScenarioResult } from "../scenario-types.js";
import { WITH_STORES, withStores } from "../als-stores.js";
import { NOT_CONFORMING, setConforming } from "../no-handshake.js";

const ISSUE_2 = "issue 2 §7";
const ISSUE_14 = "issue 14 §2";

// ------------------------------------------------------------------ callSoon drain

interface ScheduleAndDrain {
  /** ns per callback to queue them all. */
  schedule: number;
  /** ns per callback from the first callback's start to the last one's. */
  drain: number;
}

/**
 * The three callbacks every drain variant queues: `first` and `last` read the clock, `tick` in
 * between does the least a callback can do.
 */
function probes(): { first: () => void; tick: () => void; last: () => void; result: (n: number) => number } {
  let t0 = 0;
  let t1 = 0;
  let ticks = 0;
  return {
    first: () => {
      t0 = now();
    },
    tick: () => {
      ticks++;
    },
    last: () => {
      t1 = now();
    },
    result: (n) => {
      if (ticks !== n - 2) throw new Error(`expected ${n - 2} callbacks to run, ${ticks} did`);
      return nsPerOp(t0, t1, n - 1);
    },
  };
}

async function callSoonDrain(n: number): Promise<ScheduleAndDrain> {
  return run(async () => {
    const loop = getRunningLoop();
    const p = probes();
    const done = loop.createFuture<void>();
    const start = now();
    loop.callSoon(p.first);
    for (let i = 2; i < n; i++) loop.callSoon(p.tick);
    loop.callSoon(() => {
      p.last();
      done.setResult();
    });
    const scheduled = now();
    await done;
    return { schedule: nsPerOp(start, scheduled, n), drain: p.result(n) };
  });
}

/** The floor: handle-like objects in an array, walked by index and called. */
function arrayDequeDrain(n: number): ScheduleAndDrain {
  const p = probes();
  const queue: { fn: (...args: unknown[]) => unknown; args: unknown[] }[] = [];
  const start = now();
  queue.push({ fn: p.first, args: [] });
  for (let i = 2; i < n; i++) queue.push({ fn: p.tick, args: [] });
  queue.push({ fn: p.last, args: [] });
  const scheduled = now();
  for (let i = 0; i < queue.length; i++) {
    const h = queue[i] as { fn: (...args: unknown[]) => unknown; args: unknown[] };
    h.fn(...h.args);
  }
  return { schedule: nsPerOp(start, scheduled, n), drain: p.result(n) };
}

async function setImmediateDrain(n: number): Promise<ScheduleAndDrain> {
  const p = probes();
  let resolve = (): void => {};
  const done = new Promise<void>((r) => (resolve = r));
  const start = now();
  setImmediate(p.first);
  for (let i = 2; i < n; i++) setImmediate(p.tick);
  setImmediate(() => {
    p.last();
    resolve();
  });
  const scheduled = now();
  await done;
  return { schedule: nsPerOp(start, scheduled, n), drain: p.result(n) };
}

async function queueMicrotaskDrain(n: number): Promise<ScheduleAndDrain> {
  const p = probes();
  let resolve = (): void => {};
  const done = new Promise<void>((r) => (resolve = r));
  const start = now();
  queueMicrotask(p.first);
  for (let i = 2; i < n; i++) queueMicrotask(p.tick);
  queueMicrotask(() => {
    p.last();
    resolve();
  });
  const scheduled = now();
  await done;
  return { schedule: nsPerOp(start, scheduled, n), drain: p.result(n) };
}

function labelled(name: string, r: ScheduleAndDrain): Record<string, number> {
  return { [`${name} drain`]: r.drain, [`${name} schedule`]: r.schedule };
}

async function runCallSoon(ctx: BenchContext): Promise<ScenarioResult> {
  const n = pick(ctx, { full: 1_000_000, quick: 200_000, tiny: 1_000 });
  const samples = await rounds(defaultRounds(ctx), [
    async () => labelled("multiloop callSoon", await callSoonDrain(n)),
    () => labelled("array deque", arrayDequeDrain(n)),
    async () => labelled("setImmediate", await setImmediateDrain(n)),
    async () => labelled("queueMicrotask", await queueMicrotaskDrain(n)),
  ]);
  const unit = { unit: "ns/callback" };
  return {
    measurements: toMeasurements(samples, {
      "multiloop callSoon drain": unit,
      "array deque drain": unit,
      "setImmediate drain": unit,
      "queueMicrotask drain": unit,
      "multiloop callSoon schedule": unit,
      "array deque schedule": unit,
      "setImmediate schedule": unit,
      "queueMicrotask schedule": unit,
    }),
    ratios: [
      { numerator: "multiloop callSoon drain", denominator: "array deque drain", target: { max: 2, source: ISSUE_14 } },
      { numerator: "multiloop callSoon drain", denominator: "setImmediate drain" },
      { numerator: "multiloop callSoon drain", denominator: "queueMicrotask drain" },
      { numerator: "multiloop callSoon schedule", denominator: "array deque schedule" },
    ],
    targets: [{ label: "multiloop callSoon drain", max: 60, source: ISSUE_2 }],
    notes: [
      `${n.toLocaleString("en-US")} callbacks per round. "drain": from the first callback to the last; ` +
        `"schedule": queueing them all (mostly garbage-collector promotion of retained objects).`,
    ],
  };
}

// ------------------------------------------------------------------ timers

/** Whole milliseconds, as most `setTimeout` callers pass them (Node keeps one list per duration). */
function timerDelays(n: number): number[] {
  const random = seededRandom(20240605);
  return Array.from({ length: n }, () => Math.floor(random() * 11));
}

interface TimerFigures {
  schedule: number;
  total: number;
}

async function callLaterTimers(delays: readonly number[]): Promise<TimerFigures> {
  return run(async () => {
    const loop = getRunningLoop();
    const n = delays.length;
    const done = loop.createFuture<number>();
    let fired = 0;
    const tick = (): void => {
      if (++fired === n) done.setResult(now());
    };
    const start = now();
    for (let i = 0; i < n; i++) loop.callLater(delays[i] as number, tick);
    const scheduled = now();
    const end = await done;
    return { schedule: nsPerOp(start, scheduled, n), total: nsPerOp(start, end, n) };
  });
}

async function setTimeoutTimers(delays: readonly number[]): Promise<TimerFigures> {
  const n = delays.length;
  let resolve = (_end: number): void => {};
  const done = new Promise<number>((r) => (resolve = r));
  let fired = 0;
  const tick = (): void => {
    if (++fired === n) resolve(now());
  };
  const start = now();
  for (let i = 0; i < n; i++) setTimeout(tick, delays[i]);
  const scheduled = now();
  const end = await done;
  return { schedule: nsPerOp(start, scheduled, n), total: nsPerOp(start, end, n) };
}

async function runTimers(ctx: BenchContext): Promise<ScenarioResult> {
  const n = pick(ctx, { full: 100_000, quick: 100_000, tiny: 200 });
  const delays = timerDelays(n);
  const samples = await rounds(defaultRounds(ctx), [
    async () => {
      const r = await callLaterTimers(delays);
      return { "multiloop callLater total": r.total, "multiloop callLater schedule": r.schedule };
    },
    async () => {
      const r = await setTimeoutTimers(delays);
      return { "setTimeout total": r.total, "setTimeout schedule": r.schedule };
    },
  ]);
  const unit = { unit: "ns/timer" };
  return {
    measurements: toMeasurements(samples, {
      "multiloop callLater total": unit,
      "setTimeout total": unit,
      "multiloop callLater schedule": unit,
      "setTimeout schedule": unit,
    }),
    ratios: [
      { numerator: "multiloop callLater total", denominator: "setTimeout total", target: { max: 1.0, source: ISSUE_2 } },
      { numerator: "multiloop callLater schedule", denominator: "setTimeout schedule" },
    ],
    notes: [
      `${n.toLocaleString("en-US")} timers, random whole-millisecond delays 0-10 ms (the same for both). ` +
        `"total": from the first schedule call until the last timer fired, divided by the count.`,
    ],
  };
}

// ------------------------------------------------------------------ createTask + gather

/** The same trivial async functions for both sides, built before the clock starts. */
function workFunctions(n: number): (() => Promise<number>)[] {
  // eslint-disable-next-line @typescript-eslint/require-await -- the cheapest async function is the point
  const work = async (i: number): Promise<number> => i;
  return Array.from({ length: n }, (_, i) => () => work(i));
}

async function createTaskGather(fns: readonly (() => Promise<number>)[], conforming = true): Promise<number> {
  return run(async () => {
    setConforming(conforming);
    const start = now();
    const tasks = fns.map((fn) => createTask(fn));
    const results = await gather(tasks);
    const end = now();
    if (results.length !== fns.length) throw new Error("gather lost results");
    return usPerOp(start, end, fns.length);
  });
}

async function promiseAll(fns: readonly (() => Promise<number>)[]): Promise<number> {
  const start = now();
  const results = await Promise.all(fns.map((fn) => fn()));
  const end = now();
  if (results.length !== fns.length) throw new Error("Promise.all lost results");
  return usPerOp(start, end, fns.length);
}

async function runGather(ctx: BenchContext): Promise<ScenarioResult> {
  const n = pick(ctx, { full: 100_000, quick: 100_000, tiny: 200 });
  const fns = workFunctions(n);
  const samples = await rounds(defaultRounds(ctx), [
    async () => ({ "multiloop createTask + gather": await createTaskGather(fns) }),
    async () => ({ [`multiloop createTask + gather${NOT_CONFORMING}`]: await createTaskGather(fns, false) }),
    async () => ({ "Promise.all": await promiseAll(fns) }),
  ]);
  return {
    measurements: toMeasurements(samples, {
      "multiloop createTask + gather": { unit: "us/task" },
      [`multiloop createTask + gather${NOT_CONFORMING}`]: { unit: "us/task" },
      "Promise.all": { unit: "us/task" },
    }),
    ratios: [
      { numerator: "multiloop createTask + gather", denominator: "Promise.all" },
      { numerator: "multiloop createTask + gather", denominator: `multiloop createTask + gather${NOT_CONFORMING}` },
    ],
    targets: [{ label: "multiloop createTask + gather", max: 0.6, source: ISSUE_14 }],
    notes: [`${n.toLocaleString("en-US")} async functions (\`async (i) => i\`) per round, started and awaited together.`],
  };
}

// ------------------------------------------------------------------ sleep(0) and hand-off ping-pong

async function sleepZeroPingPong(switches: number, conforming = true): Promise<number> {
  return run(async () => {
    setConforming(conforming);
    const half = switches / 2;
    const player = async (): Promise<void> => {
      for (let i = 0; i < half; i++) await sleep(0);
    };
    const start = now();
    await gather(createTask(player), createTask(player));
    return usPerOp(start, now(), switches);
  });
}

/** What a plain Node program does to let another async function run: wait for the check phase. */
async function setImmediatePingPong(switches: number): Promise<number> {
  const half = switches / 2;
  const player = async (): Promise<void> => {
    for (let i = 0; i < half; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const start = now();
  await Promise.all([player(), player()]);
  return usPerOp(start, now(), switches);
}

/**
 * Two tasks pass a value back and forth through loop futures: each side replaces the other's inbox
 * before resolving it, and takes its own inbox before it awaits, so no hand-off is lost.
 */
async function futureHandOff(handOffs: number, conforming = true): Promise<number> {
  return run(async () => {
    setConforming(conforming);
    const loop = getRunningLoop();
    const rounds = handOffs / 2;
    let toA: Future<number> = loop.createFuture();
    let toB: Future<number> = loop.createFuture();
    const a = async (): Promise<void> => {
      for (let i = 0; i < rounds; i++) {
        const out = toB;
        toB = loop.createFuture();
        out.setResult(i);
        await toA;
      }
    };
    const b = async (): Promise<void> => {
      for (let i = 0; i < rounds; i++) {
        const value = await toB;
        const out = toA;
        toA = loop.createFuture();
        out.setResult(value);
      }
    };
    const start = now();
    await gather(createTask(b), createTask(a));
    return usPerOp(start, now(), handOffs);
  });
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve = (_value: T): void => {};
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The same hand-off with plain promises (no loop): the microtask floor. */
async function promiseHandOff(handOffs: number): Promise<number> {
  const rounds = handOffs / 2;
  let toA = deferred<number>();
  let toB = deferred<number>();
  const a = async (): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      const out = toB;
      toB = deferred();
      out.resolve(i);
      await toA.promise;
    }
  };
  const b = async (): Promise<void> => {
    for (let i = 0; i < rounds; i++) {
      const value = await toB.promise;
      const out = toA;
      toA = deferred();
      out.resolve(value);
    }
  };
  const start = now();
  await Promise.all([b(), a()]);
  return usPerOp(start, now(), handOffs);
}

async function runSleepZero(ctx: BenchContext): Promise<ScenarioResult> {
  const switches = pick(ctx, { full: 200_000, quick: 100_000, tiny: 200 });
  const SLEEP0 = "multiloop sleep(0) ping-pong";
  const samples = await rounds(defaultRounds(ctx), [
    async () => ({ [SLEEP0]: await sleepZeroPingPong(switches) }),
    async () => ({ [SLEEP0 + WITH_STORES]: await withStores(() => sleepZeroPingPong(switches)) }),
    async () => ({ [SLEEP0 + NOT_CONFORMING]: await sleepZeroPingPong(switches, false) }),
    async () => ({ "setImmediate ping-pong": await setImmediatePingPong(switches) }),
  ]);
  return {
    measurements: toMeasurements(samples, {
      [SLEEP0]: { unit: "us/switch" },
      [SLEEP0 + WITH_STORES]: { unit: "us/switch" },
      [SLEEP0 + NOT_CONFORMING]: { unit: "us/switch" },
      "setImmediate ping-pong": { unit: "us/switch" },
    }),
    ratios: [
      { numerator: SLEEP0, denominator: "setImmediate ping-pong", target: { max: 0.8, source: ISSUE_14 } },
      { numerator: SLEEP0 + WITH_STORES, denominator: SLEEP0, target: { max: 1.25, source: ISSUE_14 } },
      { numerator: SLEEP0, denominator: SLEEP0 + NOT_CONFORMING },
    ],
    targets: [{ label: SLEEP0, max: 1.5, source: ISSUE_2 }],
    notes: [
      `Two tasks each yield ${(switches / 2).toLocaleString("en-US")} times; time per switch.`,
      "With stores: the same inside four AsyncLocalStorage.run() calls (bench/als-stores.ts).",
    ],
  };
}

async function runHandOff(ctx: BenchContext): Promise<ScenarioResult> {
  const handOffs = pick(ctx, { full: 200_000, quick: 100_000, tiny: 200 });
  const samples = await rounds(defaultRounds(ctx), [
    async () => ({ "multiloop Future hand-off": await futureHandOff(handOffs) }),
    async () => ({ [`multiloop Future hand-off${NOT_CONFORMING}`]: await futureHandOff(handOffs, false) }),
    async () => ({ "Promise hand-off": await promiseHandOff(handOffs) }),
  ]);
  return {
    measurements: toMeasurements(samples, {
      "multiloop Future hand-off": { unit: "us/hand-off" },
      [`multiloop Future hand-off${NOT_CONFORMING}`]: { unit: "us/hand-off" },
      "Promise hand-off": { unit: "us/hand-off" },
    }),
    ratios: [
      { numerator: "multiloop Future hand-off", denominator: "Promise hand-off", target: { max: 3, source: ISSUE_14 } },
      { numerator: "multiloop Future hand-off", denominator: `multiloop Future hand-off${NOT_CONFORMING}` },
      { numerator: `multiloop Future hand-off${NOT_CONFORMING}`, denominator: "Promise hand-off" },
    ],
    notes: [`Two tasks pass a value back and forth ${handOffs.toLocaleString("en-US")} times through futures.`],
  };
}

export const scenarios: Scenario[] = [
  {
    id: "single.callSoon",
    group: "single thread",
    title: "callSoon drain vs array deque, setImmediate, queueMicrotask",
    run: runCallSoon,
  },
  { id: "single.callLater", group: "single thread", title: "callLater vs setTimeout (random 0-10 ms)", run: runTimers },
  { id: "single.gather", group: "single thread", title: "createTask + gather vs Promise.all", run: runGather },
  { id: "single.sleep0", group: "single thread", title: "sleep(0) ping-pong between two tasks", run: runSleepZero },
  { id: "single.handoff", group: "single thread", title: "Future hand-off ping-pong between two tasks", run: runHandOff },
];
