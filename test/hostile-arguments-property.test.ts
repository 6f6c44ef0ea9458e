/**
 * Property suite (issue 11): every exported function and constructor, and the public methods of
 * the loop, of handles, futures and queues, called with hostile arguments (test/hostile-values.ts),
 * one or several at a time. Each call either works, or throws / rejects a TypeError or RangeError
 * that names the argument, or one of the documented error classes (LoopError and its subclasses),
 * or the hostile value's own error (a callback that throws). Afterwards the loop still runs a
 * callback and a task. `MULTILOOP_FUZZ_RUNS` raises the number of runs; `FUZZ_REPORT=file` writes
 * every failure there (the assertion shows the first 30).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { types } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as ml from "multiloop";
import { HOSTILE, HostileError, fuzzRuns } from "./hostile-values.js";
import { fixture } from "./helpers.js";

type Env = {
  loop: ml.EventLoop;
  other: ml.EventLoop;
  thread: ml.LoopThread;
  queue: ml.ThreadQueue<unknown>;
  future: ml.Future<unknown>;
};

interface Spec {
  readonly name: string;
  /** The argument names an error may name (a message containing "`name" names it). */
  readonly params: readonly string[];
  /** A valid value for each argument, in order. */
  readonly valid: (env: Env) => unknown[];
  readonly call: (env: Env, args: unknown[]) => unknown;
  /** Hostile values left out for an argument (by label): strings as hosts, paths or commands. */
  readonly skip?: Readonly<Record<number, readonly string[]>>;
  /** asyncio's own messages for this entry, kept byte for byte (they name the argument their way). */
  readonly asyncio?: RegExp;
  /** Its valid calls do real I/O (threads, sockets, processes): wait for them, to clean up. */
  readonly slow?: boolean;
}

/**
 * Putting 2^32 - 1 items is the caller's cost (as in Python). gather, wait and asCompleted check
 * each item as they read it, so the holes fail at the first one and need no skip.
 */
const NO_BOMB = ["sparse huge array"];
const NO_STRINGS = ["empty string", "string", "'__proto__'", "'toString'", "long string"];
const cb = (): void => undefined;
const coro = async (): Promise<number> => 1;
const closedPort = 1;
const socketPath = join(tmpdir(), `multiloop-fuzz-${process.pid}.sock`);

/** `f(...args)` for a function of the public entry. */
const fn =
  (name: string) =>
  (_env: Env, args: unknown[]): unknown =>
    (ml as unknown as Record<string, (...a: unknown[]) => unknown>)[name]?.(...args);
/** `new C(...args)` for a class of the public entry. */
const ctor =
  (name: string) =>
  (_env: Env, args: unknown[]): unknown =>
    new (ml as unknown as Record<string, new (...a: unknown[]) => unknown>)[name]!(...args);
/** `target.method(...args)`. */
const method =
  <T>(target: (env: Env) => T, name: string) =>
  (env: Env, args: unknown[]): unknown =>
    (target(env) as Record<string, (...a: unknown[]) => unknown>)[name]!(...args);

const ERROR_CLASSES = [
  "LoopError", "RuntimeError", "NoRunningLoopError", "NoCurrentLoopError", "LoopClosedError", "CancelledError",
  "InvalidStateError", "TimeoutError", "LookupError", "QueueEmpty", "QueueFull", "QueueShutDown", "BrokenBarrierError",
];

const SPECS: Spec[] = [
  // ---- functions
  { name: "allTasks", params: ["loop"], valid: (e) => [e.loop], call: fn("allTasks") },
  { asyncio: /^expects an iterable of awaitables, not /u, name: "asCompleted", params: ["aws", "options"], valid: () => [[], {}], call: fn("asCompleted") },
  { name: "carryContext", params: ["vars"], valid: () => [new ml.ContextVar("fuzz")], call: fn("carryContext") },
  { name: "contextFromEntries", params: ["entries"], valid: () => [[["fuzz", 1]]], call: fn("contextFromEntries") },
  {
    name: "createSubprocessExec",
    asyncio: /^shell must be (True|False)$/u,
    slow: true,
    params: ["program", "args", "options"],
    valid: () => ["/nonexistent/program", [], {}],
    call: fn("createSubprocessExec"),
    skip: { 0: NO_STRINGS },
  },
  { slow: true, asyncio: /^shell must be (True|False)$/u, name: "createSubprocessShell", params: ["cmd", "options"], valid: () => ["exit 0", {}], call: fn("createSubprocessShell"), skip: { 0: NO_STRINGS } },
  { name: "createTask", params: ["coro", "options"], valid: () => [coro, {}], call: fn("createTask") },
  { name: "currentTask", params: ["loop"], valid: (e) => [e.loop], call: fn("currentTask") },
  { name: "deserializeError", params: ["data"], valid: () => [ml.serializeError(new Error("x"))], call: fn("deserializeError") },
  { name: "ensureFuture", params: ["aw", "options"], valid: () => [coro, {}], call: fn("ensureFuture") },
  { name: "gather", params: ["aws", "options"], valid: () => [[coro()], { returnExceptions: true }], call: fn("gather") },
  { name: "gather(...)", params: ["aws"], valid: () => [coro(), coro()], call: fn("gather") },
  { name: "isFuture", params: ["value"], valid: () => [1], call: fn("isFuture") },
  { slow: true, name: "openConnection", params: ["host", "port", "options"], valid: () => ["127.0.0.1", closedPort, {}], call: fn("openConnection"), skip: { 0: NO_STRINGS } },
  { slow: true, name: "openUnixConnection", params: ["path", "options"], valid: () => [socketPath, {}], call: fn("openUnixConnection"), skip: { 0: NO_STRINGS } },
  { name: "registerErrorClass", params: ["cls"], valid: () => [class FuzzError extends Error {}], call: fn("registerErrorClass") },
  { name: "run", params: ["main", "options"], valid: () => [coro, {}], call: fn("run") },
  { name: "runCoroutineThreadsafe", params: ["handle", "target", "args"], valid: (e) => [e.thread.handle, "echo", 1], call: fn("runCoroutineThreadsafe") },
  { name: "serializeError", params: ["err"], valid: () => [new Error("x")], call: fn("serializeError") },
  { name: "setEventLoopPolicy", params: ["p", "policy"], valid: () => [null], call: fn("setEventLoopPolicy") },
  { name: "setStrict", params: ["on"], valid: () => [false], call: fn("setStrict") },
  { name: "shield", params: ["aw"], valid: () => [coro()], call: fn("shield") },
  { name: "sleep", params: ["ms", "result"], valid: () => [0, 1], call: fn("sleep") },
  {
    slow: true,
    name: "spawnLoopThread",
    params: ["options"],
    valid: () => [{ module: fixture("hostile-tasks") }],
    call: fn("spawnLoopThread"),
    // Objects read as options start a thread each: a few do, the rest add time and prove nothing more.
    skip: { 0: ["undefined", "empty object", "null-prototype object", "object with __proto__ key", "array with holes", "sparse huge array", "class instance", "Date", "Map", "Set", "Promise", "rejected thenable", "never-settling thenable", "WeakMap", "Error", "SharedArrayBuffer", "Int32Array on SAB", "Uint8Array", "boxed string", "cyclic object"] },
  },
  { slow: true, name: "startServer", params: ["clientConnected", "host", "port", "options"], valid: () => [cb, "127.0.0.1", 0, {}], call: fn("startServer"), skip: { 1: NO_STRINGS } },
  { slow: true, name: "startUnixServer", params: ["clientConnected", "path", "options"], valid: () => [cb, socketPath, {}], call: fn("startUnixServer"), skip: { 1: NO_STRINGS } },
  { name: "taskGroup", params: ["body"], valid: () => [coro], call: fn("taskGroup") },
  { name: "timeout", params: ["ms", "body"], valid: () => [1000, coro], call: fn("timeout") },
  { name: "timeoutAt", params: ["whenMs", "when", "body"], valid: (e) => [e.loop.time() + 1000, coro], call: fn("timeoutAt") },
  { slow: true, name: "toThread", params: ["fn", "args"], valid: () => [(x: unknown) => x, 1], call: fn("toThread") },
  { asyncio: /^expect a list of futures, not /u, name: "wait", params: ["aws", "options"], valid: () => [[coro()], {}], call: fn("wait") },
  { name: "waitFor", params: ["aw", "timeoutMs"], valid: () => [coro, 1000], call: fn("waitFor") },
  { name: "withContext", params: ["ctx"], valid: () => [ml.copyContext()], call: fn("withContext") },
  // ---- constructors
  { name: "new Barrier", params: ["parties"], valid: () => [2], call: ctor("Barrier") },
  { asyncio: /^Semaphore initial value must be >= 0$/u, name: "new BoundedSemaphore", params: ["value"], valid: () => [1], call: ctor("BoundedSemaphore") },
  { name: "new Condition", params: ["lock"], valid: () => [new ml.Lock()], call: ctor("Condition") },
  { name: "new ContextVar", params: ["name", "options"], valid: () => ["fuzz", {}], call: ctor("ContextVar") },
  { name: "new Future", params: ["options"], valid: (e) => [{ loop: e.loop }], call: ctor("Future") },
  { name: "new LifoQueue", params: ["options"], valid: () => [{}], call: ctor("LifoQueue") },
  { slow: true, name: "new PoolExecutor", params: ["options"], valid: () => [{ maxThreads: 1 }], call: ctor("PoolExecutor") },
  { name: "new PriorityQueue", params: ["options"], valid: () => [{}], call: ctor("PriorityQueue") },
  { name: "new Queue", params: ["options"], valid: () => [{ maxsize: 2 }], call: ctor("Queue") },
  { name: "new Runner", params: ["options"], valid: () => [{}], call: ctor("Runner") },
  { asyncio: /^Semaphore initial value must be >= 0$/u, name: "new Semaphore", params: ["value"], valid: () => [1], call: ctor("Semaphore") },
  { name: "new StreamReader", params: ["options"], valid: () => [{}], call: ctor("StreamReader") },
  { name: "new Task", params: ["coro", "options"], valid: () => [coro, {}], call: ctor("Task") },
  { name: "new ThreadQueue", params: ["options"], valid: () => [{ maxsize: 4 }], call: ctor("ThreadQueue") },
  { name: "new ThreadSemaphore", params: ["value"], valid: () => [1], call: ctor("ThreadSemaphore") },
  { name: "new Timeout", params: ["when"], valid: () => [null], call: ctor("Timeout") },
  ...ERROR_CLASSES.map((name): Spec => ({ name: `new ${name}`, params: ["message", "options"], valid: () => ["m", {}], call: ctor(name) })),
  { name: "new RemoteError", params: ["remoteName", "message", "threadName", "options"], valid: () => ["X", "m", "t", {}], call: ctor("RemoteError") },
  { name: "new ThreadExitError", params: ["threadName", "exitCode", "options"], valid: () => ["t", 1, {}], call: ctor("ThreadExitError") },
  { name: "new IncompleteReadError", params: ["partial", "expected"], valid: () => [Buffer.alloc(1), 2], call: ctor("IncompleteReadError") },
  { name: "new LimitOverrunError", params: ["message", "consumed"], valid: () => ["m", 1], call: ctor("LimitOverrunError") },
  // ---- static revivers
  ...["LoopHandle", "ThreadQueue", "ThreadLock", "ThreadSemaphore"].map(
    (name): Spec => ({ name: `${name}.from`, params: ["data"], valid: () => [undefined], call: method(() => (ml as unknown as Record<string, object>)[name], "from") }),
  ),
  // ---- the loop
  { name: "loop.callSoon", params: ["callback", "cb"], valid: () => [cb], call: method((e) => e.loop, "callSoon") },
  { name: "loop.callSoonThreadsafe", params: ["callback", "cb"], valid: () => [cb], call: method((e) => e.loop, "callSoonThreadsafe") },
  { name: "loop.callLater", params: ["delayMs", "callback"], valid: () => [1, cb], call: method((e) => e.loop, "callLater") },
  { name: "loop.callAt", params: ["whenMs", "callback"], valid: (e) => [e.loop.time() + 1, cb], call: method((e) => e.loop, "callAt") },
  { name: "loop.createTask", params: ["coro", "options"], valid: () => [coro, {}], call: method((e) => e.loop, "createTask") },
  { slow: true, name: "loop.runInExecutor", params: ["executor", "fn", "args"], valid: () => [null, (x: unknown) => x, 1], call: method((e) => e.loop, "runInExecutor") },
  { name: "loop.setExceptionHandler", params: ["handler"], valid: () => [null], call: method((e) => e.other, "setExceptionHandler") },
  { name: "loop.setTaskFactory", params: ["factory"], valid: () => [null], call: method((e) => e.other, "setTaskFactory") },
  { name: "loop.setDebug", params: ["enabled"], valid: () => [false], call: method((e) => e.other, "setDebug") },
  { slow: true, name: "loop.setDefaultExecutor", params: ["executor"], valid: () => [new ml.PoolExecutor({ maxThreads: 1 })], call: method((e) => e.other, "setDefaultExecutor") },
  { name: "loop.shutdownDefaultExecutor", params: ["timeoutMs"], valid: () => [10], call: method((e) => e.other, "shutdownDefaultExecutor") },
  { name: "loop.expose", params: ["name", "fn"], valid: () => ["fuzz", cb], call: method((e) => e.other, "expose") },
  { name: "loop.exposeObject", params: ["obj"], valid: () => [{}], call: method((e) => e.other, "exposeObject") },
  { name: "loop.trackAsyncGen", params: ["gen"], valid: () => [(async function* g(): AsyncGenerator<number> {})()], call: method((e) => e.other, "trackAsyncGen") },
  { name: "loop.callExceptionHandler", params: ["context"], valid: () => [{ message: "fuzz" }], call: method((e) => e.other, "callExceptionHandler") },
  // ---- handles and futures
  { name: "handle.callSoonThreadsafe", params: ["target", "args"], valid: () => ["ping", 1], call: method((e) => e.thread.handle, "callSoonThreadsafe") },
  { name: "handle.runCoroutineThreadsafe", params: ["target", "args"], valid: () => ["echo", 1], call: method((e) => e.thread.handle, "runCoroutineThreadsafe") },
  { name: "thread.call", params: ["target", "args"], valid: () => ["echo", 1], call: method((e) => e.thread, "call") },
  { name: "local handle.runCoroutineThreadsafe", params: ["target", "args"], valid: () => ["nothing-exposed", 1], call: method((e) => e.loop.handle, "runCoroutineThreadsafe") },
  { name: "future.setException", params: ["exception"], valid: () => [new Error("x")], call: (e, args) => e.loop.createFuture().setException(args[0]) },
  { name: "future.addDoneCallback", params: ["cb", "fn"], valid: () => [cb], call: method((e) => e.future, "addDoneCallback") },
  { name: "future.cancel", params: ["msg"], valid: () => ["m"], call: (e, args) => e.loop.createFuture().cancel(...(args as [string])) },
  { name: "queue.putNowait", params: ["item"], valid: () => [1], call: method((e) => e.queue, "putNowait") },
  { name: "queue.put", params: ["item"], valid: () => [1], call: method((e) => e.queue, "put") },
  { skip: { 0: NO_BOMB }, name: "queue.putMany", params: ["items"], valid: () => [[1, 2]], call: method((e) => e.queue, "putMany") },
  { name: "queue.getMany", params: ["max"], valid: () => [1], call: method((e) => e.queue, "getMany") },
];

/** Whether `err` is an outcome the contract allows for `spec`. */
function allowed(err: unknown, spec: Spec): boolean {
  if (err instanceof HostileError) return /^(callback|async callback|thenable)/u.test(err.message);
  if (err instanceof AggregateError) return err.errors.every((e) => allowed(e, spec));
  if (err instanceof ml.LoopError) return true;
  if (err instanceof ReferenceError) return /^The function given to runInExecutor\/toThread uses `/u.test(err.message);
  if (err instanceof TypeError || err instanceof RangeError) {
    const message = err.message;
    if (spec.params.some((p) => message.includes(`\`${p}`) || new RegExp(`^${p.replace(/[.[\]]/gu, "\\$&")} must`, "u").test(message))) return true;
    if (spec.asyncio?.test(message) === true) return true;
    if (/^Cannot send .* (to another thread|to an executor thread)/u.test(message)) return true;
    // The user's own callback failed when called: a revoked proxy, or a class called without new.
    if (/Cannot perform '(apply|construct)' on a proxy that has been revoked|cannot be invoked without 'new'/u.test(message)) return true;
  }
  return false;
}

/** The error's first line and where in src/ it was thrown (enough to find the check to fix). */
function describeError(err: unknown): string {
  try {
    if (!(err instanceof Error)) return String(err);
    const at = (err.stack ?? "").split("\n").find((line) => line.includes("/src/")) ?? "";
    return `${err.name}: ${err.message.split("\n")[0]?.slice(0, 160) ?? ""} ${at.trim()}`;
  } catch {
    return "<unprintable>";
  }
}

/** Things a call made that must not outlive it: servers, pools, threads, processes. */
function isConcurrentFuture(value: unknown): boolean {
  return typeof value === "object" && value !== null && !types.isProxy(value) && value instanceof ml.ConcurrentFuture;
}

async function cleanUp(value: unknown): Promise<void> {
  if (typeof value !== "object" || value === null || types.isProxy(value) || ml.isFuture(value)) return;
  const obj = value as Record<string, unknown>;
  try {
    if (value instanceof ml.LoopThread) await value.stop({ timeout: 1000 });
    else if (value instanceof ml.PoolExecutor) await value.shutdown({ wait: false });
    else if (value instanceof ml.Server) value.close();
    else if (value instanceof ml.Process) {
      if (value.returncode === null) value.kill();
      await value.wait();
    } else if (value instanceof ml.Runner) await value.close();
    else if (Array.isArray(value) && value[1] instanceof ml.StreamWriter) value[1].close();
    else if (typeof obj["then"] === "function") return;
  } catch {
    // Best effort: the outcome was already checked.
  }
}

type Outcome = { settled: boolean; value?: unknown; error?: unknown; failed: boolean };

/**
 * How `value` ends, if it is something that ends, within a bounded number of loop turns (I/O gets
 * longer); still pending is fine. A future is read with result()/exception(), not awaited: its
 * result may be the hostile value itself, which awaiting would then try to adopt as a thenable.
 */
async function outcomeOf(value: unknown, slow: boolean): Promise<Outcome> {
  const future = ml.isFuture(value) || isConcurrentFuture(value) ? (value as ml.Future<unknown>) : null;
  if (future === null && !types.isPromise(value)) return { settled: true, value, failed: false };
  const settled: Promise<Outcome> =
    future !== null
      ? new Promise<Outcome>((resolve) => {
          future.addDoneCallback(() => {
            if (future.cancelled()) resolve({ settled: true, failed: false });
            else {
              const error = future.exception();
              resolve(error === null ? { settled: true, value: future.result(), failed: false } : { settled: true, error, failed: true });
            }
          });
        })
      : (value as Promise<unknown>).then(
          (v): Outcome => ({ settled: true, value: v, failed: false }),
          (e: unknown): Outcome => ({ settled: true, error: e, failed: true }),
        );
  const pending: Outcome = { settled: false, failed: false };
  let timer: NodeJS.Timeout | undefined;
  const limit = slow
    ? new Promise<Outcome>((resolve) => (timer = setTimeout(resolve, 3000, pending)))
    : ml.sleep(0).then(() => ml.sleep(0)).then(() => ml.sleep(0)).then(() => pending);
  const outcome = await Promise.race([settled, limit]);
  clearTimeout(timer);
  if (!outcome.settled && future !== null) future.cancel();
  return outcome;
}

describe("hostile arguments at every public entry", () => {
  let thread: ml.LoopThread;
  beforeAll(async () => {
    thread = await ml.spawnLoopThread({ name: "fuzz-target", module: fixture("hostile-tasks") });
  }, 30_000);
  afterAll(async () => {
    await thread.stop();
  }, 30_000);

  it("each call works, or fails with a TypeError/RangeError naming the argument or a documented error; the loop lives", { timeout: 120_000 }, async () => {
    const failures: string[] = [];
    let calls = 0;
    // A loop of its own, closed without waiting: run() would wait for every task it cancels, and a
    // task awaiting a never-settling thenable cannot be interrupted (in asyncio neither).
    const loop = ml.newEventLoop();
    const quiet = (): void => undefined;
    loop.setExceptionHandler(quiet);
    await loop.runUntilComplete(async () => {
      const env: Env = {
        loop,
        other: ml.newEventLoop(),
        thread,
        queue: new ml.ThreadQueue({ maxsize: 8 }),
        future: loop.createFuture(),
      };
      // Every spec with every hostile value in every position once, then random mixes.
      const sweep: Array<[number, Array<number | null>]> = [];
      SPECS.forEach((spec, s) => {
        const arity = spec.valid(env).length;
        for (let p = 0; p < arity; p++) {
          for (let hIndex = 0; hIndex < HOSTILE.length; hIndex++) {
            const choice: Array<number | null> = new Array<number | null>(arity).fill(null);
            choice[p] = hIndex;
            sweep.push([s, choice]);
          }
        }
      });
      /** Runs one call, then checks the loop still runs a callback (bounded, so a dead loop is a failure, not a hang). */
      const runOne = async (s: number, choice: Array<number | null>): Promise<void> => {
        // Each call in a task of its own: a timeout() left pending cancels that task, not this one.
        const task = ml.createTask(() => runCall(s, choice));
        let label = SPECS[s]!.name;
        try {
          label = await task;
        } catch (err) {
          if (!(err instanceof ml.CancelledError)) failures.push(`${label}: the harness failed: ${describeError(err)}`);
        }
        env.other.setExceptionHandler(quiet);
        let timer: NodeJS.Timeout | undefined;
        const alive = await Promise.race([
          new Promise<boolean>((resolve) => loop.callSoon(() => resolve(true))),
          new Promise<boolean>((resolve) => (timer = setTimeout(resolve, 5000, false))),
        ]);
        clearTimeout(timer);
        if (!alive) failures.push(`${label}: the loop stopped running callbacks`);
      };
      const runCall = async (s: number, choice: Array<number | null>): Promise<string> => {
        const spec = SPECS[s] as Spec;
        const args = spec.valid(env);
        for (let p = 0; p < choice.length; p++) {
          const pick = choice[p];
          if (pick === null || pick === undefined) continue;
          const hostile = HOSTILE[pick % HOSTILE.length]!;
          if (spec.skip?.[p]?.includes(hostile.label)) continue;
          args[p] = hostile.make();
        }
        const label = `${spec.name}(${choice.map((c) => (c === null ? "valid" : HOSTILE[c % HOSTILE.length]!.label)).join(", ")})`;
        calls++;
        let result: unknown;
        try {
          result = spec.call(env, args);
        } catch (err) {
          if (!allowed(err, spec)) failures.push(`${label} threw ${describeError(err)}`);
          return label;
        }
        const outcome = await outcomeOf(result, spec.slow === true);
        if (outcome.failed && !allowed(outcome.error, spec)) failures.push(`${label} rejected ${describeError(outcome.error)}`);
        await cleanUp(outcome.settled ? outcome.value : result);
        return label;
      };
      for (const [s, choice] of sweep) await runOne(s, choice);
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 0, max: SPECS.length - 1 }),
          fc.array(fc.option(fc.nat(HOSTILE.length - 1), { nil: null }), { minLength: 4, maxLength: 4 }),
          async (s, picks) => {
            const arity = SPECS[s]!.valid(env).length;
            await runOne(s, picks.slice(0, arity));
            return true;
          },
        ),
        { numRuns: fuzzRuns(200) },
      );
      // The loop still runs a callback and a task.
      expect(await new Promise<string>((resolve) => loop.callSoon(() => resolve("callback ran")))).toBe("callback ran");
      expect(await ml.createTask(async () => "task ran")).toBe("task ran");
      env.other.close();
      env.queue.close();
      env.future.cancel();
      ml.setStrict(false);
      ml.setEventLoopPolicy(null);
      await loop.shutdownDefaultExecutor();
    });
    loop.close();
    if (process.env["FUZZ_REPORT"] !== undefined) (await import("node:fs")).writeFileSync(process.env["FUZZ_REPORT"], failures.join("\n"));
    expect(failures.slice(0, 30)).toEqual([]);
    expect(calls).toBeGreaterThan(1000);
  });
});
