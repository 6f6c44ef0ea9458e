/**
 * Demo: a length-prefixed binary protocol with the server on one loop thread and clients on three
 * others, each cutting its frames differently on the wire. Run with
 * `node dist/examples/binary-protocol/index.js`.
 */
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { ConnectionStats } from "./protocol.js";
import type { ClientJob, ClientReport, SendMode } from "./client-thread.js";

export interface DemoResult {
  clients: ClientReport[];
  /** Per connection, as the server saw it. */
  server: ConnectionStats[];
}

function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      worker.off("message", onMessage);
      reject(err);
    };
    const onMessage = (msg: T): void => {
      worker.off("error", onError);
      resolve(msg);
    };
    worker.once("message", onMessage);
    worker.once("error", onError);
  });
}

function exited(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once("exit", resolve));
}

/**
 * Starts the server thread and one client thread per mode, waits for every report, stops the
 * server and waits for every thread to exit by itself.
 */
export async function runDemo(counts: Partial<Record<SendMode, number>> = {}): Promise<DemoResult> {
  const server = new Worker(new URL("./server-thread.js", import.meta.url), { name: "frame-server" });
  const serverExit = exited(server);
  const workers: Worker[] = [server];
  try {
    const { port } = await nextMessage<{ port: number }>(server);
    const jobs: ClientJob[] = (["pipelined", "batch", "trickle"] as const).map((mode) => ({
      port,
      mode,
      count: counts[mode] ?? (mode === "trickle" ? 4 : 2000),
    }));
    const clients = jobs.map((job) => {
      const w = new Worker(new URL("./client-thread.js", import.meta.url), { workerData: job, name: `client-${job.mode}` });
      workers.push(w);
      return w;
    });
    const clientExits = clients.map(exited);
    const reports = await Promise.all(clients.map((w) => nextMessage<ClientReport>(w)));
    server.postMessage("stop");
    const { stats } = await nextMessage<{ stats: ConnectionStats[] }>(server);
    const codes = await Promise.all([serverExit, ...clientExits]);
    if (codes.some((c) => c !== 0)) throw new Error(`a thread exited with ${codes.join(", ")}`);
    return { clients: reports, server: stats };
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw err;
  }
}

/** Prints what each client sent and how the server saw the byte stream. */
export async function main(): Promise<void> {
  console.log("== binary protocol: server thread + 3 client threads");
  const result = await runDemo();
  for (const c of result.clients) {
    console.log(`client ${c.mode.padEnd(9)} sent ${String(c.sent).padStart(5)} requests, ${c.correct} correct answers`);
  }
  for (const s of result.server) {
    console.log(`server connection: ${s.frames} frames arrived in ${s.chunks} reads`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
