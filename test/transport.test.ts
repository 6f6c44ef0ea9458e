import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  ContextVar,
  RuntimeError,
  type Server,
  Transport,
  createTask,
  getRunningLoop,
  run,
  sleep,
  type BufferedProtocol,
  type EventLoop,
  type ExceptionContext,
  type Future,
  type Protocol,
} from "multiloop";

const T = 15_000;

function portOf(server: Server): number {
  return (server.sockets[0]?.address() as AddressInfo).port;
}

/** A protocol that records every callback and settles `lost` when the connection ends. */
class Recorder implements Protocol {
  readonly log: string[] = [];
  readonly chunks: Buffer[] = [];
  transport: Transport | null = null;
  readonly lost: Future<Error | null>;
  keepOpen = false;
  constructor(loop: EventLoop) {
    this.lost = loop.createFuture<Error | null>();
  }
  connectionMade(t: Transport): void {
    this.transport = t;
    this.log.push("made");
  }
  dataReceived(data: Buffer): void {
    if (this.log.at(-1) !== "data") this.log.push("data");
    this.chunks.push(data);
  }
  eofReceived(): boolean {
    this.log.push("eof");
    return this.keepOpen;
  }
  connectionLost(exc: Error | null): void {
    this.log.push(exc === null ? "lost" : `lost:${exc.name}`);
    this.lost.setResult(exc);
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

/** A server whose protocols are Recorders; `accepted` resolves with the first one. */
async function recordingServer(
  loop: EventLoop,
  configure: (p: Recorder) => void = () => {},
): Promise<{ server: Server; port: number; protocols: Recorder[]; accepted: Future<Recorder> }> {
  const protocols: Recorder[] = [];
  const accepted = loop.createFuture<Recorder>();
  const server = await loop.createServer(
    () => {
      const p = new Recorder(loop);
      configure(p);
      protocols.push(p);
      const made = p.connectionMade.bind(p);
      p.connectionMade = (t) => {
        made(t);
        if (!accepted.done()) accepted.setResult(p);
      };
      return p;
    },
    "127.0.0.1",
    0,
  );
  return { server, port: portOf(server), protocols, accepted };
}

describe("protocol callback order", () => {
  it("connectionMade, dataReceived*, eofReceived, connectionLost exactly once, on both ends", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port, accepted } = await recordingServer(loop);
      try {
        const client = new Recorder(loop);
        const [transport, protocol] = await loop.createConnection(() => client, "127.0.0.1", port);
        expect(protocol).toBe(client);
        // The opener's promise resolves after connectionMade.
        expect(client.log).toEqual(["made"]);
        transport.write("hello ");
        transport.writelines(["wor", Buffer.from("ld")]);
        transport.writeEof();
        const srv = await accepted;
        expect(await srv.lost).toBeNull();
        expect(srv.text).toBe("hello world");
        expect(srv.log).toEqual(["made", "data", "eof", "lost"]);
        // The server's eofReceived returned false: it closed, so the client saw EOF and the end.
        expect(await client.lost).toBeNull();
        expect(client.log).toEqual(["made", "eof", "lost"]);
        expect(transport.isClosing()).toBe(true);
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("eofReceived returning true keeps the connection half-open", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port, accepted } = await recordingServer(loop, (p) => {
        p.keepOpen = true;
        const onEof = p.eofReceived.bind(p);
        p.eofReceived = () => {
          const keep = onEof();
          // Still writable after the peer's EOF: answer, then close.
          p.transport?.write(`got ${p.text}`);
          p.transport?.close();
          return keep;
        };
      });
      try {
        const client = new Recorder(loop);
        const [transport] = await loop.createConnection(() => client, "127.0.0.1", port);
        transport.write("question");
        transport.writeEof();
        expect(await client.lost).toBeNull();
        expect(client.text).toBe("got question");
        expect(client.log).toEqual(["made", "data", "eof", "lost"]);
        expect((await accepted).log).toEqual(["made", "data", "eof", "lost"]);
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("protocol callbacks run as loop callbacks, in the context the transport was made in", async () => {
    const tag = new ContextVar<string>("tag", { default: "none" });
    await run(async () => {
      const loop = getRunningLoop();
      const seen: string[] = [];
      const server = await loop.createServer(
        () => ({
          connectionMade(t: Transport) {
            t.write("x");
            t.close();
          },
        }),
        "127.0.0.1",
        0,
      );
      try {
        const done = loop.createFuture<void>();
        tag.set("client-task");
        await loop.createConnection(
          () => ({
            dataReceived() {
              seen.push(`${getRunningLoop() === loop} ${tag.get()}`);
            },
            connectionLost() {
              done.setResult(undefined);
            },
          }),
          "127.0.0.1",
          portOf(server),
        );
        tag.set("changed later");
        await done;
        expect(seen).toEqual(["true client-task"]);
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);
});

describe("Transport", () => {
  it("close() flushes what is buffered; abort() does not wait", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const big = Buffer.alloc(4 * 1024 * 1024, 7);
      const server = await loop.createServer(
        () => ({
          connectionMade(t: Transport) {
            t.write(big);
            expect(t.getWriteBufferSize()).toBeGreaterThan(0);
            t.close();
            t.close(); // idempotent
            expect(t.isClosing()).toBe(true);
          },
        }),
        "127.0.0.1",
        0,
      );
      try {
        const client = new Recorder(loop);
        await loop.createConnection(() => client, "127.0.0.1", portOf(server));
        expect(await client.lost).toBeNull();
        expect(Buffer.concat(client.chunks).equals(big)).toBe(true);

        const aborted = new Recorder(loop);
        const [t] = await loop.createConnection(() => aborted, "127.0.0.1", portOf(server));
        t.abort();
        expect(t.isClosing()).toBe(true);
        expect(await aborted.lost).toBeNull();
        expect(aborted.log.at(-1)).toBe("lost");
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("write(): asyncio's errors, empty writes ignored, writes after close dropped", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port } = await recordingServer(loop);
      try {
        const client = new Recorder(loop);
        const [t] = await loop.createConnection(() => client, "127.0.0.1", port);
        expect(() => t.write(42 as unknown as string)).toThrow(TypeError);
        expect(() => t.write(42 as unknown as string)).toThrow("data argument must be a bytes-like object, not 'number'");
        t.write("");
        t.write(new Uint8Array(0));
        expect(t.getWriteBufferSize()).toBe(0);
        expect(t.canWriteEof()).toBe(true);
        t.writeEof();
        expect(() => t.write("x")).toThrow(RuntimeError);
        expect(() => t.write("x")).toThrow("Cannot call write() after writeEof()");
        t.close();
        await client.lost;
        // Dropped silently after the connection is gone (asyncio warns only after 5 such writes).
        const warn = console.warn;
        const warnings: unknown[] = [];
        console.warn = (...args: unknown[]) => void warnings.push(args);
        try {
          const t2 = (await loop.createConnection(() => new Recorder(loop), "127.0.0.1", port))[0];
          t2.close();
          for (let i = 0; i < 7; i++) t2.write("dropped");
        } finally {
          console.warn = warn;
        }
        // close() counts as the first lost write (asyncio's `_conn_lost`): writes 5, 6 and 7 warn.
        expect(warnings.length).toBe(3);
        expect(String(warnings[0])).toContain("socket.send() raised exception.");
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("getExtraInfo gives peername, sockname, socket, and the fallback", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port, accepted } = await recordingServer(loop);
      try {
        const [t] = await loop.createConnection(() => new Recorder(loop), "127.0.0.1", port);
        expect(t.getExtraInfo("peername")).toEqual({ address: "127.0.0.1", port, family: "IPv4" });
        const sock = t.getExtraInfo("sockname") as { port: number };
        const srvPeer = (await accepted).transport?.getExtraInfo("peername") as { port: number };
        expect(srvPeer.port).toBe(sock.port);
        expect(typeof (t.getExtraInfo("socket") as { write?: unknown }).write).toBe("function");
        expect(t.getExtraInfo("nope", "fallback")).toBe("fallback");
        expect(t.getExtraInfo("nope")).toBeUndefined();
        expect(t.getProtocol()).toBeInstanceOf(Recorder);
        t.close();
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("pauseReading() holds data back (even data already received) until resumeReading()", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port, accepted } = await recordingServer(loop);
      try {
        const client = new Recorder(loop);
        const [t] = await loop.createConnection(() => client, "127.0.0.1", port);
        const srv = await accepted;
        t.pauseReading();
        t.pauseReading(); // idempotent
        expect(t.isReading()).toBe(false);
        srv.transport?.write("while paused");
        await sleep(50);
        expect(client.chunks.length).toBe(0);
        t.resumeReading();
        t.resumeReading();
        expect(t.isReading()).toBe(true);
        while (client.text.length < "while paused".length) await sleep(5);
        expect(client.text).toBe("while paused");
        t.close();
        expect(t.isReading()).toBe(false);
        await client.lost;
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("write buffer limits: asyncio's defaults, derivation and error", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port } = await recordingServer(loop);
      try {
        const [t] = await loop.createConnection(() => new Recorder(loop), "127.0.0.1", port);
        expect(t.getWriteBufferLimits()).toEqual([16384, 65536]);
        t.setWriteBufferLimits(1000);
        expect(t.getWriteBufferLimits()).toEqual([250, 1000]);
        t.setWriteBufferLimits(undefined, 100);
        expect(t.getWriteBufferLimits()).toEqual([100, 400]);
        t.setWriteBufferLimits();
        expect(t.getWriteBufferLimits()).toEqual([16384, 65536]);
        expect(() => t.setWriteBufferLimits(1, 2)).toThrow(RangeError);
        expect(() => t.setWriteBufferLimits(1, 2)).toThrow("high (1) must be >= low (2) must be >= 0");
        expect(() => t.setWriteBufferLimits("x" as unknown as number)).toThrow(TypeError);
        t.close();
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("pauseWriting above the high-water mark, resumeWriting once the peer drains it", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port, accepted } = await recordingServer(loop);
      try {
        const events: string[] = [];
        const resumed = loop.createFuture<void>();
        const client: Protocol = {
          pauseWriting: () => events.push("pause"),
          resumeWriting: () => {
            events.push("resume");
            resumed.setResult(undefined);
          },
        };
        const [t] = await loop.createConnection(() => client, "127.0.0.1", port);
        const srv = await accepted;
        srv.transport?.pauseReading();
        // Fill the kernel buffers and then ours: pauseWriting is called inside write().
        const chunk = Buffer.alloc(256 * 1024);
        for (let i = 0; i < 64 && !events.includes("pause"); i++) {
          t.write(chunk);
          await sleep(1);
        }
        expect(events).toEqual(["pause"]);
        expect(t.getWriteBufferSize()).toBeGreaterThan(65536);
        srv.transport?.resumeReading();
        await resumed;
        expect(events).toEqual(["pause", "resume"]);
        expect(t.getWriteBufferSize()).toBeLessThanOrEqual(16384);
        t.abort();
      } finally {
        server.close();
        server.abortClients();
        await server.waitClosed();
      }
    });
  }, T);

  it("setWriteBufferLimits(0) pauses a protocol with buffered data and resumes it after the flush", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port, accepted } = await recordingServer(loop);
      try {
        const events: string[] = [];
        const resumed = loop.createFuture<void>();
        const [t] = await loop.createConnection(
          () => ({
            pauseWriting: () => events.push("pause"),
            resumeWriting: () => {
              events.push("resume");
              resumed.setResult(undefined);
            },
          }),
          "127.0.0.1",
          port,
        );
        const srv = await accepted;
        srv.transport?.pauseReading();
        // Marks so high that filling the buffer pauses nothing; then lower them.
        t.setWriteBufferLimits(2 ** 40);
        const chunk = Buffer.alloc(256 * 1024);
        while (t.getWriteBufferSize() === 0) {
          t.write(chunk);
          await sleep(1);
        }
        expect(events).toEqual([]);
        t.setWriteBufferLimits(0);
        expect(events).toEqual(["pause"]);
        srv.transport?.resumeReading();
        await resumed;
        expect(events).toEqual(["pause", "resume"]);
        t.close();
      } finally {
        server.close();
        server.abortClients();
        await server.waitClosed();
      }
    });
  }, T);
});

describe("BufferedProtocol", () => {
  it("reads into the protocol's own small buffer, chunk after chunk, and never calls dataReceived", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
      const server = await loop.createServer(
        () => ({
          connectionMade(t: Transport) {
            t.write(payload);
            t.close();
          },
        }),
        "127.0.0.1",
        0,
      );
      try {
        const got: Buffer[] = [];
        const hints: number[] = [];
        const done = loop.createFuture<void>();
        const buf = new Uint8Array(7);
        let dataReceivedCalls = 0;
        const proto: BufferedProtocol = {
          getBuffer(sizeHint: number) {
            hints.push(sizeHint);
            return buf;
          },
          bufferUpdated(n: number) {
            got.push(Buffer.from(buf.subarray(0, n)));
          },
          dataReceived() {
            dataReceivedCalls++;
          },
          connectionLost() {
            done.setResult(undefined);
          },
        };
        await loop.createConnection(() => proto, "127.0.0.1", portOf(server));
        await done;
        expect(Buffer.concat(got).equals(payload)).toBe(true);
        expect(dataReceivedCalls).toBe(0);
        expect(Math.max(...got.map((b) => b.length))).toBe(7);
        expect(hints.every((h) => h > 0)).toBe(true);
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("an empty buffer from getBuffer is a fatal error for that connection", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const contexts: ExceptionContext[] = [];
      loop.setExceptionHandler((_l, ctx) => contexts.push(ctx));
      const server = await loop.createServer(
        () => ({
          connectionMade(t: Transport) {
            t.write("data");
          },
        }),
        "127.0.0.1",
        0,
      );
      try {
        const lost = loop.createFuture<Error | null>();
        await loop.createConnection(
          () => ({
            getBuffer: () => new Uint8Array(0),
            bufferUpdated: () => {},
            connectionLost: (exc: Error | null) => lost.setResult(exc),
          }),
          "127.0.0.1",
          portOf(server),
        );
        const exc = await lost;
        expect(exc).toBeInstanceOf(RuntimeError);
        expect(contexts.map((c) => c.message)).toEqual(["Fatal error: protocol.getBuffer() call failed."]);
      } finally {
        server.close();
        server.abortClients();
        await server.waitClosed();
      }
    });
  }, T);
});

describe("a protocol callback that throws", () => {
  it("goes to the exception handler and closes only its own connection", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const contexts: ExceptionContext[] = [];
      loop.setExceptionHandler((_l, ctx) => contexts.push(ctx));
      const boom = new Error("boom");
      const server = await loop.createServer(
        () => {
          let t: Transport;
          return {
            connectionMade(tr: Transport) {
              t = tr;
            },
            dataReceived(data: Buffer) {
              if (String(data).includes("bad")) throw boom;
              t.write(data);
            },
          };
        },
        "127.0.0.1",
        0,
      );
      try {
        const good = new Recorder(loop);
        const bad = new Recorder(loop);
        const [tg] = await loop.createConnection(() => good, "127.0.0.1", portOf(server));
        const [tb] = await loop.createConnection(() => bad, "127.0.0.1", portOf(server));
        tb.write("bad input");
        await bad.lost;
        expect(contexts.length).toBe(1);
        expect(contexts[0]?.message).toBe("Fatal error: protocol.dataReceived() call failed.");
        expect(contexts[0]?.exception).toBe(boom);
        expect(contexts[0]?.["transport"]).toBeInstanceOf(Transport);
        // The other connection still works.
        tg.write("still here");
        while (good.text !== "still here") await sleep(5);
        tg.close();
        await good.lost;
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("connectionMade throwing rejects createConnection and still ends with connectionLost(error)", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const contexts: ExceptionContext[] = [];
      loop.setExceptionHandler((_l, ctx) => contexts.push(ctx));
      const { server, port } = await recordingServer(loop);
      try {
        const lost = loop.createFuture<Error | null>();
        const err = new Error("cannot start");
        await expect(
          loop.createConnection(
            () => ({
              connectionMade() {
                throw err;
              },
              connectionLost: (exc: Error | null) => lost.setResult(exc),
            }),
            "127.0.0.1",
            port,
          ),
        ).rejects.toBe(err);
        expect(await lost).toBe(err);
        expect(contexts[0]?.message).toBe("Fatal error: protocol.connectionMade() call failed.");
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);
});

describe("Server", () => {
  it("close() leaves accepted connections open; waitClosed() waits for them", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port, accepted } = await recordingServer(loop);
      const client = new Recorder(loop);
      const [t] = await loop.createConnection(() => client, "127.0.0.1", port);
      const srv = await accepted;
      expect(server.isServing()).toBe(true);
      server.close();
      server.close();
      expect(server.isServing()).toBe(false);
      expect(server.sockets).toEqual([]);
      let closed = false;
      const waiting = createTask(async () => {
        await server.waitClosed();
        closed = true;
      });
      // The accepted connection still works after close().
      t.write("after close");
      while (srv.text !== "after close") await sleep(5);
      expect(closed).toBe(false);
      t.close();
      await waiting;
      expect(closed).toBe(true);
      expect(await srv.lost).toBeNull();
      // A closed server refuses new connections.
      await expect(loop.createConnection(() => new Recorder(loop), "127.0.0.1", port)).rejects.toMatchObject({
        code: "ECONNREFUSED",
      });
    });
  }, T);

  it("closeClients() and abortClients() end the accepted connections", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server, port, protocols } = await recordingServer(loop);
      const a = new Recorder(loop);
      const b = new Recorder(loop);
      await loop.createConnection(() => a, "127.0.0.1", port);
      await loop.createConnection(() => b, "127.0.0.1", port);
      while (protocols.filter((p) => p.log.includes("made")).length < 2) await sleep(1);
      server.close();
      server.closeClients();
      await server.waitClosed();
      expect(await a.lost).toBeNull();
      expect(await b.lost).toBeNull();
      const { server: s2, port: p2, accepted } = await recordingServer(loop);
      const c = new Recorder(loop);
      await loop.createConnection(() => c, "127.0.0.1", p2);
      await accepted;
      s2.abortClients();
      await c.lost;
      s2.close();
      await s2.waitClosed();
    });
  }, T);

  it("host null listens on every interface; a host name listens on each address it resolves to", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const all = await loop.createServer(() => new Recorder(loop), null, 0);
      const named = await loop.createServer(() => new Recorder(loop), "localhost", 0);
      try {
        expect(all.sockets.length).toBe(1);
        const client = new Recorder(loop);
        const [t] = await loop.createConnection(() => client, "127.0.0.1", portOf(all));
        t.close();
        await client.lost;
        expect(named.sockets.length).toBeGreaterThanOrEqual(1);
        for (const s of named.sockets) {
          const { address, port } = s.address() as AddressInfo;
          const c = new Recorder(loop);
          const [tn] = await loop.createConnection(() => c, address, port);
          tn.close();
          await c.lost;
        }
      } finally {
        all.close();
        named.close();
        await all.waitClosed();
        await named.waitClosed();
      }
    });
  }, T);

  it("startServing: false holds connections until startServing()", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const accepted: string[] = [];
      const server = await loop.createServer(
        () => ({
          connectionMade(t: Transport) {
            accepted.push("made");
            t.write("hi");
            t.close();
          },
        }),
        "127.0.0.1",
        0,
        { startServing: false },
      );
      try {
        expect(server.isServing()).toBe(false);
        const client = new Recorder(loop);
        await loop.createConnection(() => client, "127.0.0.1", portOf(server));
        await sleep(30);
        expect(accepted).toEqual([]);
        await server.startServing();
        expect(server.isServing()).toBe(true);
        await client.lost;
        expect(client.text).toBe("hi");
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("serveForever(): asyncio's errors; ends with CancelledError on close(); cancelling it closes the server", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const { server } = await recordingServer(loop);
      const forever = createTask(() => server.serveForever());
      await sleep(0);
      await expect(server.serveForever()).rejects.toThrow(/^server <Server sockets=\(127\.0\.0\.1:\d+\)> is already being awaited on serveForever\(\)$/);
      server.close();
      await expect(forever).rejects.toBeInstanceOf(CancelledError);
      await expect(server.serveForever()).rejects.toThrow("server <Server sockets=()> is closed");

      const { server: s2 } = await recordingServer(loop);
      const t2 = createTask(() => s2.serveForever());
      await sleep(0);
      t2.cancel();
      await expect(t2).rejects.toBeInstanceOf(CancelledError);
      expect(s2.isServing()).toBe(false);
      expect(s2.sockets).toEqual([]);
    });
  }, T);

  it("await using closes the server and waits", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      let seen: Server;
      {
        await using server = (await recordingServer(loop)).server;
        seen = server;
        expect(server.isServing()).toBe(true);
      }
      expect(seen.isServing()).toBe(false);
      expect(seen.sockets).toEqual([]);
    });
  }, T);

  it("an exception in the protocol factory is reported and drops only that connection", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const contexts: ExceptionContext[] = [];
      loop.setExceptionHandler((_l, ctx) => contexts.push(ctx));
      let n = 0;
      const server = await loop.createServer(
        () => {
          if (n++ === 0) throw new Error("factory failed");
          return new Recorder(loop);
        },
        "127.0.0.1",
        0,
      );
      try {
        const first = new Recorder(loop);
        await loop.createConnection(() => first, "127.0.0.1", portOf(server));
        await first.lost;
        expect(contexts.map((c) => c.message)).toEqual(["Error on transport creation for incoming connection"]);
        const second = new Recorder(loop);
        const [t] = await loop.createConnection(() => second, "127.0.0.1", portOf(server));
        await sleep(20);
        expect(second.log).toEqual(["made"]);
        t.close();
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("Unix sockets: createUnixServer / createUnixConnection; the socket file goes away on close", async () => {
    const path = join(tmpdir(), `multiloop-${process.pid}-${Date.now()}.sock`);
    await run(async () => {
      const loop = getRunningLoop();
      const server = await loop.createUnixServer(
        () => {
          let t: Transport;
          return {
            connectionMade(tr: Transport) {
              t = tr;
            },
            dataReceived(d: Buffer) {
              t.write(d.toString().toUpperCase());
            },
          };
        },
        path,
      );
      try {
        expect(existsSync(path)).toBe(true);
        const client = new Recorder(loop);
        const [t] = await loop.createUnixConnection(() => client, path);
        expect(t.getExtraInfo("peername")).toBe(path);
        t.write("unix");
        while (client.text !== "UNIX") await sleep(5);
        t.close();
        await client.lost;
      } finally {
        server.close();
        await server.waitClosed();
      }
      expect(existsSync(path)).toBe(false);
    });
  }, T);

  it("checks its arguments at the boundary", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const f = (): Protocol => ({});
      await expect(loop.createServer("nope" as unknown as () => Protocol, null, 0)).rejects.toThrow(TypeError);
      await expect(loop.createServer(f, null, -1)).rejects.toThrow(RangeError);
      await expect(loop.createServer(f, null, 1.5)).rejects.toThrow(TypeError);
      await expect(loop.createServer(f, 5 as unknown as string, 0)).rejects.toThrow(TypeError);
      await expect(loop.createServer(f, null, 0, { backlog: -1 })).rejects.toThrow(TypeError);
      await expect(loop.createConnection(f, 127 as unknown as string, 80)).rejects.toThrow(TypeError);
      await expect(loop.createConnection(f, "127.0.0.1", 70000)).rejects.toThrow(RangeError);
    });
  });
});
