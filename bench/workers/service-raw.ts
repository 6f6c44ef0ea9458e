/**
 * Variant (b) of the service benchmark: a plain worker thread with a hand-written postMessage
 * protocol, as a service author writes it without a library: `{ id, rounds }` in, `{ id, result }`
 * out, many jobs in flight at once.
 */
import { parentPort, threadId } from "node:worker_threads";
import { setTimeout as sleep } from "node:timers/promises";
import { spin } from "../service-job.js";

const port = parentPort;
if (port === null) throw new Error("service-raw.js runs as a worker thread");
const thread = `raw-${threadId}`;

async function handle(id: number, rounds: number): Promise<void> {
  const checksum = spin(rounds);
  await sleep(1);
  port?.postMessage({ id, result: { id, checksum, thread } });
}

port.on("message", (message: { id: number; rounds: number }) => {
  void handle(message.id, message.rounds);
});
