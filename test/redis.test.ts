/**
 * The Redis example against a real redis-server (Debian package `redis-server`; .ci/run installs
 * it), started here on 127.0.0.1 and a free port, without persistence, and stopped in afterAll.
 * On a machine without redis-server the global setup fetches Debian's (test/system-programs.ts);
 * if that fails too, the suites that need it fail saying what to install. The parser tests need
 * nothing.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionError, gather, run, sleep } from "multiloop";
// The examples are imported from dist/, like their own entry points run.
import { Push, RedisClient, RedisError, RespParser, encodeCommand, type RespValue } from "../dist/examples/redis/client.js";
import { main as redisDemo } from "../dist/examples/redis/index.js";
import { spawnRedisServer, type PlainRedisServer } from "../dist/examples/redis/server-process.js";
import { REDIS_SERVER, describeWith } from "./system-programs.js";

let server: PlainRedisServer | null = null;
let port = 0;

const T = 15_000;

describe("RESP parser", () => {
  const wire = Buffer.from(
    "+OK\r\n-ERR bad thing\r\n:42\r\n:-7\r\n$5\r\nhe\r\no\r\n$-1\r\n$0\r\n\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n*-1\r\n" +
      "_\r\n#t\r\n#f\r\n,3.25\r\n,inf\r\n(123456789012345678901234567890\r\n!9\r\nSYNTAX no\r\n=8\r\ntxt:abcd\r\n" +
      "%2\r\n+k1\r\n:1\r\n+k2\r\n*0\r\n~2\r\n+x\r\n+y\r\n>3\r\n+message\r\n+chan\r\n$2\r\nhi\r\n|1\r\n+ttl\r\n:3\r\n+after-attr\r\n" +
      ":9007199254740993\r\n",
  );
  const expected: unknown[] = [
    "OK",
    new RedisError("ERR bad thing"),
    42,
    -7,
    "he\r\no",
    null,
    "",
    ["a", [1]],
    null,
    null,
    true,
    false,
    3.25,
    Infinity,
    123456789012345678901234567890n,
    new RedisError("SYNTAX no"),
    "abcd",
    new Map<unknown, unknown>([
      ["k1", 1],
      ["k2", []],
    ]),
    ["x", "y"],
    new Push(["message", "chan", "hi"]),
    "after-attr",
    9007199254740993n,
  ];

  function parseChunks(chunks: Buffer[]): RespValue[] {
    const p = new RespParser();
    const out: RespValue[] = [];
    for (const c of chunks) p.feed(c, (v) => out.push(v));
    expect(p.pending).toBe(0);
    return out;
  }

  it("parses every RESP2 and RESP3 type", () => {
    const got = parseChunks([wire]);
    expect(got).toEqual(expected);
    expect((got[1] as RedisError).prefix).toBe("ERR");
  });

  it("gives the same replies however the bytes are cut (property), and byte by byte", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: wire.length }), { maxLength: 40 }), (points) => {
        const cuts = [...new Set(points)].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let at = 0;
        for (const p of [...cuts, wire.length]) {
          chunks.push(wire.subarray(at, p));
          at = p;
        }
        expect(parseChunks(chunks)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
    expect(parseChunks(Array.from(wire, (b) => Buffer.from([b])))).toEqual(expected);
  });

  it("encodes commands as arrays of bulk strings, binary-safe", () => {
    expect(encodeCommand(["SET", "k", 12])).toBe("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n");
    expect(encodeCommand(["SET", "é", "x"])).toBe("*3\r\n$3\r\nSET\r\n$2\r\né\r\n$1\r\nx\r\n");
    const bin = encodeCommand(["SET", Buffer.from([0, 13, 10]), "v"]);
    expect(Buffer.isBuffer(bin)).toBe(true);
    expect(bin.toString("latin1")).toBe("*3\r\n$3\r\nSET\r\n$3\r\n\u0000\r\n\r\n$1\r\nv\r\n");
  });
});

describeWith(REDIS_SERVER, "against a real redis-server", () => {
  beforeAll(async () => {
    server = await spawnRedisServer();
    port = server.port;
  }, 20_000);

  afterAll(async () => {
    await server?.stop();
  }, 20_000);

  describe.each([2, 3] as const)("RedisClient over RESP%i against redis-server", (protocol) => {
    const key = (name: string): string => `test:resp${protocol}:${name}`;

    it("commands: strings, integers, nil, errors, binary values, a value larger than one read", async () => {
      await run(async () => {
        const redis = await RedisClient.connect("127.0.0.1", port, { protocol });
        try {
          expect(redis.protocol).toBe(protocol);
          expect(await redis.call("SET", key("s"), "hello")).toBe("OK");
          expect(await redis.call("GET", key("s"))).toBe("hello");
          expect(await redis.call("GET", key("missing"))).toBeNull();
          await redis.call("DEL", key("n"));
          expect(await redis.call("INCRBY", key("n"), 41)).toBe(41);
          expect(await redis.call("INCR", key("n"))).toBe(42);
          const err = await redis.call("LPUSH", key("s"), "x").catch((e: unknown) => e);
          expect(err).toBeInstanceOf(RedisError);
          expect((err as RedisError).prefix).toBe("WRONGTYPE");
          await expect(redis.call("NOSUCHCOMMAND")).rejects.toThrow(/^ERR unknown command/u);
          const big = "x".repeat(3 * 1024 * 1024) + "\r\n$-1\r\n";
          await redis.call("SET", key("big"), big);
          expect(await redis.call("GET", key("big"))).toBe(big);
          expect(await redis.call("STRLEN", key("big"))).toBe(big.length);
        } finally {
          await redis.close();
        }
        const binary = await RedisClient.connect("127.0.0.1", port, { protocol, returnBuffers: true });
        try {
          const value = Buffer.from([0, 1, 2, 13, 10, 255, 36, 42]);
          await binary.call("SET", key("bin"), value);
          expect(await binary.call("GET", key("bin"))).toEqual(value);
        } finally {
          await binary.close();
        }
      });
    }, T);

    it("pipelining: a thousand commands in one write come back in order", async () => {
      await run(async () => {
        const redis = await RedisClient.connect("127.0.0.1", port, { protocol });
        try {
          const commands: [string, ...string[]][] = [];
          for (let i = 0; i < 500; i++) {
            commands.push(["SET", key(`p${i}`), `v${i}`]);
            commands.push(["GET", key(`p${i}`)]);
          }
          const replies = await redis.pipeline(commands);
          expect(replies.length).toBe(1000);
          for (let i = 0; i < 500; i++) {
            expect(replies[2 * i]).toBe("OK");
            expect(replies[2 * i + 1]).toBe(`v${i}`);
          }
          // Error replies stay values in a pipeline; single calls in flight at the same time keep their order.
          const mixed = await redis.pipeline([["GET", key("p1")], ["HGET", key("p1"), "f"], ["GET", key("p2")]]);
          expect(mixed[0]).toBe("v1");
          expect(mixed[1]).toBeInstanceOf(RedisError);
          expect(mixed[2]).toBe("v2");
          const many = await gather(Array.from({ length: 200 }, (_, i) => redis.call("GET", key(`p${i}`))), {});
          expect(many).toEqual(Array.from({ length: 200 }, (_, i) => `v${i}`));
          expect(await redis.pipeline([])).toEqual([]);
        } finally {
          await redis.close();
        }
      });
    }, T);

    it("aggregate types: HGETALL, SMEMBERS, ZSCORE and DEBUG PROTOCOL as this protocol version sends them", async () => {
      await run(async () => {
        const redis = await RedisClient.connect("127.0.0.1", port, { protocol });
        try {
          await redis.call("DEL", key("h"), key("set"), key("z"));
          await redis.call("HSET", key("h"), "a", "1", "b", "2");
          await redis.call("SADD", key("set"), "m");
          await redis.call("ZADD", key("z"), "1.5", "member");
          const hash = await redis.call("HGETALL", key("h"));
          const score = await redis.call("ZSCORE", key("z"), "member");
          const debug = await redis.pipeline(
            ["string", "integer", "double", "bignum", "null", "array", "map", "set", "true", "false", "verbatim"].map(
              (t) => ["DEBUG", "PROTOCOL", t] as [string, string, string],
            ),
          );
          expect(await redis.call("SMEMBERS", key("set"))).toEqual(["m"]);
          if (protocol === 3) {
            expect(hash).toEqual(new Map([["a", "1"], ["b", "2"]]));
            expect(score).toBe(1.5);
            expect(debug[2]).toBe(3.141);
            expect(typeof debug[3]).toBe("bigint");
            expect(debug[4]).toBeNull();
            expect(debug[6]).toBeInstanceOf(Map);
            expect(debug[8]).toBe(true);
            expect(debug[9]).toBe(false);
            expect(debug[10]).toBe("This is a verbatim\nstring");
          } else {
            expect(hash).toEqual(["a", "1", "b", "2"]);
            expect(score).toBe("1.5");
            expect(debug[2]).toBe("3.141");
            expect(typeof debug[3]).toBe("string");
            expect(debug[4]).toBeNull();
            expect(Array.isArray(debug[6])).toBe(true);
            expect(debug[8]).toBe(1);
            expect(debug[9]).toBe(0);
          }
          expect(debug[0]).toBe("Hello World");
          expect(debug[1]).toBe(12345);
          expect(debug[5]).toEqual([0, 1, 2]);
        } finally {
          await redis.close();
        }
      });
    }, T);

    it("pub/sub: channels and patterns, unsubscribe; messages arrive between replies", async () => {
      await run(async () => {
        const subscriber = await RedisClient.connect("127.0.0.1", port, { protocol });
        const publisher = await RedisClient.connect("127.0.0.1", port, { protocol });
        try {
          const messages: string[] = [];
          const channel = key("chan");
          expect(await subscriber.subscribe([channel, `${channel}2`], (m) => messages.push(`${m.channel}=${String(m.message)}`))).toBe(2);
          expect(await subscriber.psubscribe([`${channel}.*`], (m) => messages.push(`${m.pattern}:${m.channel}=${String(m.message)}`))).toBe(3);
          expect(await publisher.call("PUBLISH", channel, "one")).toBe(1);
          expect(await publisher.call("PUBLISH", `${channel}.x`, "two")).toBe(1);
          expect(await publisher.call("PUBLISH", `${channel}2`, "three")).toBe(1);
          if (protocol === 3) {
            // RESP3 allows ordinary commands on a subscribed connection; the reply comes after the pushes.
            expect(await subscriber.call("ECHO", "still works")).toBe("still works");
          } else {
            expect(await subscriber.call("PING")).toEqual(["pong", ""]);
          }
          expect(messages).toEqual([`${channel}=one`, `${channel}.*:${channel}.x=two`, `${channel}2=three`]);
          expect(await subscriber.unsubscribe([channel, `${channel}2`])).toBe(1);
          expect(await subscriber.punsubscribe([`${channel}.*`])).toBe(0);
          expect(await publisher.call("PUBLISH", channel, "unheard")).toBe(0);
          expect(await subscriber.call("PING")).toBe("PONG");
          expect(messages.length).toBe(3);
        } finally {
          await subscriber.close();
          await publisher.close();
        }
      });
    }, T);

    it("a connection killed by the server fails the pending command with a ConnectionError", async () => {
      await run(async () => {
        const victim = await RedisClient.connect("127.0.0.1", port, { protocol });
        const admin = await RedisClient.connect("127.0.0.1", port, { protocol });
        try {
          const id = await victim.call("CLIENT", "ID");
          const blocked = victim.call("BLPOP", key("never"), "0");
          await sleep(20);
          expect(await admin.call("CLIENT", "KILL", "ID", String(id as number))).toBe(1);
          const err = await blocked.catch((e: unknown) => e);
          expect(err).toBeInstanceOf(ConnectionError);
          expect(() => victim.call("PING")).toThrow(ConnectionError);
        } finally {
          await victim.close();
          await admin.close();
        }
      });
    }, T);
  });

  describe("the Redis demo", () => {
    it("starts its own redis-server, runs, stops it, and prints what it did", async () => {
      const lines: string[] = [];
      const log = console.log;
      console.log = (...args: unknown[]) => void lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a, (_k, v: unknown): unknown => (v instanceof Map ? Object.fromEntries(v) : v)))).join(" "));
      try {
        await redisDemo();
      } finally {
        console.log = log;
      }
      expect(lines[0]).toMatch(/^== redis: redis-server started on 127\.0\.0\.1:\d+$/u);
      expect(lines).toContain('RESP2 HGETALL -> ["a","1","b","2"]');
      expect(lines).toContain('RESP3 HGETALL -> {"a":"1","b":"2"}');
      expect(lines.at(-1)).toBe('pub/sub: 1 receiver(s), got [{"channel":"news","message":"multiloop speaks RESP"}]');
    }, 30_000);
  });
});
