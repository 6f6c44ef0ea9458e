/**
 * captureCallGraph / formatCallGraph / printCallGraph (issue 16 §2): what a task awaits and who
 * awaits it, on one loop, and a wait on another thread.
 */
import { describe, expect, it } from "vitest";
import {
  Event,
  Future,
  Lock,
  Queue,
  RuntimeError,
  Semaphore,
  captureCallGraph,
  createTask,
  formatCallGraph,
  gather,
  getRunningLoop,
  printCallGraph,
  run,
  shield,
  sleep,
  spawnLoopThread,
  taskGroup,
  type FutureCallGraph,
  type Task,
} from "multiloop";
import type * as Tasks from "./fixtures/snapshot-tasks.js";
import { fixture, thrown } from "./helpers.js";

function stack(graph: FutureCallGraph | null): string[] {
  return (graph?.callStack ?? []).map((entry) => entry.description);
}

function awaiterNames(graph: FutureCallGraph | null): string[] {
  return (graph?.awaitedBy ?? []).map((node) => (node.future as Task).getName?.() ?? "future");
}

/** Lets the tasks started so far reach their first wait. */
const settle = (): Promise<void> => sleep(5);

describe("captureCallGraph", () => {
  it("describes the current task, with its awaiter", async () => {
    await run(async () => {
      let inner: FutureCallGraph | null = null;
      const child = createTask(async function child() {
        inner = captureCallGraph();
      }, { name: "child" });
      await child;
      expect(stack(inner)).toEqual(["running", "async child()"]);
      expect(awaiterNames(inner)).toEqual(["Task-1"]);
    });
  });

  it("shows sleep with its deadline, and the task awaiting a task", async () => {
    await run(async () => {
      const sleeper = createTask(async function sleeper() { await sleep(10_000); }, { name: "sleeper" });
      const parent = createTask(async function parent() { await sleeper; }, { name: "parent" });
      await settle();
      const graph = captureCallGraph(sleeper);
      expect(stack(graph)[0]).toMatch(/^sleep\(\), due in \d+\.\d ms$/);
      expect(awaiterNames(graph)).toEqual(["parent"]);
      expect(stack(captureCallGraph(parent))[0]).toMatch(/^await Task\(name='sleeper', id=\d+\)$/);
      parent.cancel();
      await parent.catch(() => undefined);
    });
  });

  it("shows gather's children awaited by the gathering future and its task", async () => {
    await run(async () => {
      const a = createTask(async function a() { await sleep(10_000); }, { name: "a" });
      const b = createTask(async function b() { await sleep(10_000); }, { name: "b" });
      const main = createTask(async function main() { await gather(a, b); }, { name: "main" });
      await settle();
      const graph = captureCallGraph(a);
      expect(graph?.awaitedBy).toHaveLength(1);
      const gathering = graph?.awaitedBy[0];
      expect(gathering?.future).toBeInstanceOf(Future);
      expect(stack(gathering ?? null)).toEqual(["gather() of 2 (0 done)"]);
      expect(awaiterNames(gathering ?? null)).toEqual(["main"]);
      expect(formatCallGraph(b)).toMatch(/\n {2}\+ Awaited by:\n {4}\* Future\(id=\d+\)\n {6}\+ Call stack:\n {6}\| {3}gather\(\) of 2 \(0 done\)\n {6}\+ Awaited by:\n {8}\* Task\(name='main', id=\d+\)/);
      main.cancel();
      await main.catch(() => undefined);
    });
  });

  it("shows a TaskGroup's tasks awaited by the group's parent task", async () => {
    await run(async () => {
      let child: Task | null = null;
      const owner = createTask(async function owner() {
        await taskGroup(async (tg) => {
          child = tg.createTask(async function worker() { await sleep(10_000); }, { name: "worker" });
          // While the block itself still runs, the parent is already the child's awaiter.
          await sleep(10_000);
        });
      }, { name: "owner" });
      await settle();
      expect(awaiterNames(captureCallGraph(child))).toEqual(["owner"]);
      expect(stack(captureCallGraph(owner))[0]).toMatch(/^sleep\(\)/);
      owner.cancel();
      await owner.catch(() => undefined);
    });
  });

  it("names the TaskGroup wait at the end of the block", async () => {
    await run(async () => {
      const owner = createTask(async function owner() {
        await taskGroup(async (tg) => {
          tg.createTask(async function worker() { await sleep(10_000); }, { name: "worker" });
        });
      }, { name: "owner" });
      await settle();
      expect(stack(captureCallGraph(owner))).toEqual(["TaskGroup end of block, 1 tasks left", "async owner()"]);
      owner.cancel();
      await owner.catch(() => undefined);
    });
  });

  it("names Queue.get of a named queue, Queue.put, Lock, Event and Semaphore waits", async () => {
    await run(async () => {
      const jobs = new Queue<number>({ name: "jobs" });
      const full = new Queue<number>({ maxsize: 1 });
      full.putNowait(1);
      const lock = new Lock();
      await lock.acquire();
      const event = new Event();
      const semaphore = new Semaphore(0);
      const getter = createTask(async function getter() { await jobs.get(); }, { name: "getter" });
      const putter = createTask(async function putter() { await full.put(2); }, { name: "putter" });
      const locker = createTask(async function locker() { await lock.acquire(); }, { name: "locker" });
      const waiter = createTask(async function waiter() { await event.wait(); }, { name: "waiter" });
      const acquirer = createTask(async function acquirer() { await semaphore.acquire(); }, { name: "acquirer" });
      await settle();
      expect(stack(captureCallGraph(getter))).toEqual(["Queue.get() on Queue 'jobs' (0 items)", "async getter()"]);
      expect(stack(captureCallGraph(putter))[0]).toBe("Queue.put() on <Queue maxsize=1 _queue=[ 1 ] _putters[1] tasks=1>");
      expect(stack(captureCallGraph(locker))[0]).toBe("Lock.acquire() on <Lock [locked, waiters:1]>");
      expect(stack(captureCallGraph(waiter))[0]).toBe("Event.wait() on <Event [unset, waiters:1]>");
      expect(stack(captureCallGraph(acquirer))[0]).toBe("Semaphore.acquire() on <Semaphore [locked, waiters:1]>");
      for (const task of [getter, putter, locker, waiter, acquirer]) task.cancel();
      await gather([getter, putter, locker, waiter, acquirer], { returnExceptions: true });
    });
  });

  it("shows what a shield protects, and a plain future's awaiter", async () => {
    await run(async () => {
      const fut = getRunningLoop().createFuture<number>();
      const inner = createTask(async function inner() { await sleep(10_000); }, { name: "inner" });
      const guarded = createTask(async function guarded() { await shield(inner); }, { name: "guarded" });
      const plain = createTask(async function plain() { await fut; }, { name: "plain" });
      await settle();
      expect(stack(captureCallGraph(guarded))[0]).toMatch(/^shield\(await Task\(name='inner', id=\d+\)\)$/);
      expect(awaiterNames(captureCallGraph(inner))).toEqual(["future"]);
      expect(awaiterNames(captureCallGraph(inner)?.awaitedBy[0] ?? null)).toEqual(["guarded"]);
      const graph = captureCallGraph(fut);
      expect(stack(graph)).toEqual([`Future(id=${idOf(formatCallGraph(fut))}) pending`]);
      expect(awaiterNames(graph)).toEqual(["plain"]);
      fut.setResult(1);
      inner.cancel();
      guarded.cancel();
      await gather([inner, guarded, plain], { returnExceptions: true });
    });
  });

  it("shows a call into another thread with its target and thread", async () => {
    const img = await spawnLoopThread<typeof Tasks>({ name: "img", module: fixture("snapshot-tasks") });
    try {
      await run(async () => {
        const caller = createTask(async function caller() { return img.call("resize", 60_000); }, { name: "caller" });
        await sleep(100);
        expect(stack(captureCallGraph(caller))).toEqual(["resize() in thread 'img' (call 0)", "async caller()"]);
        caller.cancel();
        await caller.catch(() => undefined);
      });
    } finally {
      await img.stop();
    }
  }, 30_000);

  it("in debug mode, says where a task was created", async () => {
    await run(async () => {
      const task = createTask(async function made() { await sleep(10_000); }, { name: "made" });
      await settle();
      const graph = captureCallGraph(task);
      expect(graph?.createdAt).toMatch(/call-graph\.test\.(ts|js):\d+:\d+/);
      expect(formatCallGraph(task)).toMatch(/\n {2}\+ Created at .*call-graph\.test/);
      task.cancel();
      await task.catch(() => undefined);
    }, { debug: true });
    await run(async () => {
      const task = createTask(async () => { await sleep(10_000); });
      await settle();
      expect(captureCallGraph(task)?.createdAt).toBeNull();
      task.cancel();
      await task.catch(() => undefined);
    });
  });

  it("follows a cycle once", async () => {
    await run(async () => {
      const fut = getRunningLoop().createFuture<void>();
      const stop = getRunningLoop().createFuture<void>();
      let second: Task | null = null;
      const first = createTask(async function first() { await fut; await second; }, { name: "first" });
      // The race makes `stop` its waiter (the last registered), and first its awaiter too.
      second = createTask(async function second() { await Promise.race([first, stop]); }, { name: "second" });
      await settle();
      fut.setResult();
      await settle();
      const graph = captureCallGraph(first);
      expect(awaiterNames(graph)).toEqual(["second"]);
      // second is awaited by first, which is already on the path: not followed again.
      expect(graph?.awaitedBy[0]?.awaitedBy).toEqual([]);
      stop.setResult();
      await gather([first, second], { returnExceptions: true });
    });
  });

  it("prints to stdout; returns null or '' without a current task; checks its argument", async () => {
    expect(thrown(() => captureCallGraph())).toBeInstanceOf(RuntimeError);
    expect(thrown(() => captureCallGraph({} as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => formatCallGraph(42 as never))).toBeInstanceOf(TypeError);
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      await run(async () => {
        printCallGraph();
        const loop = getRunningLoop();
        await new Promise<void>((resolve) => {
          loop.callSoon(() => {
            expect(captureCallGraph()).toBeNull();
            expect(formatCallGraph()).toBe("");
            resolve();
          });
        });
      });
    } finally {
      console.log = log;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\* Task\(name='Task-\d+', id=\d+\)\n {2}\+ Call stack:\n {2}\| {3}running\n/);
  });
});

function idOf(text: string): string {
  return /id=(\d+)/.exec(text)?.[1] ?? "?";
}

describe("captureCallGraph of a call into the thread's own loop", () => {
  it("names the target and the thread, without a call id", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      loop.expose("nap", async () => sleep(10_000));
      const caller = createTask(async function caller() { return loop.handle.runCoroutineThreadsafe("nap"); }, { name: "caller" });
      await settle();
      expect(stack(captureCallGraph(caller))).toEqual(["nap() in thread 'MainThread'", "async caller()"]);
      caller.cancel();
      await caller.catch(() => undefined);
    });
  });
});
