/**
 * Worker entry: the frame server on this thread's own loop. Posts `{ port }` once listening;
 * on the message "stop" it closes (and its connections), posts `{ stats }` and returns, which
 * lets the thread exit.
 */
import type { AddressInfo } from "node:net";
import { parentPort } from "node:worker_threads";
import { getRunningLoop, run } from "multiloop";
import { reverseHandler, serveFrames, type ConnectionStats } from "./protocol.js";

const port = parentPort;
if (port === null) throw new Error("server-thread.js runs as a worker thread");

await run(async () => {
  const loop = getRunningLoop();
  const stats: ConnectionStats[] = [];
  const server = await serveFrames(loop, reverseHandler, "127.0.0.1", 0, stats);
  const stop = loop.createFuture<void>();
  // A Node event outside the loop: setResult wakes the loop, like any I/O.
  const onMessage = (msg: unknown): void => {
    if (msg === "stop" && !stop.done()) stop.setResult(undefined);
  };
  port.on("message", onMessage);
  port.postMessage({ port: (server.sockets[0]?.address() as AddressInfo).port });
  try {
    await stop;
  } finally {
    port.off("message", onMessage);
    server.close();
    server.closeClients();
    await server.waitClosed();
  }
  port.postMessage({ stats });
});
