/**
 * The thread boundary holds against any value (issue 11): one test per defect of the review,
 * named after it, each on real threads, real ports and real pools.
 */
import type { MessagePort } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  LookupError,
  LoopClosedError,
  LoopHandle,
  PoolExecutor,
  QueueFull,
  RemoteError,
  RuntimeError,
  ThreadExitError,
  contextFromEntries,
  createTask,
  getRunningLoop,
  run,
  sleep,
  spawnLoopThread,
  toThread,
  type LoopThread,
} from "multiloop";
import { caught, fixture, thrown } from "./helpers.js";
import type { Api } from "../dist/test/fixtures/comlink-api.js";

const hostile = fixture("hostile-tasks");

/** The remote error behind a rejection. */
async function rejection(work: PromiseLike<unknown>): Promise<RemoteError> {
  return (await caught(work)) as RemoteError;
}

/** Waits until `probe` returns something `done` accepts, asking through the thread's loop (no timing). */
async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await probe();
  for (let i = 0; i < 200 && !done(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    value = await probe();
  }
  return value;
}

describe("issue 11: the thread boundary holds against any value", () => {
  let t: LoopThread;
  beforeAll(async () => {
    t = await spawnLoopThread({ name: "hostile", module: hostile });
    await t.call("watchReports");
  }, 30_000);
  afterAll(async () => {
    await t.stop();
  }, 30_000);

  it("1. forgeable marker: plain data with the old marker key stays plain data, both ways and into main", { timeout: 20_000 }, async () => {
    const forged = { __multiloop_shared__: "LoopHandle", data: { kind: "forged" } };
    expect(await t.call("describe", forged)).toEqual({ type: "object", plain: true, keys: ["__multiloop_shared__", "data"] });
    expect(await t.call("forgedResult")).toEqual({ __multiloop_shared__: "LoopHandle", data: { kind: "nope" } });
    const received = await run(async () => {
      const loop = getRunningLoop();
      const got = loop.createFuture<unknown>();
      loop.expose("receive", (value: unknown) => got.setResult(value));
      t.handle.callSoonThreadsafe("sendForged", loop.handle, "receive");
      return await got;
    });
    expect(received).toEqual(forged);
    // The thread lives and answers.
    expect(await t.call("echo", 1)).toBe(1);
  });

  it("1. forgeable marker: a message that cannot be decoded rejects that one call with a TypeError naming its position", { timeout: 20_000 }, async () => {
    // A hostile sender: raw messages on a real channel into the loop's mailbox.
    const shared = t.handle.share();
    const { port, control } = shared.data as { port: MessagePort; control: Int32Array };
    // A sender counts what it posts in the control block (slot 1); so does this one.
    const post = (message: unknown): void => {
      port.postMessage(message);
      Atomics.add(control, 1, 1);
    };
    const replies: unknown[][] = [];
    port.on("message", (m: unknown[]) => replies.push(m));
    // DEFINE 0 = "echo"; RUN id 0 with a special table naming a kind nobody revives; RUN id 1 with
    // a table whose position is not in the payload; garbage; then a good RUN id 2.
    post([
      7, 0, "echo",
      1, 0, 0, [{ q: 1 }], 0, [["NoSuchKind", {}, [[0, 0, "q"]]]],
      1, 1, 0, [5], 0, [["LoopHandle", {}, [[0, 3]]]],
      1, 2, 0, ["fine"], 0, 0,
    ]);
    post("not a batch");
    post([99, 1, 2, 3]);
    try {
      while (replies.flat().length < 12) await new Promise((resolve) => setTimeout(resolve, 5));
      const flat = replies.flat();
      const byId = new Map<number, [number, unknown]>();
      for (let i = 0; i < flat.length; i += 4) byId.set(flat[i] as number, [flat[i + 1] as number, flat[i + 2]]);
      const [kind0, env0] = byId.get(0) as [number, { name: string; message: string }];
      expect(kind0).toBe(1);
      expect(env0.name).toBe("TypeError");
      expect(env0.message).toContain("the arguments[0].q of 'echo'");
      expect(env0.message).toContain("no reviver for a shared 'NoSuchKind'");
      const [kind1, env1] = byId.get(1) as [number, { name: string; message: string }];
      expect(kind1).toBe(1);
      expect(env1.message).toContain("the arguments[3] of 'echo'");
      expect(byId.get(2)).toEqual([0, "fine"]);
      const reports = await eventually(() => (t.call("reports") as Promise<string[]>), (r) => r.some((x) => x.includes("unknown operation 99")));
      expect(reports.some((r) => r.includes("not a batch of operations"))).toBe(true);
      expect(reports.some((r) => r.includes("unknown operation 99"))).toBe(true);
    } finally {
      port.close();
    }
    expect(await t.call("echo", 2)).toBe(2);
  });

  it("2. error class lookup by name in a plain object: names of Object.prototype members arrive as RemoteError", { timeout: 20_000 }, async () => {
    for (const name of ["toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "__proto__", "constructor"]) {
      const err = await rejection(t.call("throwKind", name));
      expect(err).toBeInstanceOf(RemoteError);
      expect(err.remoteName).toBe(name);
      expect(err.message).toBe(`named ${name}`);
    }
    // A plain object cause that looks like an envelope stays a plain object.
    const outer = await rejection(t.call("forgedEnvelopeCause"));
    expect(outer.message).toBe("outer");
    expect(outer.cause).toEqual({ __multiloop_error__: 1, name: "x" });
  });

  it("3. thrown values that never arrived: each reaches the caller within the round trip", { timeout: 20_000 }, async () => {
    // Structured clone copies a null-prototype object: it arrives as that copy.
    expect(await caught(t.call("throwKind", "null-proto"))).toEqual({});
    const badToString = await rejection(t.call("throwKind", "bad-toString"));
    expect(badToString).toBeInstanceOf(RemoteError);
    expect(badToString.remoteName).toBe("Object");
    expect(badToString.message).toMatch(/toString/);
    const revoked = await rejection(t.call("throwKind", "revoked"));
    expect(revoked).toBeInstanceOf(RemoteError);
    expect(revoked.remoteName).toBe("Proxy");
    expect(revoked.message).toBe("<Revoked Proxy>");
    const getters = await rejection(t.call("throwKind", "message-getter"));
    expect(getters).toBeInstanceOf(RemoteError);
    expect(getters.message).toBe("<unprintable value>");
    expect(getters.remoteName).toBe("<unprintable value>");

    const deep = await rejection(t.call("throwKind", "deep-cause"));
    expect(deep.message).toBe("level 3000");
    let depth = 0;
    let link: unknown = deep;
    while (link instanceof Error && !(link instanceof RemoteError)) {
      link = link.cause;
      depth++;
    }
    expect(depth).toBe(100);
    expect((link as RemoteError).remoteName).toBe("CauseChainCut");
    expect((link as RemoteError).message).toMatch(/100 levels deep/);

    const cycle = await rejection(t.call("throwKind", "cycle-cause"));
    expect(cycle.message).toBe("a");
    expect((cycle.cause as Error).message).toBe("b");
    expect(((cycle.cause as Error).cause as RemoteError).remoteName).toBe("CauseChainCut");
    // The remote loop lived through all of it.
    expect(await t.call("echo", 3)).toBe(3);
  });

  it("4. exponential walk: shared references and sparse arrays cross in one visit per object", { timeout: 20_000 }, async () => {
    const v: Record<string, unknown> = {};
    v["a"] = v;
    v["b"] = v;
    const back = await (t.call("echo", v) as Promise<Record<string, unknown>>);
    expect(back["a"]).toBe(back);
    expect(back["b"]).toBe(back);
    // A tree whose every level references the level below twice: 2^24 paths, 25 objects.
    let tree: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 24; i++) tree = { left: tree, right: tree };
    const tb = await (t.call("echo", tree) as Promise<Record<string, unknown>>);
    expect(tb["left"]).toBe(tb["right"]);
    const sparse = await (t.call("echo", new Array(2 ** 32 - 1)) as Promise<unknown[]>);
    expect(sparse.length).toBe(2 ** 32 - 1);
    expect(0 in sparse).toBe(false);
    // A function deep in a cyclic graph is still found, with its position.
    const cyclic: Record<string, unknown> = { list: [1, 2] };
    cyclic["self"] = cyclic;
    (cyclic["list"] as unknown[]).push({ fn: () => 1 });
    expect(() => t.handle.callSoonThreadsafe("echo", cyclic)).toThrow("Cannot send the arguments[0].list[2].fn of 'echo'");
  });

  it("5. comlink proxies reach the prototype chain: refused paths reject with LookupError naming them", { timeout: 30_000 }, async () => {
    const c = await spawnLoopThread({ name: "api", module: fixture("comlink-api") });
    try {
      const api = c.wrap<Api>() as unknown as Record<string, Record<string, unknown>>;
      const warnings: string[] = [];
      const onWarning = (w: Error): void => {
        warnings.push(w.message);
      };
      process.on("warning", onWarning);
      try {
        // Assignments cannot be awaited: a refused one is a warning, not an unhandled rejection.
        (api["__proto__"] as Record<string, unknown>)["polluted"] = "x";
        api["hasOwnProperty"] = "replaced" as never;
        const polluted = await caught(Promise.resolve((api["__proto__"] as unknown as { polluted: Promise<unknown> }).polluted));
        expect(polluted).toBeInstanceOf(LookupError);
        expect((polluted as Error).message).toContain("Refused the property path '__proto__'");
        const ctor = await caught(Promise.resolve((api["constructor"] as unknown as { constructor: Promise<unknown> }).constructor));
        expect(ctor).toBeInstanceOf(LookupError);
        expect((ctor as Error).message).toContain("'constructor'");
        expect(await caught((api as unknown as { toString(): Promise<string> }).toString())).toBeInstanceOf(LookupError);
        const callOfFunction = await caught((api["add"] as unknown as { call(): Promise<unknown> }).call());
        expect(callOfFunction).toBeInstanceOf(LookupError);
        expect((callOfFunction as Error).message).toContain("'add.call'");
        while (warnings.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
        expect(warnings.every((w) => w.includes("LookupError"))).toBe(true);
      } finally {
        process.off("warning", onWarning);
      }
      const typed = c.wrap<Api>();
      expect(await typed.tampered()).toEqual({ polluted: false, hasOwnProperty: false });
      // What the object and its nested objects hold still works, and a GET of an object gives its data.
      expect(await typed.add(2, 3)).toBe(5);
      expect(await (typed as unknown as { nested: { double(x: number): Promise<number> } }).nested.double(4)).toBe(8);
      expect(await (typed as unknown as { counter: Promise<number> }).counter).toBe(0);
      // An object holding functions cannot be cloned: the GET rejects instead of hanging.
      expect(await caught((typed as unknown as { nested: Promise<unknown> }).nested)).toBeInstanceOf(TypeError);
    } finally {
      await c.stop();
    }
  });

  it("6. local paths that died on hostile values: reprs never throw, the loop keeps running", { timeout: 20_000 }, async () => {
    const outcome = await run(async () => {
      const loop = getRunningLoop();
      const seen: string[] = [];
      loop.setExceptionHandler((_l, ctx) => seen.push(ctx.message));
      const err = new Error("hidden");
      Object.defineProperty(err, "message", {
        get(): string {
          throw new Error("message getter");
        },
      });
      const failing = createTask(async () => {
        throw err;
      });
      await failing.catch(() => undefined);
      const repr = failing.toString();
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      const proxyTask = createTask(async () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- the point of the test
        throw proxy;
      });
      const proxyOutcome = await proxyTask.then(() => "resolved", (e: unknown) => (e === proxy ? "the proxy" : "other"));
      const named = async (): Promise<never> => {
        throw new Error("named");
      };
      Object.defineProperty(named, "name", {
        get(): string {
          throw new Error("name getter");
        },
      });
      const namedTask = createTask(named);
      await namedTask.catch(() => undefined);
      const fnProxy = Proxy.revocable(() => 1, {});
      fnProxy.revoke();
      loop.callSoon(fnProxy.proxy);
      loop.callSoonThreadsafe(fnProxy.proxy);
      const fromProxy = createTask(fnProxy.proxy as unknown as () => Promise<number>);
      const fromProxyOutcome = await fromProxy.then(() => "resolved", (e: unknown) => (e as Error).name);
      await sleep(0);
      // Still alive: a callback and a task.
      const alive = await new Promise<boolean>((resolve) => loop.callSoon(() => resolve(true)));
      const task = await createTask(async () => "task ran");
      return { repr, proxyOutcome, named: namedTask.toString(), fromProxyOutcome, seen, alive, task };
    });
    expect(outcome.repr).toContain("exception=Error(<unprintable value>)");
    expect(outcome.proxyOutcome).toBe("the proxy");
    expect(outcome.named).toContain("coro=<<anonymous>()>");
    expect(outcome.fromProxyOutcome).toBe("TypeError");
    expect(outcome.seen.filter((m) => m === "Exception in callback <proxy>()")).toHaveLength(2);
    expect(outcome.alive).toBe(true);
    expect(outcome.task).toBe("task ran");
  });

  it("7. one-way calls that killed threads: an async export that rejects is reported, the thread lives", { timeout: 20_000 }, async () => {
    t.handle.callSoonThreadsafe("rejectLater", "async failure");
    t.handle.callSoonThreadsafe("throwNow", "sync failure");
    const reports = await eventually(
      () => (t.call("reports") as Promise<string[]>),
      (r) => r.some((x) => x.includes("async failure")) && r.some((x) => x.includes("sync failure")),
    );
    expect(reports).toContain("Exception in callback rejectLater('async failure') | Error: async failure");
    expect(reports).toContain("Exception in callback throwNow('sync failure') | Error: sync failure");
    expect(await t.call("echo", 7)).toBe(7);
  });

  it("8. wrong exit code elsewhere: every copy of a dead thread's handle reports the real exit code", { timeout: 60_000 }, async () => {
    const watcher = await spawnLoopThread({ name: "watcher", module: hostile });
    try {
      for (const how of ["exit 7", "terminate"] as const) {
        const victim = await spawnLoopThread({ name: "victim", module: hostile });
        const outcomes = [0, 1, 2].map(() => (watcher.call("awaitOn", victim.handle, "hang") as Promise<{ name: string; exitCode: unknown }>));
        // The watcher's calls have reached the victim once the victim answered a later one of ours.
        await eventually(() => watcher.call("echo", 0), () => true);
        for (let i = 0; i < 20; i++) await victim.call("echo", i);
        if (how === "exit 7") victim.handle.callSoonThreadsafe("exitWith", 7);
        else await victim.terminate();
        const expected = how === "exit 7" ? 7 : 1;
        for (const outcome of await Promise.all(outcomes)) expect(outcome).toEqual({ name: "ThreadExitError", exitCode: expected });
        expect(await victim.exited).toBe(expected);
      }
    } finally {
      await watcher.stop();
    }
  });

  it("9. stop() of a thread stuck in synchronous code: stop({ timeout }) terminates it, pending calls reject", { timeout: 30_000 }, async () => {
    const stuck = await spawnLoopThread({ name: "stuck", module: hostile });
    const pending = stuck.call("hang");
    await stuck.call("echo", 0);
    stuck.handle.callSoonThreadsafe("blockFor", 600_000);
    await stuck.stop({ timeout: 100 });
    const err = await caught(pending);
    expect(err).toBeInstanceOf(ThreadExitError);
    expect((err as ThreadExitError).exitCode).toBe(1);
    expect(await stuck.exited).toBe(1);
    await expect(stuck.stop({ timeout: -1 })).rejects.toBeInstanceOf(RangeError);
  });

  it("10. default executor refuses work: toThread x100 on a small pool all run; a set maxQueue refuses with QueueFull", { timeout: 60_000 }, async () => {
    const results = await run(async () => Promise.all(Array.from({ length: 100 }, (_, i) => toThread((x: number) => x * 2, i))));
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i * 2));
    const small = new PoolExecutor({ maxThreads: 1, maxQueue: 1 });
    try {
      const calls = Array.from({ length: 6 }, (_, i) => small.run((x: number) => x, [i]).then((v) => v, (e: unknown) => e));
      const outcomes = await Promise.all(calls);
      const refused = outcomes.filter((o): o is QueueFull => o instanceof QueueFull);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused[0]?.code).toBe("ERR_LOOP_QUEUE_FULL");
      expect(outcomes.filter((o) => typeof o === "number").length + refused.length).toBe(6);
    } finally {
      await small.shutdown();
    }
  });

  it("11. errors that did not name the argument: each is a TypeError naming it, or the documented class", { timeout: 30_000 }, async () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(() => contextFromEntries(class {} as never)).toThrow(/`entries`/);
    expect(() => LoopHandle.from(proxy)).toThrow(/Expected `data` to be .*<Revoked Proxy>.* \(proxy\)/);
    const pool = new PoolExecutor({ maxThreads: 1 });
    try {
      await run(async () => {
        const loop = getRunningLoop();
        expect(() => loop.runInExecutor(pool, (x: unknown) => x, () => 1)).toThrow(TypeError);
        expect(() => loop.runInExecutor(pool, (x: unknown) => x, () => 1)).toThrow(/the arguments\[0\] of/);
        expect(() => loop.runInExecutor(pool, function* gen() {})).toThrow(/`fn`.*generator function/);
        expect(() => loop.runInExecutor(pool, proxy as never)).toThrow(/`fn`/);
        await expect(toThread(function* gen() {})).rejects.toThrow(/`fn`/);
        const died = await caught(loop.runInExecutor(pool, () => process.exit(3)));
        expect(died).toBeInstanceOf(ThreadExitError);
        expect((died as ThreadExitError).exitCode).toBe(3);
        const unsendable = await caught(loop.runInExecutor(pool, () => () => 1));
        expect(unsendable).toBeInstanceOf(TypeError);
        expect((unsendable as Error).message).toMatch(/cannot be sent back/);
        // The pool still works.
        expect(await loop.runInExecutor(pool, (x: number) => x + 1, 1)).toBe(2);
      });
    } finally {
      await pool.shutdown();
    }
    expect(thrown(() => t.handle.callSoonThreadsafe(proxy as never))).toBeInstanceOf(TypeError);
  });

  it("also: a handle passed with every call revives onto one channel per loop and thread, and every copy still works", { timeout: 30_000 }, async () => {
    const other = await spawnLoopThread({ name: "other", module: hostile });
    try {
      const same = await Promise.all(Array.from({ length: 50 }, () => (t.call("sameChannel", other.handle) as Promise<boolean>)));
      expect(same.every(Boolean)).toBe(true);
      // Each call's copy can be used, also after many others were dropped.
      for (let i = 0; i < 5; i++) expect(await t.call("awaitOn", other.handle, "echo")).toEqual({ name: "resolved", exitCode: null });
    } finally {
      await other.stop();
    }
  });

  it("12. calls into a dead thread: ThreadExitError is the closed-loop RuntimeError; call() rejects, the others throw", { timeout: 30_000 }, async () => {
    const gone = await spawnLoopThread({ name: "gone", module: hostile });
    gone.handle.callSoonThreadsafe("exitWith", 5);
    expect(await gone.exited).toBe(5);
    const atCallSite = thrown(() => gone.handle.callSoonThreadsafe("echo", 1));
    expect(atCallSite).toBeInstanceOf(ThreadExitError);
    expect(atCallSite).toBeInstanceOf(LoopClosedError);
    expect(atCallSite).toBeInstanceOf(RuntimeError);
    expect((atCallSite as ThreadExitError).code).toBe("ERR_LOOP_THREAD_EXIT");
    expect(() => gone.handle.runCoroutineThreadsafe("echo", 1)).toThrow(ThreadExitError);
    const rejected = gone.call("echo", 1);
    expect(rejected).toBeInstanceOf(Promise);
    await expect(rejected).rejects.toBeInstanceOf(ThreadExitError);
    expect(new ThreadExitError("x", 1)).not.toBeInstanceOf(CancelledError);
    // A handle of a loop closed by stop() gives the plain closed-loop error.
    const stopped = await spawnLoopThread({ module: hostile });
    await stopped.stop();
    const closed = thrown(() => stopped.handle.callSoonThreadsafe("echo", 1));
    expect(closed).toBeInstanceOf(LoopClosedError);
    expect(closed).not.toBeInstanceOf(ThreadExitError);
  });
});
