/**
 * The main-thread shape of the service example: node:http accepts and parses on the main thread,
 * and every request is a call into the pool, which runs it on the least loaded loop thread. A
 * client that goes away cancels its call (the remote task sees `CancelledError`); a call that
 * takes longer than `timeoutMs` answers 504; a pool that is stopping answers 503.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { LoopClosedError, TimeoutError, type LoopPool } from "multiloop";
import type * as Api from "./api.js";
import { MAX_BODY } from "./http1.js";

export interface MainThreadServer {
  readonly port: number;
  close(): Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

async function answer(pool: LoopPool<typeof Api>, req: http.IncomingMessage, res: http.ServerResponse, timeoutMs: number): Promise<void> {
  const body = await readBody(req);
  if (body === null) return send(res, 413, { error: "body too large" });
  const url = new URL(req.url ?? "/", "http://localhost");
  // The client hanging up before the answer is an abort of its call.
  const gone = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) gone.abort();
  });
  try {
    const reply = await pool.callWith({ signal: gone.signal, timeout: timeoutMs }, "handle", {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
    });
    send(res, reply.status, reply.body);
  } catch (err) {
    if (gone.signal.aborted) return;
    if (err instanceof TimeoutError) return send(res, 504, { error: "the request took too long" });
    if (err instanceof LoopClosedError) return send(res, 503, { error: "shutting down" });
    send(res, 500, { error: String(err) });
  }
}

/** Starts the node:http server on 127.0.0.1:`port` (0: a free port) in front of `pool`. */
export async function startMainThreadServer(pool: LoopPool<typeof Api>, port = 0, timeoutMs = 5_000): Promise<MainThreadServer> {
  const server = http.createServer((req, res) => {
    answer(pool, req, res, timeoutMs).catch((err: unknown) => {
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
