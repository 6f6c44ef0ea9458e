/**
 * One thread's side of one ThreadQueue: the tasks of this thread waiting to get or to put, and the
 * two watchers (shared-signal.ts) that wake them when another thread commits items or frees room.
 *
 * Waiting follows asyncio.Queue: a waiter's future is only a wake-up; the woken task takes (or
 * puts) its item itself when it runs. So a task cancelled after being woken has taken nothing, and
 * passes the wake-up on to the next waiter. A thread wakes at most as many of its getters as there
 * are committed items not already spoken for by getters woken before (and putters by free tokens
 * and cells), so a burst does not wake everyone; a woken task that finds the item gone (another
 * thread was faster) waits again. Local waiters are served oldest first.
 */
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { rejectOnAbort } from "../core/abort.js";
import { coreFor } from "./shared-cores.js";
import { SignalWatcher } from "./shared-signal.js";
import { GET_WATCHERS, ID, NOT_EMPTY, NOT_FULL, PUT_WATCHERS, type SharedRing } from "./thread-queue-ring.js";

interface Putter {
  readonly fut: Future<void>;
  /** Cells of the record it will put next. */
  readonly cells: number;
}

function alive(fut: Future<unknown>): boolean {
  return !fut.done() && !fut.getLoop().isClosed();
}

/** One thread's side of one queue: its waiting tasks and its two watchers. */
export class QueueCore {
  readonly ring: SharedRing;
  /** Waiting getters not woken yet, oldest first. */
  readonly #getters: Future<void>[] = [];
  /** Getters woken and not yet run: the items they will take are spoken for. */
  readonly #wokenGetters = new Set<Future<void>>();
  readonly #putters: Putter[] = [];
  readonly #wokenPutters = new Map<Future<void>, number>();
  readonly #getWatch: SignalWatcher;
  readonly #putWatch: SignalWatcher;

  constructor(ring: SharedRing) {
    this.ring = ring;
    this.#getWatch = new SignalWatcher(ring.header, NOT_EMPTY, GET_WATCHERS, {
      needsSignal: () => this.#liveGetters() > 0,
      wakeReady: () => {
        this.#wakeGetters();
      },
    });
    this.#putWatch = new SignalWatcher(ring.header, NOT_FULL, PUT_WATCHERS, {
      needsSignal: () => this.#livePutters() > 0,
      wakeReady: () => {
        this.#wakePutters();
      },
    });
  }

  /**
   * Waits until an item may be there (or the queue closed). Cancellation, or an abort of `signal`
   * (rejecting with its reason), leaves nothing behind.
   */
  async waitForItem(loop: EventLoop, signal: AbortSignal | undefined): Promise<void> {
    const waiter = loop.createFuture<void>();
    this.#getters.push(waiter);
    this.kickGetters();
    const stopListening = rejectOnAbort(waiter, signal);
    try {
      await waiter;
    } catch (err) {
      removeFrom(this.#getters, waiter);
      // Woken, then cancelled before it could take the item: the next waiter gets the chance.
      if (this.#wokenGetters.delete(waiter)) this.kickGetters();
      throw err;
    } finally {
      stopListening?.();
    }
    this.#wokenGetters.delete(waiter);
    if (signal?.aborted === true) {
      // Woken, then aborted before it ran: as a cancel, pass the wake-up on.
      this.kickGetters();
      throw signal.reason;
    }
  }

  /** Waits until there may be room for a record of `cells` cells (or the queue closed); as `waitForItem`. */
  async waitForRoom(loop: EventLoop, cells: number, signal: AbortSignal | undefined): Promise<void> {
    const waiter = loop.createFuture<void>();
    this.#putters.push({ fut: waiter, cells });
    this.kickPutters();
    const stopListening = rejectOnAbort(waiter, signal);
    try {
      await waiter;
    } catch (err) {
      const i = this.#putters.findIndex((p) => p.fut === waiter);
      if (i >= 0) this.#putters.splice(i, 1);
      if (this.#wokenPutters.delete(waiter)) this.kickPutters();
      throw err;
    } finally {
      stopListening?.();
    }
    this.#wokenPutters.delete(waiter);
    if (signal?.aborted === true) {
      this.kickPutters();
      throw signal.reason;
    }
  }

  /** Wakes local getters now if items are there, and keeps a watcher armed for the rest. */
  kickGetters(): void {
    // The common case in a busy pipeline: nobody waits in this thread (one check per put).
    if (this.#getters.length === 0) return;
    this.#wakeGetters();
    this.#getWatch.service();
  }

  kickPutters(): void {
    if (this.#putters.length === 0) return;
    this.#wakePutters();
    this.#putWatch.service();
  }

  #liveGetters(): number {
    prune(this.#getters);
    return this.#getters.length;
  }

  #livePutters(): number {
    const putters = this.#putters;
    let kept = 0;
    for (const p of putters) if (alive(p.fut)) putters[kept++] = p;
    putters.length = kept;
    return kept;
  }

  #wakeGetters(): void {
    const live = this.#liveGetters();
    if (live === 0) return;
    const woken = this.#wokenGetters;
    // A woken getter whose loop closed before it ran will never take its item.
    for (const fut of woken) if (fut.getLoop().isClosed()) woken.delete(fut);
    const ring = this.ring;
    let n: number;
    if (ring.closed() && ring.qsize() === 0) {
      // Closed and drained: every waiter wakes, to raise QueueShutDown.
      n = live;
    } else {
      n = Math.min(live, ring.visible(woken.size + live) - woken.size);
    }
    for (let i = 0; i < n; i++) {
      const fut = this.#getters.shift() as Future<void>;
      woken.add(fut);
      fut.setResult(undefined);
    }
  }

  #wakePutters(): void {
    const live = this.#livePutters();
    if (live === 0) return;
    const ring = this.ring;
    const putters = this.#putters;
    if (ring.closed()) {
      for (const p of putters.splice(0)) p.fut.setResult(undefined);
      return;
    }
    const woken = this.#wokenPutters;
    let spoken = 0;
    for (const [fut, cells] of woken) {
      if (fut.getLoop().isClosed()) woken.delete(fut);
      else spoken += cells;
    }
    let tokens = ring.freeTokens() - woken.size;
    let need = spoken;
    for (const p of putters) need += p.cells;
    let cells = ring.freeCells(need) - spoken;
    while (putters.length > 0 && tokens > 0) {
      const next = putters[0] as Putter;
      if (cells < next.cells) break;
      putters.shift();
      tokens--;
      cells -= next.cells;
      woken.set(next.fut, next.cells);
      next.fut.setResult(undefined);
    }
  }
}

function prune(futures: Future<void>[]): void {
  let kept = 0;
  for (const fut of futures) if (alive(fut)) futures[kept++] = fut;
  futures.length = kept;
}

function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

export function coreOf(ring: SharedRing): QueueCore {
  return coreFor("ThreadQueue", ring.header, ID, () => new QueueCore(ring));
}
