/**
 * asCompleted: asyncio-semantics.md item 118 (3.13 semantics).
 */
import { describe, expect, it } from "vitest";
import { TimeoutError, asCompleted, createTask, getRunningLoop, run, sleep, type Future, type Task } from "multiloop";
import { caught, thrown } from "./helpers.js";

/** A task that returns `value` once its own gate is set; returns [task, gate]. */
function gated<T>(value: T): [Task<T>, Future<void>] {
  const gate = getRunningLoop().createFuture<void>();
  const task = createTask(async () => {
    await gate;
    return value;
  });
  return [task, gate];
}

describe("asCompleted (semantics item 118)", () => {
  it("118: plain iteration gives promises that resolve in completion order", async () => {
    await run(async () => {
      const [a, gateA] = gated("a");
      const [b, gateB] = gated("b");
      const [c, gateC] = gated("c");
      const results: string[] = [];
      const consumer = createTask(async () => {
        for (const next of asCompleted([a, b, c])) results.push(await next);
      });
      await sleep(0);
      gateC.setResult();
      await sleep(0);
      gateA.setResult();
      await sleep(0);
      gateB.setResult();
      await consumer;
      expect(results).toEqual(["c", "a", "b"]);
    });
  });

  it("118: for await gives the original tasks and futures, in completion order", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const [a, gateA] = gated(1);
      const fut = loop.createFuture<number>();
      const seen: Array<Future<number>> = [];
      const consumer = createTask(async () => {
        // TypeScript types a for-await element as the *awaited* yield type (number here), but an
        // async iterator's values are not awaited: at run time they are the futures themselves.
        for await (const f of asCompleted<number>([a, fut]) as AsyncIterable<unknown>) seen.push(f as Future<number>);
      });
      await sleep(0);
      fut.setResult(2);
      await sleep(0);
      gateA.setResult();
      await consumer;
      expect(seen[0]).toBe(fut);
      expect(seen[1]).toBe(a);
      expect(seen).toHaveLength(2);
      // A promise input is wrapped in a task (there is no original future to give back).
      const wrapped: unknown[] = [];
      for await (const f of asCompleted([Promise.resolve("p")]) as AsyncIterable<unknown>) {
        wrapped.push((f as Future<string>).result());
      }
      expect(wrapped).toEqual(["p"]);
    });
  });

  it("118: on timeout, the next awaited item throws TimeoutError", async () => {
    await run(async () => {
      const [quick, gateQuick] = gated("quick");
      const [slow] = gated("slow");
      gateQuick.setResult();
      // Done before asCompleted starts, so its completion is queued ahead of any timer, however
      // late the loop runs.
      await quick;
      const got: string[] = [];
      const err = await caught(async () => {
        for (const next of asCompleted([quick, slow], { timeout: 1 })) got.push(await next);
      });
      expect(got).toEqual(["quick"]);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(slow.done()).toBe(false);
      slow.cancel();

      const [never] = gated("never");
      const asyncErr = await caught(async () => {
        for await (const f of asCompleted([never], { timeout: 1 }) as AsyncIterable<unknown>) got.push(String(f));
      });
      expect(asyncErr).toBeInstanceOf(TimeoutError);
      never.cancel();
    });
  });

  it("118: the same input object appears once; the iteration length is the number of distinct inputs", async () => {
    await run(async () => {
      const [a, gateA] = gated("a");
      gateA.setResult();
      const items = [...asCompleted([a, a, a])];
      expect(items).toHaveLength(1);
      expect(await items[0]).toBe("a");
      // A one-shot iterable (a generator) works too.
      function* once(): Generator<Task<string>> {
        yield a;
      }
      const fromGen: string[] = [];
      for (const next of asCompleted(once())) fromGen.push(await next);
      expect(fromGen).toEqual(["a"]);
    });
  });

  it("118: a single awaitable is a TypeError ('expects an iterable of awaitables, not Task'); bad options are TypeErrors", async () => {
    await run(async () => {
      const [a, gateA] = gated("a");
      const err = thrown(() => asCompleted(a as never));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toBe("expects an iterable of awaitables, not Task");
      expect(() => asCompleted(5 as never)).toThrow(/`aws`/u);
      expect(() => asCompleted([a], { timeout: Number.NaN })).toThrow(/`options.timeout`/u);
      expect(() => asCompleted([a], 5 as never)).toThrow(/`options`/u);
      expect(() => asCompleted([a, 7] as never)).toThrow(/`aws\[1\]`/u);
      gateA.setResult();
      await a;
    });
  });
});
