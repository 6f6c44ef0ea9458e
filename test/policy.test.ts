/**
 * Policy and loop lookup: asyncio-semantics.md items 1-18, and the seed scenarios with real workers.
 */
import { describe, expect, it } from "vitest";
import {
  DefaultEventLoopPolicy,
  EventLoop,
  EventLoopPolicy,
  NoRunningLoopError,
  RuntimeError,
  currentThreadName,
  getEventLoop,
  getEventLoopPolicy,
  getRunningLoop,
  newEventLoop,
  run,
  setEventLoop,
  setEventLoopPolicy,
  sleep,
} from "multiloop";
import { runWorker } from "./helpers.js";

// Each test file runs in its own process (vitest pool "forks"), but tests in this file share the
// main thread's policy: every test that changes it installs a fresh one first.
function freshPolicy(): void {
  setEventLoopPolicy(null);
}

describe("policy and loop lookup", () => {
  it("1: getRunningLoop() outside a loop throws RuntimeError('no running event loop')", () => {
    expect(() => getRunningLoop()).toThrow(RuntimeError);
    expect(() => getRunningLoop()).toThrow(NoRunningLoopError);
    expect(() => getRunningLoop()).toThrow(/^no running event loop$/);
  });

  it("1: getRunningLoop() inside the loop returns it, also after awaiting a plain Promise", async () => {
    freshPolicy();
    const loop = newEventLoop();
    const seen = await loop.runUntilComplete(async () => {
      const before = getRunningLoop();
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
      await Promise.resolve();
      return [before, getRunningLoop()];
    });
    expect(seen).toEqual([loop, loop]);
    loop.close();
  });

  it("2: getEventLoop() inside a running loop returns the running loop even if the policy would throw", async () => {
    class Refusing extends DefaultEventLoopPolicy {
      override getEventLoop(): EventLoop {
        throw new Error("policy consulted");
      }
    }
    const loop = new EventLoop();
    setEventLoopPolicy(new Refusing());
    try {
      const got = await loop.runUntilComplete(async () => getEventLoop());
      expect(got).toBe(loop);
      expect(() => getEventLoop()).toThrow("policy consulted");
    } finally {
      setEventLoopPolicy(null);
      loop.close();
    }
  });

  it("3: without a running loop getEventLoop() asks the policy", () => {
    const loop = new EventLoop();
    const calls: string[] = [];
    class Counting extends DefaultEventLoopPolicy {
      override getEventLoop(): EventLoop {
        calls.push("get");
        return loop;
      }
    }
    setEventLoopPolicy(new Counting());
    try {
      expect(getEventLoop()).toBe(loop);
      expect(calls).toEqual(["get"]);
    } finally {
      setEventLoopPolicy(null);
      loop.close();
    }
  });

  it("4, 5: the main thread gets a loop created on first use, the same one every time", () => {
    freshPolicy();
    const first = getEventLoop();
    expect(first).toBeInstanceOf(EventLoop);
    expect(getEventLoop()).toBe(first);
    expect(first.isRunning()).toBe(false);
    first.close();
  });

  it("5: auto-creation goes through setEventLoop (a subclass sees the call)", () => {
    const seen: Array<EventLoop | null> = [];
    class Watching extends DefaultEventLoopPolicy {
      override setEventLoop(loop: EventLoop | null): void {
        seen.push(loop);
        super.setEventLoop(loop);
      }
    }
    const policy = new Watching();
    const loop = policy.getEventLoop();
    expect(seen).toEqual([loop]);
    loop.close();
  });

  it("6: in a worker thread getEventLoop() throws with the worker's name", { timeout: 20_000 }, async () => {
    const { messages, exitCode, threadId } = await runWorker("policy-worker", { scenario: "getEventLoop" });
    expect(exitCode).toBe(0);
    const [msg] = messages as Array<{ ok: boolean; error: { name: string; message: string; isRuntimeError: boolean }; threadName: string }>;
    expect(msg?.ok).toBe(false);
    expect(msg?.error.isRuntimeError).toBe(true);
    expect(msg?.threadName).toBe(`Worker-${threadId}`);
    expect(msg?.error.message).toBe(`There is no current event loop in thread 'Worker-${threadId}'.`);
  });

  it("6: the message quotes the name like Python's repr and ends with a period", () => {
    freshPolicy();
    setEventLoop(null);
    expect(() => getEventLoop()).toThrow(/^There is no current event loop in thread 'MainThread'\.$/);
    freshPolicy();
  });

  it("a worker that creates its loop with newEventLoop() + setEventLoop() works", { timeout: 20_000 }, async () => {
    const { messages, exitCode } = await runWorker("policy-worker", { scenario: "newAndSet" });
    expect(exitCode).toBe(0);
    expect(messages).toEqual([{ same: true, value: "ran on its own loop", closed: true }]);
  });

  it("three workers each create, set, run and close their own loop", { timeout: 30_000 }, async () => {
    const results = await Promise.all([0, 1, 2].map(() => runWorker("policy-worker", { scenario: "newAndSet" })));
    for (const { messages, exitCode } of results) {
      expect(exitCode).toBe(0);
      expect(messages).toEqual([{ same: true, value: "ran on its own loop", closed: true }]);
    }
  });

  it("47: run() works in a worker; afterwards getEventLoop() there throws with the thread's name", { timeout: 20_000 }, async () => {
    const { messages, threadId } = await runWorker("policy-worker", { scenario: "run" });
    expect(messages).toEqual([
      {
        value: `Worker-${threadId}`,
        after: {
          name: "NoCurrentLoopError",
          message: `There is no current event loop in thread 'Worker-${threadId}'.`,
          isRuntimeError: true,
        },
      },
    ]);
  });

  it("7: setEventLoop(null) disables auto-creation for good, on the main thread too", () => {
    freshPolicy();
    setEventLoop(null);
    expect(() => getEventLoop()).toThrow(RuntimeError);
    expect(() => getEventLoop()).toThrow("There is no current event loop in thread 'MainThread'.");
    const loop = newEventLoop();
    setEventLoop(loop);
    expect(getEventLoop()).toBe(loop);
    setEventLoop(null);
    expect(() => getEventLoop()).toThrow(RuntimeError);
    loop.close();
    freshPolicy();
  });

  it("8: setEventLoop() with something that is not a loop throws TypeError", () => {
    freshPolicy();
    expect(() => setEventLoop(1 as unknown as EventLoop)).toThrow(TypeError);
    expect(() => setEventLoop(1 as unknown as EventLoop)).toThrow("loop must be an instance of EventLoop or null, not 'number'");
    expect(() => setEventLoop({} as EventLoop)).toThrow("not 'Object'");
  });

  it("9: newEventLoop() returns a new loop and does not make it current", () => {
    freshPolicy();
    setEventLoop(null);
    const a = newEventLoop();
    const b = newEventLoop();
    expect(a).not.toBe(b);
    expect(() => getEventLoop()).toThrow(RuntimeError);
    a.close();
    b.close();
    freshPolicy();
  });

  it("10: getEventLoopPolicy() is created lazily and stays the same; setEventLoopPolicy(null) installs a fresh default", () => {
    const p1 = getEventLoopPolicy();
    expect(p1).toBeInstanceOf(DefaultEventLoopPolicy);
    expect(getEventLoopPolicy()).toBe(p1);
    setEventLoopPolicy(null);
    const p2 = getEventLoopPolicy();
    expect(p2).toBeInstanceOf(DefaultEventLoopPolicy);
    expect(p2).not.toBe(p1);
    const custom = new DefaultEventLoopPolicy();
    setEventLoopPolicy(custom);
    expect(getEventLoopPolicy()).toBe(custom);
    setEventLoopPolicy(null);
  });

  it("10: setEventLoopPolicy() with something that is not a policy throws TypeError", () => {
    expect(() => setEventLoopPolicy({} as EventLoopPolicy)).toThrow(TypeError);
    expect(() => setEventLoopPolicy({} as EventLoopPolicy)).toThrow("policy must be an instance of EventLoopPolicy or null, not 'Object'");
  });

  it("12: the base EventLoopPolicy implements nothing", () => {
    const base = new EventLoopPolicy();
    expect(() => base.getEventLoop()).toThrow(/not implemented/);
    expect(() => base.newEventLoop()).toThrow(/not implemented/);
    expect(() => base.setEventLoop(null)).toThrow(/not implemented/);
  });

  it("16: run() sets the thread's loop once and unsets it, so getEventLoop() throws afterwards", async () => {
    freshPolicy();
    const seen: Array<EventLoop | null> = [];
    class Watching extends DefaultEventLoopPolicy {
      override setEventLoop(loop: EventLoop | null): void {
        seen.push(loop);
        super.setEventLoop(loop);
      }
    }
    setEventLoopPolicy(new Watching());
    let inside: EventLoop | null = null;
    await run(async () => {
      inside = getRunningLoop();
      expect(getEventLoop()).toBe(inside);
      await sleep(0);
    });
    expect(seen).toEqual([inside, null]);
    expect(() => getEventLoop()).toThrow("There is no current event loop in thread 'MainThread'.");
    freshPolicy();
  });

  it("two loops in one thread never see each other's running state", async () => {
    const a = new EventLoop();
    const b = new EventLoop();
    const seenFromA = await a.runUntilComplete(async () => getRunningLoop());
    const seenFromB = await b.runUntilComplete(async () => getRunningLoop());
    expect(seenFromA).toBe(a);
    expect(seenFromB).toBe(b);
    a.close();
    b.close();
  });

  it("code the loop did not start sees no running loop, even while the loop runs", async () => {
    const loop = new EventLoop();
    let outside: unknown = "unset";
    // A timer created before the loop runs fires while it runs, outside any loop callback.
    const timer = new Promise<void>((resolve) =>
      setTimeout(() => {
        try {
          getRunningLoop();
          outside = "saw a loop";
        } catch (err) {
          outside = err;
        }
        resolve();
      }, 5),
    );
    await loop.runUntilComplete(async () => {
      await timer;
    });
    expect(outside).toBeInstanceOf(NoRunningLoopError);
    loop.close();
  });

  it("currentThreadName() is MainThread on the main thread", () => {
    expect(currentThreadName()).toBe("MainThread");
  });
});
