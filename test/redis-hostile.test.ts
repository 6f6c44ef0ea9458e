/**
 * The Redis example client on a hostile server (issue 11): a real TCP server on 127.0.0.1 that
 * answers every command with bytes chosen by the test. Strict integers, a bounded reply size with
 * a typed protocol error, and buffering whose work is linear in the bytes received.
 */
import net from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { run } from "multiloop";
import { RedisClient, RespParser, RespProtocolError, type RespValue } from "../dist/examples/redis/client.js";

const T = 20_000;

/** A server that answers the first command with `reply` (written in `chunk`-byte pieces), then stays silent. */
async function hostileServer(reply: Buffer | string, chunk = 1 << 16): Promise<{ port: number; close(): Promise<void> }> {
  const bytes = typeof reply === "string" ? Buffer.from(reply, "latin1") : reply;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.once("data", () => {
      for (let at = 0; at < bytes.length; at += chunk) socket.write(bytes.subarray(at, at + chunk));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** What the first command gets from a server answering `reply`. */
async function firstReply(reply: Buffer | string, options: { maxReplyBytes?: number; chunk?: number } = {}): Promise<unknown> {
  const srv = await hostileServer(reply, options.chunk);
  try {
    return await run(async () => {
      const client = await RedisClient.connect("127.0.0.1", srv.port, options.maxReplyBytes === undefined ? {} : { maxReplyBytes: options.maxReplyBytes });
      try {
        return await client.call("GET", "k").then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
      } finally {
        await client.close();
      }
    });
  } finally {
    await srv.close();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the Redis example client on a hostile server", () => {
  it("integers and lengths are strictly decimal: ':12ab' and '$1x' are protocol errors, not 1740 and 82", { timeout: T }, async () => {
    for (const bad of [":12ab\r\n", "$1x\r\nab\r\n", ":\r\n", ":-\r\n", ":1\n", "*2x\r\n", "$-2\r\n", "#x\r\n", ",1.5z\r\n", "(12a\r\n"]) {
      const outcome = (await firstReply(bad)) as { error?: unknown };
      expect(outcome.error, JSON.stringify(bad)).toBeInstanceOf(RespProtocolError);
      expect((outcome.error as RespProtocolError).code).toBe("ERR_REDIS_PROTOCOL");
    }
    expect(await firstReply(":-42\r\n")).toEqual({ value: -42 });
    expect(await firstReply("$3\r\nabc\r\n")).toEqual({ value: "abc" });
  });

  it("a reply over the maximum size fails at once, without buffering it: '$1000000000' and a set maxReplyBytes", { timeout: T }, async () => {
    const huge = (await firstReply("$1000000000\r\n")) as { error?: unknown };
    expect(huge.error).toBeInstanceOf(RespProtocolError);
    expect((huge.error as Error).message).toMatch(/maxReplyBytes/);
    const small = (await firstReply(`$2000\r\n${"x".repeat(2000)}\r\n`, { maxReplyBytes: 1024 })) as { error?: unknown };
    expect(small.error).toBeInstanceOf(RespProtocolError);
    // An aggregate counts all its bytes: many small items over the limit fail too.
    const many = (await firstReply(`*100\r\n${"$10\r\n0123456789\r\n".repeat(100)}`, { maxReplyBytes: 1024 })) as { error?: unknown };
    expect(many.error).toBeInstanceOf(RespProtocolError);
    expect(await firstReply(`$2000\r\n${"x".repeat(2000)}\r\n`, { maxReplyBytes: 4096 })).toEqual({ value: "x".repeat(2000) });
  });

  it("a 32 MB reply in 64 KiB reads arrives whole, each byte copied once", { timeout: T }, async () => {
    const size = 32 * 1024 * 1024;
    const payload = Buffer.alloc(size, 0x61);
    const wire = Buffer.concat([Buffer.from(`$${size}\r\n`), payload, Buffer.from("\r\n")]);
    const concat = vi.spyOn(Buffer, "concat");
    const parser = new RespParser({ returnBuffers: true });
    const out: RespValue[] = [];
    for (let at = 0; at < wire.length; at += 1 << 16) parser.feed(wire.subarray(at, at + (1 << 16)), (v) => out.push(v));
    expect(out).toHaveLength(1);
    expect((out[0] as Buffer).equals(payload)).toBe(true);
    // One join of all the pieces, when the last one came: not one copy of everything per read.
    expect(concat).toHaveBeenCalledTimes(1);
    // And through a real connection.
    expect(((await firstReply(wire)) as { value: string }).value.length).toBe(size);
  });

  it("an array of 200,000 items in 64 KiB reads is parsed once: only the item cut by a read is joined", { timeout: T }, async () => {
    const n = 200_000;
    const wire = Buffer.from(`*${n}\r\n${":1234567\r\n".repeat(n)}`);
    const concat = vi.spyOn(Buffer, "concat");
    const parser = new RespParser();
    const out: RespValue[] = [];
    let reads = 0;
    for (let at = 0; at < wire.length; at += 1 << 16, reads++) parser.feed(wire.subarray(at, at + (1 << 16)), (v) => out.push(v));
    expect(out).toHaveLength(1);
    expect((out[0] as number[]).length).toBe(n);
    const joined = concat.mock.calls.reduce((sum, [list]) => sum + (list as Buffer[]).reduce((s, b) => s + b.length, 0), 0);
    // At most one cut item (10 bytes) plus its next read per read.
    expect(joined).toBeLessThanOrEqual(reads * ((1 << 16) + 16));
    expect(concat.mock.calls.length).toBeLessThanOrEqual(reads);
    const wholeCopies = joined / wire.length;
    expect(wholeCopies).toBeLessThan(1.01);
  });
});
