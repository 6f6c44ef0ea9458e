/**
 * Tasks: asyncio-semantics.md section 6 (items 76-102, cancellation is in cancellation.test.ts),
 * `sleep` (item 119), and the step ordering rules of issue 2 section 3.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  CancelledError,
  EventLoop,
  type Future,
  RuntimeError,
  Task,
  allTasks,
  asCompleted,
  createTask,
  currentTask,
  ensureFuture,
  gather,
  getRunningLoop,
  newEventLoop,
  run,
  shield,
  sleep,
  wait,
} from "multiloop";
import { captureExceptions, caught, onNewLoop, thrown } from "./helpers.js";

describe("tasks (semantics section 6)", () => {
  it("76: createTask needs a running loop; loop.createTask works on a loop that is not running; a non-function is a TypeError", async () => {
    const err = thrown(() => createTask(async () => 1));
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe("no running event loop");

    const loop = newEventLoop();
    try {
      const task = loop.createTask(async () => "ran");
      expect(task.done()).toBe(false);
      expect(await loop.runUntilComplete(task)).toBe("ran");
    } finally {
      loop.close();
    }

    await run(async () => {
      const bad = thrown(() => createTask(123 as never));
      expect(bad).toBeInstanceOf(TypeError);
      expect((bad as Error).message).toMatch(/`coro`.*`123`/u);
    });
  });

  it("77: creating a task schedules its first step with callSoon; the body does not run before; cancelled before it, the body never runs", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      loop.callSoon(() => order.push("queued before"));
      const task = createTask(async () => {
        order.push("body");
      });
      loop.callSoon(() => order.push("queued after"));
      expect(order).toEqual([]);
      await task;
      expect(order).toEqual(["queued before", "body", "queued after"]);

      let ran = false;
      const early = createTask(async () => {
        ran = true;
      });
      expect(early.cancel("too soon")).toBe(true);
      const err = await caught(early);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("too soon");
      expect(early.cancelled()).toBe(true);
      expect(ran).toBe(false);
    });
  });

  it("78: names default to Task-<n> from a per-thread counter; name is converted with String(); setName/getName", async () => {
    await run(async () => {
      const a = createTask(async () => {});
      const b = createTask(async () => {});
      const na = /^Task-(\d+)$/u.exec(a.getName());
      const nb = /^Task-(\d+)$/u.exec(b.getName());
      expect(na).not.toBeNull();
      expect(Number(nb?.[1])).toBe(Number(na?.[1]) + 1);
      const named = createTask(async () => {}, { name: 123 as unknown as string });
      expect(named.getName()).toBe("123");
      named.setName("renamed");
      expect(named.getName()).toBe("renamed");
      named.setName(7 as unknown as string);
      expect(named.getName()).toBe("7");
      await gather(a, b, named);
    });
  });

  it("80: currentTask() is the task whose step runs, null in plain callbacks, and throws outside a loop", async () => {
    const outside = thrown(() => currentTask());
    expect(outside).toBeInstanceOf(RuntimeError);
    expect((outside as Error).message).toBe("no running event loop");

    await run(async () => {
      const loop = getRunningLoop();
      const main = currentTask();
      expect(main).toBeInstanceOf(Task);
      expect(currentTask(loop)).toBe(main);
      const seen: Array<Task | null> = [];
      loop.callSoon(() => seen.push(currentTask()));
      const a = createTask(async () => {
        seen.push(currentTask());
        await sleep(0);
        seen.push(currentTask());
        await Promise.resolve();
        await new Promise<void>((resolve) => setImmediate(resolve));
        seen.push(currentTask()); // after awaits the loop cannot see
      });
      const b = createTask(async () => {
        seen.push(currentTask());
        await sleep(0);
        seen.push(currentTask());
      });
      await gather(a, b);
      expect(seen).toEqual([null, a, b, a, b, a]);
      expect(currentTask()).toBe(main);
      const other = newEventLoop();
      try {
        expect(currentTask(other)).toBeNull();
      } finally {
        other.close();
      }
    });
  });

  it("81: allTasks() is the set of the loop's tasks that are not done", async () => {
    await run(async () => {
      const main = currentTask() as Task;
      const gate = getRunningLoop().createFuture<void>();
      const waiting = createTask(async () => gate);
      const quick = createTask(async () => 1);
      expect(allTasks()).toEqual(new Set([main, waiting, quick]));
      await quick;
      expect(allTasks()).toEqual(new Set([main, waiting]));
      gate.setResult();
      await waiting;
      expect(allTasks()).toEqual(new Set([main]));
    });

    const loop = newEventLoop();
    try {
      const t = loop.createTask(async () => 1);
      expect(allTasks(loop)).toEqual(new Set([t]));
      await loop.runUntilComplete(t);
      expect(allTasks(loop).size).toBe(0);
    } finally {
      loop.close();
    }
  });

  it("83: Task.setResult and Task.setException throw RuntimeError", async () => {
    await run(async () => {
      const task = createTask(async () => 1);
      const asFuture: Future<number> = task;
      const r = thrown(() => asFuture.setResult(2));
      expect(r).toBeInstanceOf(RuntimeError);
      expect((r as Error).message).toBe("Task does not support setResult operation");
      const e = thrown(() => asFuture.setException(new Error("x")));
      expect(e).toBeInstanceOf(RuntimeError);
      expect((e as Error).message).toBe("Task does not support setException operation");
      expect(await task).toBe(1);
    });
  });

  it("84: a task awaiting itself gets RuntimeError('Task cannot await on itself: <Task ...>') at that await", async () => {
    await run(async () => {
      const holder: { task: Task<string> | null } = { task: null };
      const task = createTask(async () => {
        await sleep(0);
        try {
          await (holder.task as Task<string>);
          return "no error";
        } catch (err) {
          return `${(err as Error).constructor.name}: ${(err as Error).message}`;
        }
      });
      holder.task = task;
      expect(await task).toMatch(/^RuntimeError: Task cannot await on itself: <Task pending name='Task-\d+'/u);
    });
  });

  it("85: ensureFuture returns a future as is, starts a function as a task, wraps a promise, and refuses anything else", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<number>();
      expect(ensureFuture(fut)).toBe(fut);
      const task = createTask(async () => 1);
      expect(ensureFuture(task)).toBe(task);
      const fromFn = ensureFuture(async () => "fn");
      expect(fromFn).toBeInstanceOf(Task);
      const fromPromise = ensureFuture(Promise.resolve("promise"));
      expect(fromPromise).toBeInstanceOf(Task);
      const fromThenable = ensureFuture({
        then(onFulfilled: (v: string) => void) {
          onFulfilled("thenable");
        },
      } as PromiseLike<string>);
      expect(await gather(task, fromFn, fromPromise, fromThenable)).toEqual([1, "fn", "promise", "thenable"]);

      for (const bad of [1, "x", null, undefined, {}]) {
        const err = thrown(() => ensureFuture(bad as never));
        expect(err).toBeInstanceOf(TypeError);
        expect((err as Error).message).toMatch(/`aw`/u);
      }
      const other = newEventLoop();
      const reports = captureExceptions(other);
      try {
        expect(() => ensureFuture(fut, { loop: other })).toThrow(RangeError);
        const onOther = ensureFuture(async () => 1, { loop: other });
        expect(onOther.getLoop()).toBe(other);
        onOther.cancel();
      } finally {
        other.close();
      }
      expect(reports.map((c) => c.message)).toEqual(["Task was destroyed but it is pending!"]);
      fut.cancel();
    });
  });

  it("94: an error escaping the coroutine is stored; awaiting the task rethrows the same object", async () => {
    await run(async () => {
      const boom = new TypeError("boom");
      const task = createTask(async () => {
        await sleep(0);
        throw boom;
      });
      expect(await caught(task)).toBe(boom);
      expect(task.done()).toBe(true);
      expect(task.cancelled()).toBe(false);
      expect(task.exception()).toBe(boom);
      expect(thrown(() => task.result())).toBe(boom);
      // A non-Error thrown value is kept as is too.
      const odd = createTask(async () => {
        throw 42; // eslint-disable-line @typescript-eslint/only-throw-error
      });
      expect(await caught(odd)).toBe(42);
    });
  });

  it("96: a task resumes through a done callback of the awaited future, after callbacks registered before its await", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const fut = loop.createFuture<void>();
      fut.addDoneCallback(() => order.push("cb-before-await"));
      const awaiter = createTask(async () => {
        await fut;
        order.push("awaiter resumed");
      });
      await sleep(0); // the awaiter is suspended on fut now
      fut.addDoneCallback(() => order.push("cb-after-await"));
      fut.setResult();
      await awaiter;
      expect(order).toEqual(["cb-before-await", "awaiter resumed", "cb-after-await"]);
    });
  });

  it("97: sleep(0) yields exactly one iteration; two tasks alternate a1,b1,a2,b2", async () => {
    await run(async () => {
      const order: string[] = [];
      const worker = (name: string) => async () => {
        for (let i = 1; i <= 3; i++) {
          order.push(`${name}${i}`);
          await sleep(0);
        }
      };
      await gather(createTask(worker("a")), createTask(worker("b")));
      expect(order).toEqual(["a1", "b1", "a2", "b2", "a3", "b3"]);

      // Exactly one iteration: a callback queued before the sleep runs, one queued by it does not.
      const loop = getRunningLoop();
      const seen: string[] = [];
      loop.callSoon(() => {
        seen.push("first");
        loop.callSoon(() => seen.push("second"));
      });
      await sleep(0);
      expect(seen).toEqual(["first"]);
      await sleep(0);
      expect(seen).toEqual(["first", "second"]);
    });
  });

  it("99: a task still pending when its loop closes is reported; tasks made by runUntilComplete or gather are not", async () => {
    const loop = newEventLoop();
    const seen = captureExceptions(loop);
    const never = loop.createFuture<void>();
    let pending: Task<void> | null = null;
    let internalGather: Future<unknown[]> | null = null;
    const blocker = loop.createFuture<void>();
    await loop.runUntilComplete(async () => {
      pending = createTask(async () => {
        await never;
      });
      internalGather = gather(async () => {
        await never;
      });
      await sleep(0);
    });
    // A runUntilComplete whose own task is left pending when the loop is stopped.
    loop.callSoon(() => loop.stop());
    await expect(loop.runUntilComplete(async () => blocker)).rejects.toThrow("Event loop stopped before Future completed.");
    loop.close();
    const destroyed = seen.filter((c) => c.message === "Task was destroyed but it is pending!");
    expect(destroyed.map((c) => c.task)).toEqual([pending]);
    expect(internalGather).not.toBeNull();
  });

  it("100: a task's done callbacks run FIFO, like a future's", async () => {
    await run(async () => {
      const order: number[] = [];
      const task = createTask(async () => "x");
      for (let i = 0; i < 5; i++) task.addDoneCallback(() => order.push(i));
      await task;
      await sleep(0);
      expect(order).toEqual([0, 1, 2, 3, 4]);
    });
  });

  it("101: getCoro() gives the function; repr shows state, name, coro and what the task waits for", async () => {
    await run(async () => {
      const gate = getRunningLoop().createFuture<void>();
      async function forever(): Promise<void> {
        await gate;
      }
      const task = createTask(forever, { name: "worker" });
      expect(task.getCoro()).toBe(forever);
      expect(String(task)).toBe("<Task pending name='worker' coro=<forever()>>");
      await sleep(0);
      expect(String(task)).toBe("<Task pending name='worker' coro=<forever()> wait_for=<Future pending cb=[Task.task_wakeup()]>>");
      task.cancel();
      // asyncio 3.11+: the state reads "cancelling" while the request is pending.
      expect(String(task)).toMatch(/^<Task cancelling name='worker' coro=<forever\(\)>/u);
      await caught(task);
      expect(String(task)).toBe("<Task cancelled name='worker' coro=<forever()>>");
      const done = createTask(async function answer() {
        return 42;
      }, { name: "a" });
      await done;
      expect(String(done)).toBe("<Task finished name='a' coro=<answer()> result=42>");
    });
  });

  it("119: sleep(ms, result) returns result; sleep(<=0) yields one iteration; NaN is a RangeError; cancelling the sleep cancels its timer", async () => {
    await run(async () => {
      expect(await sleep(1, "value")).toBe("value");
      expect(await sleep(0, "zero")).toBe("zero");
      expect(await sleep(-5, "negative")).toBe("negative");
      expect(await sleep(0)).toBeUndefined();
      expectTypeOf(sleep(1, "x")).toEqualTypeOf<Future<string>>();

      const nan = thrown(() => sleep(Number.NaN));
      expect(nan).toBeInstanceOf(RangeError);
      expect((nan as Error).message).toMatch(/`ms`/u);
      expect(() => sleep("1" as never)).toThrow(TypeError);

      // The timer handle goes away with the sleep: the loop is left with nothing to wait for.
      const long = sleep(1_000_000);
      const sleeper = createTask(async () => long);
      await sleep(0);
      sleeper.cancel();
      expect(await caught(sleeper)).toBeInstanceOf(CancelledError);
      expect(long.cancelled()).toBe(true);
    });
    // Outside a loop, sleep has no loop to run on.
    expect(() => sleep(0)).toThrow("no running event loop");
  });

  it("119: a sleep(0) future handed to gather, wait, shield or asCompleted (not awaited directly) completes too", { timeout: 10_000 }, async () => {
    await run(async () => {
      expect(await gather(sleep(0, "g"), sleep(1, "h"))).toEqual(["g", "h"]);
      const s = sleep(0, "w");
      const [done] = await wait([s]);
      expect(done.has(s)).toBe(true);
      expect(await shield(sleep(0, "s"))).toBe("s");
      const got: string[] = [];
      for await (const f of asCompleted([sleep(0, "a")]) as AsyncIterable<unknown>) got.push((f as Future<string>).result());
      expect(got).toEqual(["a"]);
      const cbs: string[] = [];
      sleep(0, "cb").addDoneCallback((f) => cbs.push(f.result()));
      await sleep(0);
      await sleep(0);
      expect(cbs).toEqual(["cb"]);
    });
  });

  it("77 (no eager tasks, item 102 is not implemented): createTask never runs the body synchronously, even on a running loop", async () => {
    await run(async () => {
      let started = false;
      const task = createTask(async () => {
        started = true;
      });
      expect(started).toBe(false);
      await task;
      expect(started).toBe(true);
    });
  });

  it("bad input: createTask, ensureFuture, currentTask, allTasks, sleep and Task check their arguments", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      expect(() => createTask(async () => 1, 5 as never)).toThrow(/`options`/u);
      expect(() => createTask(async () => 1, { context: {} as never })).toThrow(/`options.context`/u);
      expect(() => new Task(undefined as never)).toThrow(/`coro`/u);
      expect(() => new Task(async () => 1, { loop: {} as never })).toThrow(/`options.loop`/u);
      expect(() => ensureFuture(async () => 1, 5 as never)).toThrow(/`options`/u);
      expect(() => ensureFuture(async () => 1, { loop: {} as never })).toThrow(/`options.loop`/u);
      expect(() => currentTask({} as never)).toThrow(/`loop`/u);
      expect(() => allTasks("loop" as never)).toThrow(/`loop`/u);
      expect(() => sleep(undefined as never)).toThrow(/`ms`/u);
      const task = createTask(async () => 1);
      expect(() => task.cancel({} as never)).toThrow(/`msg`/u);
      expect(await task).toBe(1);
      expect(loop).toBeInstanceOf(EventLoop);
    });
  });
});

describe("step ordering (issue 2 section 3)", () => {
  it("a task resumes in the ready-queue slot of its wake-up and its whole step runs before the next callback", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const fut = loop.createFuture<void>();
      const task = createTask(async () => {
        await fut;
        order.push("step: after fut");
        await Promise.resolve();
        order.push("step: after a plain microtask");
        await new Promise<void>((resolve) => {
          resolve();
        });
        order.push("step: still the same step");
        await sleep(0);
        order.push("next step");
      });
      await sleep(0);
      loop.callSoon(() => order.push("A (queued before the wake-up)"));
      fut.setResult();
      loop.callSoon(() => order.push("B (queued after the wake-up)"));
      await task;
      expect(order).toEqual([
        "A (queued before the wake-up)",
        "step: after fut",
        "step: after a plain microtask",
        "step: still the same step",
        "B (queued after the wake-up)",
        "next step",
      ]);
    });
  });

  it("callbacks scheduled by a task step run after callbacks that were already queued", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const task = createTask(async () => {
        loop.callSoon(() => order.push("scheduled by the step"));
        await sleep(0);
      });
      loop.callSoon(() => order.push("queued before the step"));
      await task;
      expect(order).toEqual(["queued before the step", "scheduled by the step"]);
    });
  });

  it("done callbacks are scheduled with callSoon in registration order, interleaved with task wake-ups", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const fut = loop.createFuture<void>();
      fut.addDoneCallback(() => order.push("cb1"));
      const t1 = createTask(async () => {
        await fut;
        order.push("t1");
      });
      await sleep(0);
      fut.addDoneCallback(() => order.push("cb2"));
      const t2 = createTask(async () => {
        await fut;
        order.push("t2");
      });
      await sleep(0);
      fut.addDoneCallback(() => order.push("cb3"));
      fut.setResult();
      await gather(t1, t2);
      expect(order).toEqual(["cb1", "t1", "cb2", "t2", "cb3"]);
    });
  });

  it("a task awaiting another task resumes after the awaited task's step has ended", async () => {
    await onNewLoop(async () => {
      const order: string[] = [];
      const inner = createTask(async () => {
        order.push("inner start");
        await sleep(0);
        order.push("inner end");
        return "r";
      });
      const outer = createTask(async () => {
        order.push("outer start");
        const r = await inner;
        order.push(`outer got ${r}`);
      });
      await outer;
      expect(order).toEqual(["inner start", "outer start", "inner end", "outer got r"]);
    });
  });

  it("fan-ins woken many times in one pass: each task resumes after its own last wake-up, before later callbacks", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const xs = Array.from({ length: 50 }, () => loop.createFuture<number>());
      const ys = Array.from({ length: 50 }, () => loop.createFuture<number>());
      const tx = createTask(async () => {
        const r = await Promise.all(xs);
        order.push(`x ${r.length}`);
        await sleep(0);
        order.push("x again");
      });
      const ty = createTask(async () => {
        const r = await Promise.all(ys);
        order.push(`y ${r.length}`);
      });
      await sleep(0);
      loop.callSoon(() => {
        xs.forEach((f, i) => f.setResult(i)); // 50 wake-ups of tx in a row
        loop.callSoon(() => order.push("between"));
        ys.forEach((f, i) => f.setResult(i)); // then 50 of ty
      });
      await gather(tx, ty);
      expect(order).toEqual(["x 50", "between", "y 50", "x again"]);
    });
  });

  it("await Promise.all over loop futures: the task resumes in the slot of the last wake-up", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const fa = loop.createFuture<string>();
      const fb = loop.createFuture<string>();
      const task = createTask(async () => {
        const [a, b] = await Promise.all([fa, fb]);
        order.push(`all: ${a}${b}`);
      });
      await sleep(0);
      fa.setResult("a");
      await sleep(0);
      fb.setResult("b");
      loop.callSoon(() => order.push("queued after the last wake-up"));
      await task;
      expect(order).toEqual(["all: ab", "queued after the last wake-up"]);
    });
  });

  it("a wake-up registered by a finished task's leftover code is a plain continuation, not an 'already done' report", async () => {
    await onNewLoop(async (loop) => {
      const seen = captureExceptions(loop);
      const fut = loop.createFuture<number>();
      let later: Promise<number> | null = null;
      const scheduled = new Promise<void>((resolve) => {
        const task = createTask(async () => {
          // Runs after the task has ended, still in its async context.
          setImmediate(() => {
            later = fut.then(
              (v) => v,
              (err: unknown) => {
                throw err;
              },
            );
            resolve();
          });
          return 1;
        });
        void task;
      });
      await scheduled;
      fut.setResult(5);
      expect(await (later as unknown as Promise<number>)).toBe(5);
      expect(seen).toEqual([]);
    });
  });
});
