/**
 * The opt-in spinning mailbox (`loop.setMailboxSpin({ micros })`): a loop with nothing to run
 * polls shared memory for a while before it parks on its ports.
 *
 * Parking costs a round trip through Node's event loop and a 'message' event on the other side
 * (tens of microseconds); a thread that polls the shared pending count sees a posted call within
 * a fraction of a microsecond. The price is a core kept busy while it polls, so the bound is hard:
 * one spin never outlasts `micros`, nor the next timer the loop has due, and the runner parks as
 * usual after a spin that found nothing, so Node's I/O and a parked thread's idleness come back.
 *
 * What a spin watches: its own mailbox's pending count (calls other threads posted to this loop),
 * and the spin sources the thread layer registers here, one per channel that has calls waiting
 * for an answer (the replies of this thread's calls into other loops come back on those ports).
 */
import { checkKnownOptions, rangeError, readOptions, typeError } from "./validate.js";

/** Polls one port for a message without waiting; true when it handed one on. */
export type SpinSource = () => boolean;

/** Longest spin a loop accepts: past a second, parking is the right answer whatever the load. */
export const MAX_SPIN_MICROS = 1_000_000;

const sources = new Set<SpinSource>();

/** The thread layer registers a port to poll while calls wait on it (and removes it after). */
export function addSpinSource(source: SpinSource): void {
  sources.add(source);
}

export function removeSpinSource(source: SpinSource): void {
  sources.delete(source);
}

/** Reads `{ micros }` (or null: off) at the public boundary; 0 turns spinning off too. */
export function readSpinMicros(name: string, options: unknown): number {
  if (options === null || options === undefined) return 0;
  if (typeof options !== "object") throw typeError(name, "an object { micros } or null", options);
  // Read once into a plain object: a proxy or a throwing getter is a TypeError naming the option.
  const copy = readOptions(name, options);
  checkKnownOptions(name, copy, ["micros"], name);
  const micros = (copy as { micros?: unknown }).micros;
  if (typeof micros !== "number" || Number.isNaN(micros)) throw typeError(`${name}.micros`, "a number of microseconds", micros);
  if (!(micros >= 0 && micros <= MAX_SPIN_MICROS)) {
    throw rangeError(`${name}.micros`, `a number of microseconds from 0 to ${MAX_SPIN_MICROS}`, micros);
  }
  return micros;
}

/**
 * Polls until `inbox.pending()` or a spin source reports something, or the clock passes `untilMs`
 * (`performance.now()` scale). True when something arrived.
 */
export function spinUntil(untilMs: number, inbox: { pending(): boolean } | null): boolean {
  for (;;) {
    if (inbox !== null && inbox.pending()) return true;
    if (sources.size > 0) for (const source of sources) if (source()) return true;
    if (performance.now() >= untilMs) return false;
  }
}

/**
 * One spin of a loop with nothing ready: at most `micros`, never past the next timer (`next`, on
 * the `performance.now()` scale). True when a call or a reply arrived.
 */
export function spinBeforePark(micros: number, next: { readonly heapWhen: number } | undefined, inbox: { pending(): boolean } | null): boolean {
  const until = Math.min(performance.now() + micros / 1000, next === undefined ? Infinity : next.heapWhen);
  return spinUntil(until, inbox);
}
