/**
 * `wait` and `waitFor`.
 */
import { CancelledError, TimeoutError } from "../core/errors.js";
import type { Awaitable } from "../core/event-loop.js";
import { Future } from "../core/future.js";
import { getRunningLoop } from "../core/policy.js";
import { kMarkRetrieved } from "../core/symbols.js";
import { ensureFuture } from "../core/tasks.js";
import { timeout } from "./timeouts.js";
import { checkOptionalTime, checkTime, className, isInstance, isIterableObject, isThenable, rangeError, readChecked, readOptions, typeError } from "../core/validate.js";

export type ReturnWhen = "FIRST_COMPLETED" | "FIRST_EXCEPTION" | "ALL_COMPLETED";

export const FIRST_COMPLETED = "FIRST_COMPLETED";
export const FIRST_EXCEPTION = "FIRST_EXCEPTION";
export const ALL_COMPLETED = "ALL_COMPLETED";

export interface WaitOptions {
  /** Return after this many milliseconds even if the condition is not met (no error is thrown). */
  timeout?: number | null;
  /** When to return. @default "ALL_COMPLETED" */
  returnWhen?: ReturnWhen;
}

function checkWaitItem(aw: unknown, i: number): void {
  if (typeof aw === "function") {
    throw new TypeError("Passing coroutines is forbidden, use tasks explicitly.");
  }
  if (!(aw instanceof Future) && !isThenable(aw)) {
    throw typeError(`aws[${i}]`, "a Future, a Task or a promise", aw);
  }
}

/**
 * Waits for the futures (or promises) in `aws` and returns `[done, pending]`. Never throws
 * `TimeoutError` and never cancels anything; with `timeout`, what is not done is in `pending`.
 *
 * @example
 * const [done, pending] = await wait(tasks, { returnWhen: "FIRST_COMPLETED" });
 */
export async function wait<T>(
  aws: Iterable<Awaitable<T>>,
  options: WaitOptions = {},
): Promise<[Set<Future<T>>, Set<Future<T>>]> {
  if (isInstance(aws, Future) || isThenable(aws)) {
    // asyncio's own message, byte for byte.
    throw new TypeError(`expect a list of futures, not ${className(aws)}`);
  }
  if (!isIterableObject(aws)) throw typeError("aws", "an iterable of futures, tasks or promises", aws);
  options = readOptions("options", options);
  const { timeout: ms = null, returnWhen = "ALL_COMPLETED" } = options;
  checkOptionalTime("options.timeout", ms);
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    // asyncio: ValueError('Invalid return_when value: ...').
    throw rangeError("options.returnWhen", '"FIRST_COMPLETED", "FIRST_EXCEPTION" or "ALL_COMPLETED"', returnWhen);
  }
  // Checked before any promise is wrapped in a task.
  const items = readChecked(aws, checkWaitItem);
  if (items.length === 0) throw rangeError("aws", "a non-empty iterable (Set of Tasks/Futures is empty.)", aws);
  const loop = getRunningLoop();
  const fs = new Set<Future<T>>();
  for (const aw of items) fs.add(ensureFuture(aw, { loop }));

  const waiter = loop.createFuture<void>();
  const timer = ms === null ? null : loop.callLater(ms, () => {
    if (!waiter.done()) waiter.setResult(undefined);
  });
  let counter = fs.size;
  const onCompletion = (f: Future<T>): void => {
    counter--;
    if (
      counter <= 0 ||
      returnWhen === FIRST_COMPLETED ||
      // Boxed: a child may fail with null (exception() would return null as for no error).
      (returnWhen === FIRST_EXCEPTION && !f.cancelled() && f[kMarkRetrieved]() !== undefined)
    ) {
      timer?.cancel();
      if (!waiter.done()) waiter.setResult(undefined);
    }
  };
  for (const f of fs) f.addDoneCallback(onCompletion);
  try {
    await waiter;
  } finally {
    timer?.cancel();
    for (const f of fs) f.removeDoneCallback(onCompletion);
  }
  const done = new Set<Future<T>>();
  const pending = new Set<Future<T>>();
  for (const f of fs) (f.done() ? done : pending).add(f);
  return [done, pending];
}

/** Cancels `fut` and waits until it is really done (it may catch the cancel and finish later). */
async function cancelAndWait(fut: Future<unknown>): Promise<void> {
  const loop = fut.getLoop();
  const waiter = loop.createFuture<void>();
  const release = (): void => {
    if (!waiter.done()) waiter.setResult(undefined);
  };
  fut.addDoneCallback(release);
  try {
    fut.cancel();
    await waiter;
  } finally {
    fut.removeDoneCallback(release);
  }
}

/**
 * Waits for `aw` with a deadline of `timeoutMs` (null: none). On expiry the work is cancelled and,
 * once it has finished, `TimeoutError` is thrown (its `cause` is the `CancelledError`).
 *
 * A function runs in the current task (asyncio 3.12: no extra task); a future or task is awaited;
 * a plain promise is raced against the deadline (it cannot be cancelled, so it keeps running and
 * its result is dropped).
 *
 * @example
 * const reply = await waitFor(() => request(peer), 1_000);
 */
export async function waitFor<T>(aw: Awaitable<T> | (() => T | PromiseLike<T>), timeoutMs: number | null): Promise<T> {
  // Required, as in asyncio (null: no deadline); undefined is far more likely a forgotten argument.
  if (timeoutMs !== null) checkTime("timeoutMs", timeoutMs);
  if (typeof aw !== "function" && !isThenable(aw)) {
    throw typeError("aw", "a Future, a Task, a promise or a function returning one", aw);
  }
  if (timeoutMs !== null && timeoutMs <= 0) {
    const fut = ensureFuture(aw);
    if (fut.done()) return fut.result();
    await cancelAndWait(fut);
    try {
      return fut.result();
    } catch (err) {
      if (err instanceof CancelledError) throw new TimeoutError("", { cause: err });
      throw err;
    }
  }
  let work: () => T | PromiseLike<T>;
  if (typeof aw === "function") {
    work = aw;
  } else if (aw instanceof Future) {
    work = () => aw;
  } else {
    // A plain promise: await it through a loop future, which a cancel can end at once.
    const wrapper = getRunningLoop().createFuture<T>();
    aw.then(
      (value) => {
        if (!wrapper.done()) wrapper.setResult(value);
      },
      (err: unknown) => {
        if (!wrapper.done()) wrapper.setException(err);
      },
    );
    work = () => wrapper;
  }
  return timeout(timeoutMs, async () => await work());
}
