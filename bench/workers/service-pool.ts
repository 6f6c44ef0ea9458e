/**
 * The loop-thread module of the service benchmark's pools: `job` for calls through the pool
 * (variant a), and this thread's own listeners on a port shared with `reusePort` (variant e):
 * multiloop's streams with the example's HTTP/1.1 server, or node:http running in the loop thread.
 */
import http from "node:http";
import type { AddressInfo, ListenOptions } from "node:net";
import { getHeapStatistics } from "node:v8";
import { currentThreadName, getRunningLoop, sleep, type Server } from "multiloop";
import { serveHttp } from "../../examples/service/http1.js";
import { spin, type JobResult } from "../service-job.js";

let served = 0;

/** The job: `rounds` of CPU, the loop's sleep(1), a small result. */
export async function job(rounds: number, id: number): Promise<JobResult> {
  const checksum = spin(rounds);
  await sleep(1);
  return { id, checksum, thread: currentThreadName() };
}

let ours: Server | null = null;
let theirs: http.Server | null = null;

/** Listens on 127.0.0.1:`port` (0: a free one) with multiloop's streams, the job per request. */
export async function listenStreams(port: number, rounds: number): Promise<number> {
  ours = await serveHttp(async () => ({ status: 200, body: await job(rounds, ++served) }), "127.0.0.1", port, { reusePort: true });
  return (ours.sockets[0]?.address() as AddressInfo).port;
}

/** Listens on 127.0.0.1:`port` with node:http in this loop thread; each request's job is a task on its loop. */
export async function listenNodeHttp(port: number, rounds: number): Promise<number> {
  const loop = getRunningLoop();
  const server = http.createServer((_req, res) => {
    // A Node callback, outside the loop's runner: the job runs as a task of this thread's loop.
    void loop.createTask(async () => {
      const body = JSON.stringify(await job(rounds, ++served));
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  theirs = server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, reusePort: true } as ListenOptions, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Closes this thread's listeners and their connections. */
export async function closeListeners(): Promise<void> {
  const a = ours;
  const b = theirs;
  ours = null;
  theirs = null;
  if (a !== null) {
    a.close();
    a.abortClients();
    await a.waitClosed();
  }
  if (b !== null) {
    b.closeAllConnections();
    await new Promise<void>((resolve) => b.close(() => resolve()));
  }
}

/** This thread's heap in use after a full collection (bytes); the process runs with --expose-gc. */
export function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return getHeapStatistics().used_heap_size;
}
