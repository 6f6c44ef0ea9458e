/**
 * `{ signal }` options: an AbortSignal that ends a wait the way a cancel of that call would (the
 * waiter leaves, takes nothing, holds nothing), except that the wait rejects with the signal's
 * reason (an `AbortError` DOMException by default), as Node's own APIs do.
 */
import type { Future } from "./future.js";
import { typeError } from "./validate.js";

/** The options every wait across threads or on a pool takes. */
export interface SignalOptions {
  /**
   * Abort the wait: it rejects with `signal.reason` (an `AbortError` unless the signal was aborted
   * with a reason of its own) and keeps nothing, as a cancel would. An already aborted signal
   * rejects at once, before anything is taken or sent.
   */
  signal?: AbortSignal | undefined;
}

/** `signal` is absent or an AbortSignal. */
export function checkSignal(name: string, value: unknown): asserts value is AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) throw typeError(name, "an AbortSignal", value);
}

/** Rejects `fut` with the signal's reason when it aborts (unless it is done by then). Returns the teardown. */
export function rejectOnAbort(fut: Future<unknown>, signal: AbortSignal | undefined): (() => void) | null {
  if (signal === undefined) return null;
  const onAbort = (): void => {
    if (!fut.done()) fut.setException(signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  return () => {
    signal.removeEventListener("abort", onAbort);
  };
}
