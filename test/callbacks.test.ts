/**
 * Callbacks, time and handles: asyncio-semantics.md items 48-61, and the delay edge cases.
 */
import { describe, expect, it } from "vitest";
import {
  ContextVar,
  Handle,
  type TimerHandle,
  copyContext,
  createTask,
  newEventLoop,
  sleep,
  withContext,
  type EventLoop,
  type ExceptionContext,
} from "multiloop";

// The stop timer must come after everything a test schedules, however slow the first iteration
// is: at 5 ms, a loaded machine ran it in the first iteration and stop() dropped the next one's
// callbacks (as asyncio's stop() does).
async function runLoop(setup: (loop: EventLoop, log: string[]) => void, stopAfterMs = 250): Promise<string[]> {
  const loop = newEventLoop();
  const log: string[] = [];
  setup(loop, log);
  loop.callLater(stopAfterMs, () => loop.stop());
  await loop.runForever();
  loop.close();
  return log;
}

describe("callbacks, time and handles", () => {
  it("48: callSoon runs callbacks once each in FIFO order and returns a Handle", async () => {
    let handle: Handle | null = null;
    const log = await runLoop((loop, log) => {
      handle = loop.callSoon((x: string) => log.push(x), "a");
      loop.callSoon((x: string) => log.push(x), "b");
      loop.callSoon((x: string, y: string) => log.push(x + y), "c", "d");
    });
    expect(log).toEqual(["a", "b", "cd"]);
    expect(handle).toBeInstanceOf(Handle);
  });

  it("callSoon/callLater/callAt order (seed scenario)", async () => {
    const log = await runLoop((loop, log) => {
      // Deadlines far apart: callLater reads the clock itself, and on a loaded machine more than a
      // millisecond can pass between two statements (seen: 'later 2' before 'at 1').
      loop.callLater(200, () => log.push("later 2"));
      loop.callAt(loop.time() + 1, () => log.push("at 1"));
      loop.callSoon(() => log.push("soon"));
    }, 300);
    expect(log).toEqual(["soon", "at 1", "later 2"]);
  });

  it("49: a callback scheduled during an iteration runs in the next one, after what was already queued", async () => {
    const log = await runLoop((loop, log) => {
      loop.callSoon(() => {
        log.push("a");
        loop.callSoon(() => log.push("a-child"));
      });
      loop.callSoon(() => log.push("b"));
    });
    expect(log).toEqual(["a", "b", "a-child"]);
  });

  it("50: callbacks already ready run before timers that became due in the same iteration", async () => {
    const loop = newEventLoop();
    const log: string[] = [];
    loop.callSoon(() => log.push("soon1"));
    loop.callAt(loop.time() - 1, () => log.push("at_past"));
    loop.callLater(0, () => log.push("later0"));
    loop.callSoon(() => log.push("soon2"));
    loop.callLater(5, () => loop.stop());
    await loop.runForever();
    loop.close();
    expect(log).toEqual(["soon1", "soon2", "at_past", "later0"]);
  });

  it("51: negative delays run soon, ordered by when", async () => {
    const log = await runLoop((loop, log) => {
      loop.callLater(-1, () => log.push("a"));
      loop.callLater(-2, () => log.push("b"));
    });
    expect(log).toEqual(["b", "a"]);
  });

  it("51: NaN and non-number delays and times throw TypeError naming the argument", () => {
    const loop = newEventLoop();
    const noop = (): void => undefined;
    expect(() => loop.callLater(Number.NaN, noop)).toThrow(TypeError);
    expect(() => loop.callLater(Number.NaN, noop)).toThrow(/`delayMs`/);
    expect(() => loop.callLater(null as unknown as number, noop)).toThrow(TypeError);
    expect(() => loop.callLater("5" as unknown as number, noop)).toThrow(/`delayMs`.*"5"/);
    expect(() => loop.callAt(undefined as unknown as number, noop)).toThrow(/`whenMs`/);
    loop.close();
  });

  it("52: timers with the same deadline run in scheduling order", async () => {
    const log = await runLoop((loop, log) => {
      const when = loop.time() + 1;
      for (let i = 0; i < 12; i++) loop.callAt(when, () => log.push(String(i)));
    });
    expect(log).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]);
  });

  it("timers fire in (when, scheduling) order across callLater lists, callAt and cancellations", async () => {
    const loop = newEventLoop();
    const fired: number[] = [];
    const scheduled: Array<{ index: number; when: number; cancelled: boolean }> = [];
    // A fixed pseudo-random mix: repeated delays (shared lists), absolute times, cancellations,
    // enough cancelled timers to trigger a rebuild.
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const base = loop.time();
    for (let index = 0; index < 600; index++) {
      const kind = rand(3);
      const h =
        kind === 0
          ? loop.callAt(base + rand(8) + rand(1000) / 1000, () => fired.push(index))
          : loop.callLater(rand(4), () => fired.push(index));
      const cancelled = rand(5) < 3;
      if (cancelled) h.cancel();
      scheduled.push({ index, when: h.when(), cancelled });
    }
    loop.callLater(20, () => loop.stop());
    await loop.runForever();
    loop.close();
    const expected = scheduled
      .filter((t) => !t.cancelled)
      .sort((a, b) => a.when - b.when || a.index - b.index)
      .map((t) => t.index);
    expect(fired).toEqual(expected);
  });

  it("delays above 2^31-1 ms wait (Node's own timers would fire at once) and keep their when()", async () => {
    const loop = newEventLoop();
    let fired = false;
    const before = loop.time();
    const h = loop.callLater(2 ** 32, () => {
      fired = true;
    });
    expect(h.when()).toBeGreaterThanOrEqual(before + 2 ** 32);
    loop.callLater(5, () => loop.stop());
    await loop.runForever();
    expect(fired).toBe(false);
    h.cancel();
    loop.close();
  });

  it("53: time() is monotonic and works after close()", () => {
    const loop = newEventLoop();
    const a = loop.time();
    const b = loop.time();
    expect(b).toBeGreaterThanOrEqual(a);
    loop.close();
    expect(loop.time()).toBeGreaterThanOrEqual(b);
  });

  it("54: Handle.cancel() is idempotent and skips a handle already in the ready queue", async () => {
    let victim: Handle | null = null;
    const log = await runLoop((loop, log) => {
      loop.callSoon(() => {
        log.push("first");
        victim?.cancel();
        victim?.cancel();
      });
      victim = loop.callSoon(() => log.push("cancelled one"));
      loop.callSoon(() => log.push("third"));
    });
    expect(log).toEqual(["first", "third"]);
    expect((victim as unknown as Handle).cancelled()).toBe(true);
    expect(String(victim)).toBe("<Handle cancelled>");
  });

  it("a cancelled handle drops its callback; in debug mode its description is kept for the logs (as asyncio)", () => {
    const loop = newEventLoop();
    try {
      const plain = loop.callLater(10, function tick() {});
      plain.cancel();
      expect(String(plain)).toMatch(/^<TimerHandle when=[0-9.]+ cancelled>$/);
      loop.setDebug(true);
      const tock = (n: number): number => n;
      const debugged = loop.callSoon(tock, 7);
      debugged.cancel();
      expect(String(debugged)).toBe("<Handle cancelled tock(7)>");
    } finally {
      loop.close();
    }
  });

  it("55: TimerHandle.when() is the absolute time; cancelled timers never run", async () => {
    let timer: TimerHandle | null = null;
    let t0 = 0;
    let t1 = 0;
    const log = await runLoop((loop, log) => {
      t0 = loop.time();
      timer = loop.callLater(3, () => log.push("timer"));
      t1 = loop.time();
      const many = Array.from({ length: 300 }, (_, i) => loop.callLater(1 + (i % 3), () => log.push("x")));
      for (const h of many) h.cancel();
    });
    expect(log).toEqual(["timer"]);
    const when = (timer as unknown as TimerHandle).when();
    expect(when).toBeGreaterThanOrEqual(t0 + 3);
    expect(when).toBeLessThanOrEqual(t1 + 3);
  });

  it("56: a callback that throws does not stop the loop; the handler gets message, exception and handle", async () => {
    const seen: ExceptionContext[] = [];
    let failing: Handle | null = null;
    function boom(): void {
      throw new Error("kaboom");
    }
    const log = await runLoop((loop, log) => {
      loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
      failing = loop.callSoon(boom);
      loop.callSoon(() => log.push("still running"));
    });
    expect(log).toEqual(["still running"]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.message).toBe("Exception in callback boom()");
    expect((seen[0]?.exception as Error).message).toBe("kaboom");
    expect(seen[0]?.handle).toBe(failing);
  });

  it("57: a callback runs in a copy of the context taken when it was scheduled, or in withContext(ctx)", async () => {
    const v = new ContextVar<string>("v", { default: "default" });
    const seen: string[] = [];
    const loop = newEventLoop();
    await loop.runUntilComplete(async () => {
      v.set("at schedule");
      loop.callSoon(() => seen.push(v.get()));
      v.set("changed later");
      const ctx = copyContext();
      loop.callSoon(() => {
        seen.push(v.get());
        v.set("set inside ctx");
      }, withContext(ctx));
      const h = loop.callSoon(() => seen.push(v.get()));
      await sleep(0);
      seen.push(ctx.get(v) ?? "missing");
      expect(h.getContext().get(v)).toBe("changed later");
    });
    loop.close();
    expect(seen).toEqual(["at schedule", "changed later", "changed later", "set inside ctx"]);
  });

  it("57: a Proxy whose traps throw can be the last argument: it is passed, never inspected", async () => {
    // The trailing withContext() marker is found by a brand check; instanceof would run the
    // proxy's getPrototypeOf trap (found by the hostile-arguments fuzz suite through sleep()).
    const trap = (): never => {
      throw new Error("trap");
    };
    // Only the traps instanceof and a brand check could reach (a promise reads `then` through `get`).
    const proxy = new Proxy({}, { getPrototypeOf: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap });
    const loop = newEventLoop();
    const got = await loop.runUntilComplete(async () => {
      const passed = await new Promise<unknown>((resolve) => loop.callSoon((value: unknown) => resolve([value]), proxy));
      const slept = await sleep(0.001, proxy);
      const fut = loop.createFuture();
      expect(() => fut.addDoneCallback(() => undefined, proxy as never)).toThrow(TypeError);
      fut.cancel();
      return [passed, slept];
    });
    loop.close();
    expect((got[0] as unknown[])[0] === proxy).toBe(true);
    expect(got[1] === proxy).toBe(true);
  });

  it("57: Handle.getContext() shows what the callback set in its context", async () => {
    const v = new ContextVar<string>("changed", { default: "before" });
    const loop = newEventLoop();
    const h = loop.callSoon(() => {
      v.set("set by the callback");
    });
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    loop.close();
    expect(h.getContext().get(v)).toBe("set by the callback");
  });

  it("58: a non-function callback throws TypeError always; an async function throws in debug mode", () => {
    const loop = newEventLoop();
    expect(() => loop.callSoon(1 as unknown as () => void)).toThrow(TypeError);
    expect(() => loop.callSoon(1 as unknown as () => void)).toThrow(/`callback`/);
    const asyncFn = async (): Promise<void> => undefined;
    expect(() => loop.callSoon(asyncFn)).not.toThrow();
    loop.setDebug(true);
    expect(() => loop.callSoon(asyncFn)).toThrow("coroutines cannot be used with callSoon()");
    expect(() => loop.callLater(1, asyncFn)).toThrow("coroutines cannot be used with callLater()");
    loop.close();
  });

  it("59: callSoonThreadsafe() from the loop's own thread keeps arrival order with callSoon and returns a Handle", async () => {
    const handles: unknown[] = [];
    const log = await runLoop((loop, log) => {
      loop.callSoon(() => log.push("1"));
      handles.push(loop.callSoonThreadsafe(() => log.push("2")));
      loop.callSoon(() => log.push("3"));
    });
    expect(log).toEqual(["1", "2", "3"]);
    expect(handles[0]).toBeInstanceOf(Handle);
  });

  it("callSoon from code outside the runner wakes a parked loop", async () => {
    const loop = newEventLoop();
    const log: string[] = [];
    setTimeout(() => loop.callSoon(() => {
      log.push("woken");
      loop.stop();
    }), 5);
    await loop.runForever();
    loop.close();
    expect(log).toEqual(["woken"]);
  });

  it("61: a callback's return value is ignored; a returned promise is reported in debug mode", async () => {
    const seen: ExceptionContext[] = [];
    await runLoop((loop) => {
      loop.setDebug(true);
      loop.setExceptionHandler((_l, ctx) => seen.push(ctx));
      loop.callSoon(() => 42);
      loop.callSoon(function startsWork() {
        return Promise.resolve();
      });
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.message).toMatch(/returned a promise.*did you mean createTask\(\)\?/);
  });

  it("callbacks scheduled by a task step run after callbacks that were already queued", async () => {
    const loop = newEventLoop();
    const log: string[] = [];
    await loop.runUntilComplete(async () => {
      loop.callSoon(() => log.push("queued before"));
      createTask(async () => {
        log.push("task step");
        loop.callSoon(() => log.push("scheduled by the step"));
      });
      loop.callSoon(() => log.push("queued after the task"));
      await sleep(0);
      await sleep(0);
    });
    loop.close();
    expect(log).toEqual(["queued before", "task step", "queued after the task", "scheduled by the step"]);
  });
});
