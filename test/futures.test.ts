/**
 * Futures: asyncio-semantics.md section 5 (items 62-75), translated to the JS API.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  Context,
  ContextVar,
  Future,
  InvalidStateError,
  RuntimeError,
  copyContext,
  createTask,
  currentTask,
  getRunningLoop,
  isFuture,
  newEventLoop,
  run,
  setEventLoop,
  sleep,
  withContext,
} from "multiloop";
import { captureExceptions, caught, onNewLoop, thrown } from "./helpers.js";

describe("futures (semantics section 5)", () => {
  it("62: a future is PENDING, FINISHED or CANCELLED; done() is true for both end states", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const pending = loop.createFuture<number>();
      expect([pending.done(), pending.cancelled()]).toEqual([false, false]);

      const finished = loop.createFuture<number>();
      finished.setResult(1);
      expect([finished.done(), finished.cancelled()]).toEqual([true, false]);

      const failed = loop.createFuture<number>();
      failed.setException(new Error("boom"));
      expect([failed.done(), failed.cancelled()]).toEqual([true, false]);
      failed.exception();

      const cancelled = loop.createFuture<number>();
      cancelled.cancel();
      expect([cancelled.done(), cancelled.cancelled()]).toEqual([true, true]);
    });
  });

  it("63: result() and exception() on a pending future throw InvalidStateError", async () => {
    await run(async () => {
      const fut = getRunningLoop().createFuture();
      const r = thrown(() => fut.result());
      expect(r).toBeInstanceOf(InvalidStateError);
      expect((r as Error).message).toBe("Result is not set.");
      const e = thrown(() => fut.exception());
      expect(e).toBeInstanceOf(InvalidStateError);
      expect((e as Error).message).toBe("Exception is not set.");
    });
  });

  it("64: result() and exception() on a cancelled future throw CancelledError carrying the message", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const withMsg = loop.createFuture();
      withMsg.cancel("why");
      for (const read of [() => withMsg.result(), () => withMsg.exception()]) {
        const err = thrown(read);
        expect(err).toBeInstanceOf(CancelledError);
        expect((err as Error).message).toBe("why");
      }
      const noMsg = loop.createFuture();
      noMsg.cancel();
      const err = thrown(() => noMsg.result());
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("");
      // Awaiting it throws the same way.
      const awaited = await caught(withMsg);
      expect(awaited).toBeInstanceOf(CancelledError);
      expect((awaited as Error).message).toBe("why");
    });
  });

  it("65: setResult / setException on a done future (cancelled included) throw InvalidStateError('invalid state')", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const finished = loop.createFuture<number>();
      finished.setResult(1);
      const cancelled = loop.createFuture<number>();
      cancelled.cancel();
      const failed = loop.createFuture<number>();
      failed.setException(new Error("first"));
      failed.exception();
      for (const fut of [finished, cancelled, failed]) {
        for (const set of [() => fut.setResult(2), () => fut.setException(new Error("again"))]) {
          const err = thrown(set);
          expect(err).toBeInstanceOf(InvalidStateError);
          expect((err as Error).message).toBe("invalid state");
        }
      }
      expect(finished.result()).toBe(1);
    });
  });

  it("66: cancel() returns false on a done future; otherwise cancels, schedules the callbacks and returns true", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const finished = loop.createFuture<number>();
      finished.setResult(1);
      expect(finished.cancel()).toBe(false);
      expect(finished.cancelled()).toBe(false);

      const fut = loop.createFuture<number>();
      const seen: string[] = [];
      fut.addDoneCallback((f) => seen.push(`cb cancelled=${f.cancelled()}`));
      expect(fut.cancel("stop")).toBe(true);
      expect(fut.cancelled()).toBe(true);
      expect(seen).toEqual([]); // scheduled, not called
      expect(fut.cancel()).toBe(false);
      await sleep(0);
      expect(seen).toEqual(["cb cancelled=true"]);
    });
  });

  it("67: setException with an error class stores an instance of it", async () => {
    await run(async () => {
      const fut = getRunningLoop().createFuture();
      fut.setException(RangeError);
      const exc = fut.exception();
      expect(exc).toBeInstanceOf(RangeError);
      const err = thrown(() => fut.result());
      expect(err).toBe(exc);
    });
  });

  it("68: done callbacks are never called synchronously; they are scheduled with callSoon in registration order", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const fut = loop.createFuture<number>();
      fut.addDoneCallback(() => order.push("cb1"));
      fut.addDoneCallback(() => order.push("cb2"));
      loop.callSoon(() => order.push("queued before setResult"));
      fut.setResult(7);
      expect(order).toEqual([]);
      loop.callSoon(() => order.push("queued after setResult"));
      // A callback added after completion is scheduled straight away, behind what is queued.
      fut.addDoneCallback(() => order.push("cb3 (added when done)"));
      loop.callSoon(() => order.push("queued after cb3"));
      await sleep(0);
      expect(order).toEqual([
        "queued before setResult",
        "cb1",
        "cb2",
        "queued after setResult",
        "cb3 (added when done)",
        "queued after cb3",
      ]);
    });
  });

  it("69: addDoneCallback captures the context at registration; removeDoneCallback removes every entry and returns the count", async () => {
    const cvar = new ContextVar<string>("cvar", { default: "unset" });
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<number>();
      const seen: string[] = [];
      cvar.set("at registration");
      fut.addDoneCallback(() => seen.push(`copied: ${cvar.get()}`));
      const explicit = new Context();
      explicit.run(() => cvar.set("explicit"));
      fut.addDoneCallback(() => seen.push(`given: ${cvar.get()}`), withContext(explicit));
      cvar.set("changed later");

      const removed: (f: Future<number>) => void = () => seen.push("removed");
      fut.addDoneCallback(removed);
      fut.addDoneCallback(removed);
      expect(fut.removeDoneCallback(removed)).toBe(2);
      expect(fut.removeDoneCallback(removed)).toBe(0);

      fut.setResult(1);
      await sleep(0);
      expect(seen).toEqual(["copied: at registration", "given: explicit"]);
    });
  });

  it("70: a future whose exception nobody retrieved is reported (debug mode: when its loop closes)", async () => {
    const loop = newEventLoop();
    loop.setDebug(true);
    const seen = captureExceptions(loop);
    const lost = new Error("lost");
    const kept: Future<unknown>[] = [];
    await loop.runUntilComplete(async () => {
      const unretrieved = loop.createFuture();
      unretrieved.setException(lost);
      const retrieved = loop.createFuture();
      retrieved.setException(new Error("looked at"));
      retrieved.exception();
      const cancelled = loop.createFuture();
      cancelled.cancel();
      const failingTask = createTask(async () => {
        throw new Error("task lost");
      });
      await sleep(0);
      await sleep(0);
      kept.push(unretrieved, retrieved, cancelled, failingTask);
    });
    loop.close();
    const reports = seen.filter((c) => c.message.endsWith("exception was never retrieved"));
    expect(reports.map((c) => c.message).sort()).toEqual([
      "Future exception was never retrieved",
      "Task exception was never retrieved",
    ]);
    expect(reports.find((c) => c.message.startsWith("Future"))?.exception).toBe(lost);
    expect(kept).toHaveLength(4);
  });

  it("70: without debug mode the report comes when the future is garbage-collected (a task failing before its first await too)", { timeout: 10_000 }, async () => {
    // Forced full collections make this deterministic enough: the registry's callbacks run in a
    // later macrotask, so each round collects, then yields to Node.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const loop = newEventLoop();
    const seen = captureExceptions(loop);
    await loop.runUntilComplete(async () => {
      ((): void => {
        loop.createFuture().setException(new Error("future lost to gc"));
        createTask(async () => {
          throw new Error("task lost to gc");
        });
      })();
      await sleep(0);
      await sleep(0);
      for (let round = 0; round < 20 && seen.length < 2; round++) {
        gc();
        await new Promise<void>((resolve) => setImmediate(resolve));
        await sleep(0);
      }
    });
    loop.close();
    expect(seen.map((c) => `${c.message}: ${(c.exception as Error).message}`).sort()).toEqual([
      "Future exception was never retrieved: future lost to gc",
      "Task exception was never retrieved: task lost to gc",
    ]);
  });

  it("71: awaiting a done future does not yield to the loop; a future of another loop is refused", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const done = loop.createFuture<number>();
      done.setResult(5);
      loop.callSoon(() => order.push("callback"));
      expect(await done).toBe(5);
      order.push("resumed");
      await sleep(0);
      expect(order).toEqual(["resumed", "callback"]);

      const other = newEventLoop();
      try {
        const foreign = other.createFuture<number>();
        const err = await caught(foreign);
        expect(err).toBeInstanceOf(RuntimeError);
        expect((err as Error).message).toMatch(/^Task <Task .*> got Future <Future pending> attached to a different loop$/u);
      } finally {
        other.close();
      }
    });
  });

  it("72: a future is bound to a loop when built: options.loop, else the running loop, else getEventLoop()", async () => {
    const explicit = newEventLoop();
    const current = newEventLoop();
    try {
      expect(new Future({ loop: explicit }).getLoop()).toBe(explicit);
      setEventLoop(current);
      expect(new Future().getLoop()).toBe(current);
      await onNewLoop(async (running) => {
        expect(new Future().getLoop()).toBe(running);
        expect(running.createFuture().getLoop()).toBe(running);
      });
    } finally {
      setEventLoop(null);
      explicit.close();
      current.close();
    }
  });

  it("73: isFuture() recognises futures and tasks, not plain promises or thenables", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const task = createTask(async () => 1);
      expect(isFuture(loop.createFuture())).toBe(true);
      expect(isFuture(task)).toBe(true);
      expect(isFuture(Promise.resolve(1))).toBe(false);
      expect(isFuture({ then() {} })).toBe(false);
      expect(isFuture(null)).toBe(false);
      await task;
    });
  });

  it("75: repr formats <Future pending>, <Future finished result=42>, <Future cancelled>, <Future finished exception=...>", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<number>();
      expect(String(fut)).toBe("<Future pending>");
      fut.setResult(42);
      expect(String(fut)).toBe("<Future finished result=42>");
      const cancelled = loop.createFuture();
      cancelled.cancel();
      expect(String(cancelled)).toBe("<Future cancelled>");
      const failed = loop.createFuture();
      failed.setException(new RuntimeError("lost"));
      expect(String(failed)).toBe("<Future finished exception=RuntimeError('lost')>");
      failed.exception();
    });
  });

  it("then/catch/finally behave like a Promise's and settle through the loop", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<number>();
      const chained = fut.then((v) => v * 2);
      const caughtOne = loop.createFuture<number>();
      const recovered = caughtOne.catch((e: unknown) => (e as Error).message);
      const finals: string[] = [];
      const fin = fut.finally(() => finals.push("finally"));
      fut.setResult(21);
      caughtOne.setException(new Error("oops"));
      expect(await chained).toBe(42);
      expect(await recovered).toBe("oops");
      expect(await fin).toBe(21);
      expect(finals).toEqual(["finally"]);
      expect(Object.prototype.toString.call(fut)).toBe("[object Future]");
      expect(fut).not.toBeInstanceOf(Promise);
    });
  });

  it("what then() returns behaves like a Promise: chains, adopts thenables, rejects, serves several subscribers", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<number>();
      const derived = fut.then((v) => v + 1);
      const first = derived.then((v) => v * 10); // served without a native promise
      const second = derived.then((v) => v * 100); // a second subscriber: both get the value
      const adopted = fut.then((v) => Promise.resolve(`adopted ${v}`));
      const thrown = fut.then(() => {
        throw new RangeError("from the callback");
      });
      const passedOn = thrown.then((v) => `not called ${String(v)}`); // no onRejected: passes the error on
      const passedOnError = caught(passedOn); // handled before it rejects, as a Promise must be
      fut.setResult(1);
      expect(await first).toBe(20);
      expect(await second).toBe(200);
      expect(await adopted).toBe("adopted 1");
      expect(await caught(thrown)).toBeInstanceOf(RangeError);
      expect(await passedOnError).toBeInstanceOf(RangeError);
      const late = await derived.then((v) => `late ${v}`); // subscribed after it settled
      expect(late).toBe("late 2");
      const failing = loop.createFuture<number>();
      const handled = failing.then(
        () => "no",
        (e: unknown) => `handled ${(e as Error).message}`,
      );
      failing.setException(new Error("boom"));
      expect(await handled).toBe("handled boom");
    });
  });

  it("callbacks on what then() returns run in the async context they subscribed in (task, context variables)", async () => {
    const requestId = new ContextVar<string>("requestIdThen", { default: "none" });
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<number>();
      const seen: string[] = [];
      const task = createTask(async () => {
        requestId.set("r-1");
        const me = currentTask();
        const chained = fut.then((v) => v).then(async (v) => {
          seen.push(`sync ${String(currentTask() === me)} ${requestId.get()} ${v}`);
          await Promise.resolve();
          seen.push(`after await ${String(currentTask() === me)} ${requestId.get()}`);
        });
        await chained;
      });
      await sleep(0);
      loop.callSoon(() => fut.setResult(7)); // settled from a plain callback, outside the task
      await task;
      expect(seen).toEqual(["sync true r-1 7", "after await true r-1"]);
    });
  });

  it("bad input: Future and its methods throw TypeError naming the argument", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      expect(() => new Future(5 as never)).toThrow(TypeError);
      expect(() => new Future(5 as never)).toThrow(/`options`/u);
      expect(() => new Future({ loop: 5 as never })).toThrow(/`options.loop`/u);
      expect(() => new Future({ loop: {} as never })).toThrow(/`options.loop`/u);
      const fut = loop.createFuture();
      expect(() => fut.addDoneCallback(5 as never)).toThrow(/`cb`/u);
      expect(() => fut.addDoneCallback(() => {}, {} as never)).toThrow(/`context`/u);
      expect(() => fut.addDoneCallback(() => {}, copyContext() as never)).toThrow(TypeError);
      expect(() => fut.removeDoneCallback("x" as never)).toThrow(/`cb`/u);
      expect(() => fut.cancel(42 as never)).toThrow(/`msg`/u);
      expect(fut.done()).toBe(false);
    });
  });
});
