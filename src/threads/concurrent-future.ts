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
import { CancelledError, InvalidStateError } from "../core/errors.js";
import { runningLoopOrNull } from "../core/frame.js";
import type { EventLoop } from "../core/event-loop.js";
import { Future, type FutureOptions } from "../core/future.js";
import { kCancelInternal, kDescribeWait } from "../core/symbols.js";
import { errorRepr, pyStr, shortRepr } from "../core/format.js";
import { checkFunction } from "../core/validate.js";

type State = "pending" | "finished" | "failed" | "cancelled";

export const kSettle = Symbol("multiloop.settleConcurrent");
/** @internal the name of the target the call runs. */
export const kTarget = Symbol("multiloop.concurrentTarget");
/** @internal see `followedCall`. */
export const kCallRefOf = Symbol("multiloop.callRefOf");

/** @internal What the call graph needs to know about a call: the remote side's id for it, and who sent it. */
export interface CallRef {
  readonly id: number;
  readonly target: string;
  readonly threadName: string;
  readonly canceller: RemoteCanceller | null;
}

/** How the remote side answered: `payload` is the value, the error, or the cancel message. */
export type SettleKind = "finished" | "failed" | "cancelled";

/** Asks the remote loop to cancel the task of call `id` (implemented by the channel that sent it). */
export interface RemoteCanceller {
  cancelRemote(id: number, msg: string, future: ConcurrentFuture<unknown>): void;
}

/**
 * The loop future that stands for a ConcurrentFuture in an awaiting task (asyncio's wrap_future):
 * cancelling it, as cancelling the task does, cancels the remote work.
 */
class Follower<T> extends Future<T> {
  readonly #source: ConcurrentFuture<T>;

  constructor(loop: EventLoop, source: ConcurrentFuture<T>) {
    super(loop as unknown as FutureOptions);
    this.#source = source;
  }

  override [kCancelInternal](msg: string | undefined, exc?: CancelledError): boolean {
    if (!super[kCancelInternal](msg, exc)) return false;
    this.#source.cancel();
    return true;
  }

  /** @internal */
  get source(): ConcurrentFuture<T> {
    return this.#source;
  }

  /** @internal what the awaiting task waits for (see core/call-graph.ts). */
  [kDescribeWait](): string {
    return describeCall(this.#source[kCallRefOf]());
  }
}

function describeCall(ref: CallRef): string {
  // A call into this thread's own loop (the loop's local handle) goes through no channel: no call id.
  const viaChannel = typeof (ref.canceller as { control?: unknown } | null)?.control === "object";
  return `${ref.target}() in thread ${pyStr(ref.threadName)}${viaChannel ? ` (call ${ref.id})` : ""}`;
}

/** @internal the remote call a loop future stands for, when it is a ConcurrentFuture's follower. */
export function followedCall(fut: Future<unknown>): CallRef | null {
  return fut instanceof Follower ? (fut.source as ConcurrentFuture<unknown>)[kCallRefOf]() : null;
}

/**
 * The result of work submitted to another thread's loop. Await it, or use `then`, `cancel()`,
 * `done()`, `cancelled()`, `result()` (non-blocking) and `addDoneCallback`.
 *
 * Cancellation: `cancel()` ends this future cancelled at once and asks the remote loop to cancel
 * its task, which sees `CancelledError` at its current await and may clean up.
 */
export class ConcurrentFuture<T> implements PromiseLike<T> {
  #state: State = "pending";
  /** The value, the error, or the cancel message. */
  #payload: unknown = undefined;
  #callbacks: Array<(f: ConcurrentFuture<T>) => void> | null = null;
  /**
   * The loop future of the first `await` from a task (asyncio's wrap_future), settled directly on
   * completion: 10,000 calls in flight under one `Promise.all` are 10,000 of these, so no closure
   * or callback list per call. Later awaits use done callbacks.
   */
  #follower: Future<T> | null = null;
  readonly #canceller: RemoteCanceller | null;
  readonly #id: number;
  readonly #target: string;
  readonly #threadName: string;

  /** @internal created by `runCoroutineThreadsafe`; `canceller` asks the remote side to cancel call `id`. */
  constructor(target: string, threadName: string, canceller: RemoteCanceller | null, id = 0) {
    this.#target = target;
    this.#threadName = threadName;
    this.#canceller = canceller;
    this.#id = id;
  }

  /** @internal */
  get [kTarget](): string {
    return this.#target;
  }

  /** @internal see `followedCall`. */
  [kCallRefOf](): CallRef {
    return { id: this.#id, target: this.#target, threadName: this.#threadName, canceller: this.#canceller };
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
    const message = msg ?? "";
    this.#payload = message;
    this.#state = "cancelled";
    this.#canceller?.cancelRemote(this.#id, message, this as ConcurrentFuture<unknown>);
    this.#runCallbacks();
    return true;
  }

  /** The result if done; throws its error, `CancelledError`, or `InvalidStateError` while pending. */
  result(): T {
    switch (this.#state) {
      case "pending":
        throw new InvalidStateError("Result is not set.");
      case "cancelled":
        throw new CancelledError(this.#payload as string);
      case "failed":
        throw this.#payload;
      default:
        return this.#payload as T;
    }
  }

  /** The error if it failed, null if it succeeded; throws `CancelledError` / `InvalidStateError`. */
  exception(): unknown {
    if (this.#state === "pending") throw new InvalidStateError("Exception is not set.");
    if (this.#state === "cancelled") throw new CancelledError(this.#payload as string);
    return this.#state === "failed" ? this.#payload : null;
  }

  /** Calls `cb(this)` once done (right away, synchronously, if it already is). */
  addDoneCallback(cb: (f: ConcurrentFuture<T>) => void): void {
    checkFunction("cb", cb);
    if (this.#state !== "pending") cb(this);
    else (this.#callbacks ??= []).push(cb);
  }

  /** @internal the remote side answered. Ignored once done (a cancel wins over a late result). */
  [kSettle](kind: SettleKind, payload: unknown): void {
    if (this.#state !== "pending") return;
    this.#payload = payload;
    this.#state = kind;
    this.#runCallbacks();
  }

  #runCallbacks(): void {
    const follower = this.#follower;
    if (follower !== null) {
      this.#follower = null;
      this.#settleFollower(follower);
    }
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

  #settleFollower(fut: Future<T>): void {
    if (fut.done()) return;
    if (this.#state === "finished") fut.setResult(this.#payload as T);
    else if (this.#state === "failed") fut.setException(this.#payload);
    else fut.cancel(this.#payload as string);
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const loop = runningLoopOrNull();
    if (loop !== null && this.#state === "pending") {
      // asyncio's wrap_future: a loop future that follows this one, so the awaiting task resumes
      // in loop order, and a cancel of that future (the task's) cancels the remote work.
      const fut = new Follower<T>(loop, this);
      if (this.#follower === null) this.#follower = fut;
      else this.addDoneCallback(() => this.#settleFollower(fut));
      return fut.then(onFulfilled, onRejected);
    }
    return new Promise<T>((resolve, reject) => {
      this.addDoneCallback((cf) => {
        if (cf.#state === "finished") resolve(cf.#payload as T);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a remote function may throw anything; it is passed on as thrown
        else if (cf.#state === "failed") reject(cf.#payload);
        else reject(new CancelledError(cf.#payload as string));
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
        ? ` result=${shortRepr(this.#payload)}`
        : this.#state === "failed"
          ? ` exception=${errorRepr(this.#payload)}`
          : "";
    return `<ConcurrentFuture ${this.#state} ${this.#target}() in thread '${this.#threadName}'${outcome}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
