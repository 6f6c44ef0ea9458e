/**
 * The event-loop policy and loop lookup (asyncio 3.7-3.11 rules, per thread).
 *
 * Python keeps one process-wide policy whose loop slot is thread-local. In Node every worker has
 * its own copy of this module, so module state is already per thread: each thread has its own
 * policy and its own loop, and replacing the policy affects only the calling thread.
 */
import { isMainThread } from "node:worker_threads";
import { NoCurrentLoopError, NoRunningLoopError } from "./errors.js";
import { EventLoop } from "./event-loop.js";
import { pyStr } from "./format.js";
import { runningLoopOrNull, setEventLoopLookup } from "./frame.js";
import { currentThreadName } from "./thread-name.js";
import { className, describeValue, isInstance } from "./validate.js";

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return className(value);
  return typeof value;
}

function noCurrentLoop(): NoCurrentLoopError {
  return new NoCurrentLoopError(`There is no current event loop in thread ${pyStr(currentThreadName())}.`, {
    hint: isMainThread
      ? "Use run(main) (or a Runner), or create a loop with newEventLoop() and setEventLoop(loop)."
      : "A worker thread gets no loop by itself: call setEventLoop(newEventLoop()) in it first, " +
        "or use run(main) there, or start the thread with spawnLoopThread().",
  });
}

/**
 * The strategy behind `getEventLoop()`, `setEventLoop()` and `newEventLoop()`. Subclass it (or
 * `DefaultEventLoopPolicy`) and install it with `setEventLoopPolicy()`.
 */
export class EventLoopPolicy {
  /** The current loop of this thread. */
  getEventLoop(): EventLoop {
    throw new TypeError("EventLoopPolicy.getEventLoop() is not implemented; subclass DefaultEventLoopPolicy");
  }

  setEventLoop(loop: EventLoop | null): void {
    void loop;
    throw new TypeError("EventLoopPolicy.setEventLoop() is not implemented; subclass DefaultEventLoopPolicy");
  }

  newEventLoop(): EventLoop {
    throw new TypeError("EventLoopPolicy.newEventLoop() is not implemented; subclass DefaultEventLoopPolicy");
  }
}

let strict = ((): boolean => {
  const value = process.env["MULTILOOP_STRICT"];
  return value !== undefined && value !== "" && value !== "0";
})();

/**
 * Python 3.14 lookup rules: `getEventLoop()` never creates a loop, on the main thread either.
 * Also turned on by the environment variable `MULTILOOP_STRICT=1`.
 */
export function setStrict(on: boolean): void {
  if (typeof on !== "boolean") throw new TypeError(`Expected \`on\` to be a boolean, got ${describeValue(on)}`);
  strict = on;
}

/** Whether strict (Python 3.14) lookup rules are on. */
export function isStrict(): boolean {
  return strict;
}

/**
 * One loop per thread. `getEventLoop()` creates one by itself only on the main thread, and only as
 * long as `setEventLoop()` was never called there (asyncio 3.7-3.11; a DeprecationWarning as in
 * 3.12; never in strict mode, as in 3.14).
 */
export class DefaultEventLoopPolicy extends EventLoopPolicy {
  #loop: EventLoop | null = null;
  #setCalled = false;

  override getEventLoop(): EventLoop {
    if (this.#loop === null && !this.#setCalled && isMainThread && !strict) {
      // Every implicit creation warns, as in asyncio 3.12 (one per policy: the loop it sets stops
      // further creation until a new policy is installed).
      process.emitWarning("There is no current event loop", {
        type: "DeprecationWarning",
        code: "MULTILOOP_IMPLICIT_LOOP",
        detail:
          "getEventLoop() created a loop because none was set (asyncio 3.12 warns here, 3.14 refuses). " +
          "Prefer run(main) or a Runner, and getRunningLoop() inside; MULTILOOP_STRICT=1 enables the 3.14 rule.",
      });
      this.setEventLoop(this.newEventLoop());
    }
    if (this.#loop === null) throw noCurrentLoop();
    return this.#loop;
  }

  override setEventLoop(loop: EventLoop | null): void {
    this.#setCalled = true;
    if (loop !== null && !(loop instanceof EventLoop)) {
      throw new TypeError(`loop must be an instance of EventLoop or null, not ${pyStr(typeName(loop))}`);
    }
    this.#loop = loop;
  }

  override newEventLoop(): EventLoop {
    return new EventLoop();
  }
}

let policy: EventLoopPolicy | null = null;

/** The thread's policy, created on first use. */
export function getEventLoopPolicy(): EventLoopPolicy {
  return (policy ??= new DefaultEventLoopPolicy());
}

/** Installs a policy for this thread; null goes back to a fresh default policy. */
export function setEventLoopPolicy(p: EventLoopPolicy | null): void {
  if (p !== null && !isInstance(p, EventLoopPolicy)) {
    throw new TypeError(`policy must be an instance of EventLoopPolicy or null, not ${pyStr(typeName(p))}`);
  }
  policy = p;
}

/**
 * The loop running the current code if there is one; else the policy's loop for this thread, which
 * on the main thread is created on first use (see `DefaultEventLoopPolicy`). In a worker, and after
 * `run()`, it throws `RuntimeError("There is no current event loop in thread '<name>'.")`.
 */
export function getEventLoop(): EventLoop {
  return runningLoopOrNull() ?? getEventLoopPolicy().getEventLoop();
}

/** The loop running the current code; throws `RuntimeError("no running event loop")` elsewhere. */
export function getRunningLoop(): EventLoop {
  const loop = runningLoopOrNull();
  if (loop === null) throw new NoRunningLoopError();
  return loop;
}

/** A new loop from the policy; it is not made current (see `setEventLoop`). */
export function newEventLoop(): EventLoop {
  return getEventLoopPolicy().newEventLoop();
}

/** Makes `loop` this thread's current loop (null: none; this also stops auto-creation for good). */
export function setEventLoop(loop: EventLoop | null): void {
  getEventLoopPolicy().setEventLoop(loop);
}

setEventLoopLookup(getEventLoop);

export { currentThreadName };
