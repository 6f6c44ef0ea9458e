/**
 * runInExecutor / toThread / PoolExecutor on a real piscina pool (issue 3 §4).
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  ContextVar,
  PoolExecutor,
  RemoteError,
  createTask,
  getRunningLoop,
  run,
  sleep,
  toThread,
} from "multiloop";
import { fixture } from "./helpers.js";

const fns = fixture("executor-fns");
const pool = new PoolExecutor({ maxThreads: 2, idleTimeout: 1_000 });

afterAll(async () => {
  await pool.shutdown();
});

describe("runInExecutor", () => {
  it("runs a module export by { filename, name }, and the default export", { timeout: 30_000 }, async () => {
    const [fib, plusOne] = await run(async () => {
      const loop = getRunningLoop();
      return [await loop.runInExecutor(pool, { filename: fns, name: "fib" }, 20), await loop.runInExecutor(pool, { filename: fns }, 41)];
    });
    expect(fib).toBe(6765);
    expect(plusOne).toBe(42);
  });

  it("runs a self-contained function sent by its source", { timeout: 30_000 }, async () => {
    const result = await run(async () =>
      getRunningLoop().runInExecutor(pool, (a: number, b: number) => {
        let s = 0;
        for (let i = a; i <= b; i++) s += i;
        return s;
      }, 1, 100),
    );
    expect(result).toBe(5050);
  });

  it("a function that uses an outer variable fails with an error naming it", { timeout: 30_000 }, async () => {
    const secret = 42;
    const err = await run(async () => getRunningLoop().runInExecutor(pool, () => secret + 1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReferenceError);
    expect((err as Error).message).toMatch(/uses `secret`/);
    expect((err as Error).message).toMatch(/pass `secret` as an argument/);
  });

  it("functions that cannot be sent by source are refused at the call site", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      expect(() => loop.runInExecutor(pool, Math.max, 1, 2)).toThrow(/native or bound/);
      const obj = {
        method(this: void): number {
          return 1;
        },
      };
      // Method shorthand is not a standalone expression: it cannot be rebuilt from its source.
      expect(() => loop.runInExecutor(pool, obj.method)).toThrow(TypeError);
      expect(() => loop.runInExecutor(pool, 5 as unknown as () => number)).toThrow(/`fn`/);
    });
  });

  it("errors keep their class, cause and own properties (piscina alone flattens them)", { timeout: 30_000 }, async () => {
    const err = await run(async () => getRunningLoop().runInExecutor(pool, { filename: fns, name: "failWithDetails" })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteName).toBe("ParseError");
    expect((err as Error & { line: number }).line).toBe(1);
    expect((err as Error).cause).toBeInstanceOf(SyntaxError);
  });

  it("cancelling a call still queued removes it: it never runs and no worker is killed", { timeout: 30_000 }, async () => {
    const single = new PoolExecutor({ maxThreads: 1, idleTimeout: 1_000 });
    try {
      const outcome = await run(async () => {
        const loop = getRunningLoop();
        const busy = loop.runInExecutor<number>(single, { filename: fns, name: "spin" }, 200);
        const queued = loop.runInExecutor(single, (x: number) => x, 1);
        queued.cancel();
        const spun = await busy;
        const after = await loop.runInExecutor(single, { filename: fns, name: "whoAmI" });
        return { cancelled: queued.cancelled(), spun: spun > 0, after };
      });
      expect(outcome.cancelled).toBe(true);
      expect(outcome.spun).toBe(true);
      expect(typeof outcome.after).toBe("string");
      expect(single.pool.completed).toBeGreaterThanOrEqual(2);
      expect(single.pool.threads).toHaveLength(1);
    } finally {
      await single.shutdown();
    }
  });

  it("cancelling a running call leaves it to finish (the worker is not killed)", { timeout: 30_000 }, async () => {
    const single = new PoolExecutor({ maxThreads: 1, idleTimeout: 1_000 });
    try {
      await run(async () => {
        const loop = getRunningLoop();
        const running = loop.runInExecutor(single, { filename: fns, name: "spin" }, 100);
        // Wait until it has started in the pool thread.
        while (single.pool.utilization === 0 && single.pool.threads.length === 0) await sleep(1);
        await sleep(20);
        running.cancel();
        const next = await loop.runInExecutor(single, (x: number) => x * 2, 21);
        expect(next).toBe(42);
      });
      expect(single.pool.threads).toHaveLength(1);
    } finally {
      await single.shutdown();
    }
  });

  it("terminateOnCancel: cancelling a running call ends it", { timeout: 30_000 }, async () => {
    const harsh = new PoolExecutor({ maxThreads: 1, idleTimeout: 1_000, terminateOnCancel: true });
    try {
      await run(async () => {
        const loop = getRunningLoop();
        const flag = new Int32Array(new SharedArrayBuffer(4));
        const started = loop.runInExecutor(harsh, { filename: fns, name: "signalAndSpin" }, flag, 10_000);
        // Cancel only once it really runs (then piscina must end the worker, and replace it).
        while (Atomics.load(flag, 0) === 0) await sleep(1);
        started.cancel();
        await expect(started).rejects.toBeInstanceOf(CancelledError);
        // The pool replaces the worker it had to end: the next call still works.
        expect(await loop.runInExecutor(harsh, (x: number) => x + 1, 1)).toBe(2);
      });
    } finally {
      await harsh.shutdown();
    }
  });

  it("the default executor is made on first use and shut down by run(); afterwards runInExecutor(null) throws", { timeout: 30_000 }, async () => {
    let loop: ReturnType<typeof getRunningLoop> | null = null;
    const value = await run(async () => {
      loop = getRunningLoop();
      return loop.runInExecutor(null, (x: number) => x * 3, 5);
    });
    expect(value).toBe(15);
    expect(() => (loop as unknown as ReturnType<typeof getRunningLoop>).runInExecutor(null, () => 1)).toThrow("Event loop is closed");
  });

  it("shutdownDefaultExecutor() then runInExecutor(null) throws 'Executor shutdown has been called'", { timeout: 30_000 }, async () => {
    await run(async () => {
      const loop = getRunningLoop();
      expect(await loop.runInExecutor(null, () => 1)).toBe(1);
      await loop.shutdownDefaultExecutor();
      expect(() => loop.runInExecutor(null, () => 1)).toThrow("Executor shutdown has been called");
    });
  });

  it("a shut-down PoolExecutor refuses new work", { timeout: 30_000 }, async () => {
    const p = new PoolExecutor({ maxThreads: 1 });
    await p.shutdown();
    await expect(p.run(() => 1, [])).rejects.toThrow("cannot schedule new futures after shutdown");
  });
});

describe("toThread", () => {
  it("carries the caller's context variables across (runInExecutor does not)", { timeout: 30_000 }, async () => {
    const tenant = new ContextVar<string>("tenant");
    const [carried, notCarried] = await run(async () => {
      tenant.set("acme");
      const loop = getRunningLoop();
      return [await toThread({ filename: fns, name: "readTenant" }), await loop.runInExecutor(null, { filename: fns, name: "readTenant" })];
    });
    expect(carried).toBe("acme");
    expect(notCarried).toBe("none");
  });

  it("needs a running loop", async () => {
    await expect(toThread(() => 1)).rejects.toThrow("no running event loop");
  });

  it("cancelling the awaiting task cancels the call", { timeout: 30_000 }, async () => {
    const outcome = await run(async () => {
      const task = createTask(async () => toThread({ filename: fns, name: "spin" }, 50));
      await sleep(0);
      task.cancel();
      return task.then(() => "finished", (e: unknown) => (e instanceof CancelledError ? "cancelled" : String(e)));
    });
    expect(outcome).toBe("cancelled");
  });
});
