/**
 * What the loop does with errors nobody else could handle (asyncio's exception handler): the
 * context a report carries, asyncio's default format, and calling a custom handler safely.
 */
import { runInContext, type Context } from "./context.js";
import { Future, isLoop } from "./future.js";
import { EMPTY_DATA, state, type Frame } from "./frame.js";
import { Handle, describeRunnable, kRun, type Runnable } from "./handle.js";
import { logger } from "./log.js";
import { kTaskOf } from "./symbols.js";
import { Task } from "./task.js";
import { types } from "node:util";
import { describeValue, isInstance, isThenable, typeError } from "./validate.js";
import { safeGet, safeInspect, safeString } from "./format.js";
// A type only: the handler is given the loop (the model's circle, see scripts/check-layers.ts).
import type { EventLoop } from "./event-loop.js";

/** What the loop's exception handler receives. */
export interface ExceptionContext {
  message: string;
  exception?: unknown;
  future?: Future<unknown> | string;
  task?: Task<unknown>;
  handle?: Handle | Runnable;
  /** Debug mode: where the object the report is about was created (a stack). */
  sourceTraceback?: string;
  /** Debug mode: where the callback running when the report was made was scheduled. */
  handleTraceback?: string;
  [key: string]: unknown;
}

export type ExceptionHandler = (loop: EventLoop, context: ExceptionContext) => void;

/** asyncio's default report: the message, each other key sorted, then the error. */
export function formatExceptionContext(context: ExceptionContext): string {
  // Never throws: the context may carry anything a task threw (see core/format.ts).
  const message = safeGet(context, "message");
  const lines = [typeof message === "string" && message !== "" ? message : "Unhandled exception in event loop"];
  let keys: string[] = [];
  try {
    keys = Object.keys(context).sort();
  } catch {
    // A context that is a proxy with a throwing ownKeys trap: the message is all there is.
  }
  for (const key of keys) {
    if (key === "message" || key === "exception") continue;
    const value = safeGet(context, key);
    if (key === "sourceTraceback") {
      lines.push(`${key}: Object created at (most recent call first):\n${stackFrames(value)}`);
    } else if (key === "handleTraceback") {
      lines.push(`${key}: Handle created at (most recent call first):\n${stackFrames(value)}`);
    } else {
      lines.push(`${key}: ${reprForLog(value)}`);
    }
  }
  const exception = safeGet(context, "exception");
  if (exception !== undefined) lines.push(safeInspect(exception, {}));
  return lines.join("\n");
}

/** The frames of a recorded stack, without its "Error: ... created at" line (JS lists the newest first). */
function stackFrames(stack: unknown): string {
  const text = safeString(stack);
  return text.startsWith("Error") ? text.slice(text.indexOf("\n") + 1) : text;
}

/**
 * Hands `context` to `handler` in the context of the task or handle it is about (asyncio runs
 * the handler there), or to the loop's default handler; an error in either is logged, never thrown.
 */
export function dispatchException(loop: EventLoop, handler: ExceptionHandler | null, context: ExceptionContext): void {
  if (typeof context !== "object" || context === null || types.isProxy(context)) {
    throw typeError("context", "an object with a `message` (an ExceptionContext)", context);
  }
  if (handler === null) {
    try {
      loop.defaultExceptionHandler(context);
    } catch (err) {
      logger.error(`Exception in default exception handler\n${safeInspect(err, {})}`);
    }
    return;
  }
  try {
    const ctx = contextOfExceptionContext(context);
    if (ctx === null) handler(loop, context);
    else runInContext(ctx, handler, [loop, context]);
  } catch (err) {
    try {
      loop.defaultExceptionHandler({ message: "Unhandled error in exception handler", exception: err, context });
    } catch (err2) {
      logger.error(
        "Exception in default exception handler while handling an unexpected error in custom exception handler\n" +
          safeInspect(err2, {}),
      );
    }
  }
}

function contextOfExceptionContext(context: ExceptionContext): Context | null {
  const task = safeGet(context, "task");
  if (isInstance(task, Task)) return (task as Task<unknown>).getContext();
  const handle = safeGet(context, "handle");
  if (isInstance(handle, Handle)) return (handle as Handle).getContext();
  return null;
}

function reprForLog(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    // `instanceof` throws on a revoked proxy; a subclass's toString may throw.
    if (value instanceof Future || value instanceof Handle || isLoop(value)) return value.toString();
  } catch {
    // Fall through to the generic rendering.
  }
  return describeValue(value).replace(/ \([a-z]+\)$/u, "").replace(/^`|`$/gu, "");
}

/** A callback (or a task's step) threw: asyncio's "Exception in callback ..." report. */
export function reportCallbackError(loop: EventLoop, handle: Runnable, err: unknown): void {
  const what = handle instanceof Handle ? handle.formatCallback() : describeRunnable(handle);
  const context: ExceptionContext = { message: `Exception in callback ${what}`, exception: err, handle };
  // Debug mode: where the callback was scheduled (asyncio's `source_traceback`).
  if (handle instanceof Handle && handle.sourceTraceback !== undefined) context.sourceTraceback = handle.sourceTraceback;
  loop.callExceptionHandler(context);
}

/**
 * A callback returned `returned` (an async function given to callSoon or addDoneCallback, or
 * exposed and called one way from another thread): the loop does not await it, as asyncio does
 * not, but a promise's rejection goes to the exception handler like a synchronous throw, instead
 * of ending the thread as an unhandled rejection.
 */
export function watchReturned(loop: EventLoop, handle: Runnable, returned: unknown): void {
  if (!isThenable(returned)) return;
  const report = (err: unknown): void => {
    reportCallbackError(loop, handle, err);
  };
  try {
    returned.then(undefined, report);
  } catch (err) {
    report(err);
  }
}

/**
 * Future callbacks that complete after the loop closed still run, in microtasks (so a future
 * settled late still tells its done callbacks); a closed loop resumes no task.
 */
export function runAfterClose(loop: EventLoop, runnable: Runnable): void {
  if ((runnable[kTaskOf] ?? null) !== null) return;
  const frame: Frame = { loop: null, task: null, ctx: null, data: EMPTY_DATA };
  queueMicrotask(() => {
    try {
      runnable[kRun](frame);
    } catch (err) {
      loop.callExceptionHandler({ message: `Exception in callback ${runnable.toString()}`, exception: err });
    } finally {
      state.sync = null;
    }
  });
}
