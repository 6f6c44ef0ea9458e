/**
 * CPython's Lib/test/test_asyncio/test_streams.py (3.13+), ported: the StreamReader tests, and the
 * connection tests against a real server on 127.0.0.1 (a small HTTP responder standing for
 * CPython's `run_test_server`). `stream._buffer` is read by feeding EOF and reading the rest;
 * Python's ValueError is RangeError. Left out: TLS (`start_tls`, no TLS here), Unix-socket twins of
 * the TCP tests, pickling the errors, ResourceWarnings for unclosed writers (JS has no `__del__`),
 * `StreamReaderProtocol` internals, and happy eyeballs.
 */
import { createServer as createNodeServer, type AddressInfo, type Server as NodeServer, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ConnectionResetError,
  IncompleteReadError,
  LimitOverrunError,
  RuntimeError,
  StreamReader,
  currentTask,
  getRunningLoop,
  newEventLoop,
  openConnection,
  setEventLoop,
  sleep,
  startServer,
  wait,
  type EventLoop,
  type ExceptionContext,
  type StreamWriter,
} from "multiloop";
import { captureExceptions, caught, runBriefly, thrown } from "./helpers.js";

const T = 15_000;
const DATA = Buffer.from("line1\nline2\nline3\n");
const b = (s: string): Buffer => Buffer.from(s, "latin1");

let loop: EventLoop;
beforeEach(() => {
  loop = newEventLoop();
});
afterEach(async () => {
  await runBriefly(loop);
  loop.close();
});

const newReader = (limit?: number): StreamReader => new StreamReader(limit === undefined ? { loop } : { loop, limit });

/** What is left in the reader's buffer (CPython reads `stream._buffer`): EOF, then the rest. */
async function buffered(stream: StreamReader): Promise<string> {
  stream.feedEof();
  return (await loop.runUntilComplete(() => stream.read())).toString("latin1");
}

const runRead = <T>(read: () => Promise<T>): Promise<T> => loop.runUntilComplete(read);

describe("CPython test_streams.py StreamTests: StreamReader", () => {
  it("test_feed_empty_data / test_feed_nonempty_data", async () => {
    const empty = newReader();
    empty.feedData(b(""));
    expect(await buffered(empty)).toBe("");
    const full = newReader();
    full.feedData(DATA);
    expect(await buffered(full)).toBe(DATA.toString());
  });

  it("test_read_zero", async () => {
    const stream = newReader();
    stream.feedData(DATA);
    expect((await runRead(() => stream.read(0))).length).toBe(0);
    expect(await buffered(stream)).toBe(DATA.toString());
  });

  it("test_read", async () => {
    const stream = newReader();
    const readTask = loop.createTask(() => stream.read(30));
    loop.callSoon(() => stream.feedData(DATA));
    expect(await loop.runUntilComplete(readTask)).toEqual(DATA);
    expect(await buffered(stream)).toBe("");
  });

  it("test_read_line_breaks", async () => {
    const stream = newReader();
    stream.feedData(b("line1"));
    stream.feedData(b("line2"));
    expect((await runRead(() => stream.read(5))).toString()).toBe("line1");
    expect(await buffered(stream)).toBe("line2");
  });

  it("test_read_eof", async () => {
    const stream = newReader();
    const readTask = loop.createTask(() => stream.read(1024));
    loop.callSoon(() => stream.feedEof());
    expect((await loop.runUntilComplete(readTask)).length).toBe(0);
  });

  it("test_read_until_eof", async () => {
    const stream = newReader();
    const readTask = loop.createTask(() => stream.read(-1));
    loop.callSoon(() => {
      stream.feedData(b("chunk1\n"));
      stream.feedData(b("chunk2"));
      stream.feedEof();
    });
    expect((await loop.runUntilComplete(readTask)).toString()).toBe("chunk1\nchunk2");
  });

  it("test_read_exception", async () => {
    const stream = newReader();
    stream.feedData(b("line\n"));
    expect((await runRead(() => stream.read(2))).toString()).toBe("li");
    const exc = new RangeError("ValueError");
    stream.setException(exc);
    expect(await caught(runRead(() => stream.read(2)))).toBe(exc);
  });

  it("test_invalid_limit", () => {
    expect((thrown(() => newReader(0)) as Error).message).toMatch(/imit/u);
    expect((thrown(() => newReader(-1)) as Error).message).toMatch(/imit/u);
  });

  it("test_read_limit", async () => {
    const stream = newReader(3);
    stream.feedData(b("chunk"));
    expect((await runRead(() => stream.read(5))).toString()).toBe("chunk");
    expect(await buffered(stream)).toBe("");
  });

  it("test_readline", async () => {
    const stream = newReader();
    stream.feedData(b("chunk1 "));
    const readTask = loop.createTask(() => stream.readline());
    loop.callSoon(() => {
      stream.feedData(b("chunk2 "));
      stream.feedData(b("chunk3 "));
      stream.feedData(b("\n chunk4"));
    });
    expect((await loop.runUntilComplete(readTask)).toString()).toBe("chunk1 chunk2 chunk3 \n");
    expect(await buffered(stream)).toBe(" chunk4");
  });

  it("test_readline_limit_with_existing_data", async () => {
    let stream = newReader(3);
    stream.feedData(b("li"));
    stream.feedData(b("ne1\nline2\n"));
    expect(await caught(runRead(() => stream.readline()))).toBeInstanceOf(RangeError);
    // The rest of the buffer is kept.
    expect(await buffered(stream)).toBe("line2\n");

    stream = newReader(3);
    stream.feedData(b("li"));
    stream.feedData(b("ne1"));
    stream.feedData(b("li"));
    expect(await caught(runRead(() => stream.readline()))).toBeInstanceOf(RangeError);
    // No newline: everything consumed was over the limit, so the buffer is empty.
    expect(await buffered(stream)).toBe("");
  });

  it("test_at_eof", async () => {
    const stream = newReader();
    expect(stream.atEof()).toBe(false);
    stream.feedData(b("some data\n"));
    expect(stream.atEof()).toBe(false);
    await runRead(() => stream.readline());
    expect(stream.atEof()).toBe(false);
    stream.feedData(b("some data\n"));
    stream.feedEof();
    await runRead(() => stream.readline());
    expect(stream.atEof()).toBe(true);
  });

  it("test_readline_limit", async () => {
    let stream = newReader(7);
    loop.callSoon(() => {
      stream.feedData(b("chunk1"));
      stream.feedData(b("chunk2"));
      stream.feedData(b("chunk3\n"));
      stream.feedEof();
    });
    expect(await caught(runRead(() => stream.readline()))).toBeInstanceOf(RangeError);
    expect(await buffered(stream)).toBe("");

    stream = newReader(7);
    const s2 = stream;
    loop.callSoon(() => {
      s2.feedData(b("chunk1"));
      s2.feedData(b("chunk2\n"));
      s2.feedData(b("chunk3\n"));
      s2.feedEof();
    });
    expect(await caught(runRead(() => stream.readline()))).toBeInstanceOf(RangeError);
    expect(await buffered(stream)).toBe("chunk3\n");

    // The limit is strict.
    stream = newReader(7);
    stream.feedData(b("1234567\n"));
    expect((await runRead(() => stream.readline())).toString()).toBe("1234567\n");
    stream.feedData(b("12345678\n"));
    expect(await caught(runRead(() => stream.readline()))).toBeInstanceOf(RangeError);
    stream.feedData(b("12345678"));
    expect(await caught(runRead(() => stream.readline()))).toBeInstanceOf(RangeError);
    expect(await buffered(stream)).toBe("");
  });

  it("test_readline_nolimit_nowait", async () => {
    const stream = newReader();
    stream.feedData(DATA.subarray(0, 6));
    stream.feedData(DATA.subarray(6));
    expect((await runRead(() => stream.readline())).toString()).toBe("line1\n");
    expect(await buffered(stream)).toBe("line2\nline3\n");
  });

  it("test_readline_eof / test_readline_empty_eof", async () => {
    const stream = newReader();
    stream.feedData(b("some data"));
    stream.feedEof();
    expect((await runRead(() => stream.readline())).toString()).toBe("some data");
    const empty = newReader();
    empty.feedEof();
    expect((await runRead(() => empty.readline())).length).toBe(0);
  });

  it("test_readline_read_byte_count", async () => {
    const stream = newReader();
    stream.feedData(DATA);
    await runRead(() => stream.readline());
    expect((await runRead(() => stream.read(7))).toString()).toBe("line2\nl");
    expect(await buffered(stream)).toBe("ine3\n");
  });

  it("test_readline_exception", async () => {
    const stream = newReader();
    stream.feedData(b("line\n"));
    expect((await runRead(() => stream.readline())).toString()).toBe("line\n");
    const exc = new RangeError("ValueError");
    stream.setException(exc);
    expect(await caught(runRead(() => stream.readline()))).toBe(exc);
  });

  it("test_readuntil_separator", async () => {
    const stream = newReader();
    const err = await caught(runRead(() => stream.readuntil("")));
    expect((err as Error).message).toMatch(/Separator should be/u);
  });

  it("test_readuntil_multi_chunks", async () => {
    const stream = newReader();
    stream.feedData(b("lineAAA"));
    expect((await runRead(() => stream.readuntil("AAA"))).toString()).toBe("lineAAA");
    stream.feedData(b("lineAAA"));
    expect((await runRead(() => stream.readuntil("AAA"))).toString()).toBe("lineAAA");
    stream.feedData(b("lineAAAxxx"));
    expect((await runRead(() => stream.readuntil("AAA"))).toString()).toBe("lineAAA");
    expect(await buffered(stream)).toBe("xxx");
  });

  it("test_readuntil_multi_chunks_1", async () => {
    const stream = newReader();
    for (const [chunks, expected] of [
      [["QWEaa", "XYaa", "a"], "QWEaaXYaaa"],
      [["QWEaa", "XYa", "aa"], "QWEaaXYaaa"],
      [["aaa"], "aaa"],
      [["Xaaa"], "Xaaa"],
      [["XXX", "a", "a", "a"], "XXXaaa"],
    ] as const) {
      for (const c of chunks) stream.feedData(b(c));
      expect((await runRead(() => stream.readuntil("aaa"))).toString()).toBe(expected);
    }
    expect(await buffered(stream)).toBe("");
  });

  it("test_readuntil_eof", async () => {
    const stream = newReader();
    stream.feedData(b("some dataAA"));
    stream.feedEof();
    const err = (await caught(runRead(() => stream.readuntil("AAA")))) as IncompleteReadError;
    expect(err).toBeInstanceOf(IncompleteReadError);
    expect(err.message).toMatch(/undefined expected bytes/u);
    expect(err.partial.toString()).toBe("some dataAA");
    expect(err.expected).toBe(null);
    expect(await buffered(stream)).toBe("");
  });

  it("test_readuntil_limit_found_sep", async () => {
    const stream = newReader(3);
    stream.feedData(b("some dataAA"));
    let err = await caught(runRead(() => stream.readuntil("AAA")));
    expect(err).toBeInstanceOf(LimitOverrunError);
    expect((err as Error).message).toMatch(/not found/u);
    stream.feedData(b("A"));
    err = await caught(runRead(() => stream.readuntil("AAA")));
    expect(err).toBeInstanceOf(LimitOverrunError);
    expect((err as Error).message).toMatch(/is found/u);
    expect(await buffered(stream)).toBe("some dataAAA");
  });

  it("test_readuntil_multi_separator", async () => {
    const stream = newReader();
    stream.feedData(b("line 1\nline 2\r"));
    expect((await runRead(() => stream.readuntil(["\r", "\n"]))).toString()).toBe("line 1\n");
    expect((await runRead(() => stream.readuntil(["\r", "\n"]))).toString()).toBe("line 2\r");
    // The first end position wins, even if that is the longer separator.
    stream.feedData(b("ABCDEFG"));
    expect((await runRead(() => stream.readuntil(["DEF", "BCDE"]))).toString()).toBe("ABCDE");
    expect(await buffered(stream)).toBe("FG");
  });

  it("test_readuntil_multi_separator_limit", async () => {
    const stream = newReader(3);
    stream.feedData(b("some dataA"));
    const err = await caught(runRead(() => stream.readuntil(["A", "ome dataA"])));
    expect(err).toBeInstanceOf(LimitOverrunError);
    expect((err as Error).message).toMatch(/is found/u);
    expect(await buffered(stream)).toBe("some dataA");
  });

  it("test_readuntil_multi_separator_negative_offset", async () => {
    const stream = newReader();
    stream.feedData(b("data"));
    const readuntilTask = loop.createTask(() => stream.readuntil(["A", "long sep"]));
    loop.callSoon(() => stream.feedData(b("Z")));
    loop.callSoon(() => stream.feedData(b("Aaaa")));
    expect((await loop.runUntilComplete(readuntilTask)).toString()).toBe("dataZA");
    expect(await buffered(stream)).toBe("aaa");
  });

  it("test_readuntil_bytearray", async () => {
    const stream = newReader();
    stream.feedData(b("some data\r\n"));
    expect((await runRead(() => stream.readuntil(new Uint8Array([13, 10])))).toString()).toBe("some data\r\n");
    expect(await buffered(stream)).toBe("");
  });

  it("test_readexactly_zero_or_less", async () => {
    const stream = newReader();
    stream.feedData(DATA);
    expect((await runRead(() => stream.readexactly(0))).length).toBe(0);
    const err = await caught(runRead(() => stream.readexactly(-1)));
    expect((err as Error).message).toMatch(/less than zero/u);
    expect(await buffered(stream)).toBe(DATA.toString());
  });

  it("test_readexactly", async () => {
    const stream = newReader();
    const n = 2 * DATA.length;
    const readTask = loop.createTask(() => stream.readexactly(n));
    loop.callSoon(() => {
      stream.feedData(DATA);
      stream.feedData(DATA);
      stream.feedData(DATA);
    });
    expect((await loop.runUntilComplete(readTask)).toString()).toBe(DATA.toString() + DATA.toString());
    expect(await buffered(stream)).toBe(DATA.toString());
  });

  it("test_readexactly_limit", async () => {
    const stream = newReader(3);
    stream.feedData(b("chunk"));
    expect((await runRead(() => stream.readexactly(5))).toString()).toBe("chunk");
    expect(await buffered(stream)).toBe("");
  });

  it("test_readexactly_eof", async () => {
    const stream = newReader();
    const n = 2 * DATA.length;
    const readTask = loop.createTask(() => stream.readexactly(n));
    loop.callSoon(() => {
      stream.feedData(DATA);
      stream.feedEof();
    });
    const err = (await caught(loop.runUntilComplete(readTask))) as IncompleteReadError;
    expect(err.partial).toEqual(DATA);
    expect(err.expected).toBe(n);
    expect(err.message).toBe("18 bytes read on a total of 36 expected bytes");
    expect(await buffered(stream)).toBe("");
  });

  it("test_readexactly_exception", async () => {
    const stream = newReader();
    stream.feedData(b("line\n"));
    expect((await runRead(() => stream.readexactly(2))).toString()).toBe("li");
    const exc = new RangeError("ValueError");
    stream.setException(exc);
    expect(await caught(runRead(() => stream.readexactly(2)))).toBe(exc);
  });

  it("test_exception", () => {
    const stream = newReader();
    expect(stream.exception()).toBe(null);
    const exc = new RangeError("ValueError");
    stream.setException(exc);
    expect(stream.exception()).toBe(exc);
  });

  it("test_exception_waiter", async () => {
    const stream = newReader();
    const t1 = loop.createTask(() => stream.readline());
    const t2 = loop.createTask(async () => {
      stream.setException(new RangeError("ValueError"));
    });
    await loop.runUntilComplete(() => wait<unknown>([t1, t2]));
    expect(thrown(() => t1.result())).toBeInstanceOf(RangeError);
  });

  it("test_exception_cancel", async () => {
    const stream = newReader();
    const t = loop.createTask(() => stream.readline());
    await runBriefly(loop);
    t.cancel();
    await runBriefly(loop);
    // Fails if setException() is not careful with the cancelled waiter.
    stream.setException(new RuntimeError("message"));
    await runBriefly(loop);
    expect(String(stream)).not.toContain("waiter=");
  });

  it("test_streamreader_constructor_without_loop / use_running_loop / use_global_loop", async () => {
    setEventLoop(null);
    expect((thrown(() => new StreamReader()) as Error).message).toMatch(/no current event loop/u);
    const { reader } = await loop.runUntilComplete(async () => ({ reader: new StreamReader() }));
    // The reader waits on the loop it was made in.
    reader.feedData(b("x\n"));
    expect((await runRead(() => reader.readline())).toString()).toBe("x\n");
    setEventLoop(loop);
    try {
      const global = new StreamReader();
      global.feedData(b("y\n"));
      expect((await runRead(() => global.readline())).toString()).toBe("y\n");
    } finally {
      setEventLoop(null);
    }
  });

  it("test___repr__ / nondefault_limit / eof / data / exception / waiter", async () => {
    expect(String(newReader())).toBe("<StreamReader>");
    expect(String(newReader(123))).toBe("<StreamReader limit=123>");
    const eof = newReader();
    eof.feedEof();
    expect(String(eof)).toBe("<StreamReader eof>");
    const data = newReader();
    data.feedData(b("data"));
    expect(String(data)).toBe("<StreamReader 4 bytes>");
    const failed = newReader();
    failed.setException(new RuntimeError());
    expect(String(failed)).toBe("<StreamReader exception=RuntimeError()>");
    const waiting = newReader();
    const t = loop.createTask(() => waiting.read(1));
    await runBriefly(loop);
    expect(String(waiting)).toMatch(/^<StreamReader waiter=<Future pending[\S ]*>>$/u);
    waiting.feedData(b("x"));
    await loop.runUntilComplete(t);
    expect(String(waiting)).toBe("<StreamReader>");
  });
});

/** CPython's run_test_server: answers a GET with a fixed HTTP response and closes. */
async function withTestServer<R>(body: (address: [string, number]) => Promise<R>): Promise<R> {
  const server: NodeServer = createNodeServer((socket: Socket) => {
    socket.once("data", () => {
      socket.end("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nTest message");
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await body(["127.0.0.1", (server.address() as AddressInfo).port]);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Runs `body` on the loop against a fresh test server; returns what the exception handler got. */
async function againstTestServer(body: (host: string, port: number) => Promise<void>): Promise<ExceptionContext[]> {
  const messages = captureExceptions(loop);
  await withTestServer(([host, port]) => loop.runUntilComplete(() => body(host, port)));
  return messages;
}

/** CPython's request of these tests: GET, the status line, then (if `all`) the rest of the page. */
async function getPage(rd: StreamReader, wr: StreamWriter, all = true): Promise<void> {
  wr.write("GET / HTTP/1.0\r\n\r\n");
  expect((await rd.readline()).toString()).toBe("HTTP/1.0 200 OK\r\n");
  if (all) expect((await rd.read()).toString()).toMatch(/\r\n\r\nTest message$/u);
}

describe("CPython test_streams.py StreamTests: connections", () => {
  it("test_open_connection", { timeout: T }, async () => {
    const messages = await againstTestServer(async (host, port) => {
      const [reader, writer] = await openConnection(host, port);
      await getPage(reader, writer);
      writer.close();
      await writer.waitClosed();
    });
    expect(messages).toEqual([]);
  });

  it("test_open_connection_error (connectionLost with an error: reads throw it)", { timeout: T }, async () => {
    const messages = await againstTestServer(async (host, port) => {
      const [reader, writer] = await openConnection(host, port);
      // The transport dies with an error (CPython calls connection_lost(ZeroDivisionError())).
      (writer.getExtraInfo("socket") as Socket).destroy(new RangeError("ZeroDivisionError"));
      expect(await caught(reader.read())).toBeInstanceOf(Error);
      writer.close();
    });
    await runBriefly(loop);
    expect(messages).toEqual([]);
  });

  it("test_start_server (a coroutine handler, and a callback that starts a task)", { timeout: T }, async () => {
    const messages = captureExceptions(loop);
    const handleClient = async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
      const data = await reader.readline();
      writer.write(data);
      await writer.drain();
      writer.close();
      await writer.waitClosed();
    };
    for (const handler of [
      handleClient,
      (reader: StreamReader, writer: StreamWriter): void => {
        getRunningLoop().createTask(() => handleClient(reader, writer));
      },
    ]) {
      const msg = await loop.runUntilComplete(async () => {
        const server = await startServer(handler, "127.0.0.1", 0);
        try {
          const port = (server.sockets[0]?.address() as AddressInfo).port;
          const [reader, writer] = await openConnection("127.0.0.1", port);
          writer.write("hello world!\n");
          const back = await reader.readline();
          writer.close();
          await writer.waitClosed();
          return back.toString();
        } finally {
          server.close();
          await server.waitClosed();
        }
      });
      expect(msg).toBe("hello world!\n");
    }
    expect(messages).toEqual([]);
  });

  it("test_wait_closed_on_close / test_wait_closed_on_close_with_unread_data", { timeout: T }, async () => {
    await againstTestServer(async (host, port) => {
      for (const readAll of [true, false]) {
        const [rd, wr] = await openConnection(host, port);
        await getPage(rd, wr, readAll);
        expect(wr.isClosing()).toBe(false);
        wr.close();
        expect(wr.isClosing()).toBe(true);
        await wr.waitClosed();
      }
    });
  });

  it("test_async_writer_api", { timeout: T }, async () => {
    const messages = await againstTestServer(async (host, port) => {
      const [rd, wr] = await openConnection(host, port);
      await getPage(rd, wr);
      wr.close();
      await wr.waitClosed();
    });
    expect(messages).toEqual([]);
  });

  it("test_async_writer_api_exception_after_close", { timeout: T }, async () => {
    const messages = await againstTestServer(async (host, port) => {
      const [rd, wr] = await openConnection(host, port);
      await getPage(rd, wr);
      wr.close();
      const err = await caught(async () => {
        wr.write("data");
        await wr.drain();
      });
      expect(err).toBeInstanceOf(ConnectionResetError);
    });
    expect(messages).toEqual([]);
  });

  it("test_async_writer_api_exception_after_close (drain right after close, nothing read)", { timeout: T }, async () => {
    await againstTestServer(async (host, port) => {
      const [, wr] = await openConnection(host, port);
      wr.close();
      expect(await caught(wr.drain())).toBeInstanceOf(ConnectionResetError);
      // drain() waited on a future of its own: the connection's close waiter is intact.
      await wr.waitClosed();
    });
  });

  it("test_eof_feed_when_closing_writer", { timeout: T }, async () => {
    const messages = await againstTestServer(async (host, port) => {
      const [rd, wr] = await openConnection(host, port);
      wr.close();
      await wr.waitClosed();
      expect(rd.atEof()).toBe(true);
      expect((await rd.read()).length).toBe(0);
    });
    expect(messages).toEqual([]);
  });

  it("test_drain_raises (a write-and-drain loop on a connection the peer closed ends with an error)", { timeout: T }, async () => {
    const messages = captureExceptions(loop);
    const server = createNodeServer((socket) => {
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const err = await caught(
        loop.runUntilComplete(async () => {
          const [, writer] = await openConnection("127.0.0.1", port);
          for (;;) {
            writer.write("foo\n");
            await writer.drain();
          }
        }),
      );
      expect((err as { name?: string }).name).toMatch(/ConnectionResetError|BrokenPipeError|ConnectionAbortedError/u);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(messages).toEqual([]);
  });

  async function unhandled(handleEcho: (r: StreamReader, w: StreamWriter) => Promise<void>): Promise<ExceptionContext[]> {
    const messages = captureExceptions(loop);
    await loop.runUntilComplete(async () => {
      const server = await startServer(handleEcho, "127.0.0.1", 0);
      const port = (server.sockets[0]?.address() as AddressInfo).port;
      const [, wr] = await openConnection("127.0.0.1", port);
      wr.write("test msg");
      await wr.drain();
      wr.close();
      await wr.waitClosed();
      await sleep(20);
      server.close();
      await server.waitClosed();
    });
    return messages;
  }

  it("test_unhandled_exception", { timeout: T }, async () => {
    const messages = await unhandled(async () => {
      throw new Error("test");
    });
    expect(messages[0]?.message).toBe("Unhandled exception in client_connected_cb");
  });

  it("test_unhandled_cancel", { timeout: T }, async () => {
    const messages = await unhandled(async (_r, writer) => {
      writer.close();
      currentTask()?.cancel();
      await sleep(0);
    });
    expect(messages).toEqual([]);
  });
});
