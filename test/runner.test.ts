/**
 * run() and Runner: asyncio-semantics.md items 40-46.
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  ContextVar,
  EventLoop,
  Runner,
  RuntimeError,
  createTask,
  getEventLoop,
  getRunningLoop,
  run,
  sleep,
  type ExceptionContext,
} from "multiloop";

describe("run() and Runner", () => {
  it("40: run() inside a running loop rejects with 'run() cannot be called from a running event loop'", async () => {
    const err = await run(async () => run(async () => 1).then(() => null, (e: unknown) => e));
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe("run() cannot be called from a running event loop");
  });

  it("41: run() with something that is not a function rejects with TypeError", async () => {
    await expect(run(123 as unknown as () => Promise<void>)).rejects.toBeInstanceOf(TypeError);
    await expect(run(Promise.resolve(1) as unknown as () => Promise<number>)).rejects.toThrow(/`main`/);
  });

  it("42: run() makes a new loop each time, closes it, returns the result or rethrows the error", async () => {
    let first: EventLoop | null = null;
    let second: EventLoop | null = null;
    expect(await run(async () => ((first = getRunningLoop()), "one"))).toBe("one");
    expect(await run(async () => ((second = getRunningLoop()), "two"))).toBe("two");
    expect(first).not.toBe(second);
    expect((first as unknown as EventLoop).isClosed()).toBe(true);
    await expect(run(async () => {
      throw new RangeError("from main");
    })).rejects.toThrow(RangeError);
  });

  it("43: leftover tasks are cancelled and awaited; their errors are reported; generators and the loop are closed", async () => {
    const log: string[] = [];
    const reports: ExceptionContext[] = [];
    let loop: EventLoop | null = null;
    await run(async () => {
      loop = getRunningLoop();
      loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
      createTask(async () => {
        try {
          await sleep(60_000);
        } catch (err) {
          log.push(err instanceof CancelledError ? "hanging task cancelled" : "other");
          throw err;
        }
      });
      createTask(async () => {
        try {
          await sleep(60_000);
        } finally {
          // eslint-disable-next-line no-unsafe-finally -- a task that fails while being cancelled
          throw new Error("failed during shutdown");
        }
      });
      async function* gen(): AsyncGenerator<number> {
        try {
          yield 1;
          yield 2;
        } finally {
          log.push("generator closed");
        }
      }
      await getRunningLoop().trackAsyncGen(gen()).next();
      await sleep(0);
    });
    expect(log).toEqual(["hanging task cancelled", "generator closed"]);
    expect(reports.map((r) => r.message)).toEqual(["unhandled exception during run() shutdown"]);
    expect((reports[0]?.exception as Error).message).toBe("failed during shutdown");
    expect((loop as unknown as EventLoop).isClosed()).toBe(true);
    expect(() => getEventLoop()).toThrow(RuntimeError);
  });

  it("43: a leftover task that fails with null while being cancelled is reported too", async () => {
    const reports: ExceptionContext[] = [];
    await run(async () => {
      getRunningLoop().setExceptionHandler((_l, ctx) => reports.push(ctx));
      createTask(async () => {
        try {
          await sleep(60_000);
        } finally {
          // eslint-disable-next-line no-unsafe-finally, @typescript-eslint/only-throw-error -- JS can throw null
          throw null;
        }
      });
      await sleep(0);
    });
    expect(reports.map((r) => [r.message, r.exception])).toEqual([["unhandled exception during run() shutdown", null]]);
  });

  it("44: run(main, {debug: true}) turns debug on; {debug: false} off", async () => {
    expect(await run(async () => getRunningLoop().getDebug(), { debug: true })).toBe(true);
    expect(await run(async () => getRunningLoop().getDebug(), { debug: false })).toBe(false);
  });

  it("45: Runner reuses its loop and its context between run() calls", async () => {
    const v = new ContextVar<number>("counter", { default: 0 });
    const runner = new Runner();
    const loops: EventLoop[] = [];
    await runner.run(async () => {
      loops.push(getRunningLoop());
      v.set(v.get() + 1);
    });
    const seen = await runner.run(async () => {
      loops.push(getRunningLoop());
      return v.get();
    });
    expect(loops[0]).toBe(loops[1]);
    expect(runner.getLoop()).toBe(loops[0]);
    expect(seen).toBe(1);
    await runner.close();
    await runner.close();
    expect(loops[0]?.isClosed()).toBe(true);
    await expect(runner.run(async () => 1)).rejects.toThrow(/^Runner is closed$/);
    expect(() => runner.getLoop()).toThrow("Runner is closed");
  });

  it("45: Runner.run() inside a running loop rejects", async () => {
    const runner = new Runner();
    const err = await run(async () => runner.run(async () => 1).then(() => null, (e: unknown) => e));
    expect((err as Error).message).toBe("Runner.run() cannot be called from a running event loop");
    await runner.close();
  });

  it("45: Runner supports await using", async () => {
    let loop: EventLoop | null = null;
    {
      await using runner = new Runner();
      loop = runner.getLoop();
      expect(await runner.run(async () => 5)).toBe(5);
    }
    expect((loop).isClosed()).toBe(true);
  });

  it("17: a Runner with loopFactory never sets the thread's loop", async () => {
    const made = new EventLoop();
    const runner = new Runner({ loopFactory: () => made });
    expect(await runner.run(async () => getRunningLoop() === made)).toBe(true);
    await runner.close();
    expect(made.isClosed()).toBe(true);
  });

  it("a closed loop rejects new work at once instead of hanging", async () => {
    let loop: EventLoop | null = null;
    await run(async () => {
      loop = getRunningLoop();
    });
    expect(() => (loop as unknown as EventLoop).createTask(async () => 1)).toThrow("Event loop is closed");
  });
});
