/**
 * shield: asyncio-semantics.md item 117.
 */
import { describe, expect, it } from "vitest";
import { CancelledError, Task, createTask, getRunningLoop, newEventLoop, run, shield, sleep } from "multiloop";
import { captureExceptions, caught, thrown } from "./helpers.js";

describe("shield (semantics item 117)", () => {
  it("117: a done inner is returned as is; cancelling the outer or its awaiter leaves the inner running; cancelling the inner cancels the outer", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      // Already done: the inner itself.
      const done = loop.createFuture<number>();
      done.setResult(1);
      expect(shield(done)).toBe(done);

      // The result passes through.
      const inner = loop.createFuture<string>();
      const outer = shield(inner);
      expect(outer).not.toBe(inner);
      inner.setResult("through");
      expect(await outer).toBe("through");

      // An error passes through.
      const failing = loop.createFuture<string>();
      const outerFailing = shield(failing);
      const boom = new Error("boom");
      failing.setException(boom);
      expect(await caught(outerFailing)).toBe(boom);

      // Cancelling the outer does not cancel the inner.
      const work = createTask(async () => {
        await sleep(0);
        await sleep(0);
        return "work done";
      });
      const shielded = shield(work);
      expect(shielded.cancel()).toBe(true);
      expect(await caught(shielded)).toBeInstanceOf(CancelledError);
      expect(work.cancelling()).toBe(0);
      expect(await work).toBe("work done");

      // Cancelling the task that awaits the shield does not cancel the inner either.
      const gate = loop.createFuture<void>();
      const protectedWork = createTask(async () => {
        await gate;
        return "protected";
      });
      const awaiter = createTask(async () => shield(protectedWork));
      await sleep(0);
      awaiter.cancel("awaiter");
      const err = await caught(awaiter);
      expect(err).toBeInstanceOf(CancelledError);
      expect(awaiter.cancelled()).toBe(true);
      expect(protectedWork.done()).toBe(false);
      gate.setResult();
      expect(await protectedWork).toBe("protected");

      // Cancelling the inner cancels the outer.
      const innerToCancel = createTask(async () => sleep(1_000_000));
      const outerOfCancelled = shield(innerToCancel);
      await sleep(0);
      innerToCancel.cancel();
      expect(await caught(outerOfCancelled)).toBeInstanceOf(CancelledError);
      expect(outerOfCancelled.cancelled()).toBe(true);
    });
  });

  it("117: if the outer is cancelled and the inner fails in the same iteration, the error is reported as never retrieved (asyncio 3.14)", async () => {
    const loop = newEventLoop();
    loop.setDebug(true);
    const seen = captureExceptions(loop);
    const kept: unknown[] = [];
    await loop.runUntilComplete(async () => {
      const inner = loop.createFuture<void>();
      const outer = shield(inner);
      outer.cancel();
      inner.setException(new Error("nobody awaits this"));
      await sleep(0);
      await sleep(0);
      kept.push(inner, outer);
    });
    loop.close();
    // Nobody looked at it: asyncio 3.14 no longer marks it retrieved, so it is not lost silently.
    const lost = seen.filter((c) => c.message.includes("never retrieved"));
    expect(lost.map((c) => (c.exception as Error).message)).toEqual(["nobody awaits this"]);
    expect(kept).toHaveLength(2);
  });

  it("shield(fn) starts the function as a task and shields it", async () => {
    await run(async () => {
      const steps: string[] = [];
      const outer = shield(async () => {
        await sleep(0);
        steps.push("inner ran to the end");
        return 5;
      });
      outer.cancel();
      await sleep(0);
      await sleep(0);
      await sleep(0);
      expect(steps).toEqual(["inner ran to the end"]);
      expect(outer.cancelled()).toBe(true);
      expect(Task).toBeDefined();
    });
  });

  it("bad input: shield names `aw`", async () => {
    await run(async () => {
      const err = thrown(() => shield(5 as never));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/`aw`/u);
    });
  });
});

describe("shield: an inner failing with null", () => {
  it("passes null on as the error", { timeout: 10_000 }, async () => {
    await run(async () => {
      const inner = createTask(async () => {
        await sleep(0);
        throw null; // eslint-disable-line @typescript-eslint/only-throw-error
      });
      expect(await caught(shield(inner))).toBeNull();
    });
  });
});
