/**
 * `ThreadSemaphore`: a counting semaphore in shared memory for tasks on loops in different threads.
 * The line and its fairness live in thread-semaphore-core.ts.
 */
import { inspect } from "node:util";
import { PermitHolder } from "./permit-holder.js";
import { registerShareable, type Shareable, type SharedData } from "./crossing.js";
import { KIND_SEMAPHORE, SemaphoreCore, createSemaphoreBuffer, isSemaphoreBuffer } from "./thread-semaphore-core.js";
import type { ThreadAcquireOptions } from "./thread-semaphore-core.js";
import { checkInteger, fieldOf, isInstance, rangeError, typeError } from "../core/validate.js";

/** What `share().data` holds for a ThreadSemaphore (plain data, nothing to transfer). */
export interface ThreadSemaphoreData {
  kind: "multiloop.ThreadSemaphore";
  buffer: SharedArrayBuffer;
}

const MAX_VALUE = 0x3fffffff;

let adopting: SemaphoreCore | null = null;

/**
 * A semaphore that tasks on event loops in different threads acquire with `await`
 * (asyncio.Semaphore, across threads): at most `value` holders at a time, everywhere. Use it to
 * bound the use of a resource shared by several loop threads (connections, a rate, memory).
 *
 * Fairness: as ThreadLock — threads are served in the order they asked, tasks of one thread in
 * their order, and a newcomer does not barge past waiting tasks. As asyncio.Semaphore, `release()`
 * is not checked against acquisitions: releasing more often than acquiring raises the count.
 *
 * @example
 * const connections = new ThreadSemaphore(4);     // at most 4 connections across all threads
 * await Promise.all(threads.map((t) => t.call("crawl", connections, urls)));
 * // in each thread:
 * export async function crawl(connections: ThreadSemaphore, urls: string[]): Promise<void> {
 *   await taskGroup(async (tg) => {
 *     for (const url of urls) tg.createTask(() => connections.run(() => fetchPage(url)));
 *   });
 * }
 *
 * Thread-safety: every method may be called from any thread. **A permit held by a thread that
 * dies is never given back**: shared memory cannot tell a dead holder from a slow one. Release in
 * `finally` (or use `run`), and where a holder might die, acquire with `{ timeout }`. A thread that
 * dies while only waiting is skipped by the waiters behind it about a second after a permit is
 * free (as for ThreadLock).
 *
 * Cancellation: cancelling a task waiting in `acquire` (or a timeout) keeps nothing: its place in
 * line is given up, and a permit granted at the same moment is given back.
 */
export class ThreadSemaphore extends PermitHolder implements Shareable {
  readonly #core: SemaphoreCore;

  /** @param value the number of permits, an integer >= 0. @default 1 */
  constructor(value = 1) {
    super();
    if (adopting !== null) {
      this.#core = adopting;
      adopting = null;
      return;
    }
    checkInteger("value", value, 0);
    if (value > MAX_VALUE) throw rangeError("value", `an integer <= ${MAX_VALUE}`, value);
    this.#core = SemaphoreCore.of(createSemaphoreBuffer(KIND_SEMAPHORE, value));
  }

  /** Revives a semaphore from `share().data`; an already revived one is returned as is. */
  static from(data: unknown): ThreadSemaphore {
    if (isInstance(data, ThreadSemaphore)) return data as ThreadSemaphore;
    const buffer = fieldOf(data, "buffer");
    if (fieldOf(data, "kind") !== "multiloop.ThreadSemaphore" || !isSemaphoreBuffer(buffer, KIND_SEMAPHORE)) {
      throw typeError("data", "the data of ThreadSemaphore.share()", data);
    }
    adopting = SemaphoreCore.of(buffer);
    return new ThreadSemaphore();
  }

  /** Data for `workerData` or `postMessage`; revive it with `ThreadSemaphore.from(data)`. */
  share(): SharedData {
    const data: ThreadSemaphoreData = { kind: "multiloop.ThreadSemaphore", buffer: this.#core.buffer };
    return { data, transferList: [] };
  }

  /**
   * Takes a permit, waiting in line while there is none. Resolves `true`. With `{ timeout }`,
   * rejects with `TimeoutError` after that many milliseconds; with `{ signal }`, rejects with the
   * signal's reason when it aborts. Either way, or when the waiting task is cancelled, nothing is
   * kept: no permit, no place in line.
   */
  acquire(options: ThreadAcquireOptions = {}): Promise<true> {
    return this.#core.acquireWith(options, "a ThreadSemaphore");
  }

  /** Gives a permit back (from any task, in any thread), waking the first in line. */
  release(): void {
    this.#core.release();
  }

  /** True when `acquire()` could not succeed at once: no permit left, or threads waiting in line. */
  locked(): boolean {
    return this.#core.permits() <= 0 || this.#core.lineNonEmpty();
  }

  override toString(): string {
    return `<ThreadSemaphore value=${this.#core.permits()}${this.#core.lineNonEmpty() ? " waiters" : ""}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

registerShareable("ThreadSemaphore", ThreadSemaphore, (data) => ThreadSemaphore.from(data));
