/**
 * Networking scenarios (issue 6 §7):
 * - echo over TCP on 127.0.0.1, 64 concurrent connections, clients and server in one thread:
 *   requests/s through multiloop's Protocol/Transport and through its streams, against a plain
 *   node:net echo measured in the same run;
 * - pipelined SET/GET against one local redis-server started by the scenario: the example Redis
 *   client against ioredis.
 *
 * Repetitions alternate the contenders (A B C A B C ...) so drift on a shared machine hits all alike.
 */
import net from "node:net";
import { Redis as IORedis } from "ioredis";
import {
  getRunningLoop,
  openConnection,
  run,
  startServer,
  type Future,
  type Transport,
} from "multiloop";
import { RedisClient } from "../../examples/redis/client.js";
import { spawnRedisServer, type PlainRedisServer } from "../../examples/redis/server-process.js";
import type { BenchContext, Measurement, Scenario, ScenarioResult } from "../scenario-types.js";

const CONNECTIONS = 64;
const MESSAGE = Buffer.alloc(64, 0x61);
const SOURCE = "issue 6 §7";

interface Sizes {
  reps: number;
  perConnection: number;
}

function sizes(ctx: BenchContext, full: Sizes, quick: Sizes): Sizes {
  if (ctx.tiny) return { reps: 1, perConnection: 5 };
  return ctx.quick ? quick : full;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function listenLocal(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** Plain node:net: an echo server and 64 ping-pong clients, no multiloop at all. */
async function plainEcho(perConnection: number): Promise<number> {
  const server = net.createServer({ noDelay: true }, (s) => {
    s.on("data", (d) => s.write(d));
    s.on("error", () => s.destroy());
  });
  const port = await listenLocal(server);
  const started = performance.now();
  await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<void>((resolve, reject) => {
          const c = net.connect({ port, host: "127.0.0.1", noDelay: true }, () => c.write(MESSAGE));
          let done = 0;
          let got = 0;
          c.on("data", (d) => {
            got += d.length;
            while (got >= MESSAGE.length) {
              got -= MESSAGE.length;
              if (++done === perConnection) {
                c.end();
                resolve();
                return;
              }
              c.write(MESSAGE);
            }
          });
          c.on("error", reject);
        }),
    ),
  );
  const elapsed = performance.now() - started;
  await new Promise((resolve) => server.close(resolve));
  return (CONNECTIONS * perConnection * 1000) / elapsed;
}

/** The same echo with multiloop's Protocol/Transport on both ends, on one loop. */
async function protocolEcho(perConnection: number): Promise<number> {
  return run(async () => {
    const loop = getRunningLoop();
    const server = await loop.createServer(
      () => {
        let t: Transport;
        return {
          connectionMade(tr: Transport) {
            t = tr;
          },
          dataReceived(d: Buffer) {
            t.write(d);
          },
        };
      },
      "127.0.0.1",
      0,
    );
    const port = (server.sockets[0]?.address() as net.AddressInfo).port;
    const started = performance.now();
    const finished: Future<void>[] = [];
    const opening: Promise<unknown>[] = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      const fut = loop.createFuture<void>();
      finished.push(fut);
      let t: Transport;
      let done = 0;
      let got = 0;
      opening.push(
        loop.createConnection(
          () => ({
            connectionMade(tr: Transport) {
              t = tr;
              t.write(MESSAGE);
            },
            dataReceived(d: Buffer) {
              got += d.length;
              while (got >= MESSAGE.length) {
                got -= MESSAGE.length;
                if (++done === perConnection) {
                  t.close();
                  return;
                }
                t.write(MESSAGE);
              }
            },
            connectionLost() {
              fut.setResult(undefined);
            },
          }),
          "127.0.0.1",
          port,
        ),
      );
    }
    await Promise.all(opening);
    for (const f of finished) await f;
    const elapsed = performance.now() - started;
    server.close();
    await server.waitClosed();
    return (CONNECTIONS * perConnection * 1000) / elapsed;
  });
}

/** The same echo with multiloop's streams: one task per connection on each end. */
async function streamsEcho(perConnection: number): Promise<number> {
  return run(async () => {
    const server = await startServer(
      async (reader, writer) => {
        for (;;) {
          const data = await reader.read(65536);
          if (data.length === 0) break;
          writer.write(data);
          await writer.drain();
        }
        writer.close();
      },
      "127.0.0.1",
      0,
    );
    const port = (server.sockets[0]?.address() as net.AddressInfo).port;
    const started = performance.now();
    const loop = getRunningLoop();
    const clients = Array.from({ length: CONNECTIONS }, () =>
      loop.createTask(async () => {
        const [reader, writer] = await openConnection("127.0.0.1", port);
        for (let i = 0; i < perConnection; i++) {
          writer.write(MESSAGE);
          await writer.drain();
          await reader.readexactly(MESSAGE.length);
        }
        writer.close();
        await writer.waitClosed();
      }),
    );
    for (const c of clients) await c;
    const elapsed = performance.now() - started;
    server.close();
    await server.waitClosed();
    return (CONNECTIONS * perConnection * 1000) / elapsed;
  });
}

const echo: Scenario = {
  id: "net.echo",
  group: "networking",
  title: `TCP echo, ${CONNECTIONS} connections, ${MESSAGE.length}-byte requests (clients and server in one thread)`,
  async run(ctx): Promise<ScenarioResult> {
    const { reps, perConnection } = sizes(ctx, { reps: 9, perConnection: 400 }, { reps: 3, perConnection: 200 });
    // Warm-up: JIT and socket paths, not recorded.
    await plainEcho(Math.min(perConnection, 50));
    await protocolEcho(Math.min(perConnection, 50));
    await streamsEcho(Math.min(perConnection, 50));
    const plain: number[] = [];
    const protocol: number[] = [];
    const streams: number[] = [];
    for (let i = 0; i < reps; i++) {
      plain.push(await plainEcho(perConnection));
      protocol.push(await protocolEcho(perConnection));
      streams.push(await streamsEcho(perConnection));
      ctx.progress(
        `net.echo rep ${i + 1}/${reps}: node:net ${plain.at(-1)?.toFixed(0)} req/s, Protocol ${protocol.at(-1)?.toFixed(0)}, streams ${streams.at(-1)?.toFixed(0)}`,
      );
    }
    const m = (label: string, samples: number[]): Measurement => ({ label, unit: "req/s", lowerIsBetter: false, samples });
    return {
      measurements: [m("node:net echo", plain), m("multiloop Protocol/Transport echo", protocol), m("multiloop streams echo", streams)],
      ratios: [
        { numerator: "multiloop Protocol/Transport echo", denominator: "node:net echo", target: { source: SOURCE, min: 0.9 } },
        { numerator: "multiloop streams echo", denominator: "node:net echo", target: { source: SOURCE, min: 0.7 } },
      ],
      notes: [`${perConnection} requests per connection per repetition; TCP_NODELAY on every socket; node ${process.version}.`],
    };
  },
};

/** `rounds` pipelines of `batch` commands (half SET, half GET) through our client. */
async function oursPipelined(port: number, rounds: number, batch: number): Promise<number> {
  return run(async () => {
    const redis = await RedisClient.connect("127.0.0.1", port);
    try {
      const commands = pipelineCommands(batch);
      const started = performance.now();
      for (let r = 0; r < rounds; r++) await redis.pipeline(commands);
      return (rounds * batch * 1000) / (performance.now() - started);
    } finally {
      await redis.close();
    }
  });
}

async function ioredisPipelined(port: number, rounds: number, batch: number): Promise<number> {
  const redis = new IORedis(port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  await redis.connect();
  try {
    const commands = pipelineCommands(batch);
    const started = performance.now();
    for (let r = 0; r < rounds; r++) {
      const p = redis.pipeline();
      for (const [name, ...args] of commands) p.call(name, ...args);
      await p.exec();
    }
    return (rounds * batch * 1000) / (performance.now() - started);
  } finally {
    redis.disconnect();
  }
}

function pipelineCommands(batch: number): [string, ...string[]][] {
  const out: [string, ...string[]][] = [];
  for (let i = 0; i < batch / 2; i++) {
    out.push(["SET", `bench:key:${i}`, `value-${i}-${"x".repeat(16)}`]);
    out.push(["GET", `bench:key:${i}`]);
  }
  return out;
}

const redis: Scenario = {
  id: "net.redis.pipeline",
  group: "networking",
  title: "Redis pipelined SET/GET against one local redis-server: the example client vs ioredis",
  async run(ctx): Promise<ScenarioResult> {
    const batch = ctx.tiny ? 10 : 1000;
    const { reps, perConnection: rounds } = sizes(ctx, { reps: 7, perConnection: 60 }, { reps: 3, perConnection: 25 });
    let server: PlainRedisServer;
    try {
      server = await spawnRedisServer();
    } catch (err) {
      return { measurements: [], notes: [String(err)] };
    }
    try {
      await oursPipelined(server.port, 2, batch);
      await ioredisPipelined(server.port, 2, batch);
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < reps; i++) {
        ours.push(await oursPipelined(server.port, rounds, batch));
        theirs.push(await ioredisPipelined(server.port, rounds, batch));
        ctx.progress(`net.redis rep ${i + 1}/${reps}: multiloop ${ours.at(-1)?.toFixed(0)} ops/s, ioredis ${theirs.at(-1)?.toFixed(0)}`);
      }
      return {
        measurements: [
          { label: "multiloop RedisClient pipeline", unit: "ops/s", lowerIsBetter: false, samples: ours },
          { label: "ioredis pipeline", unit: "ops/s", lowerIsBetter: false, samples: theirs },
        ],
        ratios: [
          { numerator: "multiloop RedisClient pipeline", denominator: "ioredis pipeline", target: { source: SOURCE, min: 0.9 } },
        ],
        notes: [`${rounds} pipelines of ${batch} commands per repetition; median ratio ${(median(ours) / median(theirs)).toFixed(2)}`],
      };
    } finally {
      await server.stop();
    }
  },
};

export const scenarios: Scenario[] = [echo, redis];

/** @internal the single measurements, for ad-hoc runs. */
export const internals = { plainEcho, protocolEcho, streamsEcho };
