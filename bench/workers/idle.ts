/** A raw worker that does nothing but stay alive: the baseline of an idle loop thread's memory. */
import { parentPort } from "node:worker_threads";

if (parentPort === null) throw new Error("idle.js must run in a worker");
// A listener on the parent port keeps the thread alive until it is terminated.
parentPort.on("message", () => {});
parentPort.postMessage("ready");
