/**
 * A plain worker for the raw postMessage baselines of bench/scenarios/thread-queue.ts. It gets one
 * end of a MessageChannel in `workerData.port`; the main thread tells it what to do:
 * - `{ cmd: "expect", n }`: count incoming items and answer "done" once `n` arrived (a batch of
 *   k items counts k);
 * - `{ cmd: "send", n, batch, objects }`: post `n` items, one per message or in arrays of `batch`.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";

const control = parentPort;
if (control === null) throw new Error("raw-post-peer must run in a worker thread");
const port = (workerData as { port: MessagePort }).port;

let expected = 0;
let received = 0;
port.on("message", (message: unknown) => {
  received += Array.isArray(message) ? message.length : 1;
  if (received === expected) control.postMessage("done");
});

control.on("message", (message: { cmd: "expect" | "send" | "exit"; n: number; batch: number; objects: boolean }) => {
  if (message.cmd === "exit") {
    port.close();
    control.close();
    return;
  }
  if (message.cmd === "expect") {
    expected = message.n;
    received = 0;
    control.postMessage("ready");
    return;
  }
  const { n, batch, objects } = message;
  const item = (i: number): unknown => (objects ? { id: i, name: "item" } : i);
  if (batch <= 1) {
    for (let i = 0; i < n; i++) port.postMessage(item(i));
  } else {
    for (let i = 0; i < n; i += batch) {
      const items: unknown[] = [];
      for (let j = i; j < Math.min(n, i + batch); j++) items.push(item(j));
      port.postMessage(items);
    }
  }
});
