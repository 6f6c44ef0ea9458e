/**
 * Same-loop synchronisation primitives against asyncio's behaviour: items 143-152 of the semantics
 * reference, one `it` each (several are ports of CPython's Lib/test/test_asyncio/test_locks.py),
 * then fairness under cancellation, `run()` / `await using`, and argument checks.
 *
 * Everything runs on a real loop; `sleep(0)` yields exactly one loop iteration, which is what
 * sequences the tasks below (no wall-clock expectations).
 */
import { describe, expect, it } from "vitest";
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  CancelledError,
  Condition,
  Event,
  Lock,
  Queue,
  RuntimeError,
  Semaphore,
  TimeoutError,
  createTask,
  gather,
  getRunningLoop,
  run,
  sleep,
  timeout,
  waitFor,
  type Task,
} from "multiloop";

/** Lets the loop run `n` iterations. */
async function spin(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await sleep(0);
}

/** The error a promise rejects with (fails the test if it fulfils). */
async function rejectionOf(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

describe("binding to a loop (item 143)", () => {
  it("binds when a waiter is first needed; uncontended use elsewhere is fine, waiting elsewhere throws", async () => {
    const lock = new Lock();
    const event = new Event();
    const cond = new Condition();
    const sem = new Semaphore(0);
    const queue = new Queue<number>();

    // Loop 1: uncontended use binds nothing.
    await run(async () => {
      await lock.acquire();
      lock.release();
      event.set();
      await event.wait();
      event.clear();
      sem.release();
      await sem.acquire();
      queue.putNowait(1);
      expect(await queue.get()).toBe(1);
    });

    // Loop 2: each object has to wait once, which binds it to loop 2.
    await run(async () => {
      await lock.acquire();
      const locker = createTask(() => lock.acquire());
      const waiter = createTask(() => event.wait());
      const condWaiter = createTask(() => cond.run(() => cond.wait()));
      const semWaiter = createTask(() => sem.acquire());
      const getter = createTask(() => queue.get());
      await sleep(0);
      lock.release();
      event.set();
      await cond.run(() => cond.notifyAll());
      sem.release();
      queue.putNowait(2);
      await gather(locker, waiter, condWaiter, semWaiter, getter);
      lock.release();
      event.clear();
    });

    // Loop 3: the fast paths still work; needing a waiter throws, with asyncio's message.
    await run(async () => {
      await lock.acquire();
      const errors = [
        await rejectionOf(lock.acquire()),
        await rejectionOf(event.wait()),
        await rejectionOf(cond.run(() => cond.wait())),
        await rejectionOf(sem.acquire()),
        await rejectionOf(queue.get()),
      ];
      lock.release();
      for (const err of errors) {
        expect(err).toBeInstanceOf(RuntimeError);
        expect((err as RuntimeError).code).toBe("ERR_LOOP_DIFFERENT_LOOP");
        expect((err as Error).message).toMatch(/^<\w+ .*> is bound to a different event loop$/);
      }
      expect((errors[0] as Error).message).toBe("<Lock [locked]> is bound to a different event loop");
      // The failed attempts left nothing behind.
      expect(lock.locked()).toBe(false);
      expect(String(lock)).toBe("<Lock [unlocked]>");
      expect(cond.locked()).toBe(false);
    });
  });
});

describe("Lock", () => {
  it("acquire() resolves to true and serves waiters first-come first-served (item 144, test_acquire)", async () => {
    await run(async () => {
      const lock = new Lock();
      const result: number[] = [];
      expect(await lock.acquire()).toBe(true);
      const taker = (n: number) => async () => {
        if (await lock.acquire()) result.push(n);
        return true;
      };
      const t1 = createTask(taker(1));
      const t2 = createTask(taker(2));
      await sleep(0);
      expect(result).toEqual([]);
      lock.release();
      await sleep(0);
      expect(result).toEqual([1]);
      await sleep(0);
      expect(result).toEqual([1]);

      // t2 was woken by this release; the newcomer t3 starts before t2 runs, finds the lock free,
      // and still queues behind t2.
      const t3 = createTask(taker(3));
      lock.release();
      await sleep(0);
      expect(result).toEqual([1, 2]);
      lock.release();
      await sleep(0);
      expect(result).toEqual([1, 2, 3]);
      expect([t1.result(), t2.result(), t3.result()]).toEqual([true, true, true]);
      lock.release();
    });
  });

  it("a newcomer never barges past a woken waiter, even when it acquires synchronously (item 144)", async () => {
    await run(async () => {
      const lock = new Lock();
      const order: string[] = [];
      await lock.acquire();
      const waiter = createTask(async () => {
        await lock.acquire();
        order.push("waiter");
        lock.release();
      });
      await sleep(0);
      lock.release();
      // Free, but the woken waiter has not run yet: this acquire must wait its turn.
      expect(lock.locked()).toBe(false);
      const mine = lock.acquire();
      expect(String(lock)).toBe("<Lock [unlocked, waiters:2]>");
      await mine;
      order.push("newcomer");
      expect(order).toEqual(["waiter", "newcomer"]);
      expect(waiter.done()).toBe(true);
      lock.release();
    });
  });

  it("release() of a free lock throws RuntimeError('Lock is not acquired.') (item 145)", async () => {
    await run(async () => {
      const lock = new Lock();
      expect(() => lock.release()).toThrow(RuntimeError);
      expect(() => lock.release()).toThrow("Lock is not acquired.");
      let err: unknown;
      try {
        lock.release();
      } catch (e) {
        err = e;
      }
      expect((err as RuntimeError).code).toBe("ERR_LOOP_LOCK_NOT_ACQUIRED");
    });
  });

  it("a cancelled waiter is removed from the queue (item 146, test_acquire_cancel)", async () => {
    await run(async () => {
      const lock = new Lock();
      expect(await lock.acquire()).toBe(true);
      const task = createTask(() => lock.acquire());
      getRunningLoop().callSoon(() => task.cancel());
      expect(await rejectionOf(task)).toBeInstanceOf(CancelledError);
      expect(String(lock)).toBe("<Lock [locked]>");
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it("a waiter cancelled while the holder releases is skipped: the next one gets the lock (item 146, test_cancel_race)", async () => {
    await run(async () => {
      const lock = new Lock();
      const loop = getRunningLoop();
      const lockit = async (blocker: PromiseLike<unknown> | null): Promise<void> => {
        await lock.acquire();
        try {
          if (blocker !== null) await blocker;
        } finally {
          lock.release();
        }
      };
      const fa = loop.createFuture<void>();
      const ta = createTask(() => lockit(fa));
      await sleep(0);
      expect(lock.locked()).toBe(true);
      const tb = createTask(() => lockit(null));
      await sleep(0);
      expect(String(lock)).toBe("<Lock [locked, waiters:1]>");
      const tc = createTask(() => lockit(null));
      await sleep(0);
      expect(String(lock)).toBe("<Lock [locked, waiters:2]>");

      fa.setResult(undefined);
      tb.cancel();
      await sleep(0);
      expect(lock.locked()).toBe(false);
      expect(ta.done()).toBe(true);
      expect(tb.cancelled()).toBe(true);
      await tc;
      expect(lock.locked()).toBe(false);
    });
  });

  it("cancel and release in one callback take the lock only once (item 146, test_cancel_release_race)", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const lock = new Lock();
      let lockCount = 0;
      let callCount = 0;
      const lockit = async (): Promise<void> => {
        callCount++;
        await lock.acquire();
        lockCount++;
      };
      await lock.acquire();
      const t1 = createTask(lockit);
      const t2 = createTask(lockit);
      const t3 = createTask(lockit);
      await sleep(0);
      loop.callSoon(() => {
        t1.cancel();
        lock.release();
      });
      expect(await rejectionOf(t1)).toBeInstanceOf(CancelledError);
      expect(lockCount).toBe(1);
      expect(callCount).toBe(3);
      expect(t1.cancelled() && t2.done()).toBe(true);
      t3.cancel();
      await sleep(0);
      expect(t3.cancelled()).toBe(true);
      expect(lock.locked()).toBe(true);
    });
  });

  it("a waiter woken and then cancelled before it ran passes the wake-up on (item 146, test_finished_waiter_cancelled)", async () => {
    await run(async () => {
      const lock = new Lock();
      await lock.acquire();
      const tb = createTask(() => lock.acquire());
      await sleep(0);
      expect(String(lock)).toBe("<Lock [locked, waiters:1]>");
      const tc = createTask(() => lock.acquire());
      tb.cancel();
      lock.release();
      await sleep(0);
      expect(lock.locked()).toBe(true);
      expect(tb.cancelled()).toBe(true);
      expect(tc.done()).toBe(true);

      // The other order: woken first, cancelled after, a waiter already queued behind it.
      const td = createTask(() => lock.acquire());
      const te = createTask(() => lock.acquire());
      await sleep(0);
      lock.release(); // wakes td
      td.cancel(); // td's future is already done: the cancel lands when td runs
      await sleep(0);
      expect(td.cancelled()).toBe(true);
      await sleep(0);
      expect(te.done()).toBe(true);
      expect(lock.locked()).toBe(true);
      lock.release();
    });
  });

  it("only `await using` holds a lock: a synchronous `using` is refused with TypeError (item 147)", async () => {
    await run(async () => {
      const lock = new Lock();
      expect(() => {
        // asyncio refuses `with lock:`; a lock has no Symbol.dispose, so `using` fails the same way.
        using _held = lock as unknown as Disposable;
      }).toThrow(TypeError);
      expect(lock.locked()).toBe(false);
      {
        await using _held = await lock.enter();
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
    });
  });
});

describe("Event (item 148)", () => {
  it("set() wakes every waiter even if clear() follows; wait() returns true, at once when already set", async () => {
    await run(async () => {
      const ev = new Event();
      const result: number[] = [];
      const waiters = [1, 2, 3].map((n) =>
        createTask(async () => {
          if (await ev.wait()) result.push(n);
        }),
      );
      await sleep(0);
      expect(result).toEqual([]);
      ev.set();
      ev.clear();
      expect(ev.isSet()).toBe(false);
      ev.set();
      ev.set();
      expect(String(ev)).toBe("<Event [set, waiters:3]>");
      await sleep(0);
      expect(result).toEqual([1, 2, 3]);
      expect(String(ev)).toBe("<Event [set]>");
      await gather(...waiters);

      // Already set: wait() does not yield to the loop (a callback scheduled before it has not run).
      let ran = false;
      getRunningLoop().callSoon(() => {
        ran = true;
      });
      expect(await ev.wait()).toBe(true);
      expect(ran).toBe(false);
      ev.clear();
      const late = createTask(() => ev.wait());
      await sleep(0);
      expect(late.done()).toBe(false);
      late.cancel();
      await sleep(0);
      expect(late.cancelled()).toBe(true);
      expect(String(ev)).toBe("<Event [unset]>");
    });
  });
});

describe("Condition (item 149)", () => {
  it("wait() and notify() without the lock throw asyncio's RuntimeErrors", async () => {
    await run(async () => {
      const cond = new Condition();
      const err = await rejectionOf(cond.wait());
      expect(err).toBeInstanceOf(RuntimeError);
      expect((err as Error).message).toBe("cannot wait on un-acquired lock");
      expect(() => cond.notify()).toThrow(RuntimeError);
      expect(() => cond.notify()).toThrow("cannot notify on un-acquired lock");
      expect(() => cond.notifyAll()).toThrow("cannot notify on un-acquired lock");
    });
  });

  it("notify(n) wakes n waiters in FIFO order, each once it re-acquired the lock (test_notify)", async () => {
    await run(async () => {
      const cond = new Condition();
      const result: number[] = [];
      const waiter = (n: number) => async () => {
        await cond.acquire();
        if (await cond.wait()) result.push(n);
        cond.release();
      };
      const tasks = [1, 2, 3].map((n) => createTask(waiter(n)));
      await sleep(0);
      expect(result).toEqual([]);

      await cond.acquire();
      cond.notify(1);
      cond.release();
      await spin(2);
      expect(result).toEqual([1]);

      await cond.acquire();
      cond.notify(1);
      cond.notify(2048);
      cond.release();
      await spin(3);
      expect(result).toEqual([1, 2, 3]);
      await gather(...tasks);
    });
  });

  it("notifyAll() wakes every waiter (test_notify_all)", async () => {
    await run(async () => {
      const cond = new Condition();
      const result: number[] = [];
      const tasks = [1, 2].map((n) =>
        createTask(() =>
          cond.run(async () => {
            if (await cond.wait()) result.push(n);
          }),
        ),
      );
      await sleep(0);
      await cond.run(() => cond.notifyAll());
      await gather(...tasks);
      expect(result).toEqual([1, 2]);
    });
  });

  it("wait() re-acquires the lock when cancelled, and returns true when notified (test_wait_cancel*)", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const cond = new Condition();
      await cond.acquire();
      const wait = createTask(() => cond.wait());
      loop.callSoon(() => wait.cancel());
      expect(await rejectionOf(wait)).toBeInstanceOf(CancelledError);
      expect(String(cond)).toBe("<Condition [locked]>");
      expect(cond.locked()).toBe(true);

      // Notified, then the lock is contested and the waiter cancelled while it re-acquires:
      // no cancellation point is left, so wait() still returns true, holding the lock.
      const contested = createTask(() => cond.wait());
      await sleep(0);
      expect(cond.locked()).toBe(false);
      await cond.acquire();
      cond.notify();
      loop.callSoon(() => contested.cancel());
      loop.callSoon(() => cond.release());
      let outcome: unknown;
      try {
        outcome = await contested;
      } catch (err) {
        outcome = err;
      }
      expect(outcome === true || outcome instanceof CancelledError).toBe(true);
      expect(cond.locked()).toBe(true);
      cond.release();
    });
  });

  it("a cancel during the re-acquire step is re-thrown unchanged, after the lock is held again (test_cancelled_error_re_aquire)", async () => {
    await run(async () => {
      const cond = new Condition();
      let wake = false;
      let raised: unknown = null;
      let heldWhenRaised = false;
      const task = createTask(() =>
        cond.run(async () => {
          try {
            await cond.waitFor(() => wake);
          } catch (err) {
            raised = err;
            heldWhenRaised = cond.locked();
            throw err;
          }
        }),
      );
      await sleep(0);
      await cond.acquire();
      wake = true;
      cond.notify();
      await sleep(0);
      // The task is now trying to re-acquire the lock we hold: cancel it there.
      task.cancel("foo");
      cond.release();
      const err = await rejectionOf(task);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as CancelledError).message).toBe("foo");
      expect(err).toBe(raised);
      expect(heldWhenRaised).toBe(true);
      expect(cond.locked()).toBe(false);
    });
  });

  it("waitFor(predicate) resolves to the predicate's value (test_wait_for)", async () => {
    await run(async () => {
      const cond = new Condition();
      let presult: number | false = false;
      const calls: Array<number | false> = [];
      const predicate = (): number | false => {
        calls.push(presult);
        return presult;
      };
      const task = createTask(() => cond.run(() => cond.waitFor(predicate)));
      await sleep(0);
      await cond.run(() => cond.notify());
      await spin(2);
      expect(task.done()).toBe(false);
      presult = 7;
      await cond.run(() => cond.notify());
      expect(await task).toBe(7);
      expect(calls).toEqual([false, false, 7]);
    });
  });

  it("a waiter notified and cancelled at once hands the notification on (test_cancelled_wakeup)", async () => {
    await run(async () => {
      const cond = new Condition();
      let state = 0;
      const consumer = () =>
        cond.run(async () => {
          for (;;) {
            await cond.waitFor(() => state !== 0);
            if (state < 0) return;
            state -= 1;
          }
        });
      const c = [createTask(consumer), createTask(consumer)] as const;
      await sleep(0);
      await cond.run(() => {
        state += 1;
        cond.notify(1);
        c[0].cancel();
      });
      await spin(5);
      expect(state).toBe(0);
      expect(c[0].cancelled()).toBe(true);
      await cond.run(() => {
        state = -1;
        cond.notifyAll();
      });
      await c[1];
    });
  });

  it("shares a given lock: the condition is held exactly when the lock is", async () => {
    await run(async () => {
      const lock = new Lock();
      const a = new Condition(lock);
      const b = new Condition(lock);
      await lock.acquire();
      expect(a.locked() && b.locked()).toBe(true);
      const waiter = createTask(() => a.run(() => a.wait()));
      lock.release();
      await sleep(0);
      await b.run(() => {
        a.notify();
        b.notify(); // nobody waits on b: a no-op
      });
      expect(await waiter).toBe(true);
      expect(lock.locked()).toBe(false);
    });
  });
});

describe("Semaphore (item 150)", () => {
  it("a negative initial value throws RangeError('Semaphore initial value must be >= 0'); value 0 starts locked", async () => {
    expect(() => new Semaphore(-1)).toThrow(new RangeError("Semaphore initial value must be >= 0"));
    await run(async () => {
      const sem = new Semaphore(0);
      expect(sem.locked()).toBe(true);
      const t = createTask(() => sem.acquire());
      await sleep(0);
      expect(t.done()).toBe(false);
      sem.release();
      expect(await t).toBe(true);
      expect(sem.locked()).toBe(true);
    });
  });

  it("serves waiters FIFO across repeated acquire/release (test_acquire_fifo_order)", async () => {
    await run(async () => {
      const sem = new Semaphore(1);
      const result: string[] = [];
      const coro = (tag: string) => async () => {
        await sem.acquire();
        result.push(`${tag}_1`);
        await sleep(0);
        sem.release();
        await sem.acquire();
        result.push(`${tag}_2`);
        await sleep(0);
        sem.release();
      };
      await gather(createTask(coro("c1")), createTask(coro("c2")), createTask(coro("c3")));
      expect(result).toEqual(["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"]);
    });
  });

  it("a task that releases and re-acquires queues behind earlier waiters (test_acquire_fifo_order_2)", async () => {
    await run(async () => {
      const sem = new Semaphore(1);
      const result: number[] = [];
      const t1 = createTask(async () => {
        await sem.acquire();
        result.push(1);
      });
      const t2 = createTask(async () => {
        await sem.acquire();
        result.push(2);
        sem.release();
        await sem.acquire();
        result.push(4);
      });
      const t3 = createTask(async () => {
        await sem.acquire();
        result.push(3);
      });
      await sleep(0);
      sem.release();
      sem.release();
      await gather(t1, t2, t3);
      expect(result).toEqual([1, 2, 3, 4]);
    });
  });

  it("a cancelled waiter takes no permit (test_acquire_fifo_order_3, test_acquire_cancel_before_awoken, test_acquire_hang)", async () => {
    await run(async () => {
      const sem = new Semaphore(0);
      const result: number[] = [];
      const tasks = [1, 2, 3].map((n) =>
        createTask(async () => {
          await sem.acquire();
          result.push(n);
        }),
      );
      await sleep(0);
      tasks[0]?.cancel();
      await sleep(0);
      sem.release();
      sem.release();
      await gather(tasks, { returnExceptions: true });
      expect(result).toEqual([2, 3]);
      expect(sem.locked()).toBe(true);

      const sem2 = new Semaphore(0);
      const [u1, u2, u3, u4] = [0, 1, 2, 3].map(() => createTask(() => sem2.acquire())) as [
        Task<true>,
        Task<true>,
        Task<true>,
        Task<true>,
      ];
      await sleep(0);
      u1.cancel();
      u2.cancel();
      sem2.release();
      await spin(2);
      expect(u3.done()).toBe(true);
      expect(u4.done()).toBe(false);
      u4.cancel();
      await sleep(0);
      expect(u4.cancelled()).toBe(true);
      expect(sem2.locked()).toBe(true);
    });
  });

  it("locked() counts live waiters; a wake-up passed on wakes every queued waiter there is a permit for (test_acquire_fifo_order_4)", async () => {
    await run(async () => {
      const sem = new Semaphore(0);
      const result: number[] = [];
      let t4: Task<void> | null = null;
      let lockedAfterReleases: boolean | null = null;
      const t1 = createTask(async () => {
        await sem.acquire();
        expect(sem.locked()).toBe(true); // every permit went to a queued waiter
        t4 = createTask(async () => {
          result.push(4);
        });
        result.push(1);
      });
      const t2 = createTask(async () => {
        sem.release();
        sem.release();
        sem.release();
        // Two permits are free, but c1 (woken, not yet run) is queued: newcomers must wait.
        lockedAfterReleases = sem.locked();
        await sem.acquire();
        result.push(2);
      });
      const t3 = createTask(async () => {
        await sem.acquire();
        result.push(3);
      });
      await sleep(0);
      expect(lockedAfterReleases).toBe(true);
      expect(String(sem)).toBe("<Semaphore [locked, waiters:3]>");
      await sleep(0);
      await gather(t1, t2, t3);
      await (t4 as unknown as Task<void>);
      expect(result).toEqual([1, 2, 3, 4]);
    });
  });

  it("release() may raise the value above the initial one", async () => {
    await run(async () => {
      const sem = new Semaphore(1);
      sem.release();
      sem.release();
      expect(String(sem)).toBe("<Semaphore [unlocked, value:3]>");
      for (let i = 0; i < 3; i++) await sem.acquire();
      expect(sem.locked()).toBe(true);
    });
  });
});

describe("BoundedSemaphore (item 151)", () => {
  it("releasing more than acquired throws RangeError('BoundedSemaphore released too many times')", async () => {
    await run(async () => {
      const sem = new BoundedSemaphore(2);
      expect(sem).toBeInstanceOf(Semaphore);
      expect(() => sem.release()).toThrow(new RangeError("BoundedSemaphore released too many times"));
      await sem.acquire();
      await sem.acquire();
      expect(sem.locked()).toBe(true);
      sem.release();
      sem.release();
      expect(() => sem.release()).toThrow("BoundedSemaphore released too many times");
      expect(String(sem)).toBe("<BoundedSemaphore [unlocked, value:2]>");
    });
  });
});

describe("Barrier (item 152)", () => {
  it("parties < 1 throws RangeError('parties must be > 0')", () => {
    expect(() => new Barrier(0)).toThrow(new RangeError("parties must be > 0"));
    expect(() => new Barrier(-3)).toThrow("parties must be > 0");
  });

  it("wait() returns unique arrival indices 0..parties-1, cycle after cycle", async () => {
    await run(async () => {
      const barrier = new Barrier(3);
      expect(barrier.parties).toBe(3);
      for (let cycle = 0; cycle < 3; cycle++) {
        const arrivals: number[] = [];
        const tasks = [0, 1, 2].map(() =>
          createTask(async () => {
            const index = await barrier.wait();
            arrivals.push(index);
            return index;
          }),
        );
        await sleep(0);
        expect(barrier.nWaiting).toBe(0); // the third arrival released the other two
        expect((await gather(...tasks)).sort()).toEqual([0, 1, 2]);
        expect(String(barrier)).toBe("<Barrier [filling, waiters:0/3]>");
      }
      // n_waiting counts arrivals of a cycle that is still filling.
      const first = createTask(() => barrier.wait());
      await sleep(0);
      expect(barrier.nWaiting).toBe(1);
      expect(String(barrier)).toBe("<Barrier [filling, waiters:1/3]>");
      first.cancel();
      await sleep(0);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("run(fn) passes the arrival index, like `async with barrier as index`", async () => {
    await run(async () => {
      const barrier = new Barrier(2);
      const results = await gather(
        () => barrier.run((i) => `a${i}`),
        () => barrier.run(async (i) => `b${i}`),
      );
      expect(results).toEqual(["a0", "b1"]);
    });
  });

  it("abort(): waiting tasks get 'Abort or reset of barrier', later ones 'Barrier aborted'; BrokenBarrierError is a RuntimeError", async () => {
    await run(async () => {
      const barrier = new Barrier(3);
      const waiting = [0, 1].map(() => createTask(() => barrier.wait()));
      await sleep(0);
      expect(barrier.nWaiting).toBe(2);
      await barrier.abort();
      expect(barrier.broken).toBe(true);
      expect(String(barrier)).toBe("<Barrier [broken]>");
      for (const t of waiting) {
        const err = await rejectionOf(t);
        expect(err).toBeInstanceOf(BrokenBarrierError);
        expect(err).toBeInstanceOf(RuntimeError);
        expect((err as Error).message).toBe("Abort or reset of barrier");
      }
      const late = await rejectionOf(barrier.wait());
      expect(late).toBeInstanceOf(BrokenBarrierError);
      expect((late as Error).message).toBe("Barrier aborted");
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it("reset() breaks the tasks waiting now and leaves the barrier usable", async () => {
    await run(async () => {
      const barrier = new Barrier(3);
      const results: string[] = [];
      const waiting = [0, 1].map(() =>
        createTask(async () => {
          try {
            await barrier.wait();
            results.push("passed");
          } catch (err) {
            results.push(err instanceof BrokenBarrierError ? (err.message) : "other");
          }
        }),
      );
      await sleep(0);
      createTask(() => barrier.reset());
      await gather(...waiting);
      expect(results).toEqual(["Abort or reset of barrier", "Abort or reset of barrier"]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
      expect(String(barrier)).toBe("<Barrier [filling, waiters:0/3]>");
      // Usable again, and reset() also repairs an aborted barrier.
      await barrier.abort();
      await barrier.reset();
      expect(barrier.broken).toBe(false);
      expect((await gather(() => barrier.wait(), () => barrier.wait(), () => barrier.wait())).sort()).toEqual([0, 1, 2]);
    });
  });
});

describe("fairness under cancellation", () => {
  it("Lock: with every other waiter cancelled at wake-up or before, the lock is never leaked and FIFO holds", async () => {
    await run(async () => {
      const lock = new Lock();
      const order: number[] = [];
      await lock.acquire();
      const tasks = Array.from({ length: 40 }, (_, n) =>
        createTask(async () => {
          await lock.acquire();
          try {
            order.push(n);
            await sleep(0);
          } finally {
            lock.release();
          }
        }),
      );
      await sleep(0);
      // Cancel some waiters while they wait, and release so that the first one is woken and then
      // cancelled before it runs.
      for (let n = 3; n < 40; n += 4) tasks[n]?.cancel();
      lock.release();
      tasks[0]?.cancel();
      await gather(tasks, { returnExceptions: true });
      const cancelled = new Set([0, ...Array.from({ length: 10 }, (_, k) => 3 + 4 * k)]);
      expect(order).toEqual(Array.from({ length: 40 }, (_, n) => n).filter((n) => !cancelled.has(n)));
      expect(tasks.filter((t) => t.cancelled()).length).toBe(cancelled.size);
      expect(String(lock)).toBe("<Lock [unlocked]>");
      expect(await lock.acquire()).toBe(true);
      lock.release();
    });
  });

  it("Semaphore: cancelling woken waiters gives their permits back and on, FIFO; no permit is leaked", async () => {
    await run(async () => {
      const sem = new Semaphore(0);
      const got: number[] = [];
      const tasks = Array.from({ length: 12 }, (_, n) =>
        createTask(async () => {
          await sem.acquire();
          got.push(n);
        }),
      );
      await sleep(0);
      sem.release();
      sem.release();
      sem.release(); // wakes 0, 1, 2
      tasks[0]?.cancel();
      tasks[2]?.cancel();
      tasks[4]?.cancel(); // not woken: just leaves
      await spin(3);
      // 0 and 2 passed their permits to 3 and 5 (4 left the queue); 1 kept its own.
      expect(got).toEqual([1, 3, 5]);
      expect(sem.locked()).toBe(true);
      for (const t of tasks) if (!t.done()) t.cancel();
      await gather(tasks, { returnExceptions: true });
      expect(String(sem)).toBe("<Semaphore [locked]>");
      sem.release();
      expect(String(sem)).toBe("<Semaphore [unlocked, value:1]>");
    });
  });

  it("Condition: a notified waiter that is cancelled passes the notification on", async () => {
    await run(async () => {
      const cond = new Condition();
      const woken: number[] = [];
      const tasks = [0, 1, 2].map((n) =>
        createTask(() =>
          cond.run(async () => {
            await cond.wait();
            woken.push(n);
          }),
        ),
      );
      await sleep(0);
      await cond.run(() => cond.notify(1));
      tasks[0]?.cancel();
      await spin(4);
      expect(tasks[0]?.cancelled()).toBe(true);
      expect(woken).toEqual([1]);
      await cond.run(() => cond.notifyAll());
      await gather(tasks, { returnExceptions: true });
      expect(woken).toEqual([1, 2]);
      expect(cond.locked()).toBe(false);
    });
  });
});

describe("run(fn) and await using", () => {
  it("run() releases on success, on error and on cancellation; it resolves to fn's value", async () => {
    await run(async () => {
      for (const make of [() => new Lock(), () => new Semaphore(1), () => new Condition()]) {
        const prim = make();
        expect(await prim.run(() => 42)).toBe(42);
        expect(await prim.run(async () => "async")).toBe("async");
        expect(prim.locked()).toBe(false);
        const boom = new Error("boom");
        expect(
          await rejectionOf(
            prim.run(() => {
              throw boom;
            }),
          ),
        ).toBe(boom);
        expect(prim.locked()).toBe(false);
        const inside = createTask(() => prim.run(() => sleep(1000)));
        await sleep(0);
        expect(prim.locked()).toBe(true);
        inside.cancel();
        expect(await rejectionOf(inside)).toBeInstanceOf(CancelledError);
        expect(prim.locked()).toBe(false);
      }
    });
  });

  it("an acquire() under a deadline that expires leaves the lock and its queue untouched", async () => {
    await run(async () => {
      const lock = new Lock();
      await lock.acquire();
      expect(await rejectionOf(waitFor(() => lock.acquire(), 5))).toBeInstanceOf(TimeoutError);
      expect(await rejectionOf(timeout(5, () => lock.run(() => "never")))).toBeInstanceOf(TimeoutError);
      expect(String(lock)).toBe("<Lock [locked]>");
      lock.release();
      expect(await waitFor(() => lock.run(() => "ran"), 1000)).toBe("ran");
    });
  });

  it("run() waiting for the lock can be cancelled without calling fn", async () => {
    await run(async () => {
      const lock = new Lock();
      await lock.acquire();
      let called = false;
      const t = createTask(() =>
        lock.run(() => {
          called = true;
        }),
      );
      await sleep(0);
      t.cancel();
      expect(await rejectionOf(t)).toBeInstanceOf(CancelledError);
      expect(called).toBe(false);
      expect(lock.locked()).toBe(true);
      lock.release();
    });
  });

  it("`await using _ = await x.enter()` holds a Lock, Semaphore or Condition for the block, even when it throws", async () => {
    await run(async () => {
      const lock = new Lock();
      const sem = new BoundedSemaphore(1);
      const cond = new Condition();
      const boom = new Error("boom");
      const err = await rejectionOf(
        (async () => {
          await using _l = await lock.enter();
          await using _s = await sem.enter();
          await using _c = await cond.enter();
          expect([lock.locked(), sem.locked(), cond.locked()]).toEqual([true, true, true]);
          await sleep(0);
          throw boom;
        })(),
      );
      expect(err).toBe(boom);
      expect([lock.locked(), sem.locked(), cond.locked()]).toEqual([false, false, false]);

      // The exit half alone, after an explicit acquire.
      await lock.acquire();
      {
        await using _held = lock;
        expect(lock.locked()).toBe(true);
      }
      expect(lock.locked()).toBe(false);
      // Exiting a block that never acquired fails like release() does.
      const notHeld = await rejectionOf(
        (async () => {
          await using _held = lock;
        })(),
      );
      expect(notHeld).toBeInstanceOf(RuntimeError);
    });
  });

  it("a critical section under contention: no lost updates", async () => {
    await run(async () => {
      const lock = new Lock();
      let counter = 0;
      const increment = async (): Promise<void> => {
        await using _ = await lock.enter();
        const seen = counter;
        await sleep(0);
        counter = seen + 1;
      };
      await gather(...Array.from({ length: 50 }, () => increment));
      expect(counter).toBe(50);
    });
  });
});

describe("argument checks", () => {
  it("bad arguments throw TypeError / RangeError with the package's message template", async () => {
    expect(() => new Semaphore(1.5)).toThrow(TypeError);
    expect(() => new Semaphore("2" as unknown as number)).toThrow("Expected `value` to be an integer >= 0, got `\"2\"` (string)");
    expect(() => new BoundedSemaphore(Number.NaN)).toThrow(TypeError);
    expect(() => new Barrier(2.5)).toThrow("Expected `parties` to be an integer > 0, got `2.5` (number)");
    expect(() => new Condition({} as unknown as Lock)).toThrow(TypeError);
    expect(() => new Condition(null)).not.toThrow();
    await run(async () => {
      const cond = new Condition();
      await cond.run(async () => {
        expect(() => cond.notify(-1)).toThrow(RangeError);
        expect(() => cond.notify(1.5)).toThrow(TypeError);
        const bad = await rejectionOf(cond.waitFor("yes" as unknown as () => boolean));
        expect(bad).toBeInstanceOf(TypeError);
        expect(cond.locked()).toBe(true);
      });
      const lock = new Lock();
      const err = await rejectionOf(lock.run(42 as unknown as () => void));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toBe("Expected `fn` to be a function, got `42` (number)");
      expect(lock.locked()).toBe(false);
      expect(await rejectionOf(new Barrier(1).run(null as unknown as () => void))).toBeInstanceOf(TypeError);
    });
  });
});
