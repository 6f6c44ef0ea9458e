/**
 * `ConcurrentFuture`: the caller's side of work running on another thread's loop
 * (Python's `concurrent.futures.Future` returned by `run_coroutine_threadsafe`).
 *
 * It is a thenable bound to no loop. Awaited inside a task, it is chained into a future of the
 * caller's running loop (asyncio's `wrap_future`), so the task resumes in loop order and
 * cancelling the task cancels the remote work. Its `result()` never blocks: a thread that runs a
 * loop must not wait synchronously, and JS has no other kind of thread to block.
 */
import { inspect } from "node:util";
import { CancelledError, InvalidStateError } from "./errors.js";
import { runningLoopOrNull } from "./frame.js";
import { errorRepr } from "./future.js";
import { shortRepr } from "./format.js";
import { checkFunction } from "./validate.js";

type State = "pending" | "finished" | "failed" | "cancelled";

export const kSettle = Symbol("multiloop.settleConcurrent");

export type ConcurrentOutcome<T> =
  | { state: "finished"; value: T }
  | { state: "failed"; error: unknown }
  | { state: "cancelled"; message: string };

/**
 * The result of work submitted to another thread's loop. Await it, or use `then`, `cancel()`,
 * `done()`, `cancelled()`, `result()` (non-blocking) and `addDoneCallback`.
 *
 * Cancellation: `cancel()` ends this future cancelled at once and asks the remote loop to cancel
 * its task, which sees `CancelledError` at its current await and may clean up.
 */
export class ConcurrentFuture<T> implements PromiseLike<T> {
  #state: State = "pending";
  #value: T | undefined = undefined;
  #error: unknown = undefined;
  #cancelMessage = "";
  #callbacks: Array<(f: ConcurrentFuture<T>) => void> | null = null;
  readonly #onCancel: ((msg: string) => void) | null;
  readonly #target: string;
  readonly #threadName: string;

  /** @internal created by `runCoroutineThreadsafe`; `onCancel` asks the remote side to cancel. */
  constructor(target: string, threadName: string, onCancel: ((msg: string) => void) | null) {
    this.#target = target;
    this.#threadName = threadName;
    this.#onCancel = onCancel;
  }

  done(): boolean {
    return this.#state !== "pending";
  }

  cancelled(): boolean {
    return this.#state === "cancelled";
  }

  /** Cancels the remote work; false if it is already done. */
  cancel(msg?: string): boolean {
    if (this.#state !== "pending") return false;
    this.#cancelMessage = msg ?? "";
    this.#state = "cancelled";
    this.#onCancel?.(this.#cancelMessage);
    this.#runCallbacks();
    return true;
  }

  /** The result if done; throws its error, `CancelledError`, or `InvalidStateError` while pending. */
  result(): T {
    switch (this.#state) {
      case "pending":
        throw new InvalidStateError("Result is not set.");
      case "cancelled":
        throw new CancelledError(this.#cancelMessage);
      case "failed":
        throw this.#error;
      default:
        return this.#value as T;
    }
  }

  /** The error if it failed, null if it succeeded; throws `CancelledError` / `InvalidStateError`. */
  exception(): unknown {
    if (this.#state === "pending") throw new InvalidStateError("Exception is not set.");
    if (this.#state === "cancelled") throw new CancelledError(this.#cancelMessage);
    return this.#state === "failed" ? this.#error : null;
  }

  /** Calls `cb(this)` once done (right away, synchronously, if it already is). */
  addDoneCallback(cb: (f: ConcurrentFuture<T>) => void): void {
    checkFunction("cb", cb);
    if (this.#state !== "pending") cb(this);
    else (this.#callbacks ??= []).push(cb);
  }

  /** @internal the remote side answered. Ignored once done (a cancel wins over a late result). */
  [kSettle](outcome: ConcurrentOutcome<T>): void {
    if (this.#state !== "pending") return;
    if (outcome.state === "finished") this.#value = outcome.value;
    else if (outcome.state === "failed") this.#error = outcome.error;
    else this.#cancelMessage = outcome.message;
    this.#state = outcome.state;
    this.#runCallbacks();
  }

  #runCallbacks(): void {
    const cbs = this.#callbacks;
    this.#callbacks = null;
    if (cbs === null) return;
    for (const cb of cbs) {
      try {
        cb(this);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const loop = runningLoopOrNull();
    if (loop !== null && this.#state === "pending") {
      // asyncio's wrap_future: a loop future that follows this one, so the awaiting task resumes
      // in loop order and a cancel of that task reaches the remote work.
      const fut = loop.createFuture<T>();
      this.addDoneCallback((cf) => {
        if (fut.done()) return;
        if (cf.#state === "finished") fut.setResult(cf.#value as T);
        else if (cf.#state === "failed") fut.setException(cf.#error);
        else fut.cancel(cf.#cancelMessage);
      });
      fut.addDoneCallback((f) => {
        if (f.cancelled()) this.cancel();
      });
      return fut.then(onFulfilled, onRejected);
    }
    return new Promise<T>((resolve, reject) => {
      this.addDoneCallback((cf) => {
        if (cf.#state === "finished") resolve(cf.#value as T);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a remote function may throw anything; it is passed on as thrown
        else if (cf.#state === "failed") reject(cf.#error);
        else reject(new CancelledError(cf.#cancelMessage));
      });
    }).then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return "ConcurrentFuture";
  }

  toString(): string {
    const outcome =
      this.#state === "finished"
        ? ` result=${shortRepr(this.#value)}`
        : this.#state === "failed"
          ? ` exception=${errorRepr(this.#error)}`
          : "";
    return `<ConcurrentFuture ${this.#state} ${this.#target}() in thread '${this.#threadName}'${outcome}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
