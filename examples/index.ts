/**
 * `npm start`: every demo, one after another (each also runs on its own:
 * `node dist/examples/<name>.js`).
 */
import { execFileSync } from "node:child_process";
import { main as threadErrors } from "./thread-errors.js";
import { main as raceCondition } from "./race-condition.js";
import { main as pipeline } from "./pipeline.js";
import { main as threadPipeline } from "./thread-pipeline.js";
import { main as binaryProtocol } from "./binary-protocol/index.js";
import { main as redis } from "./redis/index.js";
import { main as service } from "./service/index.js";

function section(title: string): void {
  console.log(`\n${"=".repeat(78)}\n${title}\n${"=".repeat(78)}`);
}

function hasRedisServer(): boolean {
  try {
    execFileSync(process.env["MULTILOOP_REDIS_SERVER"] ?? "redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

console.log("multiloop demos (sources in examples/)");

section("Event loops and worker threads: the errors, and what multiloop does about them");
await threadErrors();

section("A race condition, shown and fixed with Lock");
await raceCondition();

section("Producer/consumer over Queue, with join()");
await pipeline();

section("The same pipeline across loop threads, over a ThreadQueue (backpressure visible)");
await threadPipeline();

section("A binary protocol of our own: server and clients on separate loop threads");
await binaryProtocol();

section("A multithreaded HTTP/1.1 JSON service on a pool of loop threads (both shapes)");
await service();

section("A Redis client on Protocol/Transport, against a real redis-server");
if (hasRedisServer()) await redis();
else console.log("skipped: redis-server is not installed (sudo apt-get install redis-server, or set MULTILOOP_REDIS_SERVER)");

console.log("\nAll demos done.");
