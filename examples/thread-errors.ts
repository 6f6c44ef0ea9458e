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
  run,
  spawnLoopThread,
  type LoopThread,
} from "multiloop";

const here = (file: string): URL => new URL(file, import.meta.url);

function title(text: string): void {
  console.log(`\n== ${text}`);
}

function show(label: string, value: string): void {
  console.log(`   ${label.padEnd(12)} ${value}`);
}

async function workerWithoutALoop(): Promise<void> {
  title("1. getEventLoop() in a worker thread");
  const worker = new Worker(here("./raw-worker.js"));
  worker.on("message", (m: { step: string; outcome: string }) => show(m.step, m.outcome));
  await new Promise((resolve) => worker.once("exit", resolve));
  console.log("   Only the main thread gets a loop created for it; a worker makes its own.");
}

async function afterRun(): Promise<void> {
  title("2. getEventLoop() after run() on the main thread");
  await run(() => {
    show("inside run()", `getEventLoop() is the running loop: ${String(getEventLoop() === getRunningLoop())}`);
  });
  try {
    getEventLoop();
  } catch (err) {
    show("after run()", `${(err as Error).name}: ${(err as Error).message}`);
  }
  console.log("   run() sets the thread's loop and unsets it when done (asyncio 3.7+). Use run() or a Runner again.");
}

async function errorFromAnotherThread(): Promise<void> {
  title("3. An error thrown in a task on loop thread io-1");
  const io = await spawnLoopThread({ name: "io-1", module: here("./io-tasks.js") });
  try {
    await io.call("chargeCard", "A-17", 99.5);
  } catch (err) {
    const e = err as RemoteError & { orderId: string; code: string };
    show("class", `${e.constructor.name} (remoteName ${e.remoteName})`);
    show("message", e.message);
    show("thread", e.threadName);
    show("properties", `orderId=${e.orderId} code=${e.code}`);
    show("cause", String(e.cause));
    show("stack", (e.stack ?? "").split("\n").slice(0, 3).join("\n" + " ".repeat(16)));
  } finally {
    await io.stop();
  }
}

async function threadKilledByLimits(): Promise<void> {
  title("4. A loop thread killed by resourceLimits");
  const reports = await spawnLoopThread({
    name: "reports",
    module: here("./io-tasks.js"),
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
  });
  const pending = reports.call("slowQuery");
  const hog = reports.call("buildHugeReport");
  for (const [label, call] of [["slowQuery", pending], ["buildHuge...", hog]] as const) {
    try {
      await call;
    } catch (err) {
      const e = err as ThreadExitError;
      show(label, `${e.name}: ${e.message} (cause: ${(e.cause as { code?: string }).code ?? String(e.cause)})`);
    }
  }
  show("exit code", String(await reports.exited));
  console.log("   Calls pending on a thread that dies are rejected, never left hanging.");
}

async function smallService(): Promise<void> {
  title("5. A small multithreaded service");
  const threads: LoopThread[] = await Promise.all(
    [1, 2, 3, 4].map((i) => spawnLoopThread({ name: `svc-${i}`, module: here("./io-tasks.js") })),
  );
  const pool = new PoolExecutor({ maxThreads: 2 });
  try {
    await run(async () => {
      const loop = getRunningLoop();
      for (const [i, t] of threads.entries()) t.handle.callSoonThreadsafe("notify", `started job batch ${i}`);
      const requests = Array.from({ length: 12 }, (_, id) => {
        const t = threads[id % threads.length] as LoopThread;
        return t.handle.runCoroutineThreadsafe<{ id: number; words: number; by: string }>(
          "handleRequest",
          id,
          "the quick brown fox jumps over the lazy dog ".repeat(id + 1),
        );
      });
      const primes = loop.runInExecutor<number>(pool, { filename: fileURLToPath(here("./cpu-work.js")), name: "countPrimes" }, 200_000);
      const answers = await gather(requests);
      const byThread = new Map<string, number>();
      for (const a of answers) byThread.set(a.by, (byThread.get(a.by) ?? 0) + 1);
      show("requests", `${answers.length} answered: ${[...byThread].map(([t, n]) => `${t}=${n}`).join(" ")}`);
      show("executor", `primes below 200,000: ${await primes} (computed in a pool thread)`);
      for (const t of threads) {
        const r = await t.call<{ thread: string; notifications: number }>("report");
        show(r.thread, `${r.notifications} notification(s) received by callSoonThreadsafe`);
      }
    });
  } finally {
    await Promise.all(threads.map((t) => t.stop()));
    await pool.shutdown();
  }
  show("shutdown", `all ${threads.length} loop threads exited: codes ${(await Promise.all(threads.map((t) => t.exited))).join(", ")}`);
}

export async function main(): Promise<void> {
  await workerWithoutALoop();
  await afterRun();
  await errorFromAnotherThread();
  await threadKilledByLimits();
  await smallService();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
