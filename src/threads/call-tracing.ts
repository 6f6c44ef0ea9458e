/**
 * `tracingChannel("multiloop:call")`, published in the caller's thread around every
 * `runCoroutineThreadsafe` (and so every `LoopThread.call` / `callWith`): `start` and `end` around
 * sending the call, `asyncStart` and `asyncEnd` when its outcome arrives, `error` before them when
 * it failed (or was cancelled). APM tools time cross-thread calls with it, as they time undici's
 * requests. Costs one `hasSubscribers` check per call while nobody listens.
 */
import { callTracing, type CallTraceContext } from "../core/log.js";
import type { ConcurrentFuture } from "./concurrent-future.js";

/** Runs `send` (which makes the call) inside the trace of a call of `target` in `threadName`. */
export function tracedCall<T>(target: string, threadName: string, args: unknown[], send: () => ConcurrentFuture<T>): ConcurrentFuture<T> {
  const context: CallTraceContext = { target, threadName, args };
  // As Node's own tracePromise: start's stores bound around the synchronous part, end after it.
  return callTracing.start.runStores(context, () => {
    let cf: ConcurrentFuture<T>;
    try {
      cf = send();
    } catch (err) {
      context.error = err;
      callTracing.error.publish(context);
      throw err;
    } finally {
      callTracing.end.publish(context);
    }
    cf.addDoneCallback((done) => {
      try {
        context.result = done.result();
      } catch (err) {
        context.error = err;
        callTracing.error.publish(context);
      }
      callTracing.asyncStart.publish(context);
      callTracing.asyncEnd.publish(context);
    });
    return cf;
  });
}
