/**
 * Nothing hangs when a thread dies (issue 3 §3): every way a loop thread can die rejects every call
 * still pending on it with ThreadExitError, for its owner and for other threads holding its handle.
 */
import { describe, expect, it } from "vitest";
import { ThreadExitError, spawnLoopThread } from "multiloop";
import { fixture } from "./helpers.js";

const tasks = fixture("thread-tasks");
const senders = fixture("sender-tasks");

describe("thread death rejects every pending call", () => {
  it("process.exit() in the thread: ThreadExitError with the exit code", { timeout: 30_000 }, async () => {
    const t = await spawnLoopThread({ name: "exiter", module: tasks });
    const pending = [t.handle.runCoroutineThreadsafe("waitForCancel"), t.handle.runCoroutineThreadsafe("waitForCancel")];
    t.handle.callSoonThreadsafe("exitNow", 3);
    for (const cf of pending) {
      const err = await Promise.resolve(cf).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ThreadExitError);
      expect((err as ThreadExitError).threadName).toBe("exiter");
      expect((err as ThreadExitError).exitCode).toBe(3);
    }
    expect(await t.exited).toBe(3);
    expect(t.handle.isClosed()).toBe(true);
    expect(() => t.handle.runCoroutineThreadsafe("add", 1, 1)).toThrow(ThreadExitError);
  });

  it("an error thrown at the thread's top level: ThreadExitError with the error as cause", { timeout: 30_000 }, async () => {
    const t = await spawnLoopThread({ name: "crasher", module: tasks });
    const pending = t.call("waitForCancel");
    t.handle.callSoonThreadsafe("crash");
    const err = await pending.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ThreadExitError);
    expect((err as ThreadExitError).exitCode).toBe(1);
    expect(((err as Error).cause as Error).message).toBe("crashed at top level");
  });

  it("out of memory (resourceLimits): ThreadExitError with ERR_WORKER_OUT_OF_MEMORY as cause", { timeout: 60_000 }, async () => {
    const t = await spawnLoopThread({
      name: "hog",
      module: tasks,
      resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 },
    });
    const bystander = t.call("waitForCancel");
    const hog = t.call("allocateForever");
    for (const p of [bystander, hog]) {
      const err = await p.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(ThreadExitError);
      expect(((err as Error).cause as { code?: string }).code).toBe("ERR_WORKER_OUT_OF_MEMORY");
    }
  });

  it("terminate(): ThreadExitError, and the handle reports closed", { timeout: 30_000 }, async () => {
    const t = await spawnLoopThread({ name: "terminated", module: tasks });
    const pending = t.call("waitForCancel");
    await t.call("add", 0, 0);
    const code = await t.terminate();
    expect(code).toBe(1);
    await expect(pending).rejects.toBeInstanceOf(ThreadExitError);
    expect(t.handle.isClosed()).toBe(true);
  });

  it("another thread holding the handle sees the death too", { timeout: 30_000 }, async () => {
    const victim = await spawnLoopThread({ name: "victim", module: tasks });
    const watcher = await spawnLoopThread({ name: "watcher", module: senders });
    try {
      const outcome = watcher.call<string>("waitOn", victim.handle);
      // Make sure the watcher's call reached the victim before it dies.
      for (let i = 0; i < 200; i++) {
        await victim.call("add", 0, 0);
      }
      victim.handle.callSoonThreadsafe("exitNow", 9);
      expect(await outcome).toMatch(/^ThreadExitError: Thread 'victim' exited/);
    } finally {
      await watcher.stop();
    }
  });

  it("a thread that dies while starting up rejects spawnLoopThread", { timeout: 30_000 }, async () => {
    const err = await spawnLoopThread({
      module: "data:text/javascript,process.exit(4)",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThreadExitError);
    expect((err as ThreadExitError).exitCode).toBe(4);
  });
});
