/**
 * ThreadLock and ThreadSemaphore (issue 4 §2): asyncio.Lock/Semaphore semantics in one thread, then
 * real loop threads: mutual exclusion, FIFO across threads, no starvation, timeouts and
 * cancellations that leak neither a permit nor a place in line, and the documented dead-holder case.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  RuntimeError,
  ThreadLock,
  ThreadSemaphore,
  TimeoutError,
  createTask,
  gather,
  run,
  sleep,
  spawnLoopThread,
  type LoopThread,
} from "multiloop";
import type * as SyncTasks from "./fixtures/thread-sync-tasks.js";
import { fixture } from "./helpers.js";

const tasks = fixture("thread-sync-tasks");

async function rejection(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

function counters(n: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

async function until(flag: Int32Array, index: number, value = 1): Promise<void> {
  while (Atomics.load(flag, index) < value) await sleep(1);
}

describe("ThreadLock and ThreadSemaphore in one thread", () => {
  it("acquire, locked, release; releasing an unlocked lock is a RuntimeError", async () => {
    await run(async () => {
      const lock = new ThreadLock();
      expect(lock.locked()).toBe(false);
      expect(await lock.acquire()).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
      expect(lock.locked()).toBe(false);
      expect(() => lock.release()).toThrow(RuntimeError);
      expect(() => lock.release()).toThrow("Lock is not acquired.");
    });
  });

  it("run() acquires, returns fn's result and releases, also when fn throws", async () => {
    await run(async () => {
      const lock = new ThreadLock();
      expect(await lock.run(async () => (lock.locked() ? "held" : "not held"))).toBe("held");
      expect(lock.locked()).toBe(false);
      const err = await rejection(lock.run(() => Promise.reject(new Error("boom"))));
      expect((err as Error).message).toBe("boom");
      expect(lock.locked()).toBe(false);
      const semaphore = new ThreadSemaphore(1);
      expect(await semaphore.run(() => 7)).toBe(7);
      expect(semaphore.locked()).toBe(false);
    });
  });

  it("tasks of one thread get the lock in the order they asked", async () => {
    await run(async () => {
      const lock = new ThreadLock();
      const order: number[] = [];
      await lock.acquire();
      const waiting = [0, 1, 2, 3].map((i) => createTask(() => lock.run(async () => void order.push(i))));
      await sleep(1);
      // A newcomer does not barge past the tasks in line.
      const late = createTask(() => lock.run(async () => void order.push(4)));
      lock.release();
      await gather(...waiting, late);
      expect(order).toEqual([0, 1, 2, 3, 4]);
    });
  });

  it("a semaphore admits `value` holders; locked() is true when an acquire would wait", async () => {
    await run(async () => {
      const semaphore = new ThreadSemaphore(2);
      await semaphore.acquire();
      expect(semaphore.locked()).toBe(false);
      await semaphore.acquire();
      expect(semaphore.locked()).toBe(true);
      const third = createTask(() => semaphore.acquire());
      await sleep(1);
      expect(third.done()).toBe(false);
      semaphore.release();
      expect(await third).toBe(true);
      semaphore.release();
      semaphore.release();
      expect(semaphore.locked()).toBe(false);
      expect(new ThreadSemaphore(0).locked()).toBe(true);
      expect(new ThreadSemaphore().locked()).toBe(false);
    });
  });

  it("a timeout rejects with TimeoutError and keeps nothing", async () => {
    await run(async () => {
      for (const lock of [new ThreadLock(), new ThreadSemaphore(1)]) {
        await lock.acquire();
        const err = await rejection(lock.acquire({ timeout: 5 }));
        expect(err).toBeInstanceOf(TimeoutError);
        expect((err as Error).message).toMatch(/5 ms/);
        lock.release();
        expect(lock.locked()).toBe(false);
        // The line is empty again: an acquire that may not wait at all succeeds.
        expect(await lock.acquire({ timeout: 0 })).toBe(true);
        lock.release();
      }
    });
  });

  it("a cancelled acquire keeps nothing, even when the permit was granted just before the cancel", async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      const waiter = createTask(() => lock.acquire());
      await sleep(1);
      waiter.cancel();
      expect(await rejection(waiter)).toBeInstanceOf(CancelledError);
      lock.release();
      expect(lock.locked()).toBe(false);

      await lock.acquire();
      const granted = createTask(() => lock.acquire());
      await sleep(1);
      // release() hands the lock to `granted` at once; cancel it before it runs.
      lock.release();
      granted.cancel();
      expect(await rejection(granted)).toBeInstanceOf(CancelledError);
      expect(lock.locked()).toBe(false);
      expect(await lock.acquire({ timeout: 0 })).toBe(true);
      lock.release();

      const semaphore = new ThreadSemaphore(1);
      await semaphore.acquire();
      const semWaiter = createTask(() => semaphore.acquire());
      await sleep(1);
      semaphore.release();
      semWaiter.cancel();
      expect(await rejection(semWaiter)).toBeInstanceOf(CancelledError);
      expect(semaphore.locked()).toBe(false);
    });
  });

  it("bad input fails with TypeError/RangeError naming the argument; acquire needs a running loop", async () => {
    expect(() => new ThreadSemaphore(-1)).toThrow(RangeError);
    expect(() => new ThreadSemaphore(-1)).toThrow(/`value`/);
    expect(() => new ThreadSemaphore(1.5)).toThrow(TypeError);
    expect(() => new ThreadSemaphore("2" as unknown as number)).toThrow(/`value`.*`"2"` \(string\)/);
    expect(() => ThreadLock.from({})).toThrow(TypeError);
    expect(() => ThreadLock.from({})).toThrow(/`data`/);
    expect(() => ThreadSemaphore.from(null)).toThrow(/`data`/);
    // A lock's data is not a semaphore's.
    expect(() => ThreadSemaphore.from(new ThreadLock().share().data)).toThrow(/`data`/);
    const lock = new ThreadLock();
    expect(await rejection(lock.acquire())).toBeInstanceOf(RuntimeError);
    await run(async () => {
      const nan = await rejection(lock.acquire({ timeout: NaN }));
      expect(nan).toBeInstanceOf(TypeError);
      expect((nan as Error).message).toMatch(/`options.timeout`/);
      expect((await rejection(lock.acquire("soon" as unknown as object)) as Error).message).toMatch(/`options`/);
      const fn = await rejection(lock.run(5 as unknown as () => Promise<void>));
      expect(fn).toBeInstanceOf(TypeError);
      expect((fn as Error).message).toMatch(/`fn`/);
      expect(lock.locked()).toBe(false);
    });
  });
});

describe("ThreadLock and ThreadSemaphore across loop threads", () => {
  const threads: LoopThread<typeof SyncTasks>[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 4; i++) threads.push(await spawnLoopThread<typeof SyncTasks>({ name: `lock-${i}`, module: tasks }));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(threads.map((t) => t.stop()));
  }, 60_000);

  const thread = (i: number): LoopThread<typeof SyncTasks> => threads[i] as LoopThread<typeof SyncTasks>;

  it("mutual exclusion: a counter updated non-atomically under the lock by 4 threads x 2 tasks stays exact", { timeout: 120_000 }, async () => {
    const lock = new ThreadLock();
    const counter = counters(2);
    const iterations = 150;
    const maxInside = await Promise.all(threads.map((t) => t.call("hammer", lock, counter, iterations, 2, false)));
    expect(maxInside).toEqual([1, 1, 1, 1]);
    expect(counter[0]).toBe(4 * 2 * iterations);
    expect(lock.locked()).toBe(false);
  });

  it("a semaphore of 2 never admits more than 2 holders across 4 threads", { timeout: 120_000 }, async () => {
    const semaphore = new ThreadSemaphore(2);
    const counter = counters(2);
    const maxInside = await Promise.all(threads.map((t) => t.call("hammer", semaphore, counter, 150, 2, true)));
    for (const m of maxInside) expect(m).toBeLessThanOrEqual(2);
    expect(counter[0]).toBe(4 * 2 * 150);
    expect(semaphore.locked()).toBe(false);
  });

  it("threads get the lock in the order they asked for it", { timeout: 60_000 }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      const asked = counters(4);
      const order = counters(5);
      await lock.acquire();
      const done: Promise<unknown>[] = [];
      for (const id of [3, 1, 2]) {
        done.push(thread(id).call("acquireInOrder", lock, id, asked, order));
        await until(asked, id);
      }
      lock.release();
      await Promise.all(done);
      expect(Array.from(order.subarray(0, 4))).toEqual([3, 3, 1, 2]);
    });
  });

  it("a task asking right after another task of its thread gave up gets in line at once, ahead of later threads", { timeout: 60_000 }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      const asked = counters(4);
      const order = counters(5);
      const first = thread(1).call("acquireInOrder", lock, 1, asked, order);
      await until(asked, 1);
      // Behind thread 1, then gives up: this thread's ticket is abandoned, its watcher still armed.
      const gaveUp = createTask(() => lock.acquire());
      await sleep(1);
      gaveUp.cancel();
      expect(await rejection(gaveUp)).toBeInstanceOf(CancelledError);
      const mine = createTask(async () => {
        await lock.acquire();
        const at = Atomics.add(order, 0, 1);
        order[1 + at] = 9;
        lock.release();
      });
      await sleep(1);
      const third = thread(3).call("acquireInOrder", lock, 3, asked, order);
      await until(asked, 3);
      lock.release();
      await Promise.all([first, third]);
      await mine;
      expect(Array.from(order.subarray(0, 4))).toEqual([3, 1, 9, 3]);
    });
  });

  it("no starvation: a thread that releases and re-acquires in one job lets a waiting thread in after at most one more turn", { timeout: 60_000 }, async () => {
    const lock = new ThreadLock();
    const flags = counters(3);
    try {
      const hog = thread(0).call("hog", lock, flags, 300);
      // Let the hog get going (it behaves the same if it has not).
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await thread(1).call("askOnce", lock, flags)).toBe("served");
      const { rounds, roundsWhileOtherWaited } = await hog;
      expect(rounds).toBeGreaterThan(0);
      expect(roundsWhileOtherWaited).toBeLessThanOrEqual(1);
    } finally {
      Atomics.store(flags, 2, 1);
    }
  });

  it("a waiter that times out in another thread, at the head of the line or behind another, leaks nothing", { timeout: 60_000 }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      // At the head of the line.
      expect(await thread(1).call("acquireWithin", lock, 30)).toBe("TimeoutError");
      // Behind a waiter that stays: its abandoned ticket must be skipped when the line moves.
      const asked = counters(1);
      const first = thread(2).call("acquireUntilCancelled", lock, asked);
      await until(asked, 0);
      expect(await thread(3).call("acquireWithin", lock, 30)).toBe("TimeoutError");
      lock.release();
      expect(await first).toBe("acquired");
      expect(await thread(3).call("acquireRelease", lock)).toBe("acquired");
      expect(lock.locked()).toBe(false);
      expect(await lock.acquire({ timeout: 0 })).toBe(true);
      lock.release();

      const semaphore = new ThreadSemaphore(2);
      await semaphore.acquire();
      await semaphore.acquire();
      expect(await thread(1).call("acquireWithin", semaphore, 30)).toBe("TimeoutError");
      semaphore.release();
      semaphore.release();
      expect(await thread(2).call("acquireRelease", semaphore)).toBe("acquired");
      expect(await semaphore.acquire({ timeout: 0 })).toBe(true);
      expect(await semaphore.acquire({ timeout: 0 })).toBe(true);
      expect(semaphore.locked()).toBe(true);
    });
  });

  it("cancelling a waiting acquire in another thread (through its caller) leaks nothing", { timeout: 60_000 }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      const firstAsked = counters(1);
      const first = thread(1).call("acquireUntilCancelled", lock, firstAsked);
      await until(firstAsked, 0);
      const asked = counters(1);
      const cancelled = thread(2).handle.runCoroutineThreadsafe("acquireUntilCancelled", lock, asked);
      await until(asked, 0);
      cancelled.cancel();
      expect(await rejection(cancelled)).toBeInstanceOf(CancelledError);
      lock.release();
      expect(await first).toBe("acquired");
      expect(await thread(3).call("acquireRelease", lock)).toBe("acquired");
      expect(lock.locked()).toBe(false);
    });
  });

  it("a thread that ends after giving up does not block the line", { timeout: 60_000 }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      const shortLived = await spawnLoopThread<typeof SyncTasks>({ name: "short-lived", module: tasks });
      expect(await shortLived.call("acquireWithin", lock, 20)).toBe("TimeoutError");
      await shortLived.stop();
      lock.release();
      expect(await thread(0).call("acquireRelease", lock)).toBe("acquired");
    });
  });

  it("a thread terminated while waiting in line does not block the line: the next waiter skips it", { timeout: 60_000 }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      const victim = await spawnLoopThread<typeof SyncTasks>({ name: "dies-in-line", module: tasks });
      const asked = counters(1);
      void victim.call("acquireUntilCancelled", lock, asked).catch(() => undefined);
      await until(asked, 0);
      await victim.terminate();
      // The dead thread is at the head of the line; release, and the waiter behind it must get in.
      const next = thread(1).call("acquireRelease", lock);
      lock.release();
      expect(await next).toBe("acquired");
      expect(lock.locked()).toBe(false);
      expect(await thread(2).call("acquireRelease", lock)).toBe("acquired");
    });
  });

  it("a live head skipped while its thread was stuck rejoins the line and still gets the lock", { timeout: 60_000 }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      await lock.acquire();
      const asked = counters(1);
      const stuck = thread(1).call("stuckInLine", lock, asked, 2_500);
      await until(asked, 0);
      const behind = thread(2).call("acquireRelease", lock);
      lock.release();
      expect(await behind).toBe("acquired");
      expect(await stuck).toBe("acquired");
      expect(lock.locked()).toBe(false);
      expect(await lock.acquire({ timeout: 0 })).toBe(true);
      lock.release();
    });
  });

  it("documented risk: a lock held by a thread that dies stays held; acquire({ timeout }) is the way out", { timeout: 60_000 }, async () => {
    await run(async () => {
      const lock = new ThreadLock();
      const victim = await spawnLoopThread<typeof SyncTasks>({ name: "victim", module: tasks });
      const release = counters(1);
      const held = counters(1);
      void victim.call("holdUntil", lock, release, held).catch(() => undefined);
      await until(held, 0);
      await victim.terminate();
      expect(lock.locked()).toBe(true);
      expect(await rejection(lock.acquire({ timeout: 30 }))).toBeInstanceOf(TimeoutError);
      expect(await thread(0).call("acquireWithin", lock, 30)).toBe("TimeoutError");
    });
  });
});
