/**
 * Loop threads, callSoonThreadsafe, runCoroutineThreadsafe and the error envelope (issue 3 §7),
 * with real workers and real ports.
 */
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  ConcurrentFuture,
  ContextVar,
  LoopClosedError,
  LoopHandle,
  RemoteError,
  RuntimeError,
  carryContext,
  createTask,
  gather,
  registerErrorClass,
  run,
  runCoroutineThreadsafe,
  sleep,
  spawnLoopThread,
  type LoopThread,
} from "multiloop";
import type * as Tasks from "./fixtures/thread-tasks.js";
import type * as Senders from "./fixtures/sender-tasks.js";
import { fixture } from "./helpers.js";
import { QuotaError } from "../dist/test/fixtures/thread-tasks.js";

const tasks = fixture("thread-tasks");
const senders = fixture("sender-tasks");

describe("loop threads", () => {
  let io: LoopThread<typeof Tasks>;
  beforeAll(async () => {
    io = await spawnLoopThread<typeof Tasks>({ name: "io-1", module: tasks });
  }, 30_000);
  afterAll(async () => {
    await io.stop();
  }, 30_000);

  it("exposes the module's exported functions and runs them as tasks on the thread's own loop", { timeout: 20_000 }, async () => {
    expect(io.threadName).toBe("io-1");
    expect(io.handle.threadName).toBe("io-1");
    expect(await io.call("add", 2, 3)).toBe(5);
    expect(await io.call("threadName")).toBe("io-1");
    expect(await io.call("loopIsRunning")).toBe(true);
    expect(await io.call("slowEcho", { nested: [1, "two"] }, 1)).toEqual({ nested: [1, "two"] });
  });

  it("runCoroutineThreadsafe returns a ConcurrentFuture, also as a top-level function", { timeout: 20_000 }, async () => {
    const cf = io.handle.runCoroutineThreadsafe("add", 1, 1);
    expect(cf).toBeInstanceOf(ConcurrentFuture);
    expect(await cf).toBe(2);
    expect(cf.done()).toBe(true);
    expect(cf.result()).toBe(2);
    expect(await runCoroutineThreadsafe(io.handle, "add", 20, 22)).toBe(42);
  });

  it("an unknown target rejects with RemoteError whose remoteName is LookupError", { timeout: 20_000 }, async () => {
    // Untyped on purpose: with the module's type, TypeScript refuses the name already.
    const untyped: LoopThread = io;
    const err = await untyped.call("noSuchFunction").then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteName).toBe("LookupError");
    expect((err as RemoteError).threadName).toBe("io-1");
    expect((err as Error).message).toMatch(/noSuchFunction/);
    // A megabyte of name from another thread is shown by its start: the message stays a line.
    const long = await untyped.call("x".repeat(1_000_000)).then(() => null, (e: unknown) => e);
    expect((long as RemoteError).remoteName).toBe("LookupError");
    expect((long as Error).message).toMatch(/'x{57}\.\.\.'/);
    expect((long as Error).message.length).toBeLessThan(2_000);
  });

  it("an argument that cannot be cloned fails at the call site with a TypeError naming the target", { timeout: 20_000 }, () => {
    // Untyped on purpose: the wrong arguments are the point.
    const handle: LoopHandle = io.handle;
    expect(() => handle.runCoroutineThreadsafe("slowEcho", () => 1, 1)).toThrow(TypeError);
    expect(() => handle.callSoonThreadsafe("record", { when: Symbol("x") })).toThrow(/'record'/);
    // The position of the refused value, down through arrays, objects, Maps and Sets.
    expect(() => handle.callSoonThreadsafe("record", { when: Symbol("x") })).toThrow(
      "Cannot send the arguments[0].when of 'record' to another thread: a symbol cannot be cloned.",
    );
    expect(() => handle.callSoonThreadsafe("record", 1, [{ a: new Map([["k", [0, () => 1]]]) }])).toThrow(
      "Cannot send the arguments[1][0].a.get(k)[1] of 'record' to another thread: a function cannot be cloned.",
    );
    expect(() => handle.callSoonThreadsafe("record", new Set([new WeakMap()]))).toThrow(
      "Cannot send the arguments[0] (a Set item) of 'record' to another thread: a WeakMap cannot be cloned.",
    );
    expect(() => handle.runCoroutineThreadsafe("slowEcho", Promise.resolve(1), 1)).toThrow(/a Promise cannot be cloned/);
  });

  it("a result that cannot be cloned rejects with a TypeError", { timeout: 20_000 }, async () => {
    const err = await io.call("uncloneableResult").then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/uncloneableResult/);
  });

  it("cancel() cancels the remote task, which sees CancelledError and cleans up; the caller's future ends cancelled", { timeout: 20_000 }, async () => {
    const before = await io.call("cleanups");
    const cf = io.handle.runCoroutineThreadsafe("waitForCancel");
    await io.call("add", 0, 0); // the call above has started by now (same channel, FIFO)
    expect(cf.cancel()).toBe(true);
    expect(cf.cancelled()).toBe(true);
    await expect(cf).rejects.toBeInstanceOf(CancelledError);
    // The cleanup ran on the remote loop: poll through the loop (no timing assumptions).
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) after = await io.call("cleanups");
    expect(after).toBe(before + 1);
  });

  it("cancelling the task that awaits a remote call cancels the remote task", { timeout: 20_000 }, async () => {
    const before = await io.call("cleanups");
    const outcome = await run(async () => {
      const waiter = createTask(async () => io.handle.runCoroutineThreadsafe("waitForCancel"));
      await sleep(0);
      await io.call("add", 0, 0);
      waiter.cancel();
      try {
        await waiter;
        return "finished";
      } catch (err) {
        return err instanceof CancelledError ? "cancelled" : String(err);
      }
    });
    expect(outcome).toBe("cancelled");
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) after = await io.call("cleanups");
    expect(after).toBe(before + 1);
  });

  it("one remote call awaited by several tasks and by plain code: each gets the result; a failure reaches all", { timeout: 20_000 }, async () => {
    const results = await run(async () => {
      const cf = io.handle.runCoroutineThreadsafe("slowEcho", "shared", 20);
      const waiters = [0, 1, 2].map((i) => createTask(async () => `${i}:${String(await cf)}`));
      const plain = cf.then((v) => `plain:${String(v)}`);
      return [...(await gather(...waiters)), await plain];
    });
    expect(results).toEqual(["0:shared", "1:shared", "2:shared", "plain:shared"]);
    const errors = await run(async () => {
      const cf = io.handle.runCoroutineThreadsafe("failLater", "type");
      const waiters = [0, 1].map(() => createTask(async () => cf));
      return gather(waiters, { returnExceptions: true });
    });
    expect(errors.map((e: unknown) => (e as Error).name)).toEqual(["TypeError", "TypeError"]);
  });

  it("calls cancelled while others run: every other call gets its own answer, also when ids are reused", { timeout: 30_000 }, async () => {
    for (let round = 0; round < 3; round++) {
      const calls = Array.from({ length: 300 }, (_, i) => io.handle.runCoroutineThreadsafe("slowEcho", i, i % 4));
      // Cancelled now: answers to these may still be on their way while new calls go out.
      calls.forEach((cf, i) => {
        if (i % 3 === 0) cf.cancel();
      });
      const more = Array.from({ length: 100 }, (_, i) => io.handle.runCoroutineThreadsafe("add", i, 1000));
      const outcomes = await Promise.all(calls.map((cf) => cf.then((v) => v, (e: unknown) => e)));
      outcomes.forEach((outcome, i) => {
        if (i % 3 === 0) expect(outcome).toBeInstanceOf(CancelledError);
        else expect(outcome).toBe(i);
      });
      expect(await Promise.all(more)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1000));
    }
  });

  it("10,000 remote calls under one Promise.all: every result arrives, in argument order", { timeout: 60_000 }, async () => {
    const values = await run(async () => {
      const calls = Array.from({ length: 10_000 }, (_, i) => io.handle.runCoroutineThreadsafe("add", i, 1));
      return Promise.all(calls);
    });
    expect(values.length).toBe(10_000);
    expect(values.every((v, i) => v === i + 1)).toBe(true);
  });

  it("a remote task cancelled on its own loop ends the caller's future cancelled", { timeout: 20_000 }, async () => {
    const cf = io.handle.runCoroutineThreadsafe("cancelSelf");
    const err = await Promise.resolve(cf).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(cf.cancelled()).toBe(true);
  });

  it("context variables cross only when carried, and land in the variable of the same name", { timeout: 20_000 }, async () => {
    const requestId = new ContextVar<string>("requestId");
    const [plain, carried] = await run(async () => {
      requestId.set("req-7");
      return [await io.call("readRequestId"), await io.handle.runCoroutineThreadsafe("readRequestId", carryContext(requestId))];
    });
    expect(plain).toBe("none");
    expect(carried).toBe("req-7");
  });

  it("errors survive the trip: class, message, cause, custom properties, thread name and stack", { timeout: 20_000 }, async () => {
    const typeErr = (await io.call("failLater", "type").catch((e: unknown) => e)) as TypeError & { threadName: string };
    expect(typeErr).toBeInstanceOf(TypeError);
    expect(typeErr.message).toBe("bad type");
    expect(typeErr.cause).toBeInstanceOf(RangeError);
    expect((typeErr.cause as Error).message).toBe("root cause");
    expect(typeErr.threadName).toBe("io-1");
    expect(typeErr.stack).toMatch(/failLater|fail/);
    expect(typeErr.stack).toMatch(/thrown in thread 'io-1'/);

    const custom = (await io.call("fail", "custom").catch((e: unknown) => e)) as RemoteError & { code: string; limit: number };
    expect(custom).toBeInstanceOf(RemoteError);
    expect(custom.remoteName).toBe("QuotaError");
    expect(custom.message).toBe("over quota");
    expect(custom.code).toBe("E_QUOTA");
    expect(custom.limit).toBe(10);
    expect((custom.cause as Error).message).toBe("inner");
    expect(custom.threadName).toBe("io-1");

    expect(await io.call("fail", "string").catch((e: unknown) => e)).toBe("a plain string");
  });

  it("a registered error class comes back as itself", { timeout: 20_000 }, async () => {
    registerErrorClass(QuotaError);
    const err = await io.call("fail", "custom").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuotaError);
    expect((err as QuotaError & { limit: number }).limit).toBe(10);
  });

  it("handles cross threads as arguments and results, each receiving thread with its own channel", { timeout: 30_000 }, async () => {
    const relay = await spawnLoopThread<typeof Senders>({ name: "relay", module: senders });
    try {
      expect(await relay.call("relay", io.handle, 40, 2)).toBe(42);
      expect(await relay.call("relay", io.handle, 1, 1)).toBe(2);
      const back = await relay.call("myHandle");
      expect(back).toBeInstanceOf(LoopHandle);
      expect(back.threadName).toBe("relay");
      expect(await back.runCoroutineThreadsafe("relay", io.handle, 5, 5)).toBe(10);
    } finally {
      await relay.stop();
    }
  });

  it("share() / LoopHandle.from() work through workerData of a plain Worker", { timeout: 20_000 }, async () => {
    const shared = io.handle.share();
    const worker = new Worker(fixture("handle-user"), { workerData: shared.data, transferList: shared.transferList });
    // Listen for 'exit' before anything is awaited: when the parent gets to a worker that has
    // already posted and exited, Node emits the last 'message' and 'exit' in one go, before the
    // code after `await message` runs, so a listener added then never fires (this test hung so
    // once in CI). A worker that exits without answering fails the test with its exit code.
    const exited = new Promise<number>((resolve) => worker.once("exit", resolve));
    const answer = await new Promise<unknown>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
      void exited.then((code) => {
        reject(new Error(`the worker exited with code ${code} before it answered`));
      });
    });
    expect(answer).toBe(7);
    expect(LoopHandle.from(io.handle)).toBe(io.handle);
    expect(() => LoopHandle.from({ kind: "something else" })).toThrow(TypeError);
    expect(await exited).toBe(0);
  });
});

describe("callSoonThreadsafe across threads", () => {
  it("4 threads x 50,000 calls into one loop: per-sender FIFO, every call exactly once", { timeout: 180_000 }, async () => {
    const target = await spawnLoopThread<typeof Tasks>({ name: "target", module: tasks });
    const sendersThreads = await Promise.all([0, 1, 2, 3].map((i) => spawnLoopThread<typeof Senders>({ name: `sender-${i}`, module: senders })));
    try {
      const sent = await Promise.all(sendersThreads.map((s, i) => s.call("blast", target.handle, i, 50_000)));
      expect(sent).toEqual([50_000, 50_000, 50_000, 50_000]);
      const recorded = await target.call("recorded");
      expect(recorded).toHaveLength(200_000);
      const next = [0, 0, 0, 0];
      for (const [sender, seq] of recorded) {
        // Each sender's calls arrive in the order sent, none lost, none twice.
        expect(seq).toBe(next[sender]);
        next[sender] = seq + 1;
      }
      expect(next).toEqual([50_000, 50_000, 50_000, 50_000]);
    } finally {
      await Promise.all([target.stop(), ...sendersThreads.map((s) => s.stop())]);
    }
  });

  it("calls into a closed loop throw synchronously", { timeout: 20_000 }, async () => {
    const t = await spawnLoopThread<typeof Tasks>({ module: tasks });
    const handle = t.handle;
    await t.stop();
    expect(handle.isClosed()).toBe(true);
    expect(() => handle.callSoonThreadsafe("add", 1, 2)).toThrow(LoopClosedError);
    expect(() => handle.callSoonThreadsafe("add", 1, 2)).toThrow(/^Event loop is closed$/);
    expect(() => handle.runCoroutineThreadsafe("add", 1, 2)).toThrow(RuntimeError);
    expect(() => handle.share()).toThrow("Event loop is closed");
  });

  it("a loop thread that is stopped exits by itself (no terminate), after finishing its cleanups", { timeout: 20_000 }, async () => {
    const t = await spawnLoopThread<typeof Tasks>({ module: tasks });
    const pending = t.handle.runCoroutineThreadsafe("waitForCancel");
    await t.call("add", 0, 0);
    await t.stop();
    expect(await t.exited).toBe(0);
    // Its pending call was cancelled by the thread's shutdown, not left hanging.
    await expect(pending).rejects.toBeInstanceOf(CancelledError);
  });

  it("the local handle works in the loop's own thread", async () => {
    const result = await run(async () => {
      const { getRunningLoop } = await import("multiloop");
      const loop = getRunningLoop();
      loop.expose("double", (x: number) => x * 2);
      const log: number[] = [];
      loop.expose("log", (x: number) => log.push(x));
      loop.handle.callSoonThreadsafe("log", 1);
      const doubled = await loop.handle.runCoroutineThreadsafe("double", 21);
      return [doubled, log];
    });
    expect(result).toEqual([42, [1]]);
  });

  it("spawnLoopThread rejects with the module's own error when it fails to load", { timeout: 20_000 }, async () => {
    const err = await spawnLoopThread({ module: fixture("bad-module") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe("this module refuses to load");
  });

  it("spawnLoopThread refuses a relative module path with a TypeError that says what to do", async () => {
    await expect(spawnLoopThread({ module: "./tasks.js" })).rejects.toThrow(/new URL/);
    await expect(spawnLoopThread({ name: 5 as unknown as string })).rejects.toBeInstanceOf(TypeError);
  });
});
