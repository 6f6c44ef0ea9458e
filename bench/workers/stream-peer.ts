/**
 * Loop-thread side of bench/scenarios/stream.ts: the producer thread exposes `numbers`, the
 * consumer thread `drain`, which streams it from the producer's handle.
 */
import { LoopHandle } from "multiloop";
import type * as Peer from "./stream-peer.js";

/** `n` small integers, as fast as the consumer takes them. */
// eslint-disable-next-line @typescript-eslint/require-await -- nothing to wait for: the stream's own speed is measured
export async function* numbers(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

/** Streams `numbers(n)` from `producer` with a window of `highWaterMark`; returns the count and sum. */
export async function drain(producer: LoopHandle, n: number, highWaterMark: number): Promise<[number, number]> {
  const handle = LoopHandle.from<typeof Peer>(producer);
  let count = 0;
  let sum = 0;
  for await (const item of handle.streamWith({ highWaterMark }, "numbers", n)) {
    count++;
    sum += item;
  }
  return [count, sum];
}
