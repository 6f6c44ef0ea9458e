/**
 * `{ signal }` on everything that waits across threads or on a pool (issue 12 §3): an abort is a
 * cancel of that wait (nothing taken, nothing held, the remote task sees CancelledError) that
 * rejects with the signal's reason; an already aborted signal rejects before anything happens.
 * Also `await using` on ThreadLock, ThreadSemaphore and ThreadQueue.
 */
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PoolExecutor,
  ThreadLock,
  ThreadQueue,
  ThreadSemaphore,
  TimeoutError,
  createTask,
  run,
  sleep,
  spawnLoopThread,
  type LoopThread,
} from "multiloop";
import type * as SyncTasks from "./fixtures/thread-sync-tasks.js";
import type * as Tasks from "./fixtures/thread-tasks.js";
import { caught, fixture } from "./helpers.js";

const T = 30_000;

function aborted(reason?: unknown): AbortSignal {
  const controller = new AbortController();
  controller.abort(reason);
  return controller.signal;
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === "AbortError";
}

describe("ThreadLock and ThreadSemaphore with { signal }", () => {
  it("an abort while waiting rejects with the signal's reason and keeps nothing", { timeout: T }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      const controller = new AbortController();
      const waiting = lock.acquire({ signal: controller.signal });
      await sleep(5);
      controller.abort();
      expect(isAbortError(await caught(waiting))).toBe(true);
      lock.release();
      // The line is empty: the next acquire takes the free lock at once.
      expect(lock.locked()).toBe(false);
      expect(await lock.acquire()).toBe(true);
      lock.release();
      const mine = new Error("shutting down");
      const sem = new ThreadSemaphore(0);
      const own = new AbortController();
      const waitingSem = sem.acquire({ signal: own.signal });
      await sleep(1);
      own.abort(mine);
      expect(await caught(waitingSem)).toBe(mine);
      sem.release();
      expect(sem.locked()).toBe(false);
      expect(await sem.acquire({ signal: new AbortController().signal })).toBe(true);
    });
  });

  it("an already aborted signal rejects even when the lock is free, and takes nothing", { timeout: T }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      const reason = new Error("too late");
      expect(await caught(lock.acquire({ signal: aborted(reason) }))).toBe(reason);
      expect(lock.locked()).toBe(false);
      const sem = new ThreadSemaphore(1);
      expect(isAbortError(await caught(sem.enter({ signal: aborted() })))).toBe(true);
      expect(sem.locked()).toBe(false);
    });
  });

  it("granted, then aborted before the waiter ran: the permit goes back", { timeout: T }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      const controller = new AbortController();
      const waiting = lock.acquire({ signal: controller.signal });
      await sleep(1);
      // In one callback: the release hands the lock to the waiter, then the signal aborts.
      lock.release();
      controller.abort();
      expect(isAbortError(await caught(waiting))).toBe(true);
      expect(lock.locked()).toBe(false);
    });
  });

  it("bad signals are a TypeError naming the option", { timeout: T }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      const err = await caught(lock.acquire({ signal: "soon" as unknown as AbortSignal }));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/`options\.signal` to be an AbortSignal/u);
    });
  });

  it("await using: enter() holds the lock or a permit for the block, also when it throws", { timeout: T }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      const sem = new ThreadSemaphore(2);
      const inside = async (fail: boolean): Promise<[boolean, boolean]> => {
        await using _lock = await lock.enter({ timeout: 1_000 });
        await using _sem = await sem.enter();
        if (fail) throw new Error("inside");
        return [lock.locked(), sem.locked()];
      };
      expect(await inside(false)).toEqual([true, false]);
      expect((await caught(inside(true)) as Error).message).toBe("inside");
      expect(lock.locked()).toBe(false);
      expect(await sem.acquire()).toBe(true);
      expect(await sem.acquire()).toBe(true);
      expect(sem.locked()).toBe(true);
    });
  });
});

describe("ThreadQueue with { signal }", () => {
  it("an aborted get() takes nothing; an aborted put() puts nothing; getMany/putMany likewise", { timeout: T }, async () => {
    await run(async () => {
      const queue = new ThreadQueue<number>({ maxsize: 1 });
      const controller = new AbortController();
      const getting = queue.get({ signal: controller.signal });
      await sleep(1);
      controller.abort();
      expect(isAbortError(await caught(getting))).toBe(true);
      queue.putNowait(1);
      // Full: a put waits, and an abort leaves the queue as it was.
      const putter = new AbortController();
      const putting = queue.put(2, { signal: putter.signal });
      await sleep(1);
      putter.abort(new Error("stop"));
      expect(((await caught(putting)) as Error).message).toBe("stop");
      expect(queue.qsize()).toBe(1);
      // An already aborted signal: nothing is taken even though an item is there.
      expect(isAbortError(await caught(queue.get({ signal: aborted() })))).toBe(true);
      expect(isAbortError(await caught(queue.getMany(5, { signal: aborted() })))).toBe(true);
      expect(isAbortError(await caught(queue.putMany([7], { signal: aborted() })))).toBe(true);
      expect(queue.getNowait()).toBe(1);
      // putMany aborted half way keeps the prefix it put.
      const many = new AbortController();
      const puttingMany = queue.putMany([10, 11, 12], { signal: many.signal });
      await sleep(1);
      many.abort();
      expect(isAbortError(await caught(puttingMany))).toBe(true);
      expect(queue.getNowait()).toBe(10);
      expect(queue.empty()).toBe(true);
      const manyGet = new AbortController();
      const gettingMany = queue.getMany(3, { signal: manyGet.signal });
      await sleep(1);
      manyGet.abort();
      expect(isAbortError(await caught(gettingMany))).toBe(true);
    });
  });

  it("a getter woken and then aborted passes the item on to the next getter", { timeout: T }, async () => {
    await run(async () => {
      const queue = new ThreadQueue<string>();
      const controller = new AbortController();
      const first = createTask(() => queue.get({ signal: controller.signal }));
      const second = createTask(() => queue.get());
      await sleep(1);
      queue.putNowait("only one");
      controller.abort();
      expect(isAbortError(await caught(first))).toBe(true);
      expect(await second).toBe("only one");
    });
  });

  it("await using closes the queue: waiters in the block's end see QueueShutDown", { timeout: T }, async () => {
    const queue = await run(async () => {
      await using q = new ThreadQueue<number>();
      q.putNowait(1);
      return q;
    });
    expect(queue.closed).toBe(true);
    expect(() => {
      queue.putNowait(2);
    }).toThrow(/closed/u);
  });
});

describe("across threads", () => {
  let sync: LoopThread<typeof SyncTasks>;
  let io: LoopThread<typeof Tasks>;
  beforeAll(async () => {
    [sync, io] = await Promise.all([
      spawnLoopThread<typeof SyncTasks>({ name: "abort-sync", module: fixture("thread-sync-tasks") }),
      spawnLoopThread<typeof Tasks>({ name: "abort-io", module: fixture("thread-tasks") }),
    ]);
  }, T);
  afterAll(async () => {
    await Promise.all([sync.stop(), io.stop()]);
  }, T);

  it("a thread whose wait for a lock or an item is aborted gives up its place; the line moves on", { timeout: T }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      expect(await sync.call("acquireWithSignal", lock, 20)).toBe("AbortError");
      // Behind the thread that gave up, this thread is first in line again.
      lock.release();
      expect(await lock.acquire({ timeout: 5_000 })).toBe(true);
      lock.release();
      const queue = new ThreadQueue<number>();
      expect(await sync.call("getWithSignal", queue, 20)).toBe("TimeoutError"); // AbortSignal.timeout's reason
      queue.putNowait(5);
      expect(await sync.call("getOne", queue)).toBe(5);
    });
  });

  it("callWith({ signal }): the remote task sees CancelledError, the call rejects with the reason", { timeout: T }, async () => {
    const before = await io.call("cleanups");
    const controller = new AbortController();
    const calling = io.callWith({ signal: controller.signal }, "waitForCancel");
    await delay(20);
    controller.abort();
    expect(isAbortError(await caught(calling))).toBe(true);
    let after = before;
    for (let i = 0; i < 200 && after === before; i++) {
      await delay(5);
      after = await io.call("cleanups");
    }
    expect(after).toBe(before + 1);
  });

  it("callWith({ timeout }) cancels the remote task and rejects with TimeoutError", { timeout: T }, async () => {
    const before = await io.call("cleanups");
    const err = await caught(io.callWith({ timeout: 30 }, "waitForCancel"));
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toBe("Call of 'waitForCancel' in thread 'abort-io' timed out after 30 ms");
    let after = before;
    for (let i = 0; i < 200 && after === before; i++) {
      await delay(5);
      after = await io.call("cleanups");
    }
    expect(after).toBe(before + 1);
    // A call that is in time is not disturbed.
    expect(await io.callWith({ timeout: 10_000, signal: new AbortController().signal }, "add", 2, 3)).toBe(5);
  });

  it("callWith with an aborted signal sends nothing; bad options are a TypeError", { timeout: T }, async () => {
    const before = await io.call("recorded");
    const reason = new Error("never sent");
    expect(await caught(io.callWith({ signal: aborted(reason) }, "record", 9, 9))).toBe(reason);
    expect(await io.call("recorded")).toEqual(before);
    expect(await caught(io.callWith(null as never, "add", 1, 2))).toBeInstanceOf(TypeError);
    expect(((await caught(io.callWith({ timeout: "5" as unknown as number }, "add", 1, 2))) as Error).message).toMatch(/options\.timeout/u);
  });

  it("callWith inside a task: cancelling the task still cancels the remote task", { timeout: T }, async () => {
    const before = await io.call("cleanups");
    await run(async () => {
      const task = createTask(() => io.callWith({ timeout: 60_000 }, "waitForCancel"));
      await sleep(20);
      task.cancel();
      expect((await caught(task) as Error).name).toBe("CancelledError");
    });
    let after = before;
    for (let i = 0; i < 200 && after === before; i++) {
      await delay(5);
      after = await io.call("cleanups");
    }
    expect(after).toBe(before + 1);
  });
});

describe("PoolExecutor.run(fn, args, { signal })", () => {
  it("an aborted queued call never runs and rejects with the reason; a call in time returns", { timeout: T }, async () => {
    const pool = new PoolExecutor({ maxThreads: 1, minThreads: 1 });
    try {
      const fns = fixture("executor-fns");
      const started = new Int32Array(new SharedArrayBuffer(8));
      const busy = pool.run<number>({ filename: fns, name: "signalAndSpin" }, [started.subarray(0, 1), 100]);
      while (Atomics.load(started, 0) === 0) await delay(1);
      const controller = new AbortController();
      const queued = pool.run({ filename: fns, name: "signalAndSpin" }, [started.subarray(1, 2), 1], { signal: controller.signal });
      controller.abort();
      expect(isAbortError(await caught(queued))).toBe(true);
      expect(await busy).toBeGreaterThanOrEqual(0);
      expect(await pool.run({ filename: fns, name: "fib" }, [10], { signal: new AbortController().signal })).toBe(55);
      expect(Atomics.load(started, 1)).toBe(0);
      const reason = new Error("before");
      expect(await caught(pool.run({ filename: fns, name: "fib" }, [10], { signal: aborted(reason) }))).toBe(reason);
      expect(() => pool.run({ filename: fns, name: "fib" }, 10 as unknown as unknown[])).toThrow(TypeError);
    } finally {
      await pool.shutdown();
    }
  });
});
