/**
 * Helpers shared by the tests. No mocks: everything runs on a real loop, real workers.
 */
import { Worker } from "node:worker_threads";
import { expect } from "vitest";
import { newEventLoop, type EventLoop, type ExceptionContext } from "multiloop";

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
