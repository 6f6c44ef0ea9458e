/**
 * ThreadQueue (issue 4 §2 and §4): asyncio.Queue semantics in one thread, then real loop threads
 * sharing one queue: 4 producers x 4 consumers x 200,000 items, close while everyone waits,
 * crossing as call arguments, results and workerData.
 */
import { MessageChannel } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  RuntimeError,
  ThreadLock,
  ThreadQueue,
  ThreadSemaphore,
  TimeoutError,
  createTask,
  run,
  sleep,
  spawnLoopThread,
  waitFor,
  type LoopThread,
} from "multiloop";
import type * as SyncTasks from "./fixtures/thread-sync-tasks.js";
import { fixture, runWorker } from "./helpers.js";

const tasks = fixture("thread-sync-tasks");

async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

describe("ThreadQueue in one thread", () => {
  it("putNowait/getNowait are FIFO; qsize, empty, full and maxsize follow the contents", () => {
    const queue = new ThreadQueue<number>({ maxsize: 3 });
    expect(queue.maxsize).toBe(3);
    expect(queue.empty()).toBe(true);
    expect(queue.full()).toBe(false);
    queue.putNowait(1);
    queue.putNowait(2);
    expect(queue.qsize()).toBe(2);
    queue.putNowait(3);
    expect(queue.full()).toBe(true);
    expect(thrown(() => queue.putNowait(4))).toBeInstanceOf(QueueFull);
    expect([queue.getNowait(), queue.getNowait(), queue.getNowait()]).toEqual([1, 2, 3]);
    expect(queue.empty()).toBe(true);
    expect(thrown(() => queue.getNowait())).toBeInstanceOf(QueueEmpty);
    expect(new ThreadQueue().maxsize).toBe(0);
  });

  it("copies items with structured clone semantics, through the fast path and through V8's serializer", () => {
    const shared = { x: 1 };
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic["self"] = cyclic;
    // A hole (no element at index 1), which structured clone keeps.
    const sparse: unknown[] = [1];
    sparse[2] = 3;
    const tagged = [1, 2] as unknown[] & { tag?: string };
    tagged.tag = "extra";
    const protoKey = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as object;
    const nullProto = Object.assign(Object.create(null) as object, { a: 1 });
    const values: unknown[] = [
      undefined, null, true, false, 0, -0, 42, -7, 2 ** 31, 1.5, NaN, Infinity, -Infinity,
      "", "plain", "héllo wörld ✓ 🎉", "lone \ud800 surrogate", "x".repeat(500),
      [], [1, "two", [3, [4]], { five: 5 }], { a: 1, b: { c: [true, null] }, 10: "ten" },
      new Map<unknown, unknown>([[1, { a: 1 }], ["k", new Set([1, 2])]]), new Date(1234),
      /ab+c/gi, 12345678901234567890n, new Uint8Array([1, 2, 3]), new Float64Array([1.5, -2]),
      new RangeError("bad range"), sparse, tagged, protoKey, nullProto,
      // Short-string and key-cache paths: the ASCII/UTF-8 switch at the length limit, non-ASCII and
      // long keys, and two keys whose cache hashes collide ("Aa" and "BB").
      "a".repeat(63) + "é", "a".repeat(64), "a".repeat(65), { Aa: 1, BB: 2 }, { BB: 3, Aa: 4 },
      { ключ: "значение", ["k".repeat(80)]: 1, "": "empty key" },
    ];
    const queue = new ThreadQueue();
    for (const value of values) queue.putNowait(value);
    for (const value of values) {
      const copy = queue.getNowait();
      expect(copy).toStrictEqual(structuredClone(value));
      if (typeof value === "object" && value !== null) expect(copy).not.toBe(value);
    }
    expect(Object.is(((): unknown => (queue.putNowait(-0), queue.getNowait()))(), -0)).toBe(true);
    queue.putNowait("lone \ud800 surrogate");
    expect(queue.getNowait()).toBe("lone \ud800 surrogate");
    queue.putNowait({ a: shared, b: shared });
    const twice = queue.getNowait() as { a: object; b: object };
    expect(twice.a).toBe(twice.b);
    queue.putNowait(cyclic);
    const loop = queue.getNowait() as Record<string, unknown>;
    expect(loop["self"]).toBe(loop);
    queue.putNowait(protoKey);
    const own = queue.getNowait() as object;
    expect(Object.getPrototypeOf(own)).toBe(Object.prototype);
    expect(Object.keys(own)).toEqual(["__proto__", "a"]);
    // A Buffer arrives as a Uint8Array, as with postMessage.
    queue.putNowait(Buffer.from("buf"));
    const bytes = queue.getNowait();
    expect(Buffer.isBuffer(bytes)).toBe(false);
    expect(bytes).toEqual(new Uint8Array([98, 117, 102]));
  });

  it("an item whose getter puts into a queue while it is being copied comes out right, and so does the other", () => {
    const inner = new ThreadQueue();
    const outer = new ThreadQueue();
    const item = {
      before: "b".repeat(40),
      get tricky(): string {
        inner.putNowait({ nested: "n".repeat(40) });
        return "value";
      },
      after: [1, 2, 3],
    };
    outer.putNowait(item);
    expect(outer.getNowait()).toEqual({ before: "b".repeat(40), tricky: "value", after: [1, 2, 3] });
    expect(inner.getNowait()).toEqual({ nested: "n".repeat(40) });
  });

  it("refuses what structured clone refuses with a TypeError naming the item, and puts nothing", async () => {
    const queue = new ThreadQueue();
    const { port1 } = new MessageChannel();
    for (const bad of [() => 1, Symbol("s"), { nested: { fn: () => 1 } }, port1, new SharedArrayBuffer(8)]) {
      const err = thrown(() => queue.putNowait(bad));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/^Expected `item` to be a value structured clone can copy/);
    }
    port1.close();
    await run(async () => {
      const err = await rejection(queue.putMany([1, 2, () => 3, 4]));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/`items\[2\]`/);
    });
    expect(queue.qsize()).toBe(0);
  });

  it("refuses an item larger than the whole buffer with a RangeError naming bufferSize", () => {
    const queue = new ThreadQueue({ bufferSize: 1024 });
    const err = thrown(() => queue.putNowait("x".repeat(2000)));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toMatch(/`item`.*bufferSize/);
    expect(queue.qsize()).toBe(0);
  });

  it("bad options and arguments fail with TypeError/RangeError naming the argument", async () => {
    expect(() => new ThreadQueue({ maxsize: -1 })).toThrow(RangeError);
    expect(() => new ThreadQueue({ maxsize: -1 })).toThrow(/`options.maxsize`/);
    expect(() => new ThreadQueue({ maxsize: 1.5 })).toThrow(TypeError);
    expect(() => new ThreadQueue({ maxsize: "3" as unknown as number })).toThrow(/`options.maxsize`.*`"3"` \(string\)/);
    expect(() => new ThreadQueue({ bufferSize: 10 })).toThrow(RangeError);
    expect(() => new ThreadQueue({ bufferSize: 10 })).toThrow(/`options.bufferSize`/);
    expect(() => new ThreadQueue("big" as unknown as object)).toThrow(/`options`/);
    expect(() => ThreadQueue.from({})).toThrow(TypeError);
    expect(() => ThreadQueue.from({})).toThrow(/`data`/);
    expect(() => ThreadQueue.from({ kind: "multiloop.ThreadQueue", buffer: new SharedArrayBuffer(4096) })).toThrow(/`data`/);
    await run(async () => {
      const queue = new ThreadQueue();
      const getMany = await rejection(queue.getMany(0));
      expect(getMany).toBeInstanceOf(RangeError);
      expect((getMany as Error).message).toMatch(/`max`/);
      const putMany = await rejection(queue.putMany(5 as unknown as number[]));
      expect(putMany).toBeInstanceOf(TypeError);
      expect((putMany as Error).message).toMatch(/`items`/);
    });
  });

  it("put() and get() need a running loop in the calling thread", async () => {
    const queue = new ThreadQueue();
    const err = await rejection(queue.get());
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe("no running event loop");
    expect(await rejection(queue.put(1))).toBeInstanceOf(RuntimeError);
  });

  it("get() waits for a put; put() waits while maxsize items are queued", async () => {
    await run(async () => {
      const queue = new ThreadQueue<string>({ maxsize: 1 });
      const getter = createTask(() => queue.get());
      await sleep(1);
      expect(getter.done()).toBe(false);
      queue.putNowait("a");
      expect(await getter).toBe("a");

      await queue.put("b");
      const putter = createTask(() => queue.put("c"));
      await sleep(1);
      expect(putter.done()).toBe(false);
      expect(queue.qsize()).toBe(1);
      expect(await queue.get()).toBe("b");
      await putter;
      expect(queue.getNowait()).toBe("c");
    });
  });

  it("a cancelled get() takes nothing and a cancelled put() puts nothing", async () => {
    await run(async () => {
      const queue = new ThreadQueue<number>({ maxsize: 1 });
      expect(await rejection(waitFor(() => queue.get(), 5))).toBeInstanceOf(TimeoutError);
      queue.putNowait(1);
      expect(await rejection(waitFor(() => queue.put(2), 5))).toBeInstanceOf(TimeoutError);
      expect(queue.qsize()).toBe(1);
      expect(queue.getNowait()).toBe(1);
      expect(queue.empty()).toBe(true);
      const getter = createTask(() => queue.get());
      await sleep(1);
      getter.cancel();
      expect(await rejection(getter)).toBeInstanceOf(CancelledError);
      queue.putNowait(3);
      expect(await queue.get()).toBe(3);
    });
  });

  it("a getter woken and then cancelled passes the wake-up on, so the item reaches the next getter", async () => {
    await run(async () => {
      const queue = new ThreadQueue<string>();
      const first = createTask(() => queue.get());
      const second = createTask(() => queue.get());
      await sleep(1);
      queue.putNowait("only one");
      // `first` is woken by the put above but has not run yet: cancel it now.
      first.cancel();
      expect(await rejection(first)).toBeInstanceOf(CancelledError);
      expect(await second).toBe("only one");
      expect(queue.empty()).toBe(true);
    });
  });

  it("close(): waiting getters and putters wake with QueueShutDown, puts fail, gets drain, for-await ends", async () => {
    await run(async () => {
      const empty = new ThreadQueue();
      const getters = [createTask(() => empty.get()), createTask(() => empty.getMany(5))];
      const full = new ThreadQueue<number>({ maxsize: 2 });
      full.putNowait(1);
      full.putNowait(2);
      const putters = [createTask(() => full.put(3)), createTask(() => full.putMany([4, 5]))];
      await sleep(1);
      empty.close();
      full.close();
      expect(empty.closed).toBe(true);
      for (const task of [...getters, ...putters]) expect(await rejection(task)).toBeInstanceOf(QueueShutDown);
      expect(thrown(() => full.putNowait(6))).toBeInstanceOf(QueueShutDown);
      expect(await rejection(full.put(6))).toBeInstanceOf(QueueShutDown);
      const drained: number[] = [];
      for await (const item of full) drained.push(item);
      expect(drained).toEqual([1, 2]);
      expect(thrown(() => full.getNowait())).toBeInstanceOf(QueueShutDown);
      expect(await rejection(full.get())).toBeInstanceOf(QueueShutDown);
      full.close();
      expect(full.closed).toBe(true);
    });
  });

  it("putMany/getMany move batches in order, waiting for room and for items", async () => {
    await run(async () => {
      const queue = new ThreadQueue<number>({ maxsize: 10 });
      const items = Array.from({ length: 95 }, (_, i) => i);
      const producer = createTask(() => queue.putMany(items));
      const received: number[] = [];
      while (received.length < items.length) {
        const batch = await queue.getMany(7);
        expect(batch.length).toBeGreaterThan(0);
        expect(batch.length).toBeLessThanOrEqual(7);
        expect(queue.qsize()).toBeLessThanOrEqual(10);
        received.push(...batch);
      }
      await producer;
      expect(received).toEqual(items);
    });
  });

  it("records larger than a cell wrap around the end of the ring intact", async () => {
    await run(async () => {
      // 1 KiB = 32 cells; items of 10-13 cells do not divide it, so they wrap at the end.
      const queue = new ThreadQueue<{ i: number; text: string }>({ bufferSize: 1024 });
      for (let i = 0; i < 200; i++) {
        const item = { i, text: `${i}:`.padEnd(300 + (i % 4) * 30, String.fromCharCode(97 + (i % 26))) };
        await queue.put(item);
        if (i % 2 === 1) {
          expect(await queue.get()).toEqual({ i: i - 1, text: expect.stringMatching(new RegExp(`^${i - 1}:`)) as unknown });
          expect(await queue.get()).toEqual(item);
        }
      }
      expect(queue.empty()).toBe(true);
    });
  });
});

describe("ThreadQueue across loop threads", () => {
  const threads: LoopThread<typeof SyncTasks>[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 8; i++) threads.push(await spawnLoopThread<typeof SyncTasks>({ name: `tq-${i}`, module: tasks }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(threads.map((t) => t.stop()));
  }, 60_000);

  it(
    "4 producer threads x 4 consumer threads move 200,000 items: each exactly once, per-producer order kept, maxsize never exceeded",
    { timeout: 300_000 },
    async () => {
      const maxsize = 64;
      const perProducer = 50_000;
      const queue = new ThreadQueue<number>({ maxsize });
      const inFlight = new Int32Array(new SharedArrayBuffer(4));
      const producers = threads.slice(0, 4);
      const consumers = threads.slice(4, 8);
      const consuming = consumers.map((t) => t.call("consume", queue, inFlight));
      const produced = await Promise.all(
        producers.map((t, p) => t.call("produce", queue, p, perProducer, inFlight)),
      );
      queue.close();
      const received = await Promise.all(consuming);

      const seen = new Map<number, number>();
      for (const items of received) {
        const last = [-1, -1, -1, -1];
        for (const item of items) {
          const producer = Math.floor(item / 1_000_000);
          const seq = item % 1_000_000;
          // Per-producer order: each consumer sees each producer's items in increasing order.
          expect(seq).toBeGreaterThan(last[producer] as number);
          last[producer] = seq;
          seen.set(item, (seen.get(item) ?? 0) + 1);
        }
      }
      expect(seen.size).toBe(4 * perProducer);
      for (const count of seen.values()) expect(count).toBe(1);
      expect(received.reduce((n, items) => n + items.length, 0)).toBe(4 * perProducer);
      // A put is counted once it completed, a get once it returned: at most `maxsize` items are in
      // the queue, plus at most one per consumer taken but not yet counted.
      for (const { maxInFlight, maxQsize } of produced) {
        expect(maxQsize).toBeLessThanOrEqual(maxsize);
        expect(maxInFlight).toBeLessThanOrEqual(maxsize + consumers.length);
      }
      expect(Atomics.load(inFlight, 0)).toBe(0);
      expect(queue.empty()).toBe(true);
    },
  );

  it("putMany/getMany between threads: every item once, in order per producer", { timeout: 120_000 }, async () => {
    const queue = new ThreadQueue<number>({ maxsize: 500 });
    const consuming = [threads[4], threads[5]].map((t) => (t as LoopThread<typeof SyncTasks>).call("consumeMany", queue, 128));
    await Promise.all([threads[0], threads[1]].map((t, p) => (t as LoopThread<typeof SyncTasks>).call("produceMany", queue, p, 50_000, 1000)));
    queue.close();
    const received = await Promise.all(consuming);
    const all = received.flat();
    expect(all.length).toBe(100_000);
    expect(new Set(all).size).toBe(100_000);
    for (const items of received) {
      const last = [-1, -1];
      for (const item of items) {
        const producer = Math.floor(item / 1_000_000);
        expect(item % 1_000_000).toBeGreaterThan(last[producer] as number);
        last[producer] = item % 1_000_000;
      }
    }
  });

  it("close() while getters and putters wait in other threads wakes every one of them with QueueShutDown", { timeout: 60_000 }, async () => {
    await run(async () => {
      const empty = new ThreadQueue();
      const full = new ThreadQueue<number>({ maxsize: 2 });
      full.putNowait(-1);
      full.putNowait(-2);
      const ready = new Int32Array(new SharedArrayBuffer(4));
      const waiting = [
        (threads[0] as LoopThread<typeof SyncTasks>).call("waitingGets", empty, 3, ready),
        (threads[1] as LoopThread<typeof SyncTasks>).call("waitingGets", empty, 2, ready),
        (threads[2] as LoopThread<typeof SyncTasks>).call("waitingPuts", full, 3, ready),
        (threads[3] as LoopThread<typeof SyncTasks>).call("waitingPuts", full, 2, ready),
      ];
      const local = [createTask(() => empty.get()), createTask(() => full.put(0))];
      // Let them all start waiting (whether they do before or after close, they must end the same way).
      while (Atomics.load(ready, 0) < 10) await sleep(1);
      await sleep(20);
      empty.close();
      full.close();
      const outcomes = (await Promise.all(waiting)).flat();
      expect(outcomes).toEqual(Array<string>(10).fill("QueueShutDown"));
      for (const task of local) expect(await rejection(task)).toBeInstanceOf(QueueShutDown);
      // What was queued before close() is still delivered, then QueueShutDown.
      expect(await (threads[4] as LoopThread<typeof SyncTasks>).call("getOne", full)).toBe(-1);
      expect(await full.get()).toBe(-2);
      expect(await rejection((threads[4] as LoopThread<typeof SyncTasks>).call("getOne", full))).toMatchObject({ name: "QueueShutDown" });
    });
  });

  it("crosses as a call argument any number of times to any number of threads, and as a result", { timeout: 60_000 }, async () => {
    await run(async () => {
      const queue = new ThreadQueue<string>();
      for (const t of threads.slice(0, 4)) {
        expect(await t.call("remotePutNowait", queue, `from main to ${t.threadName}`)).toEqual({ ok: true, value: undefined });
        expect(await t.call("remotePutNowait", queue, "again")).toEqual({ ok: true, value: undefined });
      }
      expect(queue.qsize()).toBe(8);
      expect(await (threads[5] as LoopThread<typeof SyncTasks>).call("remoteState", queue)).toEqual({ qsize: 8, empty: false, full: false, closed: false });
      const got = [];
      for (let i = 0; i < 8; i++) got.push(await (threads[6] as LoopThread<typeof SyncTasks>).call("getOne", queue));
      expect(got).toEqual(threads.slice(0, 4).flatMap((t) => [`from main to ${t.threadName}`, "again"]));
      // A queue made in a worker comes back as a result, items included, and still works both ways.
      const made = await (threads[7] as LoopThread<typeof SyncTasks>).call("makeQueue", ["x", "y"]);
      expect(made).toBeInstanceOf(ThreadQueue);
      expect(made.maxsize).toBe(100);
      expect(await made.get()).toBe("x");
      made.putNowait("z");
      expect(await (threads[7] as LoopThread<typeof SyncTasks>).call("getOne", made)).toBe("y");
      expect(await (threads[0] as LoopThread<typeof SyncTasks>).call("getOne", made)).toBe("z");
      expect(ThreadQueue.from(made)).toBe(made);
    });
  });
});

describe("ThreadQueue through workerData", () => {
  it("share()/from() revive a queue, a lock and a semaphore in a plain worker", { timeout: 60_000 }, async () => {
    await run(async () => {
      const queue = new ThreadQueue<number>();
      const lock = new ThreadLock();
      const semaphore = new ThreadSemaphore(1);
      queue.putNowait(21);
      const result = await runWorker("thread-sync-worker", {
        mode: "use",
        queue: queue.share().data,
        lock: lock.share().data,
        semaphore: semaphore.share().data,
      });
      expect(result.exitCode).toBe(0);
      expect(result.messages).toEqual([{ item: 21, sameObject: true, lockedAfter: false }]);
      expect(queue.getNowait()).toBe(42);
      expect(lock.locked()).toBe(false);
      expect(semaphore.locked()).toBe(false);
    });
  });

  it("a get() in progress keeps its thread alive (the running loop does); a get() given up lets it exit", { timeout: 60_000 }, async () => {
    await run(async () => {
      const queue = new ThreadQueue<string>();
      const shared = { queue: queue.share().data, lock: new ThreadLock().share().data, semaphore: new ThreadSemaphore().share().data };
      const waiting = runWorker("thread-sync-worker", { mode: "wait-get", ...shared });
      // Leave the worker waiting with nothing but its loop to keep it alive, then put.
      await sleep(300);
      queue.putNowait("worth the wait");
      const result = await waiting;
      expect(result.messages).toEqual([{ waiting: true }, { item: "worth the wait" }]);
      expect(result.exitCode).toBe(0);

      // Nobody ever puts into this one: the worker gives up, its run() ends, and it exits even though
      // its watcher on the queue may still be armed.
      const gaveUp = await runWorker("thread-sync-worker", { mode: "give-up", ...shared, queue: new ThreadQueue().share().data });
      expect(gaveUp.messages).toEqual([{ outcome: "TimeoutError" }]);
      expect(gaveUp.exitCode).toBe(0);
    });
  });
});
