import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import {
  ConnectionResetError,
  IncompleteReadError,
  LimitOverrunError,
  RuntimeError,
  StreamReader,
  StreamWriter,
  Transport,
  createTask,
  getRunningLoop,
  openConnection,
  run,
  sleep,
  startServer,
  type ExceptionContext,
  type Server,
} from "multiloop";

const T = 15_000;

function portOf(server: Server): number {
  return (server.sockets[0]?.address() as AddressInfo).port;
}

/** A reader fed by hand (the protocol side of the API), on the running loop. */
function fed(...chunks: (string | null)[]): StreamReader {
  const reader = new StreamReader();
  for (const c of chunks) {
    if (c === null) reader.feedEof();
    else reader.feedData(Buffer.from(c));
  }
  return reader;
}

describe("StreamReader", () => {
  it("read(n): 0 gives nothing, n > 0 what is there (up to n), -1 everything until EOF, then empty", async () => {
    await run(async () => {
      const r = fed("hello ", "world", null);
      expect((await r.read(0)).length).toBe(0);
      expect(String(await r.read(3))).toBe("hel");
      expect(String(await r.read(100))).toBe("lo world");
      expect((await r.read(5)).length).toBe(0);
      expect(r.atEof()).toBe(true);
      const r2 = fed("a", "b", "c", null);
      expect(String(await r2.read())).toBe("abc");
      expect(String(await r2.read())).toBe("");
    });
  });

  it("a read waits for data, and only one read may wait at a time", async () => {
    await run(async () => {
      const r = new StreamReader();
      const first = createTask(() => r.read(10));
      await sleep(0);
      const second = await r.readline().catch((e: unknown) => e);
      expect(second).toBeInstanceOf(RuntimeError);
      expect((second as Error).message).toBe(
        "readuntil() called while another coroutine is already waiting for incoming data",
      );
      await expect(r.readexactly(2)).rejects.toThrow(
        "readexactly() called while another coroutine is already waiting for incoming data",
      );
      r.feedData(Buffer.from("xyz"));
      expect(String(await first)).toBe("xyz");
    });
  });

  it("readexactly: exact bytes; IncompleteReadError at EOF; negative size is a RangeError", async () => {
    await run(async () => {
      const r = fed("12", "345", "67");
      expect(String(await r.readexactly(4))).toBe("1234");
      await expect(r.readexactly(-1)).rejects.toThrow(new RangeError("readexactly size can not be less than zero"));
      expect((await r.readexactly(0)).length).toBe(0);
      r.feedEof();
      const err = await r.readexactly(5).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IncompleteReadError);
      expect((err as IncompleteReadError).message).toBe("3 bytes read on a total of 5 expected bytes");
      expect(String((err as IncompleteReadError).partial)).toBe("567");
      expect((err as IncompleteReadError).expected).toBe(5);
      expect((err as IncompleteReadError).code).toBe("ERR_LOOP_INCOMPLETE_READ");
      expect(r.atEof()).toBe(true);
    });
  });

  it("readuntil: separator included; several separators; EOF and limit errors as asyncio", async () => {
    await run(async () => {
      const r = fed("a|b", "c||d;e", "\r\n");
      expect(String(await r.readuntil("|"))).toBe("a|");
      expect(String(await r.readuntil(Buffer.from("||")))).toBe("bc||");
      expect(String(await r.readuntil([";", "\r\n"]))).toBe("d;");
      expect(String(await r.readuntil(["\r\n", "e"]))).toBe("e");
      await expect(r.readuntil("")).rejects.toThrow(new RangeError("Separator should be at least one-byte string"));
      await expect(r.readuntil([])).rejects.toThrow(RangeError);
      r.feedData(Buffer.from("tail"));
      r.feedEof();
      const err = await r.readuntil("|").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IncompleteReadError);
      expect((err as IncompleteReadError).message).toBe("6 bytes read on a total of undefined expected bytes");
      expect(String((err as IncompleteReadError).partial)).toBe("\r\ntail");
      expect(r.atEof()).toBe(true);

      const small = new StreamReader({ limit: 4 });
      small.feedData(Buffer.from("0123456789"));
      const over = await small.readuntil("\n").catch((e: unknown) => e);
      expect(over).toBeInstanceOf(LimitOverrunError);
      expect((over as LimitOverrunError).message).toBe("Separator is not found, and chunk exceed the limit");
      expect((over as LimitOverrunError).consumed).toBe(10);
      // The data stays buffered.
      expect(String(await small.read(3))).toBe("012");
      small.feedData(Buffer.from("\n"));
      const found = await small.readuntil("\n").catch((e: unknown) => e);
      expect((found as LimitOverrunError).message).toBe("Separator is found, but chunk is longer than limit");
      expect((found as LimitOverrunError).consumed).toBe(7);
    });
  });

  it("readline: partial line at EOF, then empty; an over-long line is a RangeError and is dropped", async () => {
    await run(async () => {
      const r = fed("one\ntwo\nthr", "ee", null);
      expect(String(await r.readline())).toBe("one\n");
      expect(String(await r.readline())).toBe("two\n");
      expect(String(await r.readline())).toBe("three");
      expect(String(await r.readline())).toBe("");
      const small = new StreamReader({ limit: 3 });
      small.feedData(Buffer.from("toolong\nok\n"));
      await expect(small.readline()).rejects.toThrow(new RangeError("Separator is found, but chunk is longer than limit"));
      expect(String(await small.readline())).toBe("ok\n");
    });
  });

  it("for await iterates over lines until EOF", async () => {
    await run(async () => {
      const r = fed("a\nb", "\nc", null);
      const lines: string[] = [];
      for await (const line of r) lines.push(String(line));
      expect(lines).toEqual(["a\n", "b\n", "c"]);
    });
  });

  it("setException fails the waiting read and every later one", async () => {
    await run(async () => {
      const r = new StreamReader();
      const waiting = createTask(() => r.read(1));
      await sleep(0);
      const boom = new Error("boom");
      r.setException(boom);
      await expect(waiting).rejects.toBe(boom);
      await expect(r.read(1)).rejects.toBe(boom);
      await expect(r.readline()).rejects.toBe(boom);
      expect(r.exception()).toBe(boom);
    });
  });

  it("a cancelled read consumes nothing", async () => {
    await run(async () => {
      const r = new StreamReader();
      const t = createTask(() => r.readexactly(4));
      await sleep(0);
      r.feedData(Buffer.from("ab"));
      t.cancel();
      await expect(t).rejects.toThrow();
      r.feedData(Buffer.from("cd"));
      expect(String(await r.readexactly(4))).toBe("abcd");
    });
  });

  it("checks limit and arguments", async () => {
    await run(async () => {
      expect(() => new StreamReader({ limit: 0 })).toThrow(new RangeError("Limit cannot be <= 0"));
      expect(() => new StreamReader({ limit: -5 })).toThrow(RangeError);
      expect(() => new StreamReader({ limit: "big" as unknown as number })).toThrow(TypeError);
      const r = new StreamReader();
      await expect(r.read("x" as unknown as number)).rejects.toThrow(TypeError);
      await expect(r.readuntil(5 as unknown as string)).rejects.toThrow(TypeError);
      await expect(openConnection("127.0.0.1", 1, { limit: 0 })).rejects.toThrow(RangeError);
    });
  });
});

describe("streams over TCP", () => {
  it("echo: startServer + openConnection, lines and EOF", async () => {
    await run(async () => {
      const server = await startServer(
        async (reader, writer) => {
          for await (const line of reader) {
            writer.write(String(line).toUpperCase());
            await writer.drain();
          }
          writer.close();
          await writer.waitClosed();
        },
        "127.0.0.1",
        0,
      );
      try {
        const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
        expect(writer).toBeInstanceOf(StreamWriter);
        expect(writer.transport).toBeInstanceOf(Transport);
        expect((writer.getExtraInfo("peername") as AddressInfo).port).toBe(portOf(server));
        for (let i = 0; i < 100; i++) writer.write(`line ${i}\n`);
        await writer.drain();
        expect(writer.canWriteEof()).toBe(true);
        writer.writeEof();
        const got = String(await reader.read());
        expect(got.split("\n").length).toBe(101);
        expect(got.startsWith("LINE 0\nLINE 1\n")).toBe(true);
        expect(reader.atEof()).toBe(true);
        writer.close();
        expect(writer.isClosing()).toBe(true);
        await writer.waitClosed();
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("drain() really waits while the peer does not read, and returns once it does", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const peer = loop.createFuture<[StreamReader, StreamWriter]>();
      const server = await startServer(
        async (reader, writer) => {
          peer.setResult([reader, writer]);
          await writer.waitClosed();
        },
        "127.0.0.1",
        0,
        { limit: 1024 },
      );
      try {
        const [, writer] = await openConnection("127.0.0.1", portOf(server));
        const [peerReader] = await peer;
        const chunk = Buffer.alloc(64 * 1024, 1);
        let written = 0;
        // Write until drain() has to wait: the peer's reader stopped its transport at 2 * limit.
        let drained = true;
        while (drained) {
          writer.write(chunk);
          written += chunk.length;
          const d = createTask(() => writer.drain());
          for (let i = 0; i < 5 && !d.done(); i++) await sleep(1);
          drained = d.done();
          if (!drained) {
            // Nothing is read by the peer: the drain stays pending however long we wait.
            await sleep(30);
            expect(d.done()).toBe(false);
            // Now the peer reads everything that was written; only then may the drain finish.
            let read = 0;
            while (read < written) read += (await peerReader.read(1 << 20)).length;
            await d;
            expect(read).toBe(written);
          }
          expect(written).toBeLessThan(256 * 1024 * 1024);
        }
        writer.close();
        await writer.waitClosed();
      } finally {
        server.close();
        server.abortClients();
        await server.waitClosed();
      }
    });
  }, 30_000);

  it("a reader over its limit pauses the transport and resumes it as it is read", async () => {
    await run(async () => {
      const server = await startServer(
        async (_reader, writer) => {
          writer.write(Buffer.alloc(100_000, 2));
          await writer.drain();
          writer.close();
        },
        "127.0.0.1",
        0,
      );
      try {
        const [reader, writer] = await openConnection("127.0.0.1", portOf(server), { limit: 1000 });
        while (writer.transport.isReading()) await sleep(1);
        expect(writer.transport.isReading()).toBe(false);
        let total = 0;
        for (;;) {
          const b = await reader.read(10_000);
          if (b.length === 0) break;
          total += b.length;
        }
        expect(total).toBe(100_000);
        writer.close();
        await writer.waitClosed();
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("a failing client callback is reported and its connection closed", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const contexts: ExceptionContext[] = [];
      loop.setExceptionHandler((_l, ctx) => contexts.push(ctx));
      const server = await startServer(
        async (reader) => {
          await reader.readline();
          throw new Error("handler failed");
        },
        "127.0.0.1",
        0,
      );
      try {
        const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
        writer.write("go\n");
        expect((await reader.read()).length).toBe(0);
        expect(contexts.map((c) => c.message)).toEqual(["Unhandled exception in client_connected_cb"]);
        expect((contexts[0]?.exception as Error).message).toBe("handler failed");
        writer.close();
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("drain() after the connection is gone throws ConnectionResetError('Connection lost')", async () => {
    await run(async () => {
      const server = await startServer(
        (_reader, writer) => {
          writer.close();
        },
        "127.0.0.1",
        0,
      );
      try {
        const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
        expect((await reader.read()).length).toBe(0);
        writer.close();
        await writer.waitClosed();
        const err = await writer.drain().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectionResetError);
        expect((err as Error).message).toBe("Connection lost");
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);

  it("await using a writer closes it", async () => {
    await run(async () => {
      const server = await startServer(async (reader, writer) => {
        await reader.read();
        writer.close();
      }, "127.0.0.1", 0);
      try {
        let w: StreamWriter;
        {
          const [, writer] = await openConnection("127.0.0.1", portOf(server));
          await using _ = writer;
          w = writer;
        }
        expect(w.isClosing()).toBe(true);
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, T);
});
