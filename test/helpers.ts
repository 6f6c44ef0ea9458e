/**
 * Helpers shared by the tests. No mocks: everything runs on a real loop, real workers.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Worker } from "node:worker_threads";
import { expect } from "vitest";
import { newEventLoop, sleep, type EventLoop, type ExceptionContext } from "multiloop";

/** Routes the loop's exception handler into an array the test can inspect. */
export function captureExceptions(loop: EventLoop): ExceptionContext[] {
  const seen: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => {
    seen.push(context);
  });
  return seen;
}

/** Runs `body` as a task on a fresh loop (not the thread's current one), then closes the loop. */
export async function onNewLoop<T>(body: (loop: EventLoop) => Promise<T>): Promise<T> {
  const loop = newEventLoop();
  try {
    return await loop.runUntilComplete(() => body(loop));
  } finally {
    loop.close();
  }
}

/** Awaits `work` and returns what it threw; fails the test if it did not throw. */
export async function caught(work: PromiseLike<unknown> | (() => PromiseLike<unknown>)): Promise<unknown> {
  try {
    await (typeof work === "function" ? work() : work);
  } catch (err) {
    return err;
  }
  expect.fail("expected a rejection");
}

/** Calls `fn` and returns what it threw; fails the test if it did not throw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  expect.fail("expected an exception");
}

export const fixture = (name: string): URL => new URL(`../dist/test/fixtures/${name}.js`, import.meta.url);

/** Runs a fixture worker until it exits; returns the messages it posted and its exit code. */
export function runWorker(
  name: string,
  workerData: unknown,
  options: { name?: string } = {},
): Promise<{ messages: unknown[]; exitCode: number; threadId: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fixture(name), { workerData, ...options });
    // threadId reads -1 once the worker has exited.
    const threadId = worker.threadId;
    const messages: unknown[] = [];
    worker.on("message", (m: unknown) => messages.push(m));
    worker.on("error", reject);
    worker.on("exit", (exitCode) => {
      resolve({ messages, exitCode, threadId });
    });
  });
}

/**
 * CPython's `test_utils.run_briefly(loop)`: runs a stopped loop until a task that does nothing is
 * done, which is two iterations (its step, then the stop its completion schedules).
 */
export async function runBriefly(loop: EventLoop): Promise<void> {
  await loop.runUntilComplete(async () => {});
}

/**
 * Full garbage collections until `until()` holds (at most `rounds`), yielding to Node and the loop
 * in between: FinalizationRegistry callbacks run in a later macrotask. Call it from a task.
 */
export async function collectGarbage(until: () => boolean, rounds = 20): Promise<void> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  for (let round = 0; round < rounds && !until(); round++) {
    gc();
    await new Promise<void>((resolve) => setImmediate(resolve));
    await sleep(0);
  }
}

/** A thenable that is not a Promise (CPython's awaitables that are neither coroutines nor futures). */
export function thenable<T>(value: T): PromiseLike<T> {
  return {
    then<R1 = T, R2 = never>(
      onFulfilled?: ((v: T) => R1 | PromiseLike<R1>) | null,
      onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
    ): PromiseLike<R1 | R2> {
      return Promise.resolve(value).then(onFulfilled, onRejected);
    },
  };
}

/**
 * What this Node does with `reusePort` on net.Server.listen: 22.12+ and 23.1+ honour it; 20 and
 * older 22s ignore it (multiloop refuses it there, see src/net/reuse-port.ts).
 */
export function nodeHonoursReusePort(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
