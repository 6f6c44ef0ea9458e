/**
 * `spawnLoopPool` (issue 15 §1, §2): real loop threads, real sockets on 127.0.0.1. Routing,
 * broadcast, aborts and timeouts, supervision (a thread killed mid-call, restarts, the budget),
 * graceful stop, two pools at once, and per-thread `reusePort` listeners on one port.
 */
import { once } from "node:events";
import { readFileSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  LoopClosedError,
  LoopPool,
  RuntimeError,
  ThreadExitError,
  TimeoutError,
  spawnLoopPool,
  type LoopPoolEvents,
  type LoopThread,
} from "multiloop";
import { checkReusePort, nodeHasReusePort } from "../dist/src/net/reuse-port.js";
import { caught, fixture, nodeHonoursReusePort, thrown } from "./helpers.js";
import type * as PoolTasks from "./fixtures/pool-tasks.js";

type Tasks = typeof PoolTasks;
const tasks = fixture("pool-tasks");
const T = { timeout: 30_000 };

function spawn(name: string, size: number, restart?: Parameters<typeof spawnLoopPool>[0]["restart"]): Promise<LoopPool<Tasks>> {
  return spawnLoopPool<Tasks>({ module: tasks, name, size, ...(restart === undefined ? {} : { restart }) });
}

/**
 * The arguments of the pool's next `event`. (Not `events.once`: that rejects on an "error" event
 * while it waits for another, and the pool emits "error" when it gives a slot up.)
 */
function next<E extends keyof LoopPoolEvents>(pool: LoopPool<Tasks>, event: E): Promise<LoopPoolEvents[E]> {
  return new Promise((resolve) => {
    pool.once(event, ((...args: LoopPoolEvents[E]) => resolve(args)) as never);
  });
}

/** Kills the thread of slot `i` and resolves with its replacement's "restart" event. */
async function killAndWaitRestart(pool: LoopPool<Tasks>, i: number): Promise<LoopPoolEvents["restart"]> {
  const restarted = next(pool, "restart");
  await pool.thread(i).terminate();
  return await restarted;
}

/** Connects to 127.0.0.1:port and returns the line the server sends. */
function firstLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("end", () => resolve(data.trim()));
    socket.on("error", reject);
  });
}

/** OS threads of this process (Linux), or null where /proc is not there. */
function osThreads(): number | null {
  try {
    return Number(/^Threads:\s+(\d+)/mu.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? NaN);
  } catch {
    return null;
  }
}

async function listenersShareOnePort(pool: LoopPool<Tasks>): Promise<void> {
  const port = await pool.thread(0).call("listen", 0);
  try {
    expect(await pool.thread(1).call("listen", port)).toBe(port);
    // 40 connections from as many source ports: the kernel hashes each to one of the two listeners.
    const names = await Promise.all(Array.from({ length: 40 }, () => firstLine(port)));
    expect(new Set(names)).toEqual(new Set(["p-0", "p-1"]));
  } finally {
    await pool.broadcast("closeServer");
  }
}

async function olderNodeRefusesReusePort(pool: LoopPool<Tasks>): Promise<void> {
  // What Node itself does there: it ignores the option, so a second listener cannot bind.
  const first = net.createServer();
  await new Promise<void>((resolve) => first.listen({ host: "127.0.0.1", port: 0, reusePort: true } as net.ListenOptions, resolve));
  const second = net.createServer();
  const bound = new Promise<string>((resolve) => {
    second.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? ""));
    const port = (first.address() as net.AddressInfo).port;
    second.listen({ host: "127.0.0.1", port, reusePort: true } as net.ListenOptions, () => resolve("listening"));
  });
  expect(await bound).toBe("EADDRINUSE");
  second.close();
  first.close();

  const err = await caught(pool.thread(0).call("listen", 0));
  expect(err).toBeInstanceOf(RuntimeError);
  expect((err as RuntimeError).code).toBe("ERR_LOOP_REUSEPORT_UNSUPPORTED");
  expect((err as Error).message).toContain(`Node ${process.version}`);
  expect((err as Error).message).toContain("22.12");
}

describe("a pool of loop threads", () => {
  let pool: LoopPool<Tasks>;
  beforeAll(async () => {
    pool = await spawn("p", 3);
  }, 30_000);
  afterAll(async () => {
    await pool?.stop({ timeout: 5_000 });
  }, 30_000);

  it("names its threads <name>-<i>, and exposes size, handles and thread(i)", T, async () => {
    expect(pool).toBeInstanceOf(LoopPool);
    expect(pool.name).toBe("p");
    expect(pool.size).toBe(3);
    expect(await pool.broadcast("whoAmI")).toEqual(["p-0", "p-1", "p-2"]);
    expect(pool.handles.map((h) => h.threadName)).toEqual(["p-0", "p-1", "p-2"]);
    expect(await pool.handles[2]?.runCoroutineThreadsafe("whoAmI")).toBe("p-2");
    expect(await pool.thread(1).call("whoAmI")).toBe("p-1");
    expect(() => pool.thread(3)).toThrow(RangeError);
    expect(() => pool.thread(-1)).toThrow(RangeError);
    expect(() => pool.thread(0.5)).toThrow(TypeError);
    expect(String(pool)).toBe('<LoopPool "p" size=3 up=3 inFlight=0>');
  });

  it("routes to the least loaded thread: a slow call holds its thread, the next calls go elsewhere, ties round-robin", T, async () => {
    // Find where the next call goes, then hold that thread.
    const first = await pool.call("whoAmI");
    const next = `p-${(Number(first.slice(2)) + 1) % 3}`;
    const slow = pool.call("hold");
    expect(pool.inFlight).toBe(1);
    const others: string[] = [];
    for (let i = 0; i < 6; i++) others.push(await pool.call("whoAmI"));
    expect(others).not.toContain(next);
    // The two idle threads take turns.
    expect(new Set(others).size).toBe(2);
    for (let i = 1; i < others.length; i++) expect(others[i]).not.toBe(others[i - 1]);
    expect(await pool.thread(Number(next.slice(2))).call("release")).toBe(1);
    expect(await slow).toBe(next);

    // Calls made at once spread evenly: each thread's count goes up as it is chosen.
    const held = Array.from({ length: 6 }, () => pool.call("hold"));
    expect(pool.inFlight).toBe(6);
    expect((await pool.broadcast("holding")).map((h) => h.waiting)).toEqual([2, 2, 2]);
    expect(await pool.broadcast("release")).toEqual([2, 2, 2]);
    expect((await Promise.all(held)).sort()).toEqual(["p-0", "p-0", "p-1", "p-1", "p-2", "p-2"]);
    expect(pool.inFlight).toBe(0);
  });

  it("broadcast: results in thread order; a failure rejects with an AggregateError once every call has settled", T, async () => {
    expect(await pool.broadcast("nap", 1)).toEqual(["p-0", "p-1", "p-2"]);
    const err = await caught(pool.broadcast("failOn", "p-1", 50));
    expect(err).toBeInstanceOf(AggregateError);
    const { errors, message } = err as AggregateError;
    expect(message).toBe("broadcast of 'failOn' failed on 1 of 3 threads of pool 'p'");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(RangeError);
    expect((errors[0] as Error).message).toBe("no luck on p-1");
    // The slow calls on p-0 and p-2 had finished before the broadcast rejected.
    expect(pool.inFlight).toBe(0);
  });

  it("callWith: an abort or a timeout cancels the remote task; an aborted signal sends nothing", T, async () => {
    const count = async (): Promise<{ waiting: number; cancelled: number }> =>
      (await pool.broadcast("holding")).reduce((a, h) => ({ waiting: a.waiting + h.waiting, cancelled: a.cancelled + h.cancelled }), { waiting: 0, cancelled: 0 });
    const before = await count();
    const controller = new AbortController();
    const aborted = pool.callWith({ signal: controller.signal }, "hold");
    // Abort once the remote task waits (a task cancelled before it starts never runs, so it could not count).
    while ((await count()).waiting === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    expect(((await caught(aborted)) as Error).name).toBe("AbortError");
    // The remote cancel is a callback over there, and the task handles it a step later (as with
    // asyncio's run_coroutine_threadsafe): wait for the task to be gone, then look at how it ended.
    const drained = async (): Promise<{ waiting: number; cancelled: number }> => {
      for (let c = await count(); ; c = await count()) {
        if (c.waiting === 0) return c;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    expect(await drained()).toEqual({ waiting: 0, cancelled: before.cancelled + 1 });
    // The deadline cancels it too: nothing is left waiting over there.
    expect(await caught(pool.callWith({ timeout: 30 }, "hold"))).toBeInstanceOf(TimeoutError);
    expect((await drained()).waiting).toBe(0);

    const reason = new Error("not today");
    expect(await caught(pool.callWith({ signal: AbortSignal.abort(reason) }, "hold"))).toBe(reason);
    expect(pool.inFlight).toBe(0);
    expect(await caught(pool.callWith({ timeout: Number.NaN }, "whoAmI"))).toBeInstanceOf(TypeError);
  });

  it("runs beside a second pool: each routes to its own threads", T, async () => {
    const other = await spawn("b", 2);
    try {
      const [mine, theirs] = await Promise.all([
        Promise.all(Array.from({ length: 12 }, () => pool.call("nap", 2))),
        Promise.all(Array.from({ length: 12 }, () => other.call("nap", 2))),
      ]);
      expect(new Set(mine)).toEqual(new Set(["p-0", "p-1", "p-2"]));
      expect(new Set(theirs)).toEqual(new Set(["b-0", "b-1"]));
    } finally {
      await other.stop();
    }
  });

  it("on Node >= 22.12 its threads listen on one port and the kernel spreads the connections; before, a clear error", T, async () => {
    if (nodeHonoursReusePort()) await listenersShareOnePort(pool);
    else await olderNodeRefusesReusePort(pool);
  });
});

describe("spawnLoopPool's options", () => {
  it("are checked before any thread starts: TypeError/RangeError naming the option", async () => {
    const bad: Array<[unknown, ErrorConstructor, RegExp]> = [
      [undefined, TypeError, /`options`/],
      [{}, TypeError, /`options\.module`/],
      [{ module: tasks, size: 0 }, RangeError, /`options\.size`/],
      [{ module: tasks, size: 1.5 }, TypeError, /`options\.size`/],
      [{ module: tasks, name: "" }, TypeError, /`options\.name`/],
      [{ module: tasks, sise: 2 }, TypeError, /unknown option `options.sise`/],
      [{ module: tasks, restart: true }, TypeError, /`options\.restart`/],
      [{ module: tasks, restart: { maxRestarts: -1 } }, RangeError, /`options\.restart\.maxRestarts`/],
      [{ module: tasks, restart: { withinMs: 0 } }, RangeError, /`options\.restart\.withinMs`/],
      [{ module: tasks, restart: { backoffMs: [50, 10] } }, RangeError, /`options\.restart\.backoffMs`/],
      [{ module: tasks, restart: { backoffMs: 10 } }, TypeError, /`options\.restart\.backoffMs`/],
      [{ module: tasks, restart: { retries: 1 } }, TypeError, /unknown option `options.restart.retries`/],
    ];
    for (const [options, cls, message] of bad) {
      const err = await caught(spawnLoopPool(options as Parameters<typeof spawnLoopPool>[0]));
      expect(err, JSON.stringify(options)).toBeInstanceOf(cls);
      expect((err as Error).message).toMatch(message);
    }
  });

  it("a thread that fails to start fails the spawn, and the threads that started are stopped", T, async () => {
    const before = osThreads();
    const err = await caught(spawnLoopPool({ module: fixture("pool-half-bad"), size: 3, name: "half" }));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe("half-1 refuses to load");
    // A worker's OS thread is joined a moment after its "exit": look again for a while.
    for (let i = 0; i < 100 && before !== null && osThreads() !== before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    if (before !== null) expect(osThreads()).toBe(before);
  });
});

describe("supervision", () => {
  it("a thread killed mid-call rejects only its own calls and is replaced under its name", T, async () => {
    const pool = await spawn("s", 2, { backoffMs: [1, 1] });
    const exits: unknown[][] = [];
    pool.on("exit", (...args) => exits.push(args));
    try {
      const onFirst = pool.call("hold").catch((e: unknown) => e);
      const onSecond = pool.call("hold");
      expect((await pool.broadcast("holding")).map((h) => h.waiting)).toEqual([1, 1]);
      const old = pool.thread(0);
      expect(await killAndWaitRestart(pool, 0)).toEqual(["s-0", 0]);
      const err = await onFirst;
      expect(err).toBeInstanceOf(ThreadExitError);
      expect((err as ThreadExitError).threadName).toBe("s-0");
      expect(exits).toEqual([["s-0", 1, undefined]]);
      expect(pool.thread(0)).not.toBe(old);
      expect(await pool.thread(0).call("whoAmI")).toBe("s-0");
      // The other thread's call was not touched.
      expect(await pool.thread(1).call("release")).toBe(1);
      expect(await onSecond).toBe("s-1");

      // A thread that exits by itself: its exit code reaches the call and the event.
      const restarted = next(pool, "restart");
      const exiting = await caught(pool.thread(1).call("exitNow", 7));
      expect((exiting as ThreadExitError).exitCode).toBe(7);
      expect(await restarted).toEqual(["s-1", 1]);
      expect(exits[1]).toEqual(["s-1", 7, undefined]);

      // A thread that throws at top level: the error is the event's cause.
      const crashed = next(pool, "restart");
      await pool.thread(0).call("crash");
      await crashed;
      expect(exits[2]?.slice(0, 2)).toEqual(["s-0", 1]);
      expect((exits[2]?.[2] as Error).message).toBe("crashed at top level");
      expect(await pool.broadcast("whoAmI")).toEqual(["s-0", "s-1"]);
    } finally {
      await pool.stop();
    }
  });

  it("a call made while every thread is down waits for the replacement, up to its timeout or signal", T, async () => {
    const pool = await spawn("w", 1, { backoffMs: [300, 300] });
    try {
      await pool.thread(0).terminate();
      expect(pool.handles).toEqual([]);
      const waiting = pool.call("whoAmI");
      const timedOut = pool.callWith({ timeout: 20 }, "whoAmI");
      const controller = new AbortController();
      const aborted = pool.callWith({ signal: controller.signal }, "whoAmI");
      expect(pool.inFlight).toBe(3);
      controller.abort();
      expect(((await caught(aborted)) as Error).name).toBe("AbortError");
      const timeout = await caught(timedOut);
      expect(timeout).toBeInstanceOf(TimeoutError);
      expect((timeout as Error).message).toBe("Call of 'whoAmI' in pool 'w' timed out after 20 ms");
      expect(await waiting).toBe("w-0");
      expect(pool.inFlight).toBe(0);
    } finally {
      await pool.stop();
    }
  });

  it("past maxRestarts within withinMs the slot is given up ('error'); the other threads keep serving", T, async () => {
    const pool = await spawn("r", 2, { maxRestarts: 2, withinMs: 60_000, backoffMs: [1, 1] });
    const errors: Error[] = [];
    pool.on("error", (err) => errors.push(err));
    try {
      expect(await killAndWaitRestart(pool, 0)).toEqual(["r-0", 0]);
      expect(await killAndWaitRestart(pool, 0)).toEqual(["r-0", 0]);
      const exited = next(pool, "exit");
      await pool.thread(0).terminate();
      await exited;
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(RuntimeError);
      expect((errors[0] as RuntimeError).code).toBe("ERR_LOOP_POOL_RESTARTS");
      expect((errors[0] as Error).cause).toBeInstanceOf(ThreadExitError);
      expect(pool.handles.map((h) => h.threadName)).toEqual(["r-1"]);
      for (let i = 0; i < 3; i++) expect(await pool.call("whoAmI")).toBe("r-1");
      const broadcast = await caught(pool.broadcast("whoAmI"));
      expect((broadcast as AggregateError).errors[0]).toBeInstanceOf(ThreadExitError);

      // The last thread has a budget of its own; once it is spent too, a call rejects at once.
      expect(await killAndWaitRestart(pool, 1)).toEqual(["r-1", 1]);
      expect(await killAndWaitRestart(pool, 1)).toEqual(["r-1", 1]);
      const last = next(pool, "error");
      await pool.thread(1).terminate();
      await last;
      expect(errors).toHaveLength(2);
      const err = await caught(pool.call("whoAmI"));
      expect(err).toBeInstanceOf(RuntimeError);
      expect((err as RuntimeError).code).toBe("ERR_LOOP_POOL_EXHAUSTED");
    } finally {
      await pool.stop();
    }
  });

  it("restart: false leaves the slot empty; without an 'error' listener a given-up slot is a warning", T, async () => {
    const pool = await spawn("n", 1, false);
    try {
      const exited = next(pool, "exit");
      await pool.thread(0).terminate();
      await exited;
      const err = await caught(pool.callWith({ timeout: 5_000 }, "whoAmI"));
      expect((err as RuntimeError).code).toBe("ERR_LOOP_POOL_EXHAUSTED");
    } finally {
      await pool.stop();
    }

    const budgetless = await spawn("z", 1, { maxRestarts: 0 });
    const warned = once(process, "warning") as Promise<[Error & { code?: string }]>;
    try {
      await budgetless.thread(0).terminate();
      const [warning] = await warned;
      expect(warning.name).toBe("MultiloopWarning");
      expect(warning.code).toBe("MULTILOOP_POOL_GAVE_UP");
      expect(warning.message).toContain("'z-0'");
    } finally {
      await budgetless.stop();
    }
  });
});

describe("stop", () => {
  it("lets the calls in flight finish, rejects new ones with the closed-loop error, and a second stop joins", T, async () => {
    const pool = await spawn("g", 2);
    expect(await caught(pool.stop({ timeout: "soon" } as never))).toBeInstanceOf(TypeError);
    expect(await caught(pool.stop({ deadline: 5 } as never))).toBeInstanceOf(TypeError);
    const naps = Array.from({ length: 4 }, () => pool.call("nap", 100));
    const stopping = pool.stop();
    expect(pool.stop({ timeout: 1 })).toBe(stopping);
    for (const late of [pool.call("whoAmI"), pool.callWith({}, "whoAmI"), pool.broadcast("whoAmI")]) {
      const err = await caught(late);
      expect(err).toBeInstanceOf(LoopClosedError);
      expect((err as LoopClosedError).code).toBe("ERR_LOOP_CLOSED");
    }
    expect((await Promise.all(naps)).sort()).toEqual(["g-0", "g-0", "g-1", "g-1"]);
    await stopping;
    expect(await pool.thread(0).exited).toBe(0);
    expect(await pool.thread(1).exited).toBe(0);
    expect(pool.handles).toEqual([]);
    expect(String(pool)).toBe('<LoopPool "g" size=2 up=0 inFlight=0 stopped>');
  });

  it("with a timeout, a call still running is cancelled; await using stops the pool", T, async () => {
    let thread: LoopThread<Tasks>;
    let held: Promise<unknown>;
    {
      await using pool = await spawn("d", 1);
      thread = pool.thread(0);
      held = pool.call("hold").catch((e: unknown) => e);
      // Long enough for the cancellation to come back on a loaded machine (the grace is the timeout when under 1 s).
      await pool.stop({ timeout: 500 });
    }
    expect(await held).toBeInstanceOf(CancelledError);
    expect(thread.handle.isClosed()).toBe(true);

    {
      await using pool = await spawn("u", 1);
      thread = pool.thread(0);
      expect(await pool.call("whoAmI")).toBe("u-0");
    }
    expect(thread.handle.isClosed()).toBe(true);
    expect(await thread.exited).toBe(0);
  });

  it("a stop while a replacement starts stops the replacement too", T, async () => {
    const pool = await spawn("q", 1, { backoffMs: [0, 0] });
    const killed = pool.thread(0);
    await killed.terminate();
    // The backoff timer fires on the next turn: let the replacement start, then stop meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await pool.stop();
    const replacement = pool.thread(0);
    expect(replacement).not.toBe(killed);
    expect(replacement.handle.isClosed()).toBe(true);
    await replacement.exited;
    expect(await caught(pool.stop({ timeout: 1 }).then(() => pool.call("whoAmI")))).toBeInstanceOf(LoopClosedError);
  });
});

describe("which Nodes have reusePort", () => {
  it("22.12+ and 23.1+ (and every line after); before, an error that names the version", () => {
    const has = ["22.12.0", "22.23.5", "23.1.0", "24.0.0", "26.12.1", "27.0.0"];
    const lacks = ["20.19.0", "20.20.2", "22.11.0", "23.0.0"];
    expect(has.map((v) => nodeHasReusePort(v))).toEqual(has.map(() => true));
    expect(lacks.map((v) => nodeHasReusePort(v))).toEqual(lacks.map(() => false));
    const err = thrown(() => checkReusePort("22.11.0"));
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as RuntimeError).code).toBe("ERR_LOOP_REUSEPORT_UNSUPPORTED");
    expect((err as Error).message).toContain("this is Node v22.11.0");
    expect(() => checkReusePort("22.12.0")).not.toThrow();
    expect(nodeHasReusePort()).toBe(nodeHonoursReusePort());
  });
});
