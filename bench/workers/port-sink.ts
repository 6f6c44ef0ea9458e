/**
 * Raw MessagePort sink for one-way throughput: every number (or every number of an array, for the
 * batched variant) goes through a handler call, as a dispatched callback would; the string "flush"
 * answers with how many items arrived since the last flush. Messages on one port arrive in order,
 * so the answer means every item before it was handled.
 */
import { workerData, type MessagePort } from "node:worker_threads";

const { port } = workerData as { port: MessagePort };
let count = 0;
let sum = 0;

function handle(item: number): void {
  count++;
  sum += item;
}

port.on("message", (message: unknown) => {
  if (typeof message === "number") {
    handle(message);
  } else if (Array.isArray(message)) {
    for (const item of message as number[]) handle(item);
  } else if (message === "flush") {
    port.postMessage({ count, sum });
    count = 0;
    sum = 0;
  }
});
