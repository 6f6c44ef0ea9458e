/**
 * Entry point of a loop thread (see spawnLoopThread in src/threads/loop-thread.ts). Imports the library
 * through its public entry, like a user: makes its own loop (auto-creation is main-thread only),
 * imports the user's module, exposes its functions, answers the readiness handshake, runs until
 * stopped, then shuts down like `run()` does and lets the thread exit by itself.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Runner, currentThreadName, newEventLoop, setEventLoop, serializeError } from "multiloop";

const data = workerData as { module: string | null; spin: number };
const port = parentPort;
if (port === null) throw new Error("workers/loop-thread.js must run in a worker thread");

const loop = newEventLoop();
setEventLoop(loop);
if (data.spin > 0) loop.setMailboxSpin({ micros: data.spin });

let ready = false;
try {
  if (data.module !== null) {
    const mod = (await import(data.module)) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value === "function") loop.expose(name, value as (...args: never[]) => unknown);
    }
  }
  const shared = loop.handle.share();
  port.postMessage({ kind: "ready", handle: shared.data, threadName: currentThreadName() }, shared.transferList);
  ready = true;
} catch (err) {
  port.postMessage({ kind: "failed", error: serializeError(err) });
}

if (ready) {
  const runner = new Runner({ loopFactory: () => loop });
  runner.getLoop();
  try {
    await loop.runForever();
  } finally {
    await runner.close();
    setEventLoop(null);
  }
}
