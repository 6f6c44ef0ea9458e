/**
 * Raw MessagePort peer: echoes every message back on the port it was given (the baseline of a
 * cross-thread round trip, and of many calls in flight).
 */
import { workerData, type MessagePort } from "node:worker_threads";

const { port } = workerData as { port: MessagePort };
port.on("message", (message: unknown) => {
  port.postMessage(message);
});
