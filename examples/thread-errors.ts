/**
 * The thread-error demo: what goes wrong with event loops and worker threads, and what
 * multiloop does about it, step by step.
 */
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import {
  PoolExecutor,
  type RemoteError,
  type ThreadExitError,
  gather,
  getEventLoop,
  getRunningLoop,
  registerErrorClass,
  run,
  spawnLoopThread,
  type LoopThread,
} from "multiloop";
import { PaymentDeclined } from "./io-tasks.js";
import type * as ioTasks from "./io-tasks.js";
import { describeError } from "./describe-error.js";

type IoTasks = typeof ioTasks;

const here = (file: string): URL => new URL(file, import.meta.url);

/** Labels of a step, printed as one aligned block: a label is never cut. */
let rows: Array<[string, string]> = [];

function title(text: string): void {
  flush();
  console.log(`\n== ${text}`);
}

function show(label: string, value: string): void {
  rows.push([label, value]);
}

function note(text: string): void {
  flush();
  console.log(`   ${text}`);
}

function flush(): void {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  for (const [label, value] of rows) {
    console.log(`   ${label.padEnd(width)}  ${value.replaceAll("\n", `\n${" ".repeat(width + 5)}`)}`);
  }
  rows = [];
}

async function workerWithoutALoop(): Promise<void> {
  title("1. getEventLoop() in a worker thread");
  const worker = new Worker(here("./raw-worker.js"));
  worker.on("message", (m: { step: string; outcome: string }) => show(m.step, m.outcome));
  await new Promise((resolve) => worker.once("exit", resolve));
  note("Only the main thread gets a loop created for it; a worker makes its own.");
  note("The error classes are asyncio's: NoCurrentLoopError and NoRunningLoopError are RuntimeErrors.");
}

async function afterRun(): Promise<void> {
  title("2. getEventLoop() after run() on the main thread");
  await run(() => {
    show("inside run()", `getEventLoop() is the running loop: ${String(getEventLoop() === getRunningLoop())}`);
  });
  try {
    getEventLoop();
  } catch (err) {
    show("after run()", describeError(err));
  }
  note("run() sets the thread's loop and unsets it when done (asyncio 3.7+). Use run() or a Runner again.");
}

async function errorFromAnotherThread(): Promise<void> {
  title("3. An error thrown in a task on loop thread io-1");
  const io = await spawnLoopThread<IoTasks>({ name: "io-1", module: here("./io-tasks.js") });
  try {
    try {
      await io.call("chargeCard", "A-17", 99.5);
    } catch (err) {
      const e = err as RemoteError & { orderId: string; code: string };
      show("class", `${e.constructor.name} (remoteName ${e.remoteName}: this thread does not know the class)`);
      show("message", e.message);
      show("thread", e.threadName);
      show("properties", `orderId=${e.orderId} code=${e.code}`);
      show("cause", String(e.cause));
      show("stack", (e.stack ?? "").split("\n").slice(0, 3).join("\n"));
    }
    // Registered in this thread, the receiving one, the class crosses as itself.
    registerErrorClass(PaymentDeclined);
    try {
      await io.call("chargeCard", "B-42", 12);
    } catch (err) {
      const e = err as PaymentDeclined & { orderId: string };
      show("registered", `registerErrorClass(PaymentDeclined), then the same call fails again:`);
      show("class", `${e.constructor.name}, instanceof PaymentDeclined: ${String(err instanceof PaymentDeclined)}`);
      show("message", `${e.message} (orderId=${e.orderId}, thread ${String((e as { threadName?: string }).threadName)})`);
    }
  } finally {
    await io.stop();
  }
}

async function threadKilledByLimits(): Promise<void> {
  title("4. A loop thread killed by resourceLimits");
  const reports = await spawnLoopThread<IoTasks>({
    name: "reports",
    module: here("./io-tasks.js"),
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
  });
  const pending = reports.call("slowQuery");
  const hog = reports.call("buildHugeReport");
  for (const [label, call] of [["slowQuery", pending], ["buildHugeReport", hog]] as const) {
    try {
      await call;
    } catch (err) {
      const e = err as ThreadExitError;
      show(label, `${e.name}: ${e.message} (cause: ${(e.cause as { code?: string }).code ?? String(e.cause)})`);
    }
  }
  show("exit code", String(await reports.exited));
  note("Calls pending on a thread that dies are rejected, never left hanging.");
}

async function smallService(): Promise<void> {
  title("5. A small multithreaded service");
  const threads: Array<LoopThread<IoTasks>> = await Promise.all(
    [1, 2, 3, 4].map((i) => spawnLoopThread<IoTasks>({ name: `svc-${i}`, module: here("./io-tasks.js") })),
  );
  const pool = new PoolExecutor({ maxThreads: 2 });
  try {
    await run(async () => {
      const loop = getRunningLoop();
      for (const [i, t] of threads.entries()) t.handle.callSoonThreadsafe("notify", `started job batch ${i}`);
      const requests = Array.from({ length: 12 }, (_, id) => {
        const t = threads[id % threads.length] as LoopThread<IoTasks>;
        return t.handle.runCoroutineThreadsafe("handleRequest", id, "the quick brown fox jumps over the lazy dog ".repeat(id + 1));
      });
      const primes = loop.runInExecutor<number>(pool, { filename: fileURLToPath(here("./cpu-work.js")), name: "countPrimes" }, 200_000);
      const answers = await gather(requests);
      const byThread = new Map<string, number>();
      for (const a of answers) byThread.set(a.by, (byThread.get(a.by) ?? 0) + 1);
      show("requests", `${answers.length} answered: ${[...byThread].map(([t, n]) => `${t}=${n}`).join(" ")}`);
      show("executor", `primes below 200,000: ${await primes} (computed in a pool thread)`);
      for (const t of threads) {
        const r = await t.call("report");
        show(r.thread, `${r.notifications} notification(s) received by callSoonThreadsafe`);
      }
    });
  } finally {
    await Promise.all(threads.map((t) => t.stop()));
    await pool.shutdown();
  }
  show("shutdown", `all ${threads.length} loop threads exited: codes ${(await Promise.all(threads.map((t) => t.exited))).join(", ")}`);
  flush();
}

export async function main(): Promise<void> {
  await workerWithoutALoop();
  await afterRun();
  await errorFromAnotherThread();
  await threadKilledByLimits();
  await smallService();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
