/**
 * Loop lifecycle: asyncio-semantics.md items 19-39, and the seed scenarios around stop/close/run.
 */
import { Worker } from "node:worker_threads";
import { describe, expect, it, vi } from "vitest";
import {
  type EventLoop,
  Future,
  RuntimeError,
  Task,
  createTask,
  getRunningLoop,
  newEventLoop,
  sleep,
  type ExceptionContext,
  type TaskFactory,
} from "multiloop";
import { fixture } from "./helpers.js";

function collectErrors(loop: EventLoop): ExceptionContext[] {
  const seen: ExceptionContext[] = [];
  loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
  return seen;
}

describe("loop lifecycle", () => {
  it("19: runForever() on a closed loop rejects with 'Event loop is closed' (checked before running)", async () => {
    const loop = newEventLoop();
    loop.close();
    await expect(loop.runForever()).rejects.toThrow(/^Event loop is closed$/);
    await expect(loop.runForever()).rejects.toBeInstanceOf(RuntimeError);
  });

  it("19: running the same loop again from inside it rejects with 'This event loop is already running'", async () => {
    const loop = newEventLoop();
    const err = await loop.runUntilComplete(async () => loop.runForever().then(() => null, (e: unknown) => e));
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe("This event loop is already running");
    loop.close();
  });

  it("19: running another loop inside a running one rejects with 'Cannot run the event loop while another loop is running'", async () => {
    const outer = newEventLoop();
    const inner = newEventLoop();
    const err = await outer.runUntilComplete(async () => inner.runUntilComplete(async () => 1).then(() => null, (e: unknown) => e));
    expect((err as Error).message).toBe("Cannot run the event loop while another loop is running");
    outer.close();
    inner.close();
  });

  it("20: a nested run that fails leaves the outer loop running (gh-130145 not copied)", async () => {
    const loop = newEventLoop();
    const after = await loop.runUntilComplete(async () => {
      await loop.runForever().catch(() => undefined);
      await loop.runUntilComplete(async () => 1).catch(() => undefined);
      let closeError: unknown = null;
      try {
        loop.close();
      } catch (e) {
        closeError = e;
      }
      await sleep(0);
      return { running: loop.isRunning(), sameLoop: getRunningLoop() === loop, closeError: (closeError as Error).message };
    });
    expect(after).toEqual({ running: true, sameLoop: true, closeError: "Cannot close a running event loop" });
    loop.close();
  });

  it("21, 31: isRunning() is true only while the loop runs", async () => {
    const loop = newEventLoop();
    expect(loop.isRunning()).toBe(false);
    const inside = await loop.runUntilComplete(async () => loop.isRunning());
    expect(inside).toBe(true);
    expect(loop.isRunning()).toBe(false);
    loop.close();
  });

  it("22: stop() lets the current iteration finish; what it scheduled runs on the next run", async () => {
    const loop = newEventLoop();
    const log: string[] = [];
    loop.callSoon(() => {
      log.push("a");
      loop.stop();
      loop.callSoon(() => log.push("after-stop"));
    });
    loop.callSoon(() => log.push("b"));
    await loop.runForever();
    expect(log).toEqual(["a", "b"]);
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    expect(log).toEqual(["a", "b", "after-stop"]);
    loop.close();
  });

  it("23: stop() before runForever() runs exactly one iteration", async () => {
    const loop = newEventLoop();
    const log: string[] = [];
    loop.callSoon(() => {
      log.push("first");
      loop.callSoon(() => log.push("second"));
    });
    loop.stop();
    await loop.runForever();
    expect(log).toEqual(["first"]);
    loop.close();
  });

  it("24: stop() is idempotent and does not stop the next run", async () => {
    const loop = newEventLoop();
    loop.stop();
    loop.stop();
    await loop.runForever();
    const log: string[] = [];
    loop.callSoon(() => log.push("x"));
    loop.callSoon(() => loop.callSoon(() => log.push("y")));
    // Stopped from the callback that logs last: a 1 ms timer could come due in the first
    // iteration on a loaded machine, and stop() then drops "y" (as asyncio's does).
    loop.callSoon(() => loop.callSoon(() => loop.callSoon(() => loop.stop())));
    await loop.runForever();
    expect(log).toEqual(["x", "y"]);
    loop.close();
  });

  it("stop then run again (seed scenario)", async () => {
    const loop = newEventLoop();
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    expect(await loop.runUntilComplete(async () => "again")).toBe("again");
    loop.close();
  });

  it("close then run throws (seed scenario)", async () => {
    const loop = newEventLoop();
    loop.close();
    await expect(loop.runUntilComplete(async () => 1)).rejects.toThrow("Event loop is closed");
  });

  it("26: runUntilComplete() with something not awaitable throws TypeError; a future of another loop RangeError", async () => {
    const loop = newEventLoop();
    const other = newEventLoop();
    await expect(loop.runUntilComplete(123 as unknown as Promise<number>)).rejects.toBeInstanceOf(TypeError);
    await expect(loop.runUntilComplete(other.createFuture())).rejects.toThrow(
      "The future belongs to a different loop than the one specified as the loop argument",
    );
    loop.close();
    other.close();
  });

  it("26: runUntilComplete() accepts a future, a function, and an already started promise", async () => {
    const loop = newEventLoop();
    const fut = loop.createFuture<number>();
    loop.callSoon(() => fut.setResult(1));
    expect(await loop.runUntilComplete(fut)).toBe(1);
    expect(await loop.runUntilComplete(async () => 2)).toBe(2);
    expect(await loop.runUntilComplete(Promise.resolve(3))).toBe(3);
    loop.close();
  });

  it("27: the loop stops when the future completes and rethrows its error", async () => {
    const loop = newEventLoop();
    await expect(loop.runUntilComplete(async () => {
      throw new RangeError("boom");
    })).rejects.toThrow(RangeError);
    expect(loop.isRunning()).toBe(false);
    loop.close();
  });

  it("28: stopping before the future completes rejects with 'Event loop stopped before Future completed.'", async () => {
    const loop = newEventLoop();
    const fut = loop.createFuture();
    loop.callSoon(() => loop.stop());
    await expect(loop.runUntilComplete(fut)).rejects.toThrow(/^Event loop stopped before Future completed\.$/);
    loop.close();
  });

  it("29: an aborted runUntilComplete does not report its own task as destroyed while pending", async () => {
    const loop = newEventLoop();
    const seen = collectErrors(loop);
    loop.callSoon(() => loop.stop());
    await expect(loop.runUntilComplete(() => sleep(10_000))).rejects.toThrow("Event loop stopped before Future completed.");
    loop.close();
    expect(seen.map((c) => c.message)).not.toContain("Task was destroyed but it is pending!");
  });

  it("32: close() on a running loop throws; on a closed loop does nothing; drops callbacks and timers", async () => {
    const loop = newEventLoop();
    const log: string[] = [];
    const err = await loop.runUntilComplete(async () => {
      try {
        loop.close();
        return null;
      } catch (e) {
        return e;
      }
    });
    expect((err as Error).message).toBe("Cannot close a running event loop");
    loop.callSoon(() => log.push("soon"));
    loop.callLater(0, () => log.push("later"));
    loop.close();
    loop.close();
    expect(loop.isClosed()).toBe(true);
    const other = newEventLoop();
    await other.runUntilComplete(() => sleep(2));
    other.close();
    expect(log).toEqual([]);
  });

  it("33: after close() scheduling and running throw 'Event loop is closed'; createFuture() and time() still work", async () => {
    const loop = newEventLoop();
    loop.close();
    const noop = (): void => undefined;
    expect(() => loop.callSoon(noop)).toThrow("Event loop is closed");
    expect(() => loop.callLater(1, noop)).toThrow("Event loop is closed");
    expect(() => loop.callAt(loop.time(), noop)).toThrow("Event loop is closed");
    expect(() => loop.callSoonThreadsafe(noop)).toThrow("Event loop is closed");
    expect(() => loop.createTask(async () => 1)).toThrow("Event loop is closed");
    expect(() => loop.runInExecutor(null, () => 1)).toThrow("Event loop is closed");
    await expect(loop.runForever()).rejects.toThrow("Event loop is closed");
    await expect(loop.runUntilComplete(async () => 1)).rejects.toThrow("Event loop is closed");
    expect(loop.createFuture()).toBeInstanceOf(Future);
    expect(typeof loop.time()).toBe("number");
  });

  it("34: a task that cannot be created on a closed loop never starts its function", () => {
    const loop = newEventLoop();
    loop.close();
    let started = false;
    expect(() =>
      loop.createTask(async () => {
        started = true;
      }),
    ).toThrow("Event loop is closed");
    expect(started).toBe(false);
  });

  it("36: shutdownAsyncgens() closes tracked async generators and reports their errors; tracking later warns", async () => {
    const loop = newEventLoop();
    const seen = collectErrors(loop);
    const log: string[] = [];
    async function* good(): AsyncGenerator<number> {
      try {
        yield 1;
        yield 2;
      } finally {
        log.push("good closed");
      }
    }
    async function* bad(): AsyncGenerator<number> {
      try {
        yield 1;
      } finally {
        // eslint-disable-next-line no-unsafe-finally -- the point of the test: a generator that fails to close
        throw new Error("cannot close");
      }
    }
    await loop.runUntilComplete(async () => {
      const g = loop.trackAsyncGen(good());
      const b = loop.trackAsyncGen(bad());
      await g.next();
      await b.next();
    });
    await loop.runUntilComplete(() => loop.shutdownAsyncgens());
    expect(log).toEqual(["good closed"]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.message).toMatch(/^an error occurred during closing of asynchronous generator/);
    expect((seen[0]?.exception as Error).message).toBe("cannot close");
    const warned = vi.fn();
    process.once("warning", warned);
    loop.trackAsyncGen(good());
    await new Promise((resolve) => setImmediate(resolve));
    expect(warned).toHaveBeenCalledTimes(1);
    expect(String(warned.mock.calls[0]?.[0])).toMatch(/was scheduled after loop\.shutdownAsyncgens\(\) call/);
    loop.close();
  });

  it("38: after shutdownDefaultExecutor() runInExecutor(null, ...) throws 'Executor shutdown has been called'", async () => {
    const loop = newEventLoop();
    await loop.runUntilComplete(() => loop.shutdownDefaultExecutor());
    expect(() => loop.runInExecutor(null, () => 1)).toThrow(/^Executor shutdown has been called$/);
    loop.close();
  });

  it("39: setTaskFactory() takes a function or null; the factory gets (loop, coro, {context}) and the name is applied after", async () => {
    const loop = newEventLoop();
    expect(() => loop.setTaskFactory(1 as unknown as TaskFactory)).toThrow(TypeError);
    const calls: unknown[] = [];
    const factory: TaskFactory = (l, coro, options) => {
      calls.push([l, typeof coro, Object.keys(options)]);
      return new Task(coro, { loop: l, ...options });
    };
    loop.setTaskFactory(factory);
    expect(loop.getTaskFactory()).toBe(factory);
    const name = await loop.runUntilComplete(async () => {
      const t = createTask(async () => 1, { name: "named" });
      await t;
      return t.getName();
    });
    expect(name).toBe("named");
    expect(calls[1]).toEqual([loop, "function", []]);
    loop.setTaskFactory(null);
    expect(loop.getTaskFactory()).toBeNull();
    loop.close();
  });

  it("a running loop keeps its worker alive; stopping it lets the worker go on", { timeout: 20_000 }, async () => {
    const worker = new Worker(fixture("keepalive-worker"), { workerData: { mode: "forever" } });
    const messages: unknown[] = [];
    const exited = new Promise<number>((resolve) => worker.on("exit", resolve));
    worker.on("message", (m: unknown) => {
      messages.push(m);
      if (m === "running") worker.postMessage("stop");
    });
    expect(await exited).toBe(0);
    expect(messages).toEqual(["running", "stopped"]);
  });

  it("a worker whose loop is closed exits by itself", { timeout: 20_000 }, async () => {
    const worker = new Worker(fixture("keepalive-worker"), { workerData: { mode: "close" } });
    const messages: unknown[] = [];
    worker.on("message", (m: unknown) => messages.push(m));
    const code = await new Promise<number>((resolve) => worker.on("exit", resolve));
    expect(code).toBe(0);
    expect(messages).toEqual(["closed"]);
  });
});
