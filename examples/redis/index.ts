/**
 * Demo: the Redis client against a real redis-server that the demo starts (and stops). Run with
 * `node dist/examples/redis/index.js` (needs `redis-server` on PATH).
 */
import { fileURLToPath } from "node:url";
import { run } from "multiloop";
import { RedisClient, type PubSubMessage } from "./client.js";
import { startRedisServer } from "./server-process.js";

/** Commands, a pipeline, RESP3 types and pub/sub, printed as they go. */
export async function main(): Promise<void> {
  await run(async () => {
    const server = await startRedisServer();
    console.log(`== redis: redis-server started on 127.0.0.1:${server.port}`);
    try {
      for (const protocol of [2, 3] as const) {
        const redis = await RedisClient.connect("127.0.0.1", server.port, { protocol });
        await redis.call("DEL", "demo:hash", "demo:n");
        await redis.call("HSET", "demo:hash", "a", "1", "b", "2");
        console.log(`RESP${protocol} HGETALL ->`, await redis.call("HGETALL", "demo:hash"));
        const replies = await redis.pipeline([["INCR", "demo:n"], ["INCRBY", "demo:n", 10], ["GET", "demo:n"], ["LPUSH", "demo:hash", "x"]]);
        console.log(`RESP${protocol} pipeline ->`, replies.map((r) => (r instanceof Error ? `error ${r.prefix}` : r)));
        await redis.close();
      }
      const subscriber = await RedisClient.connect("127.0.0.1", server.port, { protocol: 3 });
      const publisher = await RedisClient.connect("127.0.0.1", server.port);
      const got: PubSubMessage[] = [];
      await subscriber.subscribe(["news"], (m) => got.push(m));
      const receivers = await publisher.call("PUBLISH", "news", "multiloop speaks RESP");
      // RESP3: the subscribed connection still runs ordinary commands.
      await subscriber.call("PING");
      console.log(`pub/sub: ${receivers as number} receiver(s), got`, got);
      await subscriber.close();
      await publisher.close();
    } finally {
      await server.stop();
    }
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
