/**
 * The shared part of ThreadLock and ThreadSemaphore: permits in shared memory, handed out in
 * ticket order so that no thread starves.
 *
 * Shared words: `PERMITS` (free permits), `NEXT` (the ticket dispenser), `SERVING` (the ticket at
 * the head of the line), `EPOCH` (the wake-up word, shared-signal.ts) and a ring of `SLOTS` that
 * records abandoned tickets.
 *
 * - Fast path: when nobody is in line (`NEXT == SERVING`), an acquire takes a permit by CAS.
 * - Otherwise a thread takes a ticket (`NEXT++`) on behalf of its oldest waiting task. When
 *   `SERVING` reaches its ticket it is the head of the line: it waits for a permit, takes it, hands
 *   it to that task and passes the turn (`SERVING++`). Newcomers cannot barge past a line (they see
 *   `NEXT != SERVING`), and a thread with more waiting tasks takes a new ticket at the back, so
 *   threads are served round-robin: nobody starves. Within a thread, tasks are served FIFO.
 * - Each thread holds at most one ticket per object (its core, shared-cores.ts), and gives it up as
 *   soon as it has no waiting task left (timeouts, cancellations): a thread that ends must not leave
 *   a ticket that nobody will ever pass on. Giving up a ticket `t` before its turn writes `t` into
 *   slot `t % SLOTS`; whoever moves `SERVING` onto `t` skips it. The race between "abandon" (write
 *   slot, then read SERVING) and "pass the turn" (write SERVING, then read slot) is settled by a
 *   CAS on the slot: exactly one of the two moves the line on. A thread whose tasks wait again
 *   before its abandoned ticket was skipped takes it back by the same CAS, keeping its place.
 *
 * - A thread that dies while in line (a `worker.terminate()`, a `process.exit()`) cannot give its
 *   ticket up. The threads behind it wait with a timeout (STALL_MS): when a whole period goes by
 *   with no release and no turn passed while a permit is free, the head of the line is not taking
 *   it, and they skip it (a CAS on `SERVING` from the head they saw). A live head that was only
 *   stuck in synchronous work finds its turn passed when it runs again and rejoins at the end.
 *
 * Invariants: permits are only taken by CAS on `PERMITS`, so at most `value` holders exist whatever
 * the line does; permits taken = permits handed to tasks (a task granted a permit and then
 * cancelled or timed out gives it back); every move of `SERVING` is a CAS from the value the mover
 * saw, so the line never moves twice for one turn or backwards; `SERVING` points at a ticket held
 * by a thread, or at `NEXT`, and a dead head is skipped within STALL_MS once a permit is free.
 *
 * The one thing shared memory cannot know is that a thread died while *holding* a permit: nobody
 * gives it back. The classes document this and offer `acquire({ timeout })`.
 */
import { types } from "node:util";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import type { TimerHandle } from "../core/handle.js";
import { TimeoutError } from "../core/errors.js";
import { getRunningLoop } from "../core/policy.js";
import { checkObject, checkOptionalTime } from "../core/validate.js";
import { checkSignal, rejectOnAbort, type SignalOptions } from "../core/abort.js";
import { coreFor, writeSharedId } from "./shared-cores.js";
import { SignalWatcher, signalAll } from "./shared-signal.js";

export interface ThreadAcquireOptions extends SignalOptions {
  /**
   * Give up after this many milliseconds: the promise rejects with `TimeoutError` and nothing is
   * kept (no permit, no place in line). `null`/absent: wait as long as it takes.
   */
  timeout?: number | null;
}

const MAGIC = 0;
const ID = 1;
const KIND = 3;
const PERMITS = 16;
const NEXT = 32;
const SERVING = 48;
const EPOCH = 64;
const WATCHERS = 65;
const SLOT_BITS = 10;
const SLOT_COUNT = 1 << SLOT_BITS;
const SLOT_MASK = SLOT_COUNT - 1;
const SLOTS = 80;
const WORDS = SLOTS + SLOT_COUNT;

const MAGIC_VALUE = 0x4d4c534d; // "MLSM"
/**
 * How long waiters put up with a head of the line that ignores a free permit before skipping it
 * (see #skipStalledHead). Long enough that a live thread busy for a moment is not skipped often;
 * short enough that a dead one does not hold the line for long.
 */
const STALL_MS = 1000;
export const KIND_LOCK = 1;
export const KIND_SEMAPHORE = 2;

/** What sits in slot `t % SLOTS` when ticket `t` was abandoned: never 0 (0 is an empty slot). */
function slotTag(ticket: number): number {
  return (ticket >>> SLOT_BITS) + 1;
}

export function createSemaphoreBuffer(kind: number, permits: number): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(WORDS * 4);
  const i32 = new Int32Array(buffer);
  i32[MAGIC] = MAGIC_VALUE;
  i32[KIND] = kind;
  i32[PERMITS] = permits;
  writeSharedId(i32, ID);
  return buffer;
}

export function isSemaphoreBuffer(buffer: unknown, kind: number): buffer is SharedArrayBuffer {
  if (!types.isSharedArrayBuffer(buffer) || buffer.byteLength !== WORDS * 4) return false;
  const i32 = new Int32Array(buffer, 0, 4);
  return i32[MAGIC] === MAGIC_VALUE && i32[KIND] === kind;
}

interface Waiter {
  readonly fut: Future<true>;
  timer: TimerHandle | null;
}

/** One thread's side of one lock or semaphore. */
export class SemaphoreCore {
  readonly buffer: SharedArrayBuffer;
  readonly #i32: Int32Array;
  /** Tasks of this thread waiting for a permit, oldest first. */
  readonly #waiters: Waiter[] = [];
  /** The ticket this thread holds in the line, if any. */
  #ticket: number | null = null;
  /** A ticket given up and maybe not skipped yet: taken back if tasks wait again. */
  #abandoned: number | null = null;
  /** The ticket could not be given up (its slot was taken): pass it on when its turn comes. */
  #pinned = false;
  /** The head of the line when this thread last looked (just before its watcher waited). */
  #headSeen: number | null = null;
  readonly #watch: SignalWatcher;

  static of(buffer: SharedArrayBuffer): SemaphoreCore {
    const i32 = new Int32Array(buffer);
    return coreFor("ThreadSemaphore", i32, ID, () => new SemaphoreCore(buffer, i32));
  }

  private constructor(buffer: SharedArrayBuffer, i32: Int32Array) {
    this.buffer = buffer;
    this.#i32 = i32;
    this.#watch = new SignalWatcher(
      i32,
      EPOCH,
      WATCHERS,
      {
        needsSignal: () => this.#ticket !== null || this.#liveWaiters() > 0,
        wakeReady: () => {
          this.#serve();
        },
        stalled: () => {
          this.#skipStalledHead();
        },
      },
      STALL_MS,
    );
  }

  permits(): number {
    return Atomics.load(this.#i32, PERMITS);
  }

  /** Whether tickets are out (some thread waits in line). */
  lineNonEmpty(): boolean {
    return Atomics.load(this.#i32, NEXT) !== Atomics.load(this.#i32, SERVING);
  }

  /** Takes a permit now if nobody (here or elsewhere) waits for one. */
  tryAcquire(): boolean {
    // Tasks of this thread already waiting come first (FIFO within a thread).
    if (this.#ticket !== null || this.#liveWaiters() > 0) return false;
    if (this.lineNonEmpty()) return false;
    return this.#takePermit();
  }

  /**
   * `acquire(options)` of ThreadLock and ThreadSemaphore: checks the options, takes a free permit at
   * once, else waits in line (see `acquire`).
   */
  async acquireWith(options: ThreadAcquireOptions, describe: string): Promise<true> {
    checkObject("options", options);
    checkOptionalTime("options.timeout", options.timeout);
    checkSignal("options.signal", options.signal);
    const loop = getRunningLoop();
    options.signal?.throwIfAborted();
    if (this.tryAcquire()) return true;
    return await this.acquire(loop, options.timeout, describe, options.signal);
  }

  /** Waits in line for a permit. Resolves true once granted; rejects on timeout, abort or
   * cancellation without keeping a permit or a ticket. */
  async acquire(loop: EventLoop, timeoutMs: number | null | undefined, describe: string, signal?: AbortSignal): Promise<true> {
    const fut = loop.createFuture<true>();
    const waiter: Waiter = { fut, timer: null };
    const stopListening = rejectOnAbort(fut, signal);
    if (timeoutMs !== null && timeoutMs !== undefined) {
      waiter.timer = loop.callLater(timeoutMs, () => {
        if (!fut.done()) {
          fut.setException(new TimeoutError(`Timed out after ${timeoutMs} ms waiting to acquire ${describe}`));
        }
      });
    }
    this.#waiters.push(waiter);
    // Get in line now (the ticket is taken synchronously, so the order of asking is the order of
    // calls), even if this thread's watcher is still armed from an earlier wait.
    this.#serve();
    this.#watch.service();
    try {
      await fut;
    } catch (err) {
      // Granted, then cancelled before the task could run: the permit goes back.
      const granted = fut.done() && !fut.cancelled() && fut.exception() === null;
      this.#leave(waiter);
      // (A lock's permit was taken by this task, so giving it back here is always right.)
      if (granted) this.release();
      throw err;
    } finally {
      waiter.timer?.cancel();
      stopListening?.();
    }
    if (signal?.aborted === true) {
      // Granted, then aborted before the task could run: as a cancel, the permit goes back.
      this.release();
      throw signal.reason;
    }
    return true;
  }

  /** Gives a permit back and tells the line. */
  release(): void {
    Atomics.add(this.#i32, PERMITS, 1);
    this.#afterRelease();
  }

  /** A lock's release: its one permit goes back only if it was taken. */
  releaseHeld(): boolean {
    if (Atomics.compareExchange(this.#i32, PERMITS, 0, 1) !== 0) return false;
    this.#afterRelease();
    return true;
  }

  #afterRelease(): void {
    // Read NEXT/SERVING after the permit is visible (Dekker with a thread taking a ticket).
    if (this.lineNonEmpty()) signalAll(this.#i32, EPOCH);
    // This thread may be the head of the line: no need to wait for the signal's round trip.
    if (this.#ticket !== null) {
      this.#serve();
      this.#watch.service();
    }
  }

  #takePermit(): boolean {
    const i32 = this.#i32;
    for (;;) {
      const p = Atomics.load(i32, PERMITS);
      if (p <= 0) return false;
      if (Atomics.compareExchange(i32, PERMITS, p, p - 1) === p) return true;
    }
  }

  #liveWaiters(): number {
    const waiters = this.#waiters;
    let kept = 0;
    for (const w of waiters) if (!w.fut.done() && !w.fut.getLoop().isClosed()) waiters[kept++] = w;
    waiters.length = kept;
    return kept;
  }

  /** A waiter left (granted, timed out or cancelled). With nobody left waiting, give up the ticket. */
  #leave(waiter: Waiter): void {
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
    if (this.#liveWaiters() === 0) this.#abandon();
  }

  /** Serves the line as far as this thread can: called on every signal while it holds a ticket. */
  #serve(): void {
    const i32 = this.#i32;
    for (;;) {
      if (this.#ticket === null) {
        if (this.#liveWaiters() === 0) return;
        this.#takeTicket();
      }
      const ticket = this.#ticket as number;
      const serving = Atomics.load(i32, SERVING);
      this.#headSeen = serving;
      if (((serving - ticket) | 0) > 0) {
        // Our turn was skipped (this thread looked dead to the others: see #skipStalledHead).
        // Back to the end of the line.
        this.#ticket = null;
        this.#pinned = false;
        continue;
      }
      if (serving !== ticket) {
        // Waiters whose loop was closed without cancelling them never leave by themselves: give
        // the ticket up for them, so the line does not depend on this thread staying alive.
        if (!this.#pinned && this.#liveWaiters() === 0) this.#abandon();
        return;
      }
      // Head of the line.
      if (this.#liveWaiters() === 0) {
        this.#ticket = null;
        this.#pinned = false;
        this.#passTurn(ticket);
        return;
      }
      if (!this.#takePermit()) return;
      const waiter = this.#waiters.shift() as Waiter;
      waiter.fut.setResult(true);
      this.#ticket = null;
      this.#pinned = false;
      this.#passTurn(ticket);
    }
  }

  #takeTicket(): void {
    const abandoned = this.#abandoned;
    this.#abandoned = null;
    if (abandoned !== null) {
      const tag = slotTag(abandoned);
      if (Atomics.compareExchange(this.#i32, SLOTS + (abandoned & SLOT_MASK), tag, 0) === tag) {
        this.#ticket = abandoned;
        return;
      }
    }
    this.#ticket = Atomics.add(this.#i32, NEXT, 1);
  }

  /**
   * Moves the head of the line past `ticket`, skipping abandoned tickets, and wakes everyone.
   * Every move is a CAS from the value the mover saw, so two movers (the head and a thread
   * skipping a stalled head) can never move the line twice or backwards.
   */
  #passTurn(ticket: number): void {
    const i32 = this.#i32;
    let serving = ticket;
    for (;;) {
      const next = (serving + 1) | 0;
      if (Atomics.compareExchange(i32, SERVING, serving, next) !== serving) break;
      serving = next;
      if (serving === Atomics.load(i32, NEXT)) break;
      const tag = slotTag(serving);
      if (Atomics.compareExchange(i32, SLOTS + (serving & SLOT_MASK), tag, 0) !== tag) break;
    }
    signalAll(i32, EPOCH);
  }

  /**
   * Called when this thread waited in line for STALL_MS and nothing moved anywhere (no release, no
   * turn passed). If a permit is free all that time, the head of the line is not taking it: its
   * thread is dead (terminated while waiting) or stuck in synchronous work. Skip it, so one dead
   * waiter cannot block everyone behind it. A head that was merely slow notices when it runs again
   * and rejoins at the end of the line; permits are still taken by CAS, so exclusion holds.
   */
  #skipStalledHead(): void {
    const ticket = this.#ticket;
    if (ticket === null) return;
    const i32 = this.#i32;
    const head = Atomics.load(i32, SERVING);
    // The same head as when we started waiting, not us, not behind us, and a permit free.
    if (head !== this.#headSeen || head === ticket || ((head - ticket) | 0) > 0) return;
    if (Atomics.load(i32, PERMITS) <= 0) return;
    this.#passTurn(head);
  }

  #abandon(): void {
    const ticket = this.#ticket;
    if (ticket === null) return;
    const i32 = this.#i32;
    this.#ticket = null;
    this.#pinned = false;
    if (Atomics.load(i32, SERVING) === ticket) {
      this.#passTurn(ticket);
      return;
    }
    const slot = SLOTS + (ticket & SLOT_MASK);
    const tag = slotTag(ticket);
    if (Atomics.compareExchange(i32, slot, 0, tag) !== 0) {
      // Over SLOTS tickets out at once (not with one ticket per thread): keep this one and pass it
      // on when its turn comes, which needs this thread alive.
      this.#ticket = ticket;
      this.#pinned = true;
      this.#watch.service();
      return;
    }
    // The turn may have reached us while we wrote the slot: whoever wins the slot moves on.
    if (Atomics.load(i32, SERVING) === ticket) {
      if (Atomics.compareExchange(i32, slot, tag, 0) === tag) this.#passTurn(ticket);
      return;
    }
    this.#abandoned = ticket;
  }
}
