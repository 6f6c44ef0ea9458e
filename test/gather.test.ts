/**
 * gather: asyncio-semantics.md items 103-110, both call forms, and the tuple typing.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  CancelledError,
  Future,
  Task,
  asCompleted,
  createTask,
  currentTask,
  gather,
  getRunningLoop,
  newEventLoop,
  run,
  sleep,
  wait,
} from "multiloop";
import { captureExceptions, caught, thrown } from "./helpers.js";

/** A task that finishes with `value` once `gate` is set. Cancelling the task cancels `gate`. */
function after<T>(gate: Future<void>, value: T): Task<T> {
  return createTask(async () => {
    await gate;
    return value;
  });
}

/** A task that waits until it is cancelled, each on its own future. */
function forever(): Task<void> {
  const fut = getRunningLoop().createFuture<void>();
  return createTask(async () => fut);
}

describe("gather (semantics items 103-110)", () => {
  it("103: results come in argument order, not completion order", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const gates = [loop.createFuture<void>(), loop.createFuture<void>(), loop.createFuture<void>()];
      const [g0, g1, g2] = gates as [Future<void>, Future<void>, Future<void>];
      const outer = gather(after(g0, "a"), after(g1, "b"), after(g2, "c"));
      await sleep(0);
      g2.setResult();
      await sleep(0);
      g0.setResult();
      await sleep(0);
      g1.setResult();
      expect(await outer).toEqual(["a", "b", "c"]);
      expect(await gather([after(g2, 1), after(g0, 2)])).toEqual([1, 2]);
    });
  });

  it("104: gather() with no awaitables is an already completed future with result []", async () => {
    await run(async () => {
      const empty = gather();
      expect(empty).toBeInstanceOf(Future);
      expect(empty.done()).toBe(true);
      expect(empty.result()).toEqual([]);
      expect(empty.getLoop()).toBe(getRunningLoop());
      const emptyList = gather([], { returnExceptions: true });
      expect(emptyList.done()).toBe(true);
      expect(await emptyList).toEqual([]);
    });
  });

  it("105: without returnExceptions the first error fails the outer future at once; the other children keep running", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const gate = loop.createFuture<void>();
      const boom = new Error("boom");
      const slow = after(gate, "slow");
      const failing = createTask(async () => {
        throw boom;
      });
      const outer = gather(slow, failing);
      expect(await caught(outer)).toBe(boom);
      expect(outer.done()).toBe(true);
      expect(slow.done()).toBe(false);
      expect(slow.cancelling()).toBe(0);
      gate.setResult();
      expect(await slow).toBe("slow");
    });
  });

  it("106: with returnExceptions errors take their place in the list; a cancelled child shows as CancelledError with its message", async () => {
    await run(async () => {
      const boom = new Error("boom");
      const failing = createTask(async () => {
        throw boom;
      });
      const cancelledWithMsg = forever();
      const cancelledNoMsg = forever();
      const outer = gather([createTask(async () => "ok"), failing, cancelledWithMsg, cancelledNoMsg], {
        returnExceptions: true,
      });
      await sleep(0);
      cancelledWithMsg.cancel("why");
      cancelledNoMsg.cancel();
      const results = await outer;
      expect(results[0]).toBe("ok");
      expect(results[1]).toBe(boom);
      expect(results[2]).toBeInstanceOf(CancelledError);
      expect((results[2] as Error).message).toBe("why");
      expect(results[3]).toBeInstanceOf(CancelledError);
      expect((results[3] as Error).message).toBe("");
      expect(outer.cancelled()).toBe(false);
    });
  });

  it("107: without returnExceptions a cancelled child sets CancelledError on the outer future as an error; the outer is not cancelled()", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const gate = loop.createFuture<void>();
      const child = forever();
      const other = after(gate, 2);
      const outer = gather(child, other);
      await sleep(0);
      child.cancel("child cancelled");
      const err = await caught(outer);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("child cancelled");
      expect(outer.cancelled()).toBe(false);
      expect(outer.exception()).toBe(err);
      gate.setResult();
      expect(await other).toBe(2);
    });
  });

  it("108: cancelling the outer future cancels every child not done and returns true; the outer then raises CancelledError even with returnExceptions", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const done = createTask(async () => "done");
      await done;
      const a = forever();
      const b = forever();
      const outer = gather([done, a, b], { returnExceptions: true });
      await sleep(0);
      expect(outer.cancel("stop")).toBe(true);
      expect(a.cancelling()).toBe(1);
      const err = await caught(outer);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("stop");
      expect([a.cancelled(), b.cancelled()]).toEqual([true, true]);
      expect(outer.cancel()).toBe(false);

      // A child that swallows the cancel: the outer still raises CancelledError (cancellation broadcast).
      const stubborn = createTask(async () => {
        try {
          await sleep(1_000_000);
        } catch {
          return "swallowed";
        }
        return "slept";
      });
      const outer2 = gather([stubborn], { returnExceptions: true });
      await sleep(0);
      expect(outer2.cancel()).toBe(true);
      expect(await caught(outer2)).toBeInstanceOf(CancelledError);
      expect(await stubborn).toBe("swallowed");

      // Nothing left to cancel: returns false and the gather goes on.
      const fin = createTask(async () => 1);
      await fin;
      const gate2 = loop.createFuture<number>();
      gate2.setResult(2);
      const outer3 = gather(fin, gate2);
      expect(outer3.cancel()).toBe(false);
      expect(await outer3).toEqual([1, 2]);

      // Cancelling the task that awaits a gather cancels the children.
      const c1 = forever();
      const waiter = createTask(async () => gather(c1));
      await sleep(0);
      waiter.cancel("from the parent");
      const werr = await caught(waiter);
      expect((werr as Error).message).toBe("from the parent");
      expect(c1.cancelled()).toBe(true);
      expect(waiter.cancelled()).toBe(true);
    });
  });

  it("109: an awaitable passed twice is wrapped once and its result appears twice", async () => {
    await run(async () => {
      let runs = 0;
      const task = createTask(async () => {
        runs++;
        return "t";
      });
      const promise = Promise.resolve("p");
      const outer = gather(task, promise, task, promise);
      expect(await outer).toEqual(["t", "p", "t", "p"]);
      expect(runs).toBe(1);
      // A function is a coroutine *function*: each occurrence starts its own task.
      let calls = 0;
      const fn = async (): Promise<number> => ++calls;
      expect(await gather(fn, fn)).toEqual([1, 2]);
    });
  });

  it("110: once the outer future is done, errors of later children are marked retrieved and not reported", async () => {
    const loop = newEventLoop();
    loop.setDebug(true);
    const seen = captureExceptions(loop);
    const kept: unknown[] = [];
    await loop.runUntilComplete(async () => {
      const gate = loop.createFuture<void>();
      const first = createTask(async () => {
        throw new Error("first");
      });
      const second = createTask(async () => {
        await gate;
        throw new Error("second");
      });
      const outer = gather(first, second);
      expect(((await caught(outer)) as Error).message).toBe("first");
      gate.setResult();
      await sleep(0);
      await sleep(0);
      expect(second.done()).toBe(true);
      kept.push(first, second, outer);
    });
    loop.close();
    expect(seen.filter((c) => c.message.includes("never retrieved"))).toEqual([]);
    expect(kept).toHaveLength(3);
  });

  it("the list form takes any iterable and starts functions as tasks in the current context", async () => {
    await run(async () => {
      function* gen(): Generator<() => Promise<number>> {
        yield async () => 1;
        yield async () => 2;
      }
      expect(await gather(gen())).toEqual([1, 2]);
      const main = currentTask();
      // Boxed: an async function returning a task would adopt it (await itself).
      const [who] = await gather(async () => ({ task: currentTask() }));
      expect(who.task).toBeInstanceOf(Task);
      expect(who.task).not.toBe(main);
    });
  });

  it("typing: gather(...) is a future of the tuple of the inputs' results", () => {
    // Type-level only: the functions are never called.
    const typed = (): void => {
      const spread = gather(sleep(0, 1), Promise.resolve("s"), async () => true, createTask(async () => 1n));
      expectTypeOf(spread).toEqualTypeOf<Future<[number, string, boolean, bigint]>>();
      const list = gather([sleep(0, 1), async () => "x"] as const);
      expectTypeOf(list).toEqualTypeOf<Future<[number, string]>>();
      const arrayInput: Task<number>[] = [];
      expectTypeOf(gather(arrayInput)).toEqualTypeOf<Future<number[]>>();
      const withErrors = gather(arrayInput, { returnExceptions: true });
      expectTypeOf(withErrors).toEqualTypeOf<Future<Array<number | Error>>>();
      const tupleWithErrors = gather([sleep(0, 1), async () => "x"], { returnExceptions: true });
      expectTypeOf(tupleWithErrors).toEqualTypeOf<Future<[number | Error, string | Error]>>();
      const mixed = new Set<Task<number> | Task<string>>();
      expectTypeOf(gather(mixed)).toEqualTypeOf<Future<Array<number | string>>>();
      const flag: boolean = Math.random() > 2;
      expectTypeOf(gather(mixed, { returnExceptions: flag })).toEqualTypeOf<Future<Array<number | string | Error>>>();
      expectTypeOf(gather()).toEqualTypeOf<Future<[]>>();
    };
    expect(typeof typed).toBe("function");
  });

  it("bad input: gather names the awaitable or the option that is wrong", async () => {
    await run(async () => {
      const nonAwaitable = thrown(() => gather(1 as never));
      expect(nonAwaitable).toBeInstanceOf(TypeError);
      expect((nonAwaitable as Error).message).toMatch(/`aws\[0\]`/u);
      const inList = thrown(() => gather([Promise.resolve(1), "x"] as never));
      expect((inList as Error).message).toMatch(/`aws\[1\]`/u);
      const option = thrown(() => gather([Promise.resolve(1)], { returnExceptions: "yes" } as never));
      expect(option).toBeInstanceOf(TypeError);
      expect((option as Error).message).toMatch(/`options.returnExceptions`/u);
      const gate = getRunningLoop().createFuture<void>();
      const outer = gather(gate);
      expect(() => outer.cancel(5 as never)).toThrow(/`msg`/u);
      expect(outer.done()).toBe(false);
      gate.setResult();
      await outer;
    });
  });

  it("a list is checked as it is read: 2^32 - 1 holes fail at the first, not after a copy of them all (gather, wait, asCompleted)", async () => {
    // Found by the hostile-arguments suite: gather(hugeSparseArray, {}) is the list form, and
    // copying the list before checking it ran the test process out of memory.
    const holes = (): unknown[] => new Array<unknown>(2 ** 32 - 1);
    await run(async () => {
      for (const err of [thrown(() => gather(holes() as never, {})), thrown(() => asCompleted(holes() as never)), await caught(wait(holes() as never))]) {
        expect(err).toBeInstanceOf(TypeError);
        expect((err as Error).message).toMatch(/`aws\[0\]`/u);
      }
      // A bad item after good ones starts nothing: no task was made for the first.
      let started = 0;
      const start = async (): Promise<number> => ++started;
      expect((thrown(() => gather([start, 7] as never, {})) as Error).message).toMatch(/`aws\[1\]`/u);
      await sleep(0);
      expect(started).toBe(0);
    });
  });
});

describe("gather: a child failing with null (throw null, Promise.reject(null))", () => {
  it("fails the gather with null, or puts null in the list with returnExceptions", { timeout: 10_000 }, async () => {
    await run(async () => {
      const throwsNull = (): Task<never> =>
        createTask(async () => {
          await sleep(0);
          throw null; // eslint-disable-line @typescript-eslint/only-throw-error
        });
      expect(await caught(gather(throwsNull(), sleep(1, "x")))).toBeNull();
      expect(await gather([throwsNull(), sleep(0, "x")], { returnExceptions: true })).toEqual([null, "x"]);
    });
  });
});
