/**
 * multiloop/bullmq (issue 17) against a real redis-server on a free port, with real worker
 * processes (test/fixtures/queue-worker.ts: serveQueue with 1 s locks, so a killed worker's job is
 * recovered in about 1.5 s) and the multiloop-worker bin. Follows the Redis rule of `npm test`
 * (test/system-programs.ts): the machine's redis-server or Debian's, fetched; never skipped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancelledError, JobLostError, JobRefusedError, NoRunningLoopError, RemoteError, createTask, getRunningLoop, run } from "multiloop";
import { QueueExecutor, serveQueue } from "multiloop/bullmq";
import { spawnRedisServer, type PlainRedisServer } from "../dist/examples/redis/server-process.js";
import { REDIS_SERVER, describeWith } from "./system-programs.js";

const root = join(import.meta.dirname, "..");
const WORKER = fileURLToPath(new URL("../dist/test/fixtures/queue-worker.js", import.meta.url));
const BIN = join(root, "dist", "src", "bullmq", "worker-cli.js");
const jobs = (name: string): { filename: string; name: string } => ({ filename: "./queue-jobs.js", name });
const T = 30_000;

let redis: PlainRedisServer | null = null;
let port = 0;
let dir = "";
const children = new Set<ChildProcess>();

interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts a process and resolves once its output contains `ready`. */
function start(args: string[], ready: string, cwd = root): Promise<Spawned> {
  const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    children.delete(child);
    resolve(code);
  }));
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      out += String(chunk);
      if (out.includes(ready)) resolve({ child, output: () => out, exited });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then((code) => reject(new Error(`exited with ${code} before '${ready}':\n${out}`)));
  });
}

const worker = (queue: string, concurrency = 4): Promise<Spawned> => start([WORKER, String(port), queue, String(concurrency)], "ready");

type Probed<T> = T | undefined | null | false;

async function until<T>(probe: () => Probed<T> | Promise<Probed<T>>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The pid in `<dir>/<name>.started.<pid>` once the job started somewhere (the newest one after `not`). */
const startedPids = (name: string): number[] =>
  readdirSync(dir)
    .filter((f) => f.startsWith(`${name}.started.`))
    .map((f) => Number(f.slice(`${name}.started.`.length)));

const connection = (): { host: string; port: number } => ({ host: "127.0.0.1", port });

/**
 * A TCP relay to the redis-server that can be cut (every connection through it dropped, new ones
 * refused) and restored on the same port: a network outage for one client only.
 */
class Relay {
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  port = 0;

  async open(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(port, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("error", () => undefined);
        s.on("close", () => {
          this.#sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    await new Promise((resolve) => server?.close(resolve));
  }
}

describe("multiloop/bullmq without Redis", () => {
  it("serveQueue needs a running loop; bad options are TypeErrors/RangeErrors naming the option", async () => {
    await expect(serveQueue({ queue: "q", connection: {}, allow: ["./x.js"] })).rejects.toBeInstanceOf(NoRunningLoopError);
    await run(async () => {
      await expect(serveQueue({ queue: "a:b", connection: {}, allow: ["./x.js"] })).rejects.toThrow(/options\.queue/u);
      await expect(serveQueue({ queue: "q", connection: {}, allow: [] })).rejects.toThrow(RangeError);
      await expect(serveQueue({ queue: "q", connection: {}, allow: [5 as unknown as string] })).rejects.toThrow(/options\.allow\[0\]/u);
      await expect(serveQueue({ queue: "q", connection: {}, allow: ["./x.js"], concurrency: 0 })).rejects.toThrow(/options\.concurrency/u);
      await expect(serveQueue({ queue: "q", connection: {}, allow: ["./x.js"], bogus: 1 } as never)).rejects.toThrow(/options\.bogus/u);
    });
    expect(() => new QueueExecutor({ queue: "", connection: {} })).toThrow(RangeError);
    expect(() => new QueueExecutor({ queue: "q" } as never)).toThrow(/options\.connection/u);
    expect(() => new QueueExecutor({ queue: "q", connection: {}, nope: true } as never)).toThrow(/options\.nope/u);
    expect(() => new QueueExecutor({ queue: "q", connection: {}, reconcileInterval: 0 })).toThrow(RangeError);
    expect(() => new QueueExecutor({ queue: "q", connection: {}, reconcileInterval: "5s" as never })).toThrow(/options\.reconcileInterval/u);
  });
});

describeWith(REDIS_SERVER, "multiloop/bullmq against a real redis-server", () => {
  let remote: QueueExecutor;
  let workers: Spawned[] = [];

  beforeAll(async () => {
    redis = await spawnRedisServer();
    port = redis.port;
    dir = mkdtempSync(join(tmpdir(), "multiloop-bullmq-"));
    workers = await Promise.all([worker("shared"), worker("shared")]);
    remote = new QueueExecutor({ queue: "shared", connection: connection() });
  }, 30_000);

  afterAll(async () => {
    await remote?.shutdown({ timeout: 5000 });
    for (const child of children) child.kill("SIGKILL");
    await redis?.stop();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("results cross processes as structured clone does: Buffers, typed arrays, Maps, Dates, BigInts, shared references", { timeout: T }, async () => {
    const shared = { n: 1 };
    const args = [Buffer.from([0, 1, 255]), new Float64Array([1.5, -0]), new Map([[1, new Set(["a"])]]), new Date(0), 2n ** 70n, undefined, NaN, [shared, shared], "é\u0000"];
    const back = await run(async () => await getRunningLoop().runInExecutor<unknown[]>(remote, jobs("echo"), ...args));
    expect(Buffer.isBuffer(back[0])).toBe(true);
    expect(back[0]).toEqual(Buffer.from([0, 1, 255]));
    expect(back[1]).toBeInstanceOf(Float64Array);
    expect(Object.is((back[1] as Float64Array)[1], -0)).toBe(true);
    expect(back[2]).toEqual(new Map([[1, new Set(["a"])]]));
    expect(back.slice(3, 7)).toEqual([new Date(0), 2n ** 70n, undefined, NaN]);
    const [a, b] = back[7] as [object, object];
    expect(a).toBe(b);
    expect(back[8]).toBe("é\u0000");
    // Plain JSON data takes the JSON path and comes back equal too.
    expect(await remote.submit(jobs("echo"), [1, "two", { three: [3] }, null])).toEqual([1, "two", { three: [3] }, null]);
  });

  it("errors keep their class, message, cause and own properties, with the worker's host and pid", { timeout: T }, async () => {
    const pids = workers.map((w) => w.child.pid);
    const range = (await remote.submit(jobs("fail"), ["range"]).then(null, (e: unknown) => e)) as RangeError & Record<string, unknown>;
    expect(range).toBeInstanceOf(RangeError);
    expect(range.message).toBe("width out of range");
    expect(range["width"]).toBe(-1);
    expect(range.cause).toBeInstanceOf(Error);
    expect((range.cause as Error).message).toBe("the root cause");
    expect(pids).toContain(range["pid"]);
    expect(typeof range["host"]).toBe("string");
    expect(range.stack).toContain(`(thrown in process ${String(range["pid"])} on host`);
    const custom = (await remote.submit(jobs("fail"), ["custom"]).then(null, (e: unknown) => e)) as RemoteError & Record<string, unknown>;
    expect(custom).toBeInstanceOf(RemoteError);
    expect(custom.remoteName).toBe("QuotaError");
    expect(custom["limit"]).toBe(10);
    expect(custom.cause).toEqual({ detail: "plain data cause" });
    const unsendable = await remote.submit(jobs("unsendable"), []).then(null, (e: unknown) => e);
    expect(unsendable).toBeInstanceOf(TypeError);
    expect((unsendable as Error).message).toMatch(/^Cannot send the result\.callback of 'unsendable' .*a function cannot be cloned/u);
  });

  it("spreads jobs over both worker processes, each job a task on the worker's loop", { timeout: T }, async () => {
    const results = await Promise.all(Array.from({ length: 24 }, () => remote.submit(jobs("whoami"), [100]))) as Array<{ pid: number; task: string }>;
    expect(new Set(results.map((r) => r.pid))).toEqual(new Set(workers.map((w) => w.child.pid)));
    expect(results[0]?.task).toMatch(/^job .+ of queue 'shared'$/u);
  });

  it("refuses a module outside `allow`, and an export that is not a function, naming them", { timeout: T }, async () => {
    const outside = (await remote.submit({ filename: "./thread-tasks.js", name: "echo" }, []).then(null, (e: unknown) => e)) as JobRefusedError & { module?: string };
    expect(outside).toBeInstanceOf(JobRefusedError);
    expect(outside.code).toBe("ERR_LOOP_JOB_REFUSED");
    expect(outside.message).toContain("'./thread-tasks.js'");
    expect(outside.module).toMatch(/\/dist\/test\/fixtures\/thread-tasks\.js$/u);
    const escape = await remote.submit({ filename: "../../../../etc/passwd", name: "x" }, []).then(null, (e: unknown) => e);
    expect(escape).toBeInstanceOf(JobRefusedError);
    const code = await remote.submit({ filename: "data:text/javascript,export const x = () => 1", name: "x" }, []).then(null, (e: unknown) => e);
    expect(code).toBeInstanceOf(JobRefusedError);
    const notFn = (await remote.submit(jobs("notAFunction"), []).then(null, (e: unknown) => e)) as JobRefusedError;
    expect(notFn).toBeInstanceOf(JobRefusedError);
    expect(notFn.cause).toBeInstanceOf(TypeError);
    expect(notFn.message).toContain("no exported function named 'notAFunction'");
  });

  it("checks what it sends at the call site: no functions, no code, BullMQ's id rules", () => {
    expect(() => remote.submit((() => 1) as never, [])).toThrow(/sends no code/u);
    expect(() => remote.submit(jobs("echo"), [{ f: () => 1 }])).toThrow(/\[0\]\.f/u);
    expect(() => remote.submit(jobs("echo"), [], { jobId: "12" })).toThrow(RangeError);
    expect(() => remote.submit(jobs("echo"), [], { attempts: 0 })).toThrow(/options\.attempts/u);
    expect(() => remote.submit({ filename: 5 } as never, [])).toThrow(/fn\.filename/u);
  });

  it("a jobId makes a job run once: a second submit with it gets the first outcome", { timeout: T }, async () => {
    const first = await remote.submit(jobs("whoami"), [0], { jobId: "once-1" });
    const again = await remote.submit(jobs("whoami"), [0], { jobId: "once-1" });
    expect(again).toEqual(first);
  });

  it("cancelling a waiting job removes it from the queue", { timeout: T }, async () => {
    // No worker serves this queue: the job waits.
    const idle = new QueueExecutor({ queue: "nobody", connection: connection() });
    const queue = new Queue("nobody", { connection: connection() });
    try {
      const fut = idle.submit(jobs("echo"), [1], { jobId: "waiting-1" });
      for (let i = 0; i < 200 && (await queue.getJobState("waiting-1")) !== "waiting"; i++) await sleepMs(25);
      expect(fut.cancel()).toBe(true);
      expect(fut.cancelled()).toBe(true);
      await expect(fut).rejects.toBeInstanceOf(CancelledError);
      for (let i = 0; i < 200 && (await queue.getJobState("waiting-1")) !== "unknown"; i++) await sleepMs(25);
      expect(await queue.getJobState("waiting-1")).toBe("unknown");
    } finally {
      await queue.close();
      await idle.shutdown();
    }
  });

  it("cancelling a running job reaches its task as CancelledError in the worker process, and its finally runs", { timeout: T }, async () => {
    await run(async () => {
      // Through runInExecutor: cancelling the loop future (as cancelling the awaiting task does) cancels the job.
      const task = createTask(() => getRunningLoop().runInExecutor(remote, jobs("mark"), dir, "cancel-run", 20_000));
      const [pid] = await until(() => startedPids("cancel-run").length > 0 && startedPids("cancel-run"), "the job to start");
      task.cancel();
      await expect(task).rejects.toBeInstanceOf(CancelledError);
      const finallyFile = join(dir, `cancel-run.finally.${String(pid)}`);
      await until(() => existsSync(finallyFile), "the job's finally");
      expect(readFileSync(finallyFile, "utf8")).toBe("CancelledError");
      expect(existsSync(join(dir, "cancel-run.done"))).toBe(false);
    });
  });

  it("hostile job data fails that job with a clear error and is not retried; the workers live", { timeout: T }, async () => {
    const queue = new Queue("shared", { connection: connection() });
    const events = new QueueEvents("shared", { connection: connection() });
    await events.waitUntilReady();
    try {
      const hostile: unknown[] = [
        { foo: 1 },
        "just a string",
        { multiloop: 1, filename: 5, name: "echo", args: "" },
        { multiloop: 1, filename: "./queue-jobs.js", name: "echo", args: "!!!not base64, not v8!!!" },
        { multiloop: 1, filename: "./queue-jobs.js", name: "echo", args: Buffer.from("not an array").toString("base64") },
        { multiloop: 1, filename: "./queue-jobs.js", name: "echo", args: "A".repeat(2 * 1024 * 1024) },
        { multiloop: 1, filename: "./queue-jobs.js", name: "echo", json: "not an array" },
      ];
      const reasons: Array<{ reason: string; attemptsMade: number | undefined }> = [];
      for (const [i, data] of hostile.entries()) {
        const job = await queue.add(`hostile-${i}`, data, { attempts: 3 });
        const reason = await job.waitUntilFinished(events, 10_000).then(() => "completed?!", (e: Error) => e.message);
        const again = await queue.getJob(job.id as string);
        reasons.push({ reason, attemptsMade: again?.attemptsMade });
      }
      for (const { reason, attemptsMade } of reasons) {
        expect(reason).toMatch(/^JobRefusedError: The worker refused job \d+ of queue 'shared': /u);
        expect(attemptsMade).toBe(1);
      }
      expect(reasons[0]?.reason).toContain("is not a multiloop job");
      expect(reasons[5]?.reason).toContain("maxJobBytes");
      for (const w of workers) expect(w.child.exitCode).toBeNull();
      expect(await remote.submit(jobs("echo"), ["still alive"])).toEqual(["still alive"]);
    } finally {
      await events.close();
      await queue.close();
    }
  });

  it("a worker killed with SIGKILL mid-job: another worker finishes the job, and the future settles once", { timeout: T }, async () => {
    const pair = await Promise.all([worker("kill"), worker("kill")]);
    const executor = new QueueExecutor({ queue: "kill", connection: connection() });
    try {
      let settled = 0;
      const fut = executor.submit(jobs("mark"), [dir, "killed", 500]);
      fut.addDoneCallback(() => settled++);
      const [first] = await until(() => startedPids("killed").length > 0 && startedPids("killed"), "the job to start");
      const victim = pair.find((w) => w.child.pid === first) as Spawned;
      victim.child.kill("SIGKILL");
      const pid = await fut;
      const survivor = pair.find((w) => w !== victim) as Spawned;
      expect(pid).toBe(survivor.child.pid);
      expect(startedPids("killed").sort()).toEqual([first, pid].sort());
      await sleepMs(1000);
      expect(settled).toBe(1);
    } finally {
      await executor.shutdown();
      for (const w of pair) w.child.kill("SIGKILL");
    }
  });

  it("a job that keeps losing its worker fails with JobLostError", { timeout: 45_000 }, async () => {
    const executor = new QueueExecutor({ queue: "lost", connection: connection() });
    try {
      const fut = executor.submit(jobs("mark"), [dir, "lost", 30_000]);
      // maxStalledCount is 1: the second stall is the last.
      for (let round = 1; round <= 2; round++) {
        const w = await worker("lost");
        await until(() => startedPids("lost").includes(w.child.pid as number), `start ${round}`);
        w.child.kill("SIGKILL");
        await w.exited;
      }
      const last = await worker("lost");
      const err = (await fut.then(null, (e: unknown) => e)) as JobLostError;
      expect(err).toBeInstanceOf(JobLostError);
      expect(err.code).toBe("ERR_LOOP_JOB_LOST");
      expect(err.queue).toBe("lost");
      last.child.kill("SIGKILL");
    } finally {
      await executor.shutdown();
    }
  });

  it("futures settle when their events were lost: the reader's connection dropped and the event stream was trimmed meanwhile", { timeout: T }, async () => {
    const w = await worker("outage");
    const relay = new Relay();
    await relay.open();
    // A long interval: what settles these futures is the reconciliation when the reader is back.
    const executor = new QueueExecutor({ queue: "outage", connection: { host: "127.0.0.1", port: relay.port }, reconcileInterval: 600_000 });
    const queue = new Queue("outage", { connection: connection() });
    const redisClient = new Redis(port, "127.0.0.1");
    try {
      const futs = Array.from({ length: 8 }, (_, i) => executor.submit(jobs("whoami"), [300], { jobId: `outage-${i}` }));
      await until(async () => ((await queue.getJobCounts("active"))["active"] ?? 0) > 0, "the jobs to start");
      await relay.cut();
      await until(async () => (await queue.getJobCounts("completed"))["completed"] === futs.length, "the jobs to finish", 20_000);
      // Every event of theirs is gone before the reader can read it.
      await redisClient.xtrim("bull:outage:events", "MAXLEN", 0);
      await relay.open();
      const results = (await Promise.all(futs)) as Array<{ pid: number }>;
      expect(results.map((r) => r.pid)).toEqual(futs.map(() => w.child.pid));
    } finally {
      await executor.shutdown({ timeout: 5000 });
      await relay.cut();
      await queue.close();
      redisClient.disconnect();
      w.child.kill("SIGKILL");
    }
  });

  it("a job that vanished from Redis without an event fails with JobLostError, read by the periodic reconciliation", { timeout: T }, async () => {
    // No worker serves this queue: the jobs wait, then their hashes are deleted behind BullMQ's back.
    const executor = new QueueExecutor({ queue: "vanish", connection: connection(), reconcileInterval: 100 });
    const queue = new Queue("vanish", { connection: connection() });
    const redisClient = new Redis(port, "127.0.0.1");
    try {
      let settled = 0;
      const futs = ["vanish-1", "vanish-2"].map((jobId) => executor.submit(jobs("echo"), [jobId], { jobId }));
      for (const f of futs) f.addDoneCallback(() => settled++);
      await until(async () => (await queue.getJobCounts("waiting"))["waiting"] === 2, "the jobs to wait");
      await redisClient.del("bull:vanish:vanish-1", "bull:vanish:vanish-2");
      for (const f of futs) {
        const err = (await f.then(null, (e: unknown) => e)) as JobLostError;
        expect(err).toBeInstanceOf(JobLostError);
        expect(err.message).toMatch(/^The job vanish-\d of queue 'vanish' is no longer in Redis/u);
        expect(err.queue).toBe("vanish");
      }
      expect(settled).toBe(2);
      expect(executor.pending).toBe(0);
    } finally {
      await executor.shutdown();
      await queue.close();
      redisClient.disconnect();
    }
  });

  it("a cancel outlives the worker: a job cancelled while running whose worker dies before acting on it is not run again", { timeout: T }, async () => {
    const pair = await Promise.all([worker("durable"), worker("durable")]);
    const executor = new QueueExecutor({ queue: "durable", connection: connection() });
    const queue = new Queue("durable", { connection: connection() });
    try {
      let settled = 0;
      // stubborn: a cancel only writes a marker, and the job goes on (it never acknowledges).
      const fut = executor.submit(jobs("stubborn"), [dir, "durable", 20_000], { jobId: "durable-1" });
      fut.addDoneCallback(() => settled++);
      const [first] = await until(() => startedPids("durable").length > 0 && startedPids("durable"), "the job to start");
      expect(fut.cancel()).toBe(true);
      await until(() => existsSync(join(dir, `durable.cancel-seen.${String(first)}`)), "the worker to see the cancel");
      const victim = pair.find((w) => w.child.pid === first) as Spawned;
      victim.child.kill("SIGKILL");
      // Stalled-job recovery hands the job to the other worker, which refuses it.
      await until(async () => (await queue.getJobState("durable-1")) === "failed", "the job to fail", 20_000);
      const job = await queue.getJob("durable-1");
      expect(job?.failedReason).toMatch(/^CancelledError: The job durable-1 of queue 'durable' was cancelled by its caller while another worker ran it/u);
      expect(startedPids("durable")).toEqual([first]);
      expect(fut.cancelled()).toBe(true);
      await expect(fut).rejects.toBeInstanceOf(CancelledError);
      expect(settled).toBe(1);
    } finally {
      await executor.shutdown();
      await queue.close();
      for (const w of pair) w.child.kill("SIGKILL");
    }
  });

  it("close() lets running jobs finish before the worker exits (SIGTERM to a worker)", { timeout: T }, async () => {
    const w = await worker("graceful");
    const executor = new QueueExecutor({ queue: "graceful", connection: connection() });
    try {
      const fut = executor.submit(jobs("mark"), [dir, "graceful", 1000]);
      await until(() => startedPids("graceful").length > 0, "the job to start");
      w.child.kill("SIGTERM");
      expect(await fut).toBe(w.child.pid);
      expect(await w.exited).toBe(0);
      expect(w.output()).toContain("closed");
    } finally {
      await executor.shutdown();
    }
  });

  it("the multiloop-worker bin serves a queue and stops gracefully on SIGTERM", { timeout: T }, async () => {
    const fixtures = join(root, "dist", "test", "fixtures");
    const bin = await start([BIN, "--queue", "bin", "--redis", `redis://127.0.0.1:${port}`, "--allow", "./queue-jobs.js", "--concurrency", "2"], "serving queue 'bin'", fixtures);
    const executor = new QueueExecutor({ queue: "bin", connection: connection() });
    try {
      expect(await executor.submit(jobs("echo"), ["via bin"])).toEqual(["via bin"]);
      const fut = executor.submit(jobs("mark"), [dir, "bin-job", 800]);
      await until(() => startedPids("bin-job").length > 0, "the job to start");
      bin.child.kill("SIGTERM");
      expect(await fut).toBe(bin.child.pid);
      expect(await bin.exited).toBe(0);
      expect(bin.output()).toContain("multiloop-worker: stopped");
    } finally {
      await executor.shutdown();
    }
  });
});

describe("the multiloop-worker bin's arguments", () => {
  it("prints its usage with --help, and exits 2 naming what is wrong", { timeout: T }, async () => {
    const help = await start([BIN, "--help"], "Usage: multiloop-worker");
    expect(await help.exited).toBe(0);
    const bad = start([BIN, "--queue", "q"], "--allow is required");
    const b = await bad;
    expect(await b.exited).toBe(2);
    const nan = await start([BIN, "--queue", "q", "--allow", "./x.js", "--concurrency", "many"], "--concurrency must be");
    expect(await nan.exited).toBe(2);
  });
});

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
