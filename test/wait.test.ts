/**
 * wait and waitFor: asyncio-semantics.md items 111-116.
 */
import { describe, expect, it } from "vitest";
import {
  ALL_COMPLETED,
  CancelledError,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  TimeoutError,
  createTask,
  currentTask,
  getRunningLoop,
  run,
  sleep,
  wait,
  waitFor,
  type Future,
  type Task,
} from "multiloop";
import { caught } from "./helpers.js";

/** A task that returns `value` once its own gate is set; returns [task, gate]. */
function gated<T>(value: T): [Task<T>, Future<void>] {
  const gate = getRunningLoop().createFuture<void>();
  const task = createTask(async () => {
    await gate;
    return value;
  });
  return [task, gate];
}

describe("wait (semantics items 111-112)", () => {
  it("111: wait returns [done, pending] and refuses an empty input, functions, a bad returnWhen and a single future", async () => {
    await run(async () => {
      const [a, gateA] = gated("a");
      gateA.setResult();
      const [done, pending] = await wait([a]);
      expect(done).toEqual(new Set([a]));
      expect(pending).toEqual(new Set());

      const empty = await caught(wait([]));
      expect(empty).toBeInstanceOf(RangeError);
      expect((empty as Error).message).toContain("Set of Tasks/Futures is empty.");

      const fn = await caught(wait([async () => 1] as never));
      expect(fn).toBeInstanceOf(TypeError);
      expect((fn as Error).message).toBe("Passing coroutines is forbidden, use tasks explicitly.");

      const bogus = await caught(wait([a], { returnWhen: "bogus" as never }));
      expect(bogus).toBeInstanceOf(RangeError);
      expect((bogus as Error).message).toMatch(/returnWhen.*bogus/u);

      const single = await caught(wait(a as never));
      expect(single).toBeInstanceOf(TypeError);
      expect((single as Error).message).toBe("expect a list of futures, not Task");
    });
  });

  it("112: returnWhen FIRST_COMPLETED, FIRST_EXCEPTION and ALL_COMPLETED; wait never cancels what is pending", async () => {
    await run(async () => {
      // FIRST_COMPLETED: returns at the first completion.
      const [a] = gated("a");
      const [b, gateB] = gated("b");
      const first = createTask(async () => wait([a, b], { returnWhen: FIRST_COMPLETED }));
      await sleep(0);
      gateB.setResult();
      const [done1, pending1] = await first;
      expect(done1).toEqual(new Set([b]));
      expect(pending1).toEqual(new Set([a]));
      expect(a.cancelling()).toBe(0);

      // FIRST_EXCEPTION: a cancellation does not count, an error does.
      const [c, gateC] = gated("c");
      const [d] = gated("d");
      const failing = createTask(async () => {
        await gateC;
        throw new Error("boom");
      });
      const firstExc = createTask(async () => wait([c, d, failing], { returnWhen: FIRST_EXCEPTION }));
      await sleep(0);
      d.cancel();
      await sleep(0);
      await sleep(0);
      expect(firstExc.done()).toBe(false);
      gateC.setResult();
      const [done2, pending2] = await firstExc;
      expect(done2).toEqual(new Set([c, d, failing]));
      expect(pending2).toEqual(new Set());
      expect(failing.exception()).toBeInstanceOf(Error);

      const [e, gateE] = gated("e");
      const [f] = gated("f");
      const failing2 = createTask(async () => {
        await gateE;
        throw new Error("boom2");
      });
      gateE.setResult();
      const [done3, pending3] = await wait([e, f, failing2], { returnWhen: FIRST_EXCEPTION });
      expect(done3.has(failing2)).toBe(true);
      expect(pending3.has(f)).toBe(true);
      failing2.exception();

      // FIRST_EXCEPTION with no error: returns when all are done.
      const [g, gateG] = gated("g");
      const [h, gateH] = gated("h");
      const noErr = createTask(async () => wait([g, h], { returnWhen: FIRST_EXCEPTION }));
      await sleep(0);
      gateG.setResult();
      await sleep(0);
      await sleep(0);
      expect(noErr.done()).toBe(false);
      gateH.setResult();
      expect((await noErr)[0]).toEqual(new Set([g, h]));

      // ALL_COMPLETED (the default).
      const [i, gateI] = gated("i");
      const [j, gateJ] = gated("j");
      const all = createTask(async () => wait([i, j], { returnWhen: ALL_COMPLETED }));
      await sleep(0);
      gateI.setResult();
      await sleep(0);
      await sleep(0);
      expect(all.done()).toBe(false);
      gateJ.setResult();
      expect(await all).toEqual([new Set([i, j]), new Set()]);

      // A timeout returns what is pending, without an error and without cancelling it.
      const [k] = gated("k");
      const [done4, pending4] = await wait([k], { timeout: 1 });
      expect(done4.size).toBe(0);
      expect(pending4).toEqual(new Set([k]));
      expect(k.cancelling()).toBe(0);
      expect(k.done()).toBe(false);
      k.cancel();
      f.cancel();
      a.cancel();
    });
  });

  it("wait accepts promises (wrapped in tasks) and futures of the running loop", async () => {
    await run(async () => {
      const fut = getRunningLoop().createFuture<number>();
      fut.setResult(1);
      const [done] = await wait([fut, Promise.resolve(2)]);
      expect(done.has(fut)).toBe(true);
      expect(new Set([...done].map((f) => f.result()))).toEqual(new Set([1, 2]));
    });
  });

  it("bad input: wait checks aws and its options", async () => {
    await run(async () => {
      const [a, gate] = gated(1);
      gate.setResult();
      expect(await caught(wait(5 as never))).toBeInstanceOf(TypeError);
      expect(((await caught(wait(5 as never))) as Error).message).toMatch(/`aws`/u);
      expect(((await caught(wait([a], 5 as never))) as Error).message).toMatch(/`options`/u);
      expect(((await caught(wait([a], { timeout: Number.NaN }))) as Error).message).toMatch(/`options.timeout`/u);
      expect(((await caught(wait([a, 3] as never))) as Error).message).toMatch(/`aws\[1\]`/u);
      await a;
    });
  });
});

describe("waitFor (semantics items 113-116)", () => {
  it("113: waitFor(aw, null) is a plain await; on expiry it cancels the inner task, waits for it to finish, then throws TimeoutError caused by the CancelledError", async () => {
    await run(async () => {
      expect(await waitFor(sleep(0, "plain"), null)).toBe("plain");
      expect(await waitFor(async () => "fn", null)).toBe("fn");

      const steps: string[] = [];
      const inner = createTask(async () => {
        try {
          await sleep(1_000_000);
        } catch (err) {
          steps.push("inner caught the cancel");
          await sleep(0);
          await sleep(0);
          steps.push("inner finished its cleanup");
          throw err;
        }
      });
      const err = await caught(waitFor(inner, 1));
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).cause).toBeInstanceOf(CancelledError);
      expect(steps).toEqual(["inner caught the cancel", "inner finished its cleanup"]);
      expect(inner.cancelled()).toBe(true);
      // The task that called waitFor is not left cancelled.
      expect((currentTask() as Task).cancelling()).toBe(0);
    });
  });

  it("114: waitFor with timeout <= 0 returns a done awaitable's result, otherwise cancels it (a function never starts)", async () => {
    await run(async () => {
      const done = getRunningLoop().createFuture<string>();
      done.setResult("already");
      expect(await waitFor(done, 0)).toBe("already");

      let started = false;
      const err = await caught(
        waitFor(async () => {
          started = true;
          return 1;
        }, 0),
      );
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as Error).cause).toBeInstanceOf(CancelledError);
      expect(started).toBe(false);

      const [pendingTask] = gated("x");
      const negative = await caught(waitFor(pendingTask, -1));
      expect(negative).toBeInstanceOf(TimeoutError);
      expect(pendingTask.cancelled()).toBe(true);
    });
  });

  it("115: if the inner awaitable suppresses the cancellation and returns a value, waitFor returns that value", async () => {
    await run(async () => {
      const value = await waitFor(async () => {
        try {
          await sleep(1_000_000);
          return "slept";
        } catch {
          return "suppressed";
        }
      }, 1);
      expect(value).toBe("suppressed");
      expect((currentTask() as Task).cancelling()).toBe(0);
    });
  });

  it("116: cancelling the task that waits in waitFor cancels the inner awaitable", async () => {
    await run(async () => {
      const [inner] = gated("never");
      const waiter = createTask(async () => waitFor(inner, 1_000_000));
      await sleep(0);
      await sleep(0);
      waiter.cancel("outside");
      const err = await caught(waiter);
      expect(err).toBeInstanceOf(CancelledError);
      expect(err).not.toBeInstanceOf(TimeoutError);
      expect(inner.cancelled()).toBe(true);
      expect(waiter.cancelled()).toBe(true);

      // Same with a function run by waitFor inside the waiting task.
      const steps: string[] = [];
      const waiter2 = createTask(async () =>
        waitFor(async () => {
          try {
            await sleep(1_000_000);
          } catch (e) {
            steps.push("inner cancelled");
            throw e;
          }
        }, 1_000_000),
      );
      await sleep(0);
      waiter2.cancel();
      expect(await caught(waiter2)).toBeInstanceOf(CancelledError);
      expect(steps).toEqual(["inner cancelled"]);
    });
  });

  it("waitFor with a plain promise: the deadline wins, the promise keeps running and its result is dropped", async () => {
    await run(async () => {
      let resolvePlain: (v: string) => void = () => {};
      const plain = new Promise<string>((resolve) => {
        resolvePlain = resolve;
      });
      const err = await caught(waitFor(plain, 1));
      expect(err).toBeInstanceOf(TimeoutError);
      resolvePlain("late");
      expect(await plain).toBe("late");
      expect(await waitFor(Promise.resolve("quick"), 1_000_000)).toBe("quick");
    });
  });

  it("bad input: waitFor checks aw and timeoutMs", async () => {
    await run(async () => {
      expect(((await caught(waitFor(5 as never, 1))) as Error).message).toMatch(/`aw`/u);
      expect(await caught(waitFor(5 as never, 1))).toBeInstanceOf(TypeError);
      expect(((await caught(waitFor(sleep(0), "1" as never))) as Error).message).toMatch(/`timeoutMs`/u);
      expect(((await caught(waitFor(sleep(0), Number.NaN))) as Error).message).toMatch(/`timeoutMs`/u);
      expect(((await caught(waitFor(sleep(0), undefined as never))) as Error).message).toMatch(/`timeoutMs`/u);
    });
  });
});

describe("wait: a child failing with null", () => {
  it("FIRST_EXCEPTION returns at a child that threw null", { timeout: 10_000 }, async () => {
    await run(async () => {
      const never = getRunningLoop().createFuture<void>();
      const t = createTask(async () => {
        await sleep(0);
        throw null; // eslint-disable-line @typescript-eslint/only-throw-error
      });
      const [done, pending] = await wait([t, never], { returnWhen: FIRST_EXCEPTION });
      expect(done).toEqual(new Set([t]));
      expect(pending).toEqual(new Set([never]));
      never.cancel();
    });
  });

  it("cancelling the task that waits does not cancel the awaitables", async () => {
    await run(async () => {
      const [a] = gated("a");
      const waiter = createTask(async () => wait([a]));
      await sleep(0);
      waiter.cancel();
      expect(await caught(waiter)).toBeInstanceOf(CancelledError);
      expect(a.cancelling()).toBe(0);
      expect(a.done()).toBe(false);
      a.cancel();
    });
  });
});
