/**
 * `loop.runUntilComplete(aw)` once the loop's state was checked: wraps `aw` in a task unless it
 * is a future of this loop, runs the loop until it is done, and returns its result.
 */
import type { Awaitable, EventLoop } from "./event-loop.js";
import { Future } from "./future.js";
import { stoppedEarlyError } from "./loop-errors.js";
import { kLogDestroyPending } from "./symbols.js";
import { isThenable, typeError } from "./validate.js";

const stopLoopWhenDone = (fut: Future<unknown>): void => {
  fut.getLoop().stop();
};

export async function runUntilDone<T>(loop: EventLoop, aw: Awaitable<T> | (() => T | PromiseLike<T>)): Promise<T> {
  let fut: Future<T>;
  const isNew = !(aw instanceof Future);
  if (aw instanceof Future) {
    if (aw.getLoop() !== loop) {
      throw new RangeError("The future belongs to a different loop than the one specified as the loop argument");
    }
    fut = aw;
  } else if (typeof aw === "function" || isThenable(aw)) {
    const task = loop.createTask(aw);
    // An aborted run must not report its own task as "destroyed while pending".
    task[kLogDestroyPending] = false;
    fut = task;
  } else {
    throw typeError("aw", "a Future, a Task, a promise or a function returning one", aw);
  }
  fut.addDoneCallback(stopLoopWhenDone);
  try {
    await loop.runForever();
  } catch (err) {
    if (isNew && fut.done() && !fut.cancelled()) fut.exception();
    throw err;
  } finally {
    fut.removeDoneCallback(stopLoopWhenDone);
  }
  if (!fut.done()) throw stoppedEarlyError();
  return fut.result();
}
