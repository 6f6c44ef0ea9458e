/**
 * Module-level task functions: `createTask`, `ensureFuture`, `currentTask`, `allTasks`, `sleep`.
 */
import { NoRunningLoopError } from "./errors.js";
import { EventLoop, type Awaitable } from "./event-loop.js";
import { currentFrame, runningLoopOrNull } from "./frame.js";
import { type Future, isFuture } from "./future.js";
import { getEventLoop, getRunningLoop } from "./policy.js";
import { kOnCancel, kTasks, kYieldOnce } from "./symbols.js";
import { type Task, type Coroutine, type TaskOptions } from "./task.js";
import { checkTime, describeValue, isThenable, rangeError, typeError } from "./validate.js";

function checkLoop(name: string, loop: unknown): asserts loop is EventLoop | undefined {
  if (loop === undefined) return;
  let ok = false;
  try {
    // Its own instanceof: gather passes a loop for every item (see isFuture).
    ok = loop instanceof EventLoop;
  } catch {
    // A revoked proxy: not a loop.
  }
  if (!ok) throw typeError(name, "an EventLoop", loop);
}

/**
 * Starts `coro` as a task on the running loop (asyncio.create_task); throws
 * `RuntimeError("no running event loop")` outside one.
 *
 * @example
 * const task = createTask(async () => fetchUser(id), { name: `user-${id}` });
 */
export function createTask<T>(coro: Coroutine<T>, options?: TaskOptions): Task<T> {
  return getRunningLoop().createTask(coro, options);
}

export interface EnsureFutureOptions {
  loop?: EventLoop;
}

/**
 * A future for `aw`: a future or task is returned as is; a function is started as a task; a promise
 * is wrapped in a task. The loop is `options.loop`, else the current one (`getEventLoop()`).
 */
export function ensureFuture<T>(
  aw: Awaitable<T> | (() => T | PromiseLike<T>),
  options: EnsureFutureOptions = {},
): Future<T> {
  if (typeof options !== "object" || options === null) throw typeError("options", "an options object", options);
  let loop: EventLoop | undefined;
  try {
    loop = options.loop;
  } catch (err) {
    throw new TypeError(`Expected \`options.loop\` to be readable, but reading it threw ${describeValue(err)}`, { cause: err });
  }
  checkLoop("options.loop", loop);
  if (isFuture(aw)) {
    const fut = aw;
    if (loop !== undefined && fut.getLoop() !== loop) {
      throw new RangeError("The future belongs to a different loop than the one specified as the loop argument");
    }
    return fut;
  }
  if (typeof aw === "function" || isThenable(aw)) {
    return (loop ?? getEventLoop()).createTask(aw);
  }
  throw typeError("aw", "a Future, a Task, a promise or a function returning one", aw);
}

/**
 * The task whose step is running now; null in plain callbacks. Without `loop`, throws
 * `RuntimeError("no running event loop")` outside a running loop.
 */
export function currentTask(loop?: EventLoop): Task<unknown> | null {
  checkLoop("loop", loop);
  const frame = currentFrame();
  if (loop === undefined) {
    if (runningLoopOrNull() === null) throw new NoRunningLoopError();
    return frame.task;
  }
  return frame.loop === loop ? frame.task : null;
}

/** The loop's tasks that are not done (default: the running loop's). */
export function allTasks(loop?: EventLoop): Set<Task<unknown>> {
  checkLoop("loop", loop);
  const target = loop ?? getRunningLoop();
  const tasks = new Set<Task<unknown>>();
  for (const task of target[kTasks]()) if (!task.done()) tasks.add(task);
  return tasks;
}

function setResultUnlessCancelled<T>(fut: Future<T>, result: T): void {
  if (!fut.done()) fut.setResult(result);
}

/**
 * A future that completes with `result` after `ms` milliseconds. `sleep(0)` (or less) yields
 * exactly one loop iteration. Cancelling the future (or the task awaiting it) cancels its timer.
 * Needs a running loop. A NaN delay is a `RangeError` (asyncio: `ValueError('Invalid delay: NaN')`).
 */
export function sleep<T = undefined>(ms: number, result?: T): Future<T> {
  if (Number.isNaN(ms)) throw rangeError("ms", "a number of milliseconds (Invalid delay: NaN (not a number))", ms);
  checkTime("ms", ms);
  const loop = getRunningLoop();
  const fut = loop.createFuture<T>();
  if (ms <= 0) {
    fut[kYieldOnce](result as T);
    return fut;
  }
  fut[kOnCancel](loop.callLater(ms, setResultUnlessCancelled<T>, fut, result as T));
  return fut;
}
