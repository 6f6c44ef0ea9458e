/**
 * A plain worker thread (new Worker): first the asyncio mistake, then the fix.
 */
import { parentPort } from "node:worker_threads";
import { getEventLoop, newEventLoop, setEventLoop, sleep, currentThreadName } from "multiloop";
import { describeError } from "./describe-error.js";

const port = parentPort;
if (port === null) throw new Error("raw-worker.js runs in a worker thread");

try {
  getEventLoop();
  port.postMessage({ step: "getEventLoop()", outcome: "returned a loop (unexpected)" });
} catch (err) {
  port.postMessage({ step: "getEventLoop()", outcome: describeError(err) });
}

const loop = newEventLoop();
setEventLoop(loop);
const answer = await loop.runUntilComplete(async () => {
  await sleep(1);
  return `ran on ${currentThreadName()}'s own loop`;
});
loop.close();
port.postMessage({ step: "newEventLoop() + setEventLoop()", outcome: answer });
