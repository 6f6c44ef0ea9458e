/**
 * snapshotThreads / formatThreads / installDumpOnSignal (issue 16 §2) across real threads.
 */
import { spawn } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  RuntimeError,
  createTask,
  formatThreads,
  installDumpOnSignal,
  run,
  sleep,
  snapshotThreads,
  spawnLoopThread,
  type TaskSnapshot,
  type ThreadSnapshot,
} from "multiloop";
import type * as Tasks from "./fixtures/snapshot-tasks.js";
import { caught, fixture, thrown } from "./helpers.js";

const tasks = fixture("snapshot-tasks");

function tasksOf(thread: ThreadSnapshot | undefined): TaskSnapshot[] {
  return (thread?.loops ?? []).flatMap((loop) => loop.tasks);
}

describe("snapshotThreads", () => {
  it("lists three threads and resolves a cross-thread edge both ways", async () => {
    const b = await spawnLoopThread<typeof Tasks>({ name: "relay-b", module: tasks });
    const c = await spawnLoopThread<typeof Tasks>({ name: "img-c", module: tasks });
    try {
      await run(async () => {
        // main -> b.relay -> c.resize: two cross-thread edges, the second between two workers.
        const caller = createTask(async function caller() { return b.call("relay", c.handle, 60_000); }, { name: "caller" });
        // Until both calls have arrived (a loaded machine may take a while).
        let snapshot = await snapshotThreads({ timeout: 5_000 });
        for (let i = 0; i < 100 && !tasksOf(snapshot.threads.find((t) => t.threadName === "img-c")).some((t) => t.name === "resize"); i++) {
          await sleep(50);
          snapshot = await snapshotThreads({ timeout: 5_000 });
        }
        const main = snapshot.threads.find((t) => t.threadName === "MainThread");
        const tb = snapshot.threads.find((t) => t.threadName === "relay-b");
        const tc = snapshot.threads.find((t) => t.threadName === "img-c");
        expect([main?.answered, tb?.answered, tc?.answered]).toEqual([true, true, true]);
        expect(tb?.threadId).toBe(b.threadId);
        expect(tb?.parentThreadId).toBe(main?.threadId);

        const callerTask = tasksOf(main).find((t) => t.name === "caller");
        expect(callerTask?.awaiting).toBe("relay() in thread 'relay-b' (call 0)");
        expect(callerTask?.servedBy).toMatchObject({ threadName: "relay-b", taskName: "relay" });
        const relayTask = tasksOf(tb).find((t) => t.name === "relay");
        expect(relayTask?.awaitedFrom).toMatchObject({ threadName: "MainThread", taskName: "caller", taskId: callerTask?.id });
        expect(relayTask?.awaiting).toMatch(/^resize\(\) in thread 'img-c' \(call \d+\)$/);
        expect(relayTask?.servedBy).toMatchObject({ threadName: "img-c", taskName: "resize" });
        const resizeTask = tasksOf(tc).find((t) => t.name === "resize");
        expect(resizeTask?.awaiting).toMatch(/^sleep\(\), due in \d+\.\d ms$/);
        expect(resizeTask?.awaitedFrom).toMatchObject({ threadName: "relay-b", taskName: "relay", taskId: relayTask?.id });

        const text = formatThreads(snapshot);
        expect(text).toContain("MainThread [thread 0]");
        expect(text).toMatch(/├── relay-b \[thread \d+\]|└── relay-b \[thread \d+\]/);
        expect(text).toContain("Task(name='caller'");
        expect(text).toContain("-> served by thread 'relay-b'");
        expect(text).toContain("<- awaited from thread 'MainThread' [0] Task(name='caller'");
        caller.cancel();
        await caller.catch(() => undefined);
      });
    } finally {
      await Promise.all([b.stop(), c.stop()]);
    }
  }, 30_000);

  it("lists a thread stuck in synchronous code as not answering", async () => {
    const stuck = await spawnLoopThread<typeof Tasks>({ name: "stuck", module: tasks });
    const flag = new Int32Array(new SharedArrayBuffer(8));
    try {
      stuck.handle.callSoonThreadsafe("block", flag);
      for (let i = 0; i < 1_000 && Atomics.load(flag, 1) === 0; i++) await delay(10);
      const snapshot = await snapshotThreads({ timeout: 300 });
      const thread = snapshot.threads.find((t) => t.threadId === stuck.threadId);
      expect(thread).toMatchObject({ threadName: "stuck", answered: false, loops: [] });
      expect(thread?.state === "running" || thread?.state === "idle").toBe(true);
      expect(formatThreads(snapshot)).toMatch(/stuck \[thread \d+\]: not answering \(loop (running|idle)/);
    } finally {
      Atomics.store(flag, 0, 1);
      await stuck.stop({ timeout: 5_000 });
    }
  }, 30_000);

  it("can be taken from a worker thread", async () => {
    const worker = await spawnLoopThread({ name: "asker", module: fixture("snapshot-asker") });
    try {
      const names = await worker.call("namesInSnapshot");
      expect(names).toEqual(expect.arrayContaining(["MainThread", "asker"]));
    } finally {
      await worker.stop();
    }
  }, 30_000);

  it("rejects bad options", async () => {
    expect(await caught(snapshotThreads({ timeout: -1 }))).toBeInstanceOf(RangeError);
    expect(await caught(snapshotThreads({ timeout: Number.NaN }))).toBeInstanceOf(TypeError);
    expect(await caught(snapshotThreads({ timeout: "1" as unknown as number }))).toBeInstanceOf(TypeError);
    expect(await caught(snapshotThreads(null as unknown as object))).toBeInstanceOf(TypeError);
    expect(thrown(() => formatThreads({} as never))).toBeInstanceOf(TypeError);
  });
});

describe("installDumpOnSignal", () => {
  it("prints the threads to stderr on SIGUSR2", async () => {
    const script = fileURLToPath(new URL("../dist/test/fixtures/dump-on-signal.js", import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
    // Nothing hangs: a child that never prints is killed (and the test fails on its exit code).
    const guard = setTimeout(() => child.kill("SIGKILL"), 20_000);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (stdout.includes("ready")) child.kill("SIGUSR2");
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    clearTimeout(guard);
    expect(code).toBe(0);
    expect(stderr).toContain("multiloop: SIGUSR2 at");
    expect(stderr).toContain("MainThread [thread 0]");
    expect(stderr).toMatch(/dumped \[thread \d+\]/);
    expect(stderr).toContain("Task(name='waiter'");
  }, 30_000);

  it("validates the signal and returns a disposer", () => {
    expect(thrown(() => installDumpOnSignal("SIGKILL"))).toBeInstanceOf(RangeError);
    expect(thrown(() => installDumpOnSignal("SIGNOPE" as NodeJS.Signals))).toBeInstanceOf(RangeError);
    expect(thrown(() => installDumpOnSignal(12 as unknown as NodeJS.Signals))).toBeInstanceOf(TypeError);
    const before = process.listenerCount("SIGUSR2");
    const uninstall = installDumpOnSignal();
    expect(process.listenerCount("SIGUSR2")).toBe(before + 1);
    uninstall();
    uninstall();
    expect(process.listenerCount("SIGUSR2")).toBe(before);
  });

  it("refuses a worker thread", async () => {
    const worker = await spawnLoopThread({ name: "signal-asker", module: fixture("snapshot-asker") });
    try {
      const err = await caught(worker.call("installInWorker"));
      expect(err).toBeInstanceOf(RuntimeError);
    } finally {
      await worker.stop();
    }
  }, 30_000);
});
