/**
 * `shield`: protect an awaitable from cancellation by whoever awaits it.
 */
import type { Awaitable, ExceptionContext } from "../core/event-loop.js";
import { type Future } from "../core/future.js";
import { kMarkRetrieved, kWaitsFor } from "../core/symbols.js";
import { ensureFuture } from "../core/tasks.js";

/** The class name of a thrown value, as Python's `exc.__class__.__name__` (never throws). */
function className(value: unknown): string {
  if (value === null) return "null";
  try {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === "string" && name !== "") return name;
  } catch {
    // A hostile getter: fall back to the kind of value.
  }
  return typeof value;
}

/**
 * Reports the failure of an inner future whose shield was cancelled: nobody awaits its outcome
 * any more, and its error would otherwise go unseen (asyncio 3.14's `_log_on_exception`). One
 * function for every shield, so an inner shielded several times is reported once.
 */
function logOnException(inner: Future<unknown>): void {
  if (inner.cancelled()) return;
  const failure = inner[kMarkRetrieved]();
  if (failure === undefined) return;
  const context: ExceptionContext = {
    message: `${className(failure.error)} exception in shielded future`,
    exception: failure.error,
    future: inner,
  };
  if (inner.sourceTraceback !== undefined) context.sourceTraceback = inner.sourceTraceback;
  inner.getLoop().callExceptionHandler(context);
}

/**
 * A future that follows `aw` but whose cancellation does not cancel `aw`: cancelling the task that
 * awaits the shield (or the shield itself) leaves the inner work running. Cancelling the inner
 * work cancels the shield. An inner that is already done is returned as is. If the shield is
 * cancelled and the inner work fails later, the loop's exception handler gets one
 * "<ErrorClass> exception in shielded future" report.
 *
 * @example
 * const saved = await shield(createTask(() => saveToDisk(doc)));
 */
export function shield<T>(aw: Awaitable<T> | (() => T | PromiseLike<T>)): Future<T> {
  const inner = ensureFuture(aw);
  if (inner.done()) return inner;
  const outer = inner.getLoop().createFuture<T>();
  // The call graph shows the inner future as what the shield waits for.
  outer[kWaitsFor](inner);

  const onInnerDone = (f: Future<T>): void => {
    if (outer.cancelled()) return;
    if (f.cancelled()) outer.cancel();
    else {
      // Boxed: the inner may fail with null (exception() would return null as for no error).
      const exc = f[kMarkRetrieved]();
      if (exc !== undefined) outer.setException(exc.error);
      else outer.setResult(f.result());
    }
  };
  const onOuterDone = (): void => {
    if (inner.done()) return;
    inner.removeDoneCallback(onInnerDone);
    // Keep one report however many shields of this inner were cancelled.
    inner.removeDoneCallback(logOnException);
    inner.addDoneCallback(logOnException);
  };
  inner.addDoneCallback(onInnerDone);
  outer.addDoneCallback(onOuterDone);
  return outer;
}
