/**
 * The service example (examples/service/, issue 15 §2): both shapes against a real pool and real
 * sockets on 127.0.0.1, and the small HTTP/1.1 server of the per-thread shape on raw connections.
 */
import net from "node:net";
import { describe, expect, it } from "vitest";
import { run } from "multiloop";
import { nodeHonoursReusePort } from "./helpers.js";
// The examples are imported from dist/: the pool's threads load their compiled module.
import { runDemo } from "../dist/examples/service/index.js";
import { serveHttp } from "../dist/examples/service/http1.js";

describe("the service example", () => {
  it("answers the API through the pool, and from every thread's own listener on one port", { timeout: 60_000 }, async () => {
    const result = await runDemo({ size: 2, connections: 40 });
    expect(result.mainThread.map((r) => r.status)).toEqual([200, 200, 200, 400, 404]);
    const [health, primes, quote] = result.mainThread;
    expect(health?.body["status"]).toBe("ok");
    expect(primes?.body["count"]).toBe(9592);
    expect(quote?.body["total"]).toBe(10.99);
    for (const r of result.mainThread.slice(0, 3)) expect(["api-0", "api-1"]).toContain(r.body["thread"]);
    if (nodeHonoursReusePort()) {
      expect("answeredBy" in result.perThread).toBe(true);
      const { answeredBy } = result.perThread as { answeredBy: Record<string, number> };
      // 40 connections from as many source ports: the kernel hashes each to one of the two listeners.
      expect(Object.keys(answeredBy).sort()).toEqual(["api-0", "api-1"]);
      expect(Object.values(answeredBy).reduce((a, b) => a + b, 0)).toBe(40);
    } else {
      expect((result.perThread as { unavailable: string }).unavailable).toContain(`Node ${process.version}`);
    }
    const total = result.served.reduce((n, s) => n + s.served, 0);
    expect(total).toBe(5 + (nodeHonoursReusePort() ? 40 : 0));
  });
});

/** Sends `data` on a new connection to the server and returns everything it answers until it closes. */
function exchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.end(data));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      got += chunk;
    });
    socket.on("close", () => resolve(got));
    socket.on("error", reject);
  });
}

function statuses(answer: string): number[] {
  return [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /gu)].map((m) => Number(m[1]));
}

describe("the example's HTTP/1.1 server", () => {
  it("answers pipelined requests in order, reads bodies, and refuses what it does not speak", { timeout: 30_000 }, async () => {
    await run(async () => {
      const server = await serveHttp(
        (req) => ({ status: req.path === "/missing" ? 404 : 200, body: { method: req.method, path: req.path, query: req.query, body: req.body } }),
        "127.0.0.1",
        0,
      );
      const port = (server.sockets[0]?.address() as net.AddressInfo).port;
      try {
        const pipelined = await exchange(
          port,
          "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n" +
            "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello" +
            "GET /missing HTTP/1.1\r\nConnection: close\r\n\r\n" +
            "GET /never-read HTTP/1.1\r\n\r\n",
        );
        expect(statuses(pipelined)).toEqual([200, 200, 404]);
        expect(pipelined).toContain('{"method":"GET","path":"/a","query":{"x":"1"},"body":""}');
        expect(pipelined).toContain('{"method":"POST","path":"/b","query":{},"body":"hello"}');
        expect(pipelined).toContain("connection: close");

        expect(statuses(await exchange(port, "NONSENSE\r\n\r\n"))).toEqual([400]);
        expect(statuses(await exchange(port, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))).toEqual([501]);
        expect(statuses(await exchange(port, "POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"))).toEqual([413]);
        expect(statuses(await exchange(port, `GET / HTTP/1.1\r\nX-Big: ${"a".repeat(70_000)}\r\n\r\n`))).toEqual([431]);
        // HTTP/1.0 closes after the answer unless asked to keep the connection.
        expect(statuses(await exchange(port, "GET /old HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n"))).toEqual([200]);
        // A connection that ends mid-body gets no answer and does not break the server.
        expect(await exchange(port, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")).toBe("");
        expect(statuses(await exchange(port, "GET /still-up HTTP/1.1\r\nConnection: close\r\n\r\n"))).toEqual([200]);
      } finally {
        server.close();
        server.closeClients();
        await server.waitClosed();
      }
    });
  });
});
