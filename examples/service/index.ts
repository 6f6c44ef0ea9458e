/**
 * Demo: a multithreaded HTTP/1.1 JSON service on a pool of loop threads, in its two shapes.
 *
 * 1. The main thread accepts (node:http) and calls the pool; the pool routes each request to the
 *    least loaded thread, replaces a thread that dies, and drains on stop.
 * 2. Every loop thread listens on the same port itself (`reusePort`, Node >= 22.12): the kernel
 *    spreads the connections, and no request goes through the main thread.
 *
 * Run with `node dist/examples/service/index.js` (also part of `npm start`).
 */
import http from "node:http";
import { fileURLToPath } from "node:url";
import { RuntimeError, spawnLoopPool, type LoopPool } from "multiloop";
import type * as Api from "./api.js";
import { startMainThreadServer } from "./main-thread.js";

export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

export interface DemoResult {
  /** Shape 1: the replies, in the order the requests were listed. */
  mainThread: Reply[];
  /** Shape 2: how many of the connections each thread answered, or why it could not run. */
  perThread: { port: number; answeredBy: Record<string, number> } | { unavailable: string };
  /** What each thread answered over both shapes (its `stats()`). */
  served: Array<{ thread: string; served: number }>;
}

/** One request on its own connection (`agent: false`, so the kernel picks a listener for each). */
export function request(port: number, method: string, path: string, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown> });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined) req.setHeader("content-type", "application/json");
    req.end(body);
  });
}

const REQUESTS: Array<[method: string, path: string, body?: string]> = [
  ["GET", "/health"],
  ["GET", "/primes?below=100000"],
  ["POST", "/quote", JSON.stringify({ items: [{ price: 2.5, quantity: 4 }, { price: 0.99, quantity: 1 }] })],
  ["POST", "/quote", "{not json"],
  ["GET", "/missing"],
];

async function mainThreadShape(pool: LoopPool<typeof Api>): Promise<Reply[]> {
  const server = await startMainThreadServer(pool);
  try {
    return await Promise.all(REQUESTS.map(([method, path, body]) => request(server.port, method, path, body)));
  } finally {
    await server.close();
  }
}

async function perThreadShape(pool: LoopPool<typeof Api>, connections: number): Promise<DemoResult["perThread"]> {
  let port: number;
  try {
    // The first thread picks a free port; the others join it.
    port = await pool.thread(0).call("listen", 0);
    for (let i = 1; i < pool.size; i++) await pool.thread(i).call("listen", port);
  } catch (err) {
    if (err instanceof RuntimeError && err.code === "ERR_LOOP_REUSEPORT_UNSUPPORTED") return { unavailable: err.message };
    throw err;
  }
  try {
    const replies = await Promise.all(Array.from({ length: connections }, () => request(port, "GET", "/health")));
    const answeredBy: Record<string, number> = {};
    for (const r of replies) {
      const thread = String(r.body["thread"]);
      answeredBy[thread] = (answeredBy[thread] ?? 0) + 1;
    }
    return { port, answeredBy };
  } finally {
    await pool.broadcast("closeListener");
  }
}

/** Starts a pool of `size` threads, runs both shapes against it, and stops it. */
export async function runDemo(options: { size?: number; connections?: number } = {}): Promise<DemoResult> {
  const pool = await spawnLoopPool<typeof Api>({ module: new URL("./api.js", import.meta.url), name: "api", size: options.size ?? 2 });
  try {
    const mainThread = await mainThreadShape(pool);
    const perThread = await perThreadShape(pool, options.connections ?? 20);
    const served = await pool.broadcast("stats");
    return { mainThread, perThread, served };
  } finally {
    await pool.stop({ timeout: 5_000 });
  }
}

/** Prints what both shapes answered. */
export async function main(): Promise<void> {
  console.log("== service: node:http on the main thread in front of a pool of 2 loop threads");
  const result = await runDemo();
  REQUESTS.forEach(([method, path], i) => {
    const reply = result.mainThread[i] as Reply;
    console.log(`${method.padEnd(4)} ${path.padEnd(22)} -> ${reply.status} ${JSON.stringify(reply.body)}`);
  });
  console.log("== service: each loop thread listens on the same port (reusePort)");
  if ("unavailable" in result.perThread) {
    console.log(`skipped: ${result.perThread.unavailable}`);
  } else {
    const spread = Object.entries(result.perThread.answeredBy)
      .sort()
      .map(([thread, n]) => `${thread} answered ${n}`);
    console.log(`port ${result.perThread.port}, one connection per request: ${spread.join(", ")}`);
  }
  console.log(`requests per thread over both shapes: ${result.served.map((s) => `${s.thread} ${s.served}`).join(", ")}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
