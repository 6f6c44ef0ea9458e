/**
 * What every copy of a handle learns when the loop's thread dies: the real exit code.
 *
 * Only the thread that spawned a loop thread sees its Worker's 'exit' event, so only it knows the
 * exit code. It publishes it in the loop's control block: the code first, then `STATE = DEAD`,
 * then a notify on the state word (`publishDeath`). Every other copy learns of the death from its
 * port closing, which can come before the owner's 'exit' event; it waits for the publication
 * (`awaitExitCode`) instead of reading a code that is not written yet (which read 0). A copy
 * whose thread has no owner to publish (a loop run by hand in a plain Worker) gives up after a
 * bounded wait and reports the exit code as unknown (null): nothing hangs.
 */
import { ThreadExitError } from "../core/errors.js";
import { CLOSED, DEAD, EXIT_CODE, STATE } from "../core/mailbox.js";
import { waitAsync } from "./shared-signal.js";

/** How long a copy waits for the owner to publish the exit code before reporting it as unknown. */
export const EXIT_CODE_WAIT_MS = 2_000;

/** What the owner of a loop thread knows when it dies (see loop-thread.ts). */
export interface DeathInfo {
  exitCode: number | null;
  cause?: unknown;
}

/** The owner's side: the thread exited with `code`. */
export function publishDeath(control: Int32Array, code: number): void {
  Atomics.store(control, EXIT_CODE, code);
  if (Atomics.load(control, STATE) !== CLOSED) Atomics.store(control, STATE, DEAD);
  Atomics.notify(control, STATE);
}

/** The exit code if the owner published it already, else null. */
export function knownExitCode(control: Int32Array): number | null {
  return Atomics.load(control, STATE) === DEAD ? Atomics.load(control, EXIT_CODE) : null;
}

/**
 * Waits (without blocking) until the owner published the exit code, at most `timeoutMs`; null
 * when the loop closed instead, or no code came in time. A ref'd timer keeps the thread alive
 * meanwhile: `Atomics.waitAsync` alone does not (nodejs/node#44729), and the callers have futures
 * to reject.
 */
export async function awaitExitCode(control: Int32Array, timeoutMs = EXIT_CODE_WAIT_MS): Promise<number | null> {
  const deadline = performance.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<"timed-out">((resolve) => {
    timer = setTimeout(resolve, timeoutMs, "timed-out");
  });
  try {
    for (;;) {
      const state = Atomics.load(control, STATE);
      if (state === DEAD) return Atomics.load(control, EXIT_CODE);
      if (state === CLOSED) return null;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return null;
      const wait = waitAsync(control, STATE, state, remaining);
      const outcome = wait.async ? await Promise.race([wait.value, expired]) : wait.value;
      if (outcome === "timed-out") return null;
    }
  } finally {
    clearTimeout(timer);
  }
}

/** The error for calls pending on a dead thread: with the owner's info, or what the block says. */
export function deathError(threadName: string, control: Int32Array, info: DeathInfo | null): ThreadExitError {
  const exitCode = info === null ? knownExitCode(control) : info.exitCode;
  // One error object per pending call: callers may annotate theirs.
  return new ThreadExitError(threadName, exitCode, info?.cause === undefined ? {} : { cause: info.cause });
}

/**
 * What a copy whose port closed learns about the death: the owner's own copy has `info` (exit
 * code and cause); the others wait for the published code.
 */
export async function learnDeath(control: Int32Array, info: Promise<DeathInfo> | null): Promise<DeathInfo> {
  if (info !== null) return info;
  return { exitCode: await awaitExitCode(control) };
}
