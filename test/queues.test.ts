/**
 * Queues against asyncio's behaviour: items 153-159 of the semantics reference, one `it` each
 * (several are ports of CPython's Lib/test/test_asyncio/test_queues.py), then async iteration,
 * the priority order, large queues and argument checks. Real loop; `sleep(0)` sequences tasks.
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  LifoQueue,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  createTask,
  gather,
  run,
  sleep,
  TimeoutError,
  taskGroup,
  timeout,
  waitFor,
  type Task,
} from "multiloop";

async function spin(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await sleep(0);
}

async function rejectionOf(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

describe("maxsize (item 153)", () => {
  it("maxsize <= 0 is unbounded; a fractional maxsize is allowed; full() at qsize >= maxsize", async () => {
    await run(async () => {
      for (const maxsize of [0, -1, -5.5]) {
        const q = new Queue<number>({ maxsize });
        for (let i = 0; i < 1000; i++) await q.put(i);
        expect(q.full()).toBe(false);
        expect(q.maxsize).toBe(maxsize);
      }
      expect(new Queue().maxsize).toBe(0);

      const two = new Queue<number>({ maxsize: 2 });
      expect(two.full()).toBe(false);
      two.putNowait(1);
      expect(two.full()).toBe(false);
      two.putNowait(2);
      expect(two.full()).toBe(true);

      const q = new Queue<number>({ maxsize: 1.3 });
      q.putNowait(1);
      q.putNowait(2);
      expect(q.full()).toBe(true);
      expect(() => q.putNowait(3)).toThrow(QueueFull);
      expect(q.qsize()).toBe(2);
    });
  });
});

describe("nowait variants (item 154)", () => {
  it("putNowait on a full queue throws QueueFull, getNowait on an empty one QueueEmpty, both without a message", async () => {
    await run(async () => {
      const q = new Queue<number>({ maxsize: 1 });
      const empty = thrownBy(() => q.getNowait());
      expect(empty).toBeInstanceOf(QueueEmpty);
      expect((empty as Error).message).toBe("");
      expect((empty as QueueEmpty).code).toBe("ERR_LOOP_QUEUE_EMPTY");
      q.putNowait(1);
      const full = thrownBy(() => q.putNowait(2));
      expect(full).toBeInstanceOf(QueueFull);
      expect((full as Error).message).toBe("");
      expect((full as QueueFull).code).toBe("ERR_LOOP_QUEUE_FULL");
      expect(q.getNowait()).toBe(1);
      expect(q.empty()).toBe(true);
    });
  });
});

describe("blocking get and put (item 155)", () => {
  it("getters are served in FIFO order, each put waking the next one", async () => {
    await run(async () => {
      const q = new Queue<string>();
      const got: string[] = [];
      const getters = [0, 1, 2].map((n) =>
        createTask(async () => {
          got.push(`${n}:${await q.get()}`);
        }),
      );
      await sleep(0);
      expect(String(q)).toBe("<Queue maxsize=0 _getters[3]>");
      q.putNowait("a");
      await q.put("b");
      q.putNowait("c");
      await gather(...getters);
      expect(got).toEqual(["0:a", "1:b", "2:c"]);
    });
  });

  it("putters are served in FIFO order, each get waking the next one", async () => {
    await run(async () => {
      const q = new Queue<string>({ maxsize: 1 });
      await q.put("first");
      const putters = ["a", "b", "c"].map((item) => createTask(() => q.put(item)));
      await sleep(0);
      expect(String(q)).toBe("<Queue maxsize=1 _queue=[ 'first' ] _putters[3] tasks=1>");
      const got: string[] = [];
      for (let i = 0; i < 4; i++) got.push(await q.get());
      await gather(...putters);
      expect(got).toEqual(["first", "a", "b", "c"]);
    });
  });

  it("a cancelled getter is dropped and the next one gets the item (test_get_cancelled_race)", async () => {
    await run(async () => {
      const q = new Queue<string>();
      const t1 = createTask(() => q.get());
      const t2 = createTask(() => q.get());
      await sleep(0);
      t1.cancel();
      await sleep(0);
      expect(t1.done()).toBe(true);
      await q.put("a");
      await sleep(0);
      expect(await t2).toBe("a");
      expect(t1.cancelled()).toBe(true);
    });
  });

  it("a cancelled putter is dropped and puts nothing (test_put_cancelled_race)", async () => {
    await run(async () => {
      const q = new Queue<string>({ maxsize: 1 });
      const putA = createTask(() => q.put("a"));
      const putB = createTask(() => q.put("b"));
      const putC = createTask(() => q.put("X"));
      await sleep(0);
      expect(putA.done()).toBe(true);
      expect(putB.done()).toBe(false);
      putC.cancel();
      await sleep(0);
      expect(putC.done()).toBe(true);
      expect(q.getNowait()).toBe("a");
      await sleep(0);
      expect(q.getNowait()).toBe("b");
      await putB;
      expect(q.empty()).toBe(true);
    });
  });

  it("a getter woken by a put and cancelled before it ran passes the item to the next getter", async () => {
    await run(async () => {
      const q = new Queue<string>();
      const [g1, g2, g3] = [0, 1, 2].map(() => createTask(() => q.get())) as [Task<string>, Task<string>, Task<string>];
      await sleep(0);
      q.putNowait("x"); // wakes g1
      g1.cancel(); // g1's wake-up is already done: the cancel lands when it runs
      await spin(2);
      expect(g1.cancelled()).toBe(true);
      expect(g2.done() && g2.result()).toBe("x");
      expect(g3.done()).toBe(false);
      expect(String(q)).toBe("<Queue maxsize=0 _getters[1] tasks=1>");
      g3.cancel();
      await sleep(0);
      expect(String(q)).toBe("<Queue maxsize=0 tasks=1>");
    });
  });

  it("a putter woken by a get and cancelled before it ran passes the free slot to the next putter", async () => {
    await run(async () => {
      const q = new Queue<string>({ maxsize: 1 });
      q.putNowait("first");
      const [p1, p2] = ["a", "b"].map((item) => createTask(() => q.put(item))) as [Task<void>, Task<void>];
      await sleep(0);
      expect(q.getNowait()).toBe("first"); // wakes p1
      p1.cancel();
      await spin(2);
      expect(p1.cancelled()).toBe(true);
      expect(p2.done()).toBe(true);
      expect(q.getNowait()).toBe("b");
      expect(q.empty()).toBe(true);
    });
  });

  it("cancelled getters and putters are not kept in the waiter lists (test_cancelled_*_not_being_held)", async () => {
    await run(async () => {
      const q = new Queue<number>({ maxsize: 1 });
      const getter = createTask(() => q.get());
      await sleep(0);
      getter.cancel();
      expect(await rejectionOf(getter)).toBeInstanceOf(CancelledError);
      q.putNowait(1);
      const putter = createTask(() => q.put(2));
      await sleep(0);
      putter.cancel();
      expect(await rejectionOf(putter)).toBeInstanceOf(CancelledError);
      expect(String(q)).toBe("<Queue maxsize=1 _queue=[ 1 ] tasks=1>");
    });
  });

  it("a bounded producer/consumer pair never deadlocks (test_why_are_getters_waiting)", async () => {
    await run(async () => {
      const q = new Queue<number>({ maxsize: 1 });
      const got: number[] = [];
      await taskGroup(async (tg) => {
        tg.createTask(async () => {
          for (let i = 0; i < 50; i++) await q.put(i);
        });
        tg.createTask(async () => {
          for (let i = 0; i < 50; i++) got.push(await q.get());
        });
      });
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });
  });

  it("a woken putter does not reserve the slot: a task that runs first takes it (asyncio's rule)", async () => {
    await run(async () => {
      const q = new Queue<string>({ maxsize: 1 });
      q.putNowait("first");
      const slow = createTask(() => q.put("woken"));
      await sleep(0);
      q.getNowait(); // wakes `slow`
      q.putNowait("barged"); // the slot is free until `slow` runs
      await sleep(0);
      expect(slow.done()).toBe(false); // it found the queue full again and waits (at the back)
      expect(q.getNowait()).toBe("barged");
      await slow;
      expect(q.getNowait()).toBe("woken");
    });
  });
});

describe("deadlines", () => {
  it("a get() under waitFor() or timeout() that expires takes no item and leaves no getter behind", async () => {
    await run(async () => {
      const q = new Queue<string>();
      expect(await rejectionOf(waitFor(() => q.get(), 5))).toBeInstanceOf(TimeoutError);
      expect(await rejectionOf(timeout(5, () => q.get()))).toBeInstanceOf(TimeoutError);
      expect(String(q)).toBe("<Queue maxsize=0>");
      q.putNowait("kept");
      expect(await waitFor(() => q.get(), 1000)).toBe("kept");
    });
  });
});

describe("taskDone and join (item 156)", () => {
  it("taskDone() more often than items were put throws RangeError('task_done() called too many times')", async () => {
    await run(async () => {
      const q = new Queue<number>();
      expect(() => q.taskDone()).toThrow(new RangeError("task_done() called too many times"));
      q.putNowait(1);
      q.getNowait();
      q.taskDone();
      expect(() => q.taskDone()).toThrow("task_done() called too many times");
    });
  });

  it("join() waits until every put item is marked done by consumers (test_task_done)", async () => {
    await run(async () => {
      const q = new Queue<number>();
      for (let i = 0; i < 100; i++) q.putNowait(i);
      let accumulator = 0;
      let running = true;
      const worker = async (): Promise<void> => {
        while (running) {
          const item = await q.get();
          accumulator += item;
          q.taskDone();
        }
      };
      const workers = [createTask(worker), createTask(worker)];
      await q.join();
      expect(accumulator).toBe(4950);
      running = false;
      for (const w of workers) w.cancel();
      await gather(workers, { returnExceptions: true });
      expect(String(q)).toBe("<Queue maxsize=0>");
    });
  });

  it("join() returns at once when nothing is unfinished (test_join_empty_queue)", async () => {
    await run(async () => {
      const q = new Queue<number>();
      let ran = false;
      createTask(async () => {
        ran = true;
      });
      await q.join();
      expect(ran).toBe(false); // did not yield to the loop
      q.putNowait(1);
      const joiner = createTask(() => q.join());
      await sleep(0);
      expect(joiner.done()).toBe(false);
      q.getNowait();
      await sleep(0);
      expect(joiner.done()).toBe(false); // got, but not yet marked done
      q.taskDone();
      await sleep(0);
      expect(joiner.done()).toBe(true);
      await q.join();
    });
  });
});

describe("PriorityQueue and LifoQueue (item 157)", () => {
  it("PriorityQueue returns the lowest item first; equal items in insertion order", async () => {
    await run(async () => {
      const q = new PriorityQueue<number>();
      for (const n of [5, 1, 4, 1, 5, 9, 2, 6, 5, 3]) q.putNowait(n);
      const out: number[] = [];
      while (!q.empty()) out.push(await q.get());
      expect(out).toEqual([1, 1, 2, 3, 4, 5, 5, 5, 6, 9]);
      expect(q).toBeInstanceOf(Queue);

      const jobs = new PriorityQueue<[number, { name: string }]>();
      const names = ["a", "b", "c", "d", "e", "f"];
      names.forEach((name, i) => jobs.putNowait([i % 2, { name }]));
      const order: string[] = [];
      while (!jobs.empty()) order.push(jobs.getNowait()[1].name);
      expect(order).toEqual(["a", "c", "e", "b", "d", "f"]);
    });
  });

  it("LifoQueue is a stack", async () => {
    await run(async () => {
      const q = new LifoQueue<number>();
      for (const n of [1, 2, 3]) await q.put(n);
      expect([await q.get(), await q.get(), await q.get()]).toEqual([3, 2, 1]);
      expect(q).toBeInstanceOf(Queue);
      expect(String(q)).toBe("<LifoQueue maxsize=0 tasks=3>");
    });
  });
});

describe("shutdown (item 158, Python 3.13)", () => {
  it("on an empty queue: waiting getters and later calls throw QueueShutDown; join() returns (test_shutdown_empty)", async () => {
    await run(async () => {
      const q = new Queue<string>();
      const getTask = createTask(() => q.get());
      await sleep(0);
      q.shutdown(false);
      expect(q.qsize()).toBe(0);
      await q.join();
      await sleep(0);
      expect(getTask.done()).toBe(true);
      expect(await rejectionOf(getTask)).toBeInstanceOf(QueueShutDown);
      expect(await rejectionOf(q.put("data"))).toBeInstanceOf(QueueShutDown);
      expect(() => q.putNowait("data")).toThrow(QueueShutDown);
      expect(await rejectionOf(q.get())).toBeInstanceOf(QueueShutDown);
      expect(() => q.getNowait()).toThrow(QueueShutDown);
      expect(String(q)).toBe("<Queue maxsize=0 shutdown>");
    });
  });

  it("on a non-empty queue: putters are woken and throw, getters still get the items left (test_shutdown_nonempty)", async () => {
    await run(async () => {
      const q = new Queue<string>({ maxsize: 1 });
      q.putNowait("data");
      const joinTask = createTask(() => q.join());
      const putTask = createTask(() => q.put("data2"));
      await sleep(0);
      expect(putTask.done()).toBe(false);
      q.shutdown();
      expect(q.qsize()).toBe(1);
      await sleep(0);
      expect(putTask.done()).toBe(true);
      expect(await rejectionOf(putTask)).toBeInstanceOf(QueueShutDown);
      expect(await q.get()).toBe("data");
      await sleep(0);
      expect(joinTask.done()).toBe(false);
      expect(await rejectionOf(q.put("data"))).toBeInstanceOf(QueueShutDown);
      expect(() => q.putNowait("data")).toThrow(QueueShutDown);
      expect(await rejectionOf(q.get())).toBeInstanceOf(QueueShutDown);
      expect(() => q.getNowait()).toThrow(QueueShutDown);
      q.taskDone();
      await sleep(0);
      expect(joinTask.done()).toBe(true);
      await joinTask;
      expect(() => q.taskDone()).toThrow(RangeError);
    });
  });

  it("immediate: the items are dropped and counted done, so join() returns (test_shutdown_immediate)", async () => {
    await run(async () => {
      const q = new Queue<string>();
      q.putNowait("data");
      const joinTask = createTask(() => q.join());
      q.shutdown(true);
      expect(q.qsize()).toBe(0);
      await sleep(0);
      expect(joinTask.done()).toBe(true);
      await joinTask;
      expect(await rejectionOf(q.put("data"))).toBeInstanceOf(QueueShutDown);
      expect(() => q.putNowait("data")).toThrow(QueueShutDown);
      expect(await rejectionOf(q.get())).toBeInstanceOf(QueueShutDown);
      expect(() => q.getNowait()).toThrow(QueueShutDown);
      expect(() => q.taskDone()).toThrow(RangeError);
    });
  });

  it("immediate with items already taken: those stay unfinished until taskDone (test_shutdown_immediate_with_unfinished)", async () => {
    await run(async () => {
      const q = new Queue<string>();
      q.putNowait("data");
      q.putNowait("data");
      const joinTask = createTask(() => q.join());
      expect(await q.get()).toBe("data");
      q.shutdown(true);
      expect(q.qsize()).toBe(0);
      await sleep(0);
      expect(joinTask.done()).toBe(false);
      expect(await rejectionOf(q.get())).toBeInstanceOf(QueueShutDown);
      q.taskDone();
      expect(() => q.taskDone()).toThrow(RangeError);
      await sleep(0);
      expect(joinTask.done()).toBe(true);
      await joinTask;
    });
  });

  it("wakes every waiting putter and getter, which then throw QueueShutDown", async () => {
    await run(async () => {
      const full = new Queue<number>({ maxsize: 1 });
      full.putNowait(0);
      const putters = [1, 2, 3].map((n) => createTask(() => full.put(n)));
      const empty = new Queue<number>();
      const getters = [1, 2, 3].map(() => createTask(() => empty.get()));
      await sleep(0);
      full.shutdown();
      empty.shutdown(true);
      const outcomes = await gather([...putters, ...getters], { returnExceptions: true });
      for (const o of outcomes) expect(o).toBeInstanceOf(QueueShutDown);
      expect(String(full)).toBe("<Queue maxsize=1 _queue=[ 0 ] tasks=1 shutdown>");
      expect(() => full.shutdown("yes" as unknown as boolean)).toThrow(TypeError);
    });
  });
});

describe("qsize and repr (item 159)", () => {
  it("qsize() is exact and String(queue) shows maxsize, _queue, _getters[n], _putters[n], tasks=n, shutdown", async () => {
    await run(async () => {
      const q = new Queue<number>({ maxsize: 2 });
      expect(String(q)).toBe("<Queue maxsize=2>");
      const getter = createTask(() => q.get());
      await sleep(0);
      expect(String(q)).toBe("<Queue maxsize=2 _getters[1]>");
      q.putNowait(1);
      await sleep(0);
      expect(await getter).toBe(1);
      q.putNowait(2);
      q.putNowait(3);
      expect(q.qsize()).toBe(2);
      const putter = createTask(() => q.put(4));
      await sleep(0);
      expect(String(q)).toBe("<Queue maxsize=2 _queue=[ 2, 3 ] _putters[1] tasks=3>");
      q.shutdown(true);
      await rejectionOf(putter);
      expect(String(q)).toBe("<Queue maxsize=2 tasks=1 shutdown>");
      expect(String(new PriorityQueue())).toBe("<PriorityQueue maxsize=0>");
    });
  });
});

describe("async iteration", () => {
  it("`for await` gets items until the queue is shut down and empty; items left after shutdown() are still delivered", async () => {
    await run(async () => {
      const q = new Queue<number>();
      const seen: number[] = [];
      const consumer = createTask(async () => {
        for await (const item of q) {
          seen.push(item);
          q.taskDone();
        }
        return "ended";
      });
      for (let i = 0; i < 5; i++) await q.put(i);
      await q.join();
      q.putNowait(5);
      q.putNowait(6);
      q.shutdown();
      expect(await consumer).toBe("ended");
      expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6]);
    });
  });

  it("shutdown(true) ends the iteration at once; break leaves the queue usable; cancellation reaches a waiting iteration", async () => {
    await run(async () => {
      const q = new Queue<number>();
      for (let i = 0; i < 5; i++) q.putNowait(i);
      const firstTwo: number[] = [];
      for await (const item of q) {
        firstTwo.push(item);
        if (firstTwo.length === 2) break;
      }
      expect(firstTwo).toEqual([0, 1]);
      expect(q.qsize()).toBe(3);

      const seen: number[] = [];
      const consumer = createTask(async () => {
        for await (const item of q) {
          seen.push(item);
          if (item === 2) q.shutdown(true);
        }
      });
      await consumer;
      expect(seen).toEqual([2]);

      const idle = new Queue<number>();
      const waiting = createTask(async () => {
        for await (const _ of idle) {
          // nothing arrives
        }
      });
      await sleep(0);
      waiting.cancel();
      expect(await rejectionOf(waiting)).toBeInstanceOf(CancelledError);
      expect(String(idle)).toBe("<Queue maxsize=0>");
    });
  });
});

describe("priority order", () => {
  it("compares numbers, strings, arrays (like tuples), Dates, bigints; a prefix sorts first", () => {
    const q = new PriorityQueue<unknown[]>();
    const items = [[2, "b"], [1, "z"], [2, "a"], [1], [1, "z", 0], [-Infinity], [2, "a", 1]];
    for (const item of items) q.putNowait(item);
    const out: unknown[] = [];
    while (!q.empty()) out.push(q.getNowait());
    expect(out).toEqual([[-Infinity], [1], [1, "z"], [1, "z", 0], [2, "a"], [2, "a", 1], [2, "b"]]);

    const dates = new PriorityQueue<Date>();
    const d = [new Date(3000), new Date(1000), new Date(2000)];
    for (const x of d) dates.putNowait(x);
    expect([dates.getNowait(), dates.getNowait(), dates.getNowait()]).toEqual([d[1], d[2], d[0]]);

    const mixed = new PriorityQueue<number | bigint>();
    for (const x of [3n, 1, 2n, Number.NaN, 0]) mixed.putNowait(x);
    const mout: Array<number | bigint> = [];
    while (!mixed.empty()) mout.push(mixed.getNowait());
    expect(mout).toEqual([0, 1, 2n, 3n, Number.NaN]);
  });

  it("two kinds with no common order throw TypeError, and the queue is left as it was", () => {
    const q = new PriorityQueue<unknown>();
    q.putNowait(1);
    q.putNowait(2);
    const err = thrownBy(() => q.putNowait("3"));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/^PriorityQueue cannot order /);
    expect(q.qsize()).toBe(2);
    expect(q.getNowait()).toBe(1);
    expect(q.getNowait()).toBe(2);
  });

  it("a comparison that throws during get() leaves the item in the queue; put() and get() reject", async () => {
    await run(async () => {
      let strict = false;
      const q = new PriorityQueue<number>({
        compare: (a, b) => {
          if (strict) throw new Error("no comparisons now");
          return a - b;
        },
      });
      for (const n of [4, 2, 3, 1]) await q.put(n);
      strict = true;
      expect(((await rejectionOf(q.get())) as Error).message).toBe("no comparisons now");
      expect(((await rejectionOf(q.put(0))) as Error).message).toBe("no comparisons now");
      expect(q.qsize()).toBe(4);
      strict = false;
      const out: number[] = [];
      while (!q.empty()) out.push(q.getNowait());
      expect(out).toEqual([1, 2, 3, 4]);
    });
  });

  it("a custom compare orders items; items it calls equal keep their insertion order", () => {
    const q = new PriorityQueue<{ deadline: number; id: number }>({ compare: (a, b) => b.deadline - a.deadline });
    const items = Array.from({ length: 200 }, (_, id) => ({ deadline: id % 7, id }));
    for (const item of items) q.putNowait(item);
    const out: Array<{ deadline: number; id: number }> = [];
    while (!q.empty()) out.push(q.getNowait());
    const expected = [...items].sort((a, b) => b.deadline - a.deadline || a.id - b.id);
    expect(out).toEqual(expected);
  });
});

describe("large queues", () => {
  it("keeps FIFO order through growth and shrinking of its ring buffer", async () => {
    await run(async () => {
      const q = new Queue<number>();
      let next = 0;
      let expected = 0;
      // Waves of different sizes: the ring grows past 100k slots and shrinks back.
      for (const [puts, gets] of [
        [100_000, 60_000],
        [5, 40_000],
        [70_000, 70_003],
        [17, 19],
      ] as const) {
        for (let i = 0; i < puts; i++) q.putNowait(next++);
        for (let i = 0; i < gets; i++) {
          const item = await q.get();
          if (item !== expected) throw new Error(`expected ${expected}, got ${item}`);
          expected++;
        }
      }
      expect(q.empty()).toBe(true);
      expect(expected).toBe(next);
    });
  });
});

describe("argument checks", () => {
  it("bad options throw TypeError with the package's message template", () => {
    expect(() => new Queue({ maxsize: "3" as unknown as number })).toThrow(
      "Expected `options.maxsize` to be a number (0 or less for unbounded), got `\"3\"` (string)",
    );
    expect(() => new Queue({ maxsize: Number.NaN })).toThrow(TypeError);
    expect(() => new Queue(null as unknown as object)).toThrow(TypeError);
    expect(() => new LifoQueue(7 as unknown as object)).toThrow(TypeError);
    expect(() => new PriorityQueue({ compare: "desc" as unknown as () => number })).toThrow(TypeError);
  });
});

describe("errors reach waiters only once and nothing hangs", () => {
  it("every kind of waiter settles when its queue is shut down", async () => {
    await run(async () => {
      for (const q of [new Queue<number>({ maxsize: 1 }), new LifoQueue<number>({ maxsize: 1 }), new PriorityQueue<number>({ maxsize: 1 })]) {
        const getters = [0, 1].map(() => createTask(() => q.get()));
        await sleep(0);
        q.putNowait(7);
        await sleep(0);
        q.putNowait(8);
        await sleep(0);
        q.putNowait(0);
        const putters = [9, 10].map((n) => createTask(() => q.put(n)));
        const joiner = createTask(() => q.join());
        await sleep(0);
        expect(String(q)).toMatch(/ _putters\[2\] tasks=3>$/);
        q.shutdown(true);
        const outcomes = await gather([...getters, ...putters], { returnExceptions: true });
        expect(outcomes.slice(0, 2).sort()).toEqual([7, 8]);
        expect(outcomes.slice(2).every((o) => o instanceof QueueShutDown)).toBe(true);
        q.taskDone();
        q.taskDone();
        await joiner;
      }
    });
  });
});
