/**
 * `ThreadLock`: a mutual-exclusion lock in shared memory for tasks on loops in different threads.
 * The line and its fairness live in thread-semaphore-core.ts (a lock is a semaphore of one permit
 * whose release checks that it was held).
 */
import { inspect } from "node:util";
import { PermitHolder } from "./permit-holder.js";
import { registerShareable, type Shareable, type SharedData } from "./crossing.js";
import { RuntimeError } from "../core/errors.js";
import { KIND_LOCK, SemaphoreCore, createSemaphoreBuffer, isSemaphoreBuffer, type ThreadAcquireOptions } from "./thread-semaphore-core.js";

export type { ThreadAcquireOptions };
import { fieldOf, isInstance, typeError } from "../core/validate.js";

/** Options of `acquire`. */

/** What `share().data` holds for a ThreadLock (plain data, nothing to transfer). */
export interface ThreadLockData {
  kind: "multiloop.ThreadLock";
  buffer: SharedArrayBuffer;
}

const PERMIT_HELD = 0;
const PERMIT_FREE = 1;

let adopting: SemaphoreCore | null = null;

/**
 * A lock that tasks on event loops in different threads acquire with `await` (asyncio.Lock,
 * across threads). It lives in a small SharedArrayBuffer: pass it to other threads as an argument
 * or result of `thread.call` / `runCoroutineThreadsafe` / `callSoonThreadsafe`, or with `share()`
 * and `ThreadLock.from()` through `workerData` and `postMessage`.
 *
 * Fairness: waiting threads are served in the order they asked, and the tasks of one thread in
 * their order (a thread with several waiting tasks goes to the back of the line after each grant),
 * so nobody starves. A newcomer does not barge past waiting tasks.
 *
 * @example
 * const lock = new ThreadLock();
 * await Promise.all(threads.map((t) => t.call("appendLine", lock, "log.txt")));
 * // in each thread:
 * export async function appendLine(lock: ThreadLock, file: string): Promise<void> {
 *   await lock.run(async () => {
 *     const text = await readFile(file, "utf8");
 *     await writeFile(file, text + `${currentThreadName()}\n`);
 *   });
 * }
 *
 * Thread-safety: every method may be called from any thread; the lock has no owner, so any thread
 * may release it (as asyncio.Lock). **A lock held by a thread that dies is never released**: shared
 * memory cannot tell a dead holder from a slow one. Release in `finally` (or use `run`), and where
 * a holder might die (terminated workers, `process.exit` in a worker), acquire with
 * `{ timeout }` so waiters give up instead of waiting forever. A thread that dies while only
 * *waiting* does not block the others for good: once the lock is free, the waiters behind it skip
 * it after about a second (a live thread stuck that long in synchronous work is skipped the same
 * way, and goes to the back of the line).
 *
 * Cancellation: cancelling a task waiting in `acquire` (or a timeout) leaves the lock as it was:
 * the waiter's place in line is given up, and a permit granted at the same moment is given back.
 */
export class ThreadLock extends PermitHolder implements Shareable {
  readonly #core: SemaphoreCore;

  constructor() {
    super();
    if (adopting !== null) {
      this.#core = adopting;
      adopting = null;
      return;
    }
    this.#core = SemaphoreCore.of(createSemaphoreBuffer(KIND_LOCK, PERMIT_FREE));
  }

  /** Revives a lock from `share().data`; an already revived `ThreadLock` is returned as is. */
  static from(data: unknown): ThreadLock {
    if (isInstance(data, ThreadLock)) return data as ThreadLock;
    const buffer = fieldOf(data, "buffer");
    if (fieldOf(data, "kind") !== "multiloop.ThreadLock" || !isSemaphoreBuffer(buffer, KIND_LOCK)) {
      throw typeError("data", "the data of ThreadLock.share()", data);
    }
    adopting = SemaphoreCore.of(buffer);
    return new ThreadLock();
  }

  /** Data for `workerData` or `postMessage`; revive it with `ThreadLock.from(data)`. */
  share(): SharedData {
    const data: ThreadLockData = { kind: "multiloop.ThreadLock", buffer: this.#core.buffer };
    return { data, transferList: [] };
  }

  /**
   * Acquires the lock, waiting in line while another task (in any thread) holds it. Resolves
   * `true`. With `{ timeout }`, rejects with `TimeoutError` after that many milliseconds; with
   * `{ signal }`, rejects with the signal's reason when it aborts. Either way, or when the waiting
   * task is cancelled, nothing is kept: no lock, no place in line.
   */
  acquire(options: ThreadAcquireOptions = {}): Promise<true> {
    return this.#core.acquireWith(options, "a ThreadLock");
  }

  /** Releases the lock (from any task, in any thread). Throws RuntimeError if it is not held. */
  release(): void {
    if (!this.#core.releaseHeld()) {
      throw new RuntimeError("Lock is not acquired.", { code: "ERR_LOOP_LOCK_NOT_ACQUIRED" });
    }
  }

  /** Whether some task (in any thread) holds the lock. */
  locked(): boolean {
    return this.#core.permits() === PERMIT_HELD;
  }

  override toString(): string {
    return `<ThreadLock ${this.locked() ? "locked" : "unlocked"}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

registerShareable("ThreadLock", ThreadLock, (data) => ThreadLock.from(data));
