/**
 * `shield`: protect an awaitable from cancellation by whoever awaits it.
 */
import type { Awaitable } from "../core/event-loop.js";
import { type Future } from "../core/future.js";
import { kMarkRetrieved } from "../core/symbols.js";
import { ensureFuture } from "../core/tasks.js";

/**
 * A future that follows `aw` but whose cancellation does not cancel `aw`: cancelling the task that
 * awaits the shield (or the shield itself) leaves the inner work running. Cancelling the inner
 * work cancels the shield. An inner that is already done is returned as is.
 *
 * @example
 * const saved = await shield(createTask(() => saveToDisk(doc)));
 */
export function shield<T>(aw: Awaitable<T> | (() => T | PromiseLike<T>)): Future<T> {
  const inner = ensureFuture(aw);
  if (inner.done()) return inner;
  const outer = inner.getLoop().createFuture<T>();

  const onInnerDone = (f: Future<T>): void => {
    if (outer.cancelled()) {
      // Nobody awaits the outer any more: keep an inner error from being reported as lost.
      if (!f.cancelled()) f.exception();
      return;
    }
    if (f.cancelled()) outer.cancel();
    else {
      // Boxed: the inner may fail with null (exception() would return null as for no error).
      const exc = f[kMarkRetrieved]();
      if (exc !== undefined) outer.setException(exc.error);
      else outer.setResult(f.result());
    }
  };
  const onOuterDone = (): void => {
    if (!inner.done()) inner.removeDoneCallback(onInnerDone);
  };
  inner.addDoneCallback(onInnerDone);
  outer.addDoneCallback(onOuterDone);
  return outer;
}
