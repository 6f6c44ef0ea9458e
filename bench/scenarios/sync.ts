/**
 * Synchronisation on one loop: `Queue` put/get (unbounded and `maxsize: 1`) and an uncontended
 * `Lock`, against what a Node program writes by hand (bench/plain-sync.ts). Targets from issue 4 §5.
 *
 * `Queue` and `Lock` are looked up by name (bench/features.ts): in a build without them the
 * scenarios report a note and their targets show as not measured.
 */
import { createTask, gather, run } from "multiloop";
import { feature, notAvailable, type LockClass, type LockLike, type QueueClass, type QueueLike } from "../features.js";
import { defaultRounds, nsPerOp, now, pick, rounds, toMeasurements, type Variant } from "../measure.js";
import { PlainAsyncQueue, PlainMutex } from "../plain-sync.js";
import type { BenchContext, Scenario, ScenarioResult } from "../scenario-types.js";
import { WITH_STORES, withStores } from "../als-stores.js";
import { NOT_CONFORMING, setConforming } from "../no-handshake.js";

const ISSUE_4 = "issue 4 §5";
const ISSUE_14 = "issue 14 §2";
const BOUNDED = "multiloop Queue, maxsize 1";

type Together = (a: () => Promise<void>, b: () => Promise<void>) => Promise<unknown>;

const onLoop: Together = (a, b) => gather(createTask(a), createTask(b));
const plain: Together = (a, b) => Promise.all([a(), b()]);

/** One producer puts `n` items, one consumer gets them; ns per item. */
async function producerConsumer(q: QueueLike<number>, n: number, together: Together): Promise<number> {
  let sum = 0;
  const producer = async (): Promise<void> => {
    for (let i = 0; i < n; i++) await q.put(i);
  };
  const consumer = async (): Promise<void> => {
    for (let i = 0; i < n; i++) sum += await q.get();
  };
  const start = now();
  await together(producer, consumer);
  const end = now();
  if (sum !== (n * (n - 1)) / 2) throw new Error(`the queue lost items (sum ${sum})`);
  return nsPerOp(start, end, n);
}

function isFull(q: QueueLike<unknown>): boolean {
  try {
    q.putNowait(0);
  } catch {
    return true;
  }
  q.getNowait();
  return false;
}

/**
 * A multiloop queue of `maxsize` (0: unbounded). API.md gives asyncio's names but not the
 * constructor's shape: `{ maxsize }` (as ThreadQueue takes it) is tried first, asyncio's positional
 * `maxsize` second; the bound is checked by behaviour, not by trusting either.
 */
function makeQueue(Queue: QueueClass, maxsize: number): QueueLike<number> {
  if (maxsize === 0) return new Queue() as QueueLike<number>;
  const problems: string[] = [];
  for (const arg of [{ maxsize }, maxsize]) {
    try {
      const q = new Queue(arg) as QueueLike<number>;
      q.putNowait(0);
      const bounded = isFull(q);
      q.getNowait();
      if (bounded) return q;
      problems.push(`new Queue(${JSON.stringify(arg)}) is not bounded`);
    } catch (err) {
      problems.push(`new Queue(${JSON.stringify(arg)}) threw ${String(err)}`);
    }
  }
  throw new Error(`cannot make a multiloop.Queue with maxsize ${maxsize}: ${problems.join("; ")}`);
}

async function runQueue(ctx: BenchContext): Promise<ScenarioResult> {
  const Queue = feature<QueueClass>("Queue");
  const nUnbounded = pick(ctx, { full: 1_000_000, quick: 200_000, tiny: 200 });
  const nBounded = pick(ctx, { full: 200_000, quick: 50_000, tiny: 200 });
  const variants: Variant[] = [
    async () => ({ "plain async queue, unbounded": await producerConsumer(new PlainAsyncQueue<number>(), nUnbounded, plain) }),
    async () => ({ "plain async queue, maxsize 1": await producerConsumer(new PlainAsyncQueue<number>(1), nBounded, plain) }),
  ];
  if (Queue !== null) {
    variants.push(
      async () => ({ "multiloop Queue, unbounded": await run(() => producerConsumer(makeQueue(Queue, 0), nUnbounded, onLoop)) }),
      async () => ({ [BOUNDED]: await run(() => producerConsumer(makeQueue(Queue, 1), nBounded, onLoop)) }),
      async () => ({ [BOUNDED + WITH_STORES]: await withStores(() => run(() => producerConsumer(makeQueue(Queue, 1), nBounded, onLoop))) }),
      async () => ({
        [BOUNDED + NOT_CONFORMING]: await run(() => {
          setConforming(false);
          return producerConsumer(makeQueue(Queue, 1), nBounded, onLoop);
        }),
      }),
    );
  }
  const samples = await rounds(defaultRounds(ctx), variants);
  const unit = { unit: "ns/item" };
  return {
    measurements: toMeasurements(samples, {
      "multiloop Queue, unbounded": unit,
      "plain async queue, unbounded": unit,
      [BOUNDED]: unit,
      [BOUNDED + WITH_STORES]: unit,
      [BOUNDED + NOT_CONFORMING]: unit,
      "plain async queue, maxsize 1": unit,
    }),
    ratios: [
      { numerator: "multiloop Queue, unbounded", denominator: "plain async queue, unbounded" },
      { numerator: BOUNDED, denominator: "plain async queue, maxsize 1" },
      { numerator: BOUNDED + WITH_STORES, denominator: BOUNDED, target: { max: 1.25, source: ISSUE_14 } },
      { numerator: BOUNDED, denominator: BOUNDED + NOT_CONFORMING },
      { numerator: BOUNDED + NOT_CONFORMING, denominator: "plain async queue, maxsize 1" },
    ],
    targets: [
      { label: "multiloop Queue, unbounded", max: 200, source: ISSUE_4 },
      { label: BOUNDED, max: 900, source: ISSUE_14 },
    ],
    notes: [
      `One producer task puts, one consumer task gets: ${nUnbounded.toLocaleString("en-US")} items unbounded, ` +
        `${nBounded.toLocaleString("en-US")} with maxsize 1; time per item. The baseline is an array plus waiting resolvers. ` +
        "With stores: the same inside four AsyncLocalStorage.run() calls (bench/als-stores.ts).",
      ...(Queue === null ? [notAvailable("Queue", "Queue put/get")] : []),
    ],
  };
}

/** `n` uncontended acquire + release pairs; ns per pair. */
async function lockCycle(lock: LockLike, n: number): Promise<number> {
  const start = now();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    lock.release();
  }
  const end = now();
  if (lock.locked()) throw new Error("the lock is still held");
  return nsPerOp(start, end, n);
}

async function runLock(ctx: BenchContext): Promise<ScenarioResult> {
  const Lock = feature<LockClass>("Lock");
  const n = pick(ctx, { full: 1_000_000, quick: 200_000, tiny: 200 });
  const variants: Variant[] = [async () => ({ "promise mutex acquire + release": await lockCycle(new PlainMutex(), n) })];
  if (Lock !== null) {
    variants.push(async () => ({
      "multiloop Lock acquire + release": await run(() => lockCycle(new Lock(), n)),
    }));
  }
  const samples = await rounds(defaultRounds(ctx), variants);
  return {
    measurements: toMeasurements(samples, {
      "multiloop Lock acquire + release": { unit: "ns/op" },
      "promise mutex acquire + release": { unit: "ns/op" },
    }),
    ratios: [{ numerator: "multiloop Lock acquire + release", denominator: "promise mutex acquire + release" }],
    targets: [{ label: "multiloop Lock acquire + release", max: 100, source: ISSUE_4 }],
    notes: [
      `${n.toLocaleString("en-US")} uncontended \`await acquire(); release()\` pairs in one task.`,
      ...(Lock === null ? [notAvailable("Lock", "Lock acquire + release")] : []),
    ],
  };
}

export const scenarios: Scenario[] = [
  { id: "sync.queue", group: "synchronisation", title: "Queue put/get, unbounded and maxsize 1", run: runQueue },
  { id: "sync.lock", group: "synchronisation", title: "uncontended Lock acquire + release", run: runLock },
];
