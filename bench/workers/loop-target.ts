/**
 * The module a multiloop loop thread runs in the cross-thread scenarios (given to
 * `spawnLoopThread({ module })`, which exposes its exported functions by name on the thread's loop).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { getRunningLoop, type Future } from "multiloop";
import { feature, type ThreadQueueClass, type ThreadQueueLike } from "../features.js";

/** Round trips and calls in flight. */
export function echo(value: number): number {
  return value;
}

let ticks = 0;
let wanted = Infinity;
let reached: Future<number> | null = null;

/** One-way calls (`callSoonThreadsafe`): each counts. */
export function tick(): void {
  if (++ticks >= wanted && reached !== null) {
    reached.setResult(ticks);
    reached = null;
    wanted = Infinity;
  }
}

/**
 * Resolves once `total` ticks have run since the thread started. The count is cumulative, so the
 * answer is right whether this call is handled before or after the ticks sent ahead of it (a
 * loop may schedule a task's first step after callbacks that arrived in the same batch).
 */
export function waitForTicks(total: number): Future<number> {
  const future = getRunningLoop().createFuture<number>();
  if (ticks >= total) {
    future.setResult(ticks);
  } else {
    wanted = total;
    reached = future;
  }
  return future;
}

/** Takes `n` items from a ThreadQueue another thread fills; returns their sum. */
export async function drainQueue(queue: unknown, n: number): Promise<number> {
  const ThreadQueue = feature<ThreadQueueClass & { from(data: unknown): ThreadQueueLike<number> }>("ThreadQueue");
  if (ThreadQueue === null) throw new Error("multiloop.ThreadQueue is not available in this build");
  const q = ThreadQueue.from(queue);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await q.get();
  return sum;
}

/** Receives a value and drops it (the encoding scenario measures the sending side). */
export function sink(_value: unknown): void {
  // Nothing: arriving is the work.
}

/** Reads a handle another thread sent (the soak scenario passes one with some calls). */
export function touch(handle: { readonly threadName: string }): string {
  return handle.threadName;
}

let gc: (() => void) | null = null;

/**
 * A full collection in this thread (the soak scenario's readings). Workers refuse --expose-gc in
 * their execArgv; the flag set at run time gives a fresh context its gc().
 */
export function collect(): void {
  if (gc === null) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
  gc();
}

/** This thread's CPU time so far in microseconds (user + system), or -1 where Node cannot tell (before 22). */
export function cpuMicros(): number {
  const usage = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.();
  return usage === undefined ? -1 : usage.user + usage.system;
}
