/**
 * timeout / timeoutAt and `Timeout`: asyncio-semantics.md items 120-125.
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  RuntimeError,
  Timeout,
  TimeoutError,
  createTask,
  currentTask,
  getRunningLoop,
  run,
  sleep,
  timeout,
  timeoutAt,
  type Task,
} from "multiloop";
import { caught, thrown } from "./helpers.js";

describe("timeout / timeoutAt (semantics items 120-125)", () => {
  it("120: timeout must run inside a task; on expiry it cancels the task and turns the CancelledError into TimeoutError; the task is not left cancelled", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      // From a plain callback: no current task.
      const fromCallback = loop.createFuture<unknown>();
      loop.callSoon(() => {
        timeout(10, async () => 1).then(
          () => fromCallback.setResult("resolved"),
          (err: unknown) => fromCallback.setResult(err),
        );
      });
      const err = await fromCallback;
      expect(err).toBeInstanceOf(RuntimeError);
      expect((err as Error).message).toBe("Timeout should be used inside a task");

      const outer = createTask(async () => {
        const e = await caught(timeout(1, async () => sleep(1_000_000)));
        expect(e).toBeInstanceOf(TimeoutError);
        expect((e as Error).cause).toBeInstanceOf(CancelledError);
        expect((currentTask() as Task).cancelling()).toBe(0);
        return "outer finished normally";
      });
      expect(await outer).toBe("outer finished normally");
      expect(outer.cancelled()).toBe(false);

      // timeoutAt with an absolute deadline on the loop clock.
      const e2 = await caught(timeoutAt(loop.time() + 1, async () => sleep(1_000_000)));
      expect(e2).toBeInstanceOf(TimeoutError);
    });
    // Outside a loop: there is no loop clock to read.
    expect(await caught(timeout(10, async () => 1))).toBeInstanceOf(RuntimeError);
  });

  it("120: the CancelledError becomes TimeoutError only if uncancel() brings the count back to its level on entry", async () => {
    await run(async () => {
      const task = createTask(async () =>
        timeout(0, async () => {
          const me = currentTask() as Task;
          try {
            await sleep(1_000_000);
          } finally {
            // A second cancel request arrives while the deadline's one is being handled.
            me.cancel("another request");
          }
        }),
      );
      const err = await caught(task);
      expect(err).toBeInstanceOf(CancelledError);
      expect(err).not.toBeInstanceOf(TimeoutError);
      expect(task.cancelled()).toBe(true);
    });
  });

  it("121: the body sees CancelledError, not TimeoutError; afterwards expired() is true; reprs show the state", async () => {
    await run(async () => {
      const seen: unknown[] = [];
      let kept: Timeout | null = null;
      const reprs: string[] = [];
      const err = await caught(
        timeout(0, async (t) => {
          kept = t;
          reprs.push(String(t));
          expect(t.expired()).toBe(false);
          try {
            await sleep(1_000_000);
          } catch (e) {
            seen.push(e);
            reprs.push(String(t));
            throw e;
          }
        }),
      );
      expect(err).toBeInstanceOf(TimeoutError);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeInstanceOf(CancelledError);
      expect(seen[0]).not.toBeInstanceOf(TimeoutError);
      const t = kept as unknown as Timeout;
      expect(t.expired()).toBe(true);
      expect(reprs[0]).toMatch(/^<Timeout \[active\] when=[\d.]+>$/u);
      expect(reprs[1]).toBe("<Timeout [expiring]>");
      expect(String(t)).toBe("<Timeout [expired]>");

      let finished: Timeout | null = null;
      await timeout(1_000_000, async (t2) => {
        finished = t2;
        await sleep(0);
      });
      const f = finished as unknown as Timeout;
      expect(String(f)).toBe("<Timeout [finished]>");
      expect(f.expired()).toBe(false);
      expect(String(new Timeout(null))).toBe("<Timeout [created]>");
    });
  });

  it("122: timeout(null) never fires; reschedule only while entered; entering twice is refused", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      expect(
        await timeout(null, async (t) => {
          expect(t.when()).toBeNull();
          await sleep(1);
          return "no deadline";
        }),
      ).toBe("no deadline");

      const notEntered = new Timeout(null);
      const e1 = thrown(() => notEntered.reschedule(1));
      expect(e1).toBeInstanceOf(RuntimeError);
      expect((e1 as Error).message).toBe("Timeout has not been entered");

      // reschedule(null) disarms a deadline that would have fired; a new one fires.
      expect(
        await timeout(0, async (t) => {
          t.reschedule(null);
          expect(t.when()).toBeNull();
          await sleep(1);
          return "disarmed";
        }),
      ).toBe("disarmed");
      const moved = await caught(
        timeout(null, async (t) => {
          t.reschedule(loop.time() - 1);
          await sleep(1_000_000);
        }),
      );
      expect(moved).toBeInstanceOf(TimeoutError);

      let after: Timeout | null = null;
      await timeout(1_000_000, async (t) => {
        after = t;
        const again = thrown(() => t.enter(currentTask() as Task));
        expect(again).toBeInstanceOf(RuntimeError);
        expect((again as Error).message).toBe("Timeout has already been entered");
      });
      const e2 = thrown(() => (after as unknown as Timeout).reschedule(1));
      expect(e2).toBeInstanceOf(RuntimeError);
      expect((e2 as Error).message).toBe("Cannot change state of finished Timeout");

      let expired: Timeout | null = null;
      await caught(
        timeout(0, async (t) => {
          expired = t;
          await sleep(1_000_000);
        }),
      );
      expect(() => (expired as unknown as Timeout).reschedule(1)).toThrow("Cannot change state of expired Timeout");
    });
  });

  it("123: a deadline already in the past lets the body start; TimeoutError arrives at its first suspension", async () => {
    await run(async () => {
      const steps: string[] = [];
      const err = await caught(
        timeout(-11, async () => {
          steps.push("body started");
          await Promise.resolve();
          steps.push("a plain await is not a suspension");
          await sleep(0);
          steps.push("not reached");
        }),
      );
      expect(err).toBeInstanceOf(TimeoutError);
      expect(steps).toEqual(["body started", "a plain await is not a suspension"]);

      const loop = getRunningLoop();
      const err2 = await caught(timeoutAt(loop.time() - 1000, async () => sleep(0)));
      expect(err2).toBeInstanceOf(TimeoutError);
    });
  });

  it("124: nested timeouts: only the one that expired converts the cancellation", async () => {
    await run(async () => {
      // The outer one expires: the inner lets CancelledError through, the outer converts it.
      let innerSaw: unknown = null;
      let outerT: Timeout | null = null;
      let innerT: Timeout | null = null;
      const err = await caught(
        timeout(0, async (t1) => {
          outerT = t1;
          try {
            await timeout(null, async (t2) => {
              innerT = t2;
              await sleep(1_000_000);
            });
          } catch (e) {
            innerSaw = e;
            throw e;
          }
        }),
      );
      expect(innerSaw).toBeInstanceOf(CancelledError);
      expect(innerSaw).not.toBeInstanceOf(TimeoutError);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((outerT as unknown as Timeout).expired()).toBe(true);
      expect((innerT as unknown as Timeout).expired()).toBe(false);

      // The inner one expires: it converts; the outer sees TimeoutError and leaves it alone.
      const result = await timeout(1_000_000, async (t1) => {
        const inner = await caught(timeout(0, async () => sleep(1_000_000)));
        expect(t1.expired()).toBe(false);
        return inner;
      });
      expect(result).toBeInstanceOf(TimeoutError);

      // Both expire: the inner lets the cancellation through, the outer converts it.
      let innerSaw2: unknown = null;
      const both = await caught(
        timeout(0, async () => {
          try {
            await timeout(0, async () => sleep(1_000_000));
          } catch (e) {
            innerSaw2 = e;
            throw e;
          }
        }),
      );
      expect(innerSaw2).toBeInstanceOf(CancelledError);
      expect(innerSaw2).not.toBeInstanceOf(TimeoutError);
      expect(both).toBeInstanceOf(TimeoutError);
      expect((currentTask() as Task).cancelling()).toBe(0);
    });
  });

  it("125: a cancel from outside before expiry stays a CancelledError; after expiry another error gets a TimeoutError in its cause chain", async () => {
    await run(async () => {
      const task = createTask(async () => timeout(1_000_000, async () => sleep(1_000_000)));
      await sleep(0);
      task.cancel("outside");
      const err = await caught(task);
      expect(err).toBeInstanceOf(CancelledError);
      expect(err).not.toBeInstanceOf(TimeoutError);
      expect((err as Error).message).toBe("outside");

      // The body replaces the cancellation with its own error, chained to it with `cause`.
      const own = await caught(
        timeout(0, async () => {
          try {
            await sleep(1_000_000);
          } catch (e) {
            throw new Error("cleanup failed", { cause: e });
          }
        }),
      );
      expect((own as Error).message).toBe("cleanup failed");
      const inserted = (own as Error).cause;
      expect(inserted).toBeInstanceOf(TimeoutError);
      expect((inserted as Error).cause).toBeInstanceOf(CancelledError);

      // An unrelated error (no cancellation in its chain) is left as it is.
      const plain = new Error("plain");
      const same = await caught(
        timeout(0, async () => {
          try {
            await sleep(1_000_000);
          } catch {
            throw plain;
          }
        }),
      );
      expect(same).toBe(plain);
      expect(plain.cause).toBeUndefined();
    });
  });

  it("bad input: timeout, timeoutAt and reschedule check their arguments", async () => {
    await run(async () => {
      expect(((await caught(timeout("1" as never, async () => 1))) as Error).message).toMatch(/`ms`/u);
      expect(((await caught(timeout(Number.NaN, async () => 1))) as Error).message).toMatch(/`ms`/u);
      expect(((await caught(timeout(undefined as never, async () => 1))) as Error).message).toMatch(/`ms`/u);
      expect(((await caught(timeout(1, 5 as never))) as Error).message).toMatch(/`body`/u);
      expect(((await caught(timeoutAt("1" as never, async () => 1))) as Error).message).toMatch(/`whenMs`/u);
      expect(((await caught(timeoutAt(undefined as never, async () => 1))) as Error).message).toMatch(/`whenMs`/u);
      expect(((await caught(timeoutAt(1, null as never))) as Error).message).toMatch(/`body`/u);
      await timeout(null, async (t) => {
        expect(() => t.reschedule("soon" as never)).toThrow(/`whenMs`/u);
        expect(() => t.reschedule(Number.NaN)).toThrow(TypeError);
        expect(() => t.reschedule(undefined as never)).toThrow(/`whenMs`/u);
      });
      expect(await caught(timeout(1, 5 as never))).toBeInstanceOf(TypeError);
      expect(() => new Timeout("x" as never)).toThrow(/`when`/u);
    });
  });
});
