/**
 * How synchronisation objects find their loop (asyncio's `_LoopBoundMixin`, 3.10+).
 *
 * They take no loop argument. An object binds to the running loop the first time it needs a waiter
 * future, that is the first time somebody has to wait on it; uncontended use binds nothing, so a
 * lock that is only ever taken on the fast path works from any loop. Once bound, needing a waiter
 * on another loop is an error: the waiter would be a future of the wrong loop, and a task of one
 * loop cannot await a future of another.
 */
import { RuntimeError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import { getRunningLoop } from "../core/policy.js";

/**
 * The running loop, after checking that `owner` (bound to `bound`, or to nothing yet) may use it.
 * The caller stores the result as its bound loop. Throws `RuntimeError("no running event loop")`
 * outside a loop, and `RuntimeError("<owner> is bound to a different event loop")`.
 */
export function bindLoop(bound: EventLoop | null, owner: { toString(): string }): EventLoop {
  const loop = getRunningLoop();
  if (bound !== null && bound !== loop) {
    throw new RuntimeError(`${String(owner)} is bound to a different event loop`, {
      code: "ERR_LOOP_DIFFERENT_LOOP",
      hint:
        "Locks, events, conditions, semaphores, barriers and queues belong to the loop on which a task " +
        "first had to wait on them. Create them inside the loop that uses them (e.g. inside the function " +
        "passed to run()), one per loop; to coordinate loops in different threads use ThreadQueue, " +
        "ThreadLock or ThreadSemaphore.",
    });
  }
  return loop;
}
