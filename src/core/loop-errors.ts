/**
 * The errors of asyncio's loop state rules, with their fixed messages (API.md) and a hint that
 * says what to do instead.
 */
import { RuntimeError } from "./errors.js";

export function alreadyRunningError(): RuntimeError {
  return new RuntimeError("This event loop is already running", {
    code: "ERR_LOOP_RUNNING",
    hint: "Inside the loop, await the work (or createTask it) instead of running the loop again.",
  });
}

export function anotherLoopRunningError(): RuntimeError {
  return new RuntimeError("Cannot run the event loop while another loop is running", {
    code: "ERR_LOOP_ANOTHER_RUNNING",
    hint:
      "A thread runs one loop at a time. Await the work on the running loop, or run the other " +
      "loop in its own thread (spawnLoopThread).",
  });
}

export function closeRunningError(): RuntimeError {
  return new RuntimeError("Cannot close a running event loop", {
    code: "ERR_LOOP_RUNNING",
    hint: "Call loop.stop() and wait for runForever()/runUntilComplete() to return first.",
  });
}

export function stoppedEarlyError(): RuntimeError {
  return new RuntimeError("Event loop stopped before Future completed.", {
    code: "ERR_LOOP_STOPPED_EARLY",
    hint: "stop() was called before the awaitable given to runUntilComplete() finished.",
  });
}
