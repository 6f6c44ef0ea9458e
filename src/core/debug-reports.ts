/**
 * What debug mode reports about callbacks (asyncio's `_run_once` debug branch and its checks at
 * scheduling time): slow callbacks and task steps, callbacks that return a promise nobody
 * awaits, coroutine functions handed to `callSoon`. Outside debug mode none of this runs.
 */
import { types } from "node:util";
import { Handle, describeRunnable, type Runnable } from "./handle.js";
import { channels, debugThread, logger } from "./log.js";
import { kTaskOf } from "./symbols.js";
import { isThenable } from "./validate.js";
import type { ExceptionContext } from "./exception-handler.js";
import type { Future } from "./future.js";

/** `MULTILOOP_DEBUG=1` (anything but empty or 0) starts every new loop in debug mode. */
export function debugFromEnvironment(): boolean {
  const value = process.env["MULTILOOP_DEBUG"];
  return value !== undefined && value !== "" && value !== "0";
}

/** asyncio refuses coroutine functions in `call_soon` & co. in debug mode: so do we. */
export function checkNotCoroutineFunction(method: string, cb: unknown): void {
  // Async functions and async generator functions; `types` cannot be trapped (`cb` may be a
  // revoked proxy, or have a throwing `constructor` getter).
  if (types.isAsyncFunction(cb)) {
    throw new TypeError(`coroutines cannot be used with ${method}(); use createTask() to run an async function`);
  }
}

/**
 * The callback each loop of this thread runs now, in debug mode: the default exception handler
 * says where it was scheduled ("Handle created at") when a report has no traceback of its own.
 */
const running = new WeakMap<object, Runnable>();

/** Before one callback in debug mode: remember it; returns the time it starts. */
export function callbackStarts(loop: object, handle: Runnable): number {
  running.set(loop, handle);
  return performance.now();
}

/** Where `handle` was scheduled, if debug mode recorded it (handles, and tasks for their steps). */
function scheduledAt(handle: Runnable): string | undefined {
  const stack = (handle as { sourceTraceback?: unknown }).sourceTraceback;
  return typeof stack === "string" ? stack : undefined;
}

/** asyncio's default handler adds `handle_traceback`: where the callback running now was scheduled. */
export function withHandleTraceback(loop: object, context: ExceptionContext): ExceptionContext {
  if (context.sourceTraceback !== undefined) return context;
  const current = running.get(loop);
  const stack = current === undefined ? undefined : scheduledAt(current);
  return stack === undefined ? context : { ...context, handleTraceback: stack };
}

/**
 * After one callback in debug mode (or with NODE_DEBUG=multiloop, which only reports slow ones, to
 * the debug log): report it if it was slow, or if it returned a promise.
 */
export function reportAfterCallback(
  loop: {
    readonly slowCallbackDuration: number;
    getDebug(): boolean;
    callExceptionHandler(context: ExceptionContext): void;
  },
  handle: Runnable,
  returned: unknown,
  started: number,
): void {
  running.delete(loop);
  const duration = performance.now() - started;
  const debugMode = loop.getDebug();
  if (duration >= loop.slowCallbackDuration) {
    const what = describeRunnable(handle);
    if (debugMode) logger.warning(`Executing ${what} took ${duration.toFixed(3)} ms`);
    debugThread("slow callback: executing %s took %s ms", what, duration.toFixed(3));
    if (channels.slowCallback.hasSubscribers) {
      const task = handle[kTaskOf] ?? null;
      channels.slowCallback.publish({ loop, handle, task, duration, description: what });
    }
  }
  if (debugMode && handle instanceof Handle && isThenable(returned)) {
    loop.callExceptionHandler({
      message:
        `Callback ${handle.toString()} returned a promise, which the loop does not await ` +
        "(did you mean createTask()?)",
      handle,
    });
  }
}

/**
 * Failed futures nobody looked at yet, reported at `loop.close()` in debug mode (deterministic,
 * unlike the report when a future is garbage-collected).
 */
export class UnretrievedFutures {
  #refs: Set<WeakRef<Future<unknown>>> | null = null;

  add(fut: Future<unknown>): void {
    (this.#refs ??= new Set()).add(new WeakRef(fut));
  }

  report(report: (context: ExceptionContext) => void): void {
    const refs = this.#refs;
    if (refs === null) return;
    this.#refs = null;
    for (const ref of refs) {
      const fut = ref.deref();
      if (fut === undefined || !fut.hasUnretrievedException()) continue;
      const exception = fut.exception();
      // The class name, as the report made at garbage collection (and asyncio's) says it.
      debugThread("%s exception was never retrieved: %s", fut.constructor.name, fut.toString());
      report({ message: `${fut.constructor.name} exception was never retrieved`, exception, future: fut });
    }
  }
}
