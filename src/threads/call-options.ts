/**
 * `callWith(options, name, ...args)`: a call into another thread's loop that an AbortSignal or a
 * timeout can end. Either one cancels the remote task (which sees `CancelledError` at its current
 * await, as with `future.cancel()`), and the call rejects with the signal's reason or a
 * `TimeoutError`. Shared by every caller of exposed functions (`LoopThread.callWith`, ...).
 */
import { TimeoutError } from "../core/errors.js";
import { checkSignal } from "../core/abort.js";
import { checkOptionalTime, typeError } from "../core/validate.js";
import type { ConcurrentFuture } from "./concurrent-future.js";
import type { CallOptions } from "./exposed-types.js";

/** Checks `callWith`'s options; throws the signal's reason if it is already aborted (nothing is sent). */
export function checkCallOptions(options: CallOptions): void {
  if (typeof options !== "object" || options === null) throw typeError("options", "an options object", options);
  checkOptionalTime("options.timeout", options.timeout);
  checkSignal("options.signal", options.signal);
  options.signal?.throwIfAborted();
}

/**
 * Awaits the call `cf` of `target` in thread `threadName` under `options` (checked already). A
 * result that arrived before the abort or the deadline is kept: there is nothing left to cancel.
 */
export async function awaitCall<T>(cf: ConcurrentFuture<T>, options: CallOptions, target: string, threadName: string): Promise<T> {
  const { signal } = options;
  const timeout = options.timeout ?? null;
  if (signal === undefined && timeout === null) return await cf;
  let ended: "abort" | "timeout" | null = null;
  const onAbort = (): void => {
    if (ended === null && cf.cancel()) ended = "abort";
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer =
    timeout === null
      ? undefined
      : setTimeout(() => {
          if (ended === null && cf.cancel(`timed out after ${timeout} ms`)) ended = "timeout";
        }, timeout);
  try {
    return await cf;
  } catch (err) {
    if (ended === "abort") throw (signal as AbortSignal).reason;
    if (ended === "timeout") {
      throw new TimeoutError(`Call of '${target}' in thread '${threadName}' timed out after ${timeout} ms`, {
        hint: "The remote task was cancelled. Raise `timeout`, or make the remote function faster.",
      });
    }
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
