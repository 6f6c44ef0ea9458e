/**
 * `installDumpOnSignal`: `kill -USR2 <pid>` prints what every loop is doing to stderr.
 */
import { constants } from "node:os";
import { isMainThread } from "node:worker_threads";
import { RuntimeError } from "../core/errors.js";
import { rangeError, typeError } from "../core/validate.js";
import { formatThreads } from "./format-threads.js";
import { snapshotThreads } from "./thread-snapshot.js";

/** Signals a process cannot catch, and SIGUSR1, which Node keeps for its inspector. */
const UNCATCHABLE = new Set(["SIGKILL", "SIGSTOP", "SIGUSR1"]);

/**
 * On `signal` (default SIGUSR2), takes `snapshotThreads()` and writes `formatThreads` of it to
 * stderr. Main thread only (signals are delivered there). Returns a function that removes the
 * handler again (idempotent). The handler does not keep the process alive.
 *
 * @example
 * const uninstall = installDumpOnSignal("SIGUSR2"); // then: kill -USR2 <pid>
 * // ... at shutdown
 * uninstall();
 */
export function installDumpOnSignal(signal: NodeJS.Signals = "SIGUSR2"): () => void {
  if (typeof signal !== "string") throw typeError("signal", "a signal name such as \"SIGUSR2\"", signal);
  if (!Object.hasOwn(constants.signals, signal) || UNCATCHABLE.has(signal)) {
    throw rangeError("signal", "a signal name a process can catch, such as \"SIGUSR2\" (not SIGKILL, SIGSTOP or SIGUSR1)", signal);
  }
  if (!isMainThread) {
    throw new RuntimeError("installDumpOnSignal() works in the main thread only", {
      hint: "Signals are delivered to the main thread; install it there (a snapshot reaches every thread from it).",
    });
  }
  const onSignal = (): void => {
    void snapshotThreads().then(
      (snapshot) => {
        process.stderr.write(`multiloop: ${signal} at ${snapshot.takenAt}\n${formatThreads(snapshot)}\n`);
      },
      (err: unknown) => {
        process.stderr.write(`multiloop: ${signal}: the snapshot failed: ${String(err)}\n`);
      },
    );
  };
  process.on(signal, onSignal);
  return () => {
    process.off(signal, onSignal);
  };
}
