/**
 * The baselines of the cross-thread scenarios, each started once per scenario and registered with
 * a Cleanup so it is stopped even when a measurement throws: a raw MessagePort peer (echo and
 * sink), a raw Atomics peer, comlink 4.4.2 and piscina 5. Worker entry files live in
 * bench/workers and run as built JavaScript (Node 20 cannot load .ts workers).
 */
import { once } from "node:events";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import * as Comlink from "comlink";
import { Piscina } from "piscina";
import type { Cleanup } from "./cleanup.js";
import { nodeEndpoint } from "./comlink-endpoint.js";
import { now } from "./measure.js";
import type { EchoApi } from "./workers/comlink-echo.js";

export function workerUrl(name: string): URL {
  return new URL(`./workers/${name}.js`, import.meta.url);
}

/** Starts a worker, stops it with the cleanup, and waits until it runs. */
async function startWorker(cleanup: Cleanup, name: string, options: ConstructorParameters<typeof Worker>[1] = {}): Promise<Worker> {
  const worker = cleanup.add(new Worker(workerUrl(name), options), (w) => w.terminate());
  await once(worker, "online");
  return worker;
}

/**
 * Counts the messages arriving on a port and resolves when the expected number has come. A worker
 * that fails or exits rejects the wait instead of leaving it hanging.
 */
class Replies {
  #want = 0;
  #got = 0;
  #last: unknown = undefined;
  #resolve: ((last: unknown) => void) | null = null;
  #reject: ((err: Error) => void) | null = null;
  #failure: Error | null = null;

  constructor(port: MessagePort, worker: Worker) {
    port.on("message", (message: unknown) => {
      this.#last = message;
      if (++this.#got === this.#want && this.#resolve !== null) {
        const resolve = this.#resolve;
        this.#resolve = this.#reject = null;
        resolve(message);
      }
    });
    worker.on("error", (err) => this.#fail(err));
    worker.on("exit", (code) => this.#fail(new Error(`the worker exited with code ${code}`)));
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    const reject = this.#reject;
    this.#resolve = this.#reject = null;
    reject?.(err);
  }

  /** Call before posting: resolves with the last message once `count` more have arrived. */
  wait(count: number): Promise<unknown> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    this.#want = count;
    this.#got = 0;
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  get last(): unknown {
    return this.#last;
  }
}

export async function portPeer(cleanup: Cleanup, name: string): Promise<{ port: MessagePort; replies: Replies }> {
  const { port1, port2 } = new MessageChannel();
  cleanup.add(port1, (p) => p.close());
  const worker = await startWorker(cleanup, name, { workerData: { port: port2 }, transferList: [port2] });
  return { port: port1, replies: new Replies(port1, worker) };
}

export interface PortEcho {
  /** `count` sequential round trips; us per round trip. */
  roundTrips(count: number): Promise<number>;
  /** `count` messages posted at once, all echoes awaited; messages per second. */
  inFlight(count: number): Promise<number>;
}

export async function startPortEcho(cleanup: Cleanup): Promise<PortEcho> {
  const { port, replies } = await portPeer(cleanup, "port-echo");
  return {
    async roundTrips(count) {
      const start = now();
      for (let i = 0; i < count; i++) {
        const reply = replies.wait(1);
        port.postMessage(i);
        await reply;
      }
      return ((now() - start) * 1e3) / count;
    },
    async inFlight(count) {
      const start = now();
      const all = replies.wait(count);
      for (let i = 0; i < count; i++) port.postMessage(i);
      await all;
      return (count * 1e3) / (now() - start);
    },
  };
}

export interface PortSink {
  /** `count` numbers, one message each, then a flush; items per second until the flush answer. */
  each(count: number): Promise<number>;
  /** The same numbers in arrays of `batch`. */
  batched(count: number, batch: number): Promise<number>;
}

export async function startPortSink(cleanup: Cleanup): Promise<PortSink> {
  const { port, replies } = await portPeer(cleanup, "port-sink");
  const flush = async (start: number, count: number): Promise<number> => {
    const answer = replies.wait(1);
    port.postMessage("flush");
    const got = (await answer) as { count: number };
    if (got.count !== count) throw new Error(`the sink saw ${got.count} items, expected ${count}`);
    return (count * 1e3) / (now() - start);
  };
  return {
    async each(count) {
      const start = now();
      for (let i = 0; i < count; i++) port.postMessage(i);
      return flush(start, count);
    },
    async batched(count, batch) {
      const start = now();
      for (let i = 0; i < count; i += batch) {
        const items: number[] = [];
        for (let j = i; j < Math.min(i + batch, count); j++) items.push(j);
        port.postMessage(items);
      }
      return flush(start, count);
    },
  };
}

export interface AtomicsEcho {
  /** `count` sequential round trips, both threads blocking in Atomics.wait; us per round trip. */
  roundTrips(count: number): number;
}

export async function startAtomicsEcho(cleanup: Cleanup): Promise<AtomicsEcho> {
  const sab = new SharedArrayBuffer(4);
  const word = new Int32Array(sab);
  // Registered after the worker, so it runs first (cleanup runs in reverse order): the peer
  // leaves its wait loop by itself before it is terminated.
  await startWorker(cleanup, "atomics-echo", { workerData: { sab } });
  cleanup.add(word, (w) => {
    Atomics.store(w, 0, -1);
    Atomics.notify(w, 0);
  });
  let seq = 1;
  return {
    roundTrips(count) {
      const start = now();
      for (let i = 0; i < count; i++) {
        Atomics.store(word, 0, seq);
        Atomics.notify(word, 0);
        while (Atomics.load(word, 0) === seq) {
          if (Atomics.wait(word, 0, seq, 5000) === "timed-out") throw new Error("the Atomics peer did not answer within 5 s");
        }
        seq += 2;
      }
      return ((now() - start) * 1e3) / count;
    },
  };
}

export interface ComlinkEcho {
  roundTrips(count: number): Promise<number>;
  inFlight(count: number): Promise<number>;
}

export async function startComlink(cleanup: Cleanup): Promise<ComlinkEcho> {
  const worker = await startWorker(cleanup, "comlink-echo");
  const api = cleanup.add(Comlink.wrap<EchoApi>(nodeEndpoint(worker)), (remote) => remote[Comlink.releaseProxy]());
  // The first call waits for the worker to have called expose().
  await api.echo(0);
  return {
    async roundTrips(count) {
      const start = now();
      for (let i = 0; i < count; i++) await api.echo(i);
      return ((now() - start) * 1e3) / count;
    },
    async inFlight(count) {
      const start = now();
      const calls: Promise<number>[] = [];
      for (let i = 0; i < count; i++) calls.push(api.echo(i));
      await Promise.all(calls);
      return (count * 1e3) / (now() - start);
    },
  };
}

export type PiscinaAtomics = "sync" | "async";

export interface PiscinaEcho {
  readonly pool: Piscina;
  roundTrips(count: number): Promise<number>;
  inFlight(count: number): Promise<number>;
}

/** Drives a piscina pool (one given, or a new one-thread pool) with the echo task. */
export function piscinaEcho(pool: Piscina, filename: string | null): PiscinaEcho {
  const options = filename === null ? { name: "echo" } : { filename, name: "echo" };
  return {
    pool,
    async roundTrips(count) {
      const start = now();
      for (let i = 0; i < count; i++) await pool.run(i, options);
      return ((now() - start) * 1e3) / count;
    },
    async inFlight(count) {
      const start = now();
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) calls.push(pool.run(i, options));
      await Promise.all(calls);
      return (count * 1e3) / (now() - start);
    },
  };
}

/** One-thread pool: every peer in these scenarios talks to exactly one other thread. */
export async function startPiscina(cleanup: Cleanup, atomics: PiscinaAtomics): Promise<PiscinaEcho> {
  const pool = cleanup.add(
    new Piscina({ filename: workerUrl("piscina-echo").href, minThreads: 1, maxThreads: 1, idleTimeout: 60_000, atomics }),
    (p) => p.destroy(),
  );
  const echo = piscinaEcho(pool, null);
  await echo.roundTrips(1);
  return echo;
}
