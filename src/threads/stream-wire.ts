/**
 * The wire format of a stream across threads: one MessagePort per stream, between the producer
 * (stream-producer.ts, in the thread whose iterable is read) and the consumer (stream-consumer.ts,
 * in the thread that iterates). Both sides import only this file to agree on it.
 *
 * Credit flow, through a small shared block (`newCreditBlock`) rather than messages: the consumer
 * counts the items it took in `TAKEN`; the producer reads it and may produce at most the window
 * (`highWaterMark`) beyond it. Its `yield` does not return while it is that far ahead: it marks
 * itself `WAITING`, and the consumer, once it took a few more (or ran dry), clears the mark and
 * sends a one-number wake-up message. A consumer that keeps up costs no message back at all; one
 * that stops reading holds at most `highWaterMark` items, and the producer is never further ahead.
 * The counters wrap around at 2^32 (differences are taken modulo 2^32), so the window is capped
 * at MAX_WINDOW.
 */
import { types } from "node:util";
import { checkSignal } from "../core/abort.js";
import { checkKnownOptions, rangeError, readOptions, typeError } from "../core/validate.js";

// Producer -> consumer: [kind, items | 0, special table | 0, payload]. Items travel in batches,
// one message per loop iteration of the producer (or per window, when the credit runs out); the
// last items ride with the message that ends the stream.
export const S_ITEMS = 0;
export const S_DONE = 1; // the iterable finished
export const S_ERROR = 2; // payload: the error envelope of what the producer threw
export const S_CANCELLED = 3; // payload: the cancel message (the producing task was cancelled)
export const S_CLOSED = 4; // the consumer asked to close, and the producer's `finally` has run
export type StreamKind = typeof S_ITEMS | typeof S_DONE | typeof S_ERROR | typeof S_CANCELLED | typeof S_CLOSED;
export type StreamMessage = [StreamKind, unknown[] | 0, unknown, unknown];

// Consumer -> producer: C_WAKE (look at the credit block again; the first one starts a client
// stream), C_CLOSE (close the producer).
export const C_CLOSE = 0;
export const C_WAKE = 1;

// Slots of the credit block (an Int32Array on a SharedArrayBuffer).
export const WINDOW = 0;
export const TAKEN = 1;
export const WAITING = 2;
const BLOCK_SLOTS = 3;
/** The largest window the counters can express (larger ones are as good as unbounded). */
export const MAX_WINDOW = 2 ** 30;

/** A credit block for a window of `highWaterMark` items. */
export function newCreditBlock(highWaterMark: number): Int32Array {
  const block = new Int32Array(new SharedArrayBuffer(BLOCK_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  block[WINDOW] = Math.min(highWaterMark, MAX_WINDOW);
  return block;
}

export function isCreditBlock(value: unknown): value is Int32Array {
  return types.isInt32Array(value) && types.isSharedArrayBuffer(value.buffer) && value.length === BLOCK_SLOTS && (value[WINDOW] as number) > 0;
}

/** The window when none is given. */
export const DEFAULT_HIGH_WATER_MARK = 16;

/** The options of `streamWith`. */
export interface StreamOptions {
  /**
   * At most this many items are produced ahead of what the consumer took; the producer's `yield`
   * waits beyond that. A positive safe integer.
   * @default 16
   */
  highWaterMark?: number | undefined;
  /**
   * Ends the stream: the producer is closed (its `finally` runs in its thread), and the
   * consumer's pending and next `next()` reject with the signal's reason.
   */
  signal?: AbortSignal | undefined;
}

/** `streamWith`'s options, checked (a TypeError/RangeError naming the option). */
export interface CheckedStreamOptions {
  highWaterMark: number;
  signal: AbortSignal | undefined;
}

export function checkStreamOptions(what: string, options: StreamOptions | undefined): CheckedStreamOptions {
  const opts = readOptions("options", options);
  checkKnownOptions(what, opts, ["highWaterMark", "signal"]);
  const hwm = opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
  if (typeof hwm !== "number") throw typeError("options.highWaterMark", "a positive safe integer", hwm);
  if (!Number.isSafeInteger(hwm) || hwm < 1) {
    throw rangeError("options.highWaterMark", "a positive safe integer", hwm);
  }
  checkSignal("options.signal", opts.signal);
  return { highWaterMark: hwm, signal: opts.signal };
}

/** Whether `value` can be streamed: it has `Symbol.asyncIterator`. */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}
