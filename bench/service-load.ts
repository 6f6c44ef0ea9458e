/**
 * The load generator of the service benchmark: autocannon, in a process of its own (so its
 * event loop and heap are not the server's), driven over IPC. Each run is bounded: by time
 * (`durationMs`) or by a number of requests (`amount`), and every request goes to 127.0.0.1.
 *
 * Latencies are taken from autocannon's per-response times (fractional milliseconds) rather
 * than its histogram, whose resolution is one millisecond: the jobs sleep 1 ms, so p50 and p99
 * sit a few milliseconds apart.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import autocannon from "autocannon";

export interface LoadRun {
  readonly port: number;
  readonly connections: number;
  /** Run for this long... */
  readonly durationMs?: number;
  /** ...or until this many requests have been answered. */
  readonly amount?: number;
}

export interface LoadResult {
  /** 2xx answers per second over the run. */
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** 2xx answers. */
  readonly requests: number;
  /** Anything else: non-2xx answers, socket errors, timeouts. */
  readonly failures: number;
}

type Message = { readonly type: "run"; readonly run: LoadRun };
type Reply = { readonly type: "result"; readonly result: LoadResult } | { readonly type: "error"; readonly error: string };

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/** One autocannon run, in the load process. */
async function runLoad(run: LoadRun): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let failures = 0;
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${run.port}/job`,
        connections: run.connections,
        pipelining: 1,
        ...(run.amount === undefined ? { duration: (run.durationMs ?? 1_000) / 1_000 } : { amount: run.amount }),
        timeout: 10,
        // autocannon notices the end of a run (its time is up, or `amount` answered) on its next
        // sample tick, every second by default: a short interval ends short runs on time.
        sampleInt: 50,
      },
      (err: unknown, res: autocannon.Result) => (err === null || err === undefined ? resolve(res) : reject(err instanceof Error ? err : new Error(inspect(err)))),
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode > 299) {
        failures++;
        return;
      }
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = responseTime;
    });
  });
  const elapsed = (performance.now() - started) / 1_000;
  const sorted = latencies.subarray(0, count).sort();
  return {
    rps: count / elapsed,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    requests: count,
    failures: failures + result.errors + result.timeouts,
  };
}

/** The benchmark's side: starts the load process, runs loads one at a time, stops it. */
export class LoadGenerator {
  readonly #child: ChildProcess;

  private constructor(child: ChildProcess) {
    this.#child = child;
  }

  static async start(): Promise<LoadGenerator> {
    const child = fork(fileURLToPath(import.meta.url), ["--load-process"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    await once(child, "spawn");
    return new LoadGenerator(child);
  }

  run(run: LoadRun): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`the load process exited (code ${code}) during a run`));
      this.#child.once("exit", onExit);
      this.#child.once("message", (reply: Reply) => {
        this.#child.off("exit", onExit);
        if (reply.type === "result") resolve(reply.result);
        else reject(new Error(`the load process failed: ${reply.error}`));
      });
      this.#child.send({ type: "run", run } satisfies Message);
    });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = once(this.#child, "exit");
    this.#child.disconnect();
    await exited;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes("--load-process")) {
  process.on("message", (message: Message) => {
    runLoad(message.run).then(
      (result) => process.send?.({ type: "result", result } satisfies Reply),
      (err: unknown) => process.send?.({ type: "error", error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply),
    );
  });
  // The benchmark disconnects when it is done: then there is nothing left to keep this process.
  process.on("disconnect", () => process.exit(0));
}
