/**
 * Small helpers shared by the conformance tests. No mocks: everything runs on a real loop.
 */
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
