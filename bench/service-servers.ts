/**
 * The servers of the service benchmark, one per variant, each listening on its own port of
 * 127.0.0.1 and registered with a Cleanup:
 * - (a)-(d): node:http on the main thread, handing each request's job to a `Dispatch`: a multiloop
 *   pool, raw workers with a hand-written postMessage protocol, piscina, or the main thread itself;
 * - (e): a multiloop pool whose threads each listen on one shared port (`reusePort`), with
 *   multiloop's streams or with node:http inside the loop thread; no main-thread hop.
 * Worker entry files are built JavaScript in bench/workers.
 */
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { Piscina } from "piscina";
import { spawnLoopPool, type LoopPool } from "multiloop";
import type { Cleanup } from "./cleanup.js";
import { spin, type JobResult } from "./service-job.js";
import { workerUrl } from "./thread-peers.js";
import type * as PoolModule from "./workers/service-pool.js";

/** Runs one request's job somewhere and resolves with what to answer. */
export type Dispatch = (id: number) => Promise<JobResult>;

export type ServicePool = LoopPool<typeof PoolModule>;

/** node:http on the main thread: every request's job goes to `dispatch`, the answer is its JSON. */
export async function startFront(cleanup: Cleanup, dispatch: Dispatch): Promise<number> {
  let id = 0;
  const server = http.createServer((_req, res) => {
    dispatch(++id).then(
      (result) => {
        const body = JSON.stringify(result);
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      },
      (err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      },
    );
  });
  cleanup.add(server, (s) => {
    s.closeAllConnections();
    return new Promise((resolve) => s.close(resolve));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** (a): a multiloop pool of `size` loop threads; a call per request. */
export async function startLoopPool(cleanup: Cleanup, name: string, size: number): Promise<ServicePool> {
  return cleanup.add(await spawnLoopPool<typeof PoolModule>({ module: workerUrl("service-pool"), name, size }), (p) => p.stop({ timeout: 5_000 }));
}

export function poolDispatch(pool: ServicePool, rounds: number): Dispatch {
  return (id) => pool.call("job", rounds, id);
}

/** (b): `size` plain workers; round-robin, a map of pending ids, one message each way per job. */
export async function startRawWorkers(cleanup: Cleanup, size: number, rounds: number): Promise<Dispatch> {
  const pending = new Map<number, (result: JobResult) => void>();
  const workers: Worker[] = [];
  for (let i = 0; i < size; i++) {
    const worker = cleanup.add(new Worker(workerUrl("service-raw")), (w) => w.terminate());
    worker.on("message", (message: { id: number; result: JobResult }) => {
      const resolve = pending.get(message.id);
      pending.delete(message.id);
      resolve?.(message.result);
    });
    worker.on("error", (err) => {
      throw err;
    });
    workers.push(worker);
  }
  await Promise.all(workers.map((w) => once(w, "online")));
  let next = 0;
  return (id) =>
    new Promise((resolve) => {
      pending.set(id, resolve);
      (workers[next++ % workers.length] as Worker).postMessage({ id, rounds });
    });
}

/**
 * (c): piscina with `size` threads. `concurrentTasksPerWorker` is the load's connection count, so
 * no task ever waits for a slot (piscina's default is one task per worker at a time), and
 * `atomics: "async"`, which piscina's README recommends for tasks with asynchronous work.
 */
export async function startPiscina(cleanup: Cleanup, size: number, rounds: number, connections: number): Promise<Dispatch> {
  const pool = cleanup.add(
    new Piscina<{ id: number; rounds: number }, JobResult>({
      filename: workerUrl("service-piscina").href,
      minThreads: size,
      maxThreads: size,
      concurrentTasksPerWorker: connections,
      atomics: "async",
      idleTimeout: 60_000,
    }),
    (p) => p.destroy(),
  );
  // Start the threads now, not on the first measured request.
  await Promise.all(Array.from({ length: size * 2 }, (_, id) => pool.run({ id, rounds: 1 })));
  return (id) => pool.run({ id, rounds });
}

/** (d): the job on the main thread, between requests. */
export function mainThreadDispatch(rounds: number): Dispatch {
  return async (id) => {
    const checksum = spin(rounds);
    await sleep(1);
    return { id, checksum, thread: "main" };
  };
}

export type Listener = "streams" | "node:http";

/** (e): every thread of `pool` listens on one port with `reusePort`; returns the port. */
export async function startPerThread(cleanup: Cleanup, pool: ServicePool, listener: Listener, rounds: number): Promise<number> {
  const listen = (i: number, port: number): Promise<number> =>
    listener === "streams" ? pool.thread(i).call("listenStreams", port, rounds) : pool.thread(i).call("listenNodeHttp", port, rounds);
  cleanup.add(pool, (p) => p.broadcast("closeListeners"));
  const port = await listen(0, 0);
  for (let i = 1; i < pool.size; i++) await listen(i, port);
  return port;
}
