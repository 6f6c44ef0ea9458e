/**
 * The JSON API of the service example, as the module of every loop thread of the pool
 * (`spawnLoopPool({ module: new URL("./api.js", import.meta.url) })`). Each request runs as a task
 * on its thread's loop, so a thread serves many at once while they wait.
 *
 *   GET  /health              {"status":"ok","thread":"api-0"}
 *   GET  /primes?below=N      {"below":N,"count":...,"thread":...}     (CPU: N at most 1,000,000)
 *   POST /quote               {"items":[{"price":2.5,"quantity":2}]} -> {"total":5,"thread":...}
 *                             (waits a few ms for a "price service" first, like a real I/O call)
 *
 * The same `handle` serves both shapes: called through the pool by the main thread's node:http
 * server, or by this thread's own listener (`listen`, on a port shared with `reusePort`).
 */
import type { AddressInfo } from "node:net";
import { currentThreadName, sleep, type Server } from "multiloop";
import { serveHttp, type HttpRequest, type HttpResponse } from "./http1.js";

/** What `handle` needs of a request (the main thread sends this across; headers stay behind). */
export type ApiRequest = Omit<HttpRequest, "headers">;

let served = 0;

function countPrimes(below: number): number {
  const composite = new Uint8Array(below);
  let count = 0;
  for (let i = 2; i < below; i++) {
    if (composite[i] === 1) continue;
    count++;
    for (let j = i * i; j < below; j += i) composite[j] = 1;
  }
  return count;
}

function quoteTotal(body: string): number | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  const items = (parsed as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return null;
  let total = 0;
  for (const item of items as unknown[]) {
    const { price, quantity } = (item ?? {}) as { price?: unknown; quantity?: unknown };
    if (typeof price !== "number" || !Number.isInteger(quantity) || (quantity as number) < 0) return null;
    total += price * (quantity as number);
  }
  return Math.round(total * 100) / 100;
}

/** Answers one request of the API. */
export async function handle(request: ApiRequest): Promise<HttpResponse> {
  served++;
  const thread = currentThreadName();
  if (request.method === "GET" && request.path === "/health") return { status: 200, body: { status: "ok", thread } };
  if (request.method === "GET" && request.path === "/primes") {
    const below = Number(request.query["below"] ?? "1000");
    if (!Number.isInteger(below) || below < 2 || below > 1_000_000) {
      return { status: 400, body: { error: "`below` must be an integer from 2 to 1000000" } };
    }
    return { status: 200, body: { below, count: countPrimes(below), thread } };
  }
  if (request.path === "/quote") {
    if (request.method !== "POST") return { status: 405, body: { error: "POST a JSON body to /quote" } };
    const total = quoteTotal(request.body);
    if (total === null) return { status: 400, body: { error: 'expected {"items":[{"price":number,"quantity":integer}]}' } };
    await sleep(3); // the "price service"
    return { status: 200, body: { total, thread } };
  }
  return { status: 404, body: { error: `no route for ${request.method} ${request.path}` } };
}

/** How many requests this thread has answered. */
export function stats(): { thread: string; served: number } {
  return { thread: currentThreadName(), served };
}

let listener: Server | null = null;

/**
 * The per-thread shape: this thread listens on 127.0.0.1:`port` itself, sharing the port with
 * the pool's other threads (`reusePort`), and answers with `handle` on its own loop. Port 0
 * picks a free port (for the first thread); returns the port.
 */
export async function listen(port: number): Promise<number> {
  listener = await serveHttp(handle, "127.0.0.1", port, { reusePort: true });
  return (listener.sockets[0]?.address() as AddressInfo).port;
}

/** Stops this thread's listener and waits for its connections to end. */
export async function closeListener(): Promise<void> {
  const server = listener;
  listener = null;
  if (server === null) return;
  server.close();
  server.closeClients();
  await server.waitClosed();
}
