/**
 * `ThreadQueue<T>`: one FIFO queue shared by event loops in different threads.
 *
 * Design, in three layers:
 * - the items live in shared memory (thread-queue-ring.ts): a lock-free ring of cells in one
 *   SharedArrayBuffer, records encoded with structured clone semantics (thread-queue-codec.ts).
 *   No thread owns the queue, so no thread's loop has to run for others to put and get; there are
 *   no MessagePorts at all;
 * - each thread has one core per queue (thread-queue-core.ts, found through shared-cores.ts),
 *   holding that thread's waiting tasks in FIFO order and one watcher per wake-up word
 *   (shared-signal.ts): `NOT_EMPTY` for getters, `NOT_FULL` for putters. Watchers wait with
 *   `Atomics.waitAsync`, never a blocking wait;
 * - the public object is a thin copy: every copy revived in a thread uses that thread's core.
 *
 * Waiting follows asyncio.Queue: a waiter's future is only a wake-up; the woken task takes the item
 * itself, synchronously, when it runs (below, `get` and `#putAll` loop "try, else wait"). So
 * nothing is lost to cancellation.
 *
 * Invariants: every item put is delivered exactly once (claims are CAS on one position counter);
 * items come out in the order their puts reserved space, so each producer's order is kept;
 * `qsize()` never exceeds `maxsize` (tokens are taken before space is reserved); after `close()`,
 * puts fail with QueueShutDown, gets drain what is left and then fail with QueueShutDown, and every
 * waiter in every thread is woken.
 */
import { inspect, types } from "node:util";
import { registerShareable, type Shareable, type SharedData } from "./crossing.js";
import { QueueEmpty, QueueFull, QueueShutDown } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import { getRunningLoop } from "../core/policy.js";
import { CELL, HEADER, RecordWriter } from "./thread-queue-codec.js";
import { coreOf, type QueueCore } from "./thread-queue-core.js";
import { MAX_ITEMS, PUT_CLOSED, SharedRing } from "./thread-queue-ring.js";
import { checkInteger, fieldOf, isInstance, isIterableObject, rangeError, readOptions, typeError } from "../core/validate.js";
import { checkSignal, type SignalOptions } from "../core/abort.js";

/** The options of `get`, `put`, `getMany` and `putMany`. */
export type ThreadQueueWaitOptions = SignalOptions;

/** Checks a wait's options and throws the signal's reason if it is already aborted. */
function startWait(options: ThreadQueueWaitOptions): AbortSignal | undefined {
  const signal = readOptions("options", options).signal;
  checkSignal("options.signal", signal);
  signal?.throwIfAborted();
  return signal;
}

export interface ThreadQueueOptions {
  /**
   * The most items the queue holds; `put` waits and `putNowait` throws QueueFull beyond it.
   * 0 means no limit on the number of items (the buffer still bounds their bytes).
   * @default 0
   */
  maxsize?: number;
  /**
   * Bytes of shared memory for the items waiting in the queue (rounded up to a power of two).
   * When they are full, `put` waits and `putNowait` throws QueueFull, whatever `maxsize` says.
   * An item larger than the whole buffer is refused with a RangeError.
   * @default 1048576 (1 MiB)
   */
  bufferSize?: number;
}

/** What `share().data` holds (plain data: postMessage-able, no transfer needed). */
export interface ThreadQueueData {
  kind: "multiloop.ThreadQueue";
  buffer: SharedArrayBuffer;
}

const DEFAULT_BUFFER = 1 << 20;
const MIN_BUFFER = 1 << 10;
const MAX_BUFFER = 1 << 30;

/**
 * The encoder reused by synchronous puts. Encoding can run user code (a getter on the item) that
 * puts into a queue itself: that nested put finds the scratch taken and makes its own.
 */
let scratch: RecordWriter | null = null;

function takeScratch(): RecordWriter {
  const writer = scratch ?? new RecordWriter();
  scratch = null;
  writer.reset();
  return writer;
}

function giveScratch(writer: RecordWriter): void {
  scratch = writer;
}

function isData(data: unknown): data is ThreadQueueData {
  const buffer = fieldOf(data, "buffer");
  return fieldOf(data, "kind") === "multiloop.ThreadQueue" && types.isSharedArrayBuffer(buffer) && SharedRing.isRing(buffer);
}

/** Set by `from()` just before it calls the constructor: the core to adopt. */
let adopting: QueueCore | null = null;

/**
 * A FIFO queue that event loops in different threads share (asyncio.Queue, across threads).
 *
 * Create it in any thread, pass it to others as an argument or result of `thread.call`,
 * `callSoonThreadsafe` or `runCoroutineThreadsafe` (or with `share()` / `ThreadQueue.from()`
 * through `workerData` and `postMessage`), and `await put()` / `await get()` on each thread's own
 * loop. Items are copied with structured clone semantics: what a getter receives is a copy, and
 * values structured clone refuses (functions, symbols, MessagePorts, SharedArrayBuffers) are
 * refused by `put` with a TypeError. `putMany` / `getMany` move items in batches, for throughput.
 *
 * @example
 * // main thread
 * const queue = new ThreadQueue<Job>({ maxsize: 100 });
 * const worker = await spawnLoopThread({ module: new URL("./consumer.js", import.meta.url) });
 * const done = worker.call("consume", queue);     // the queue crosses as an argument
 * for (const job of jobs) await queue.put(job);   // waits while 100 items are queued
 * queue.close();
 * await done;
 * // consumer.ts
 * export async function consume(queue: ThreadQueue<Job>): Promise<void> {
 *   for await (const job of queue) await handle(job); // ends when the queue is closed and drained
 * }
 *
 * Thread-safety: every method may be called from any thread at any time; the shared state is only
 * touched with Atomics. Waiting (`put`, `get`, ...) needs a running event loop in the calling
 * thread; it never blocks the thread, and the running loop keeps the thread alive while it waits.
 * `qsize()`, `empty()` and `full()` are exact for a moment and may be stale the next, as other
 * threads move items. A put or a get touches shared memory in one short synchronous step; a thread
 * killed inside that step (`worker.terminate()` at that very instant) leaves a slot that is never
 * filled or never freed, and the queue stops moving past it. Ending threads with `stop()` rather
 * than `terminate()` avoids it.
 *
 * Cancellation: cancelling a task waiting in `put`/`get` takes nothing from the queue and puts
 * nothing into it; a `putMany` cancelled half way has put a prefix of its items.
 */
export class ThreadQueue<T = unknown> implements Shareable, AsyncDisposable {
  readonly #core: QueueCore;

  constructor(options: ThreadQueueOptions = {}) {
    if (adopting !== null) {
      this.#core = adopting;
      adopting = null;
      return;
    }
    options = readOptions("options", options);
    const maxsize = options.maxsize ?? 0;
    checkInteger("options.maxsize", maxsize, 0);
    if (maxsize > MAX_ITEMS) throw rangeError("options.maxsize", `an integer <= ${MAX_ITEMS}`, maxsize);
    const bufferSize = options.bufferSize ?? DEFAULT_BUFFER;
    checkInteger("options.bufferSize", bufferSize, MIN_BUFFER);
    if (bufferSize > MAX_BUFFER) throw rangeError("options.bufferSize", `an integer <= ${MAX_BUFFER}`, bufferSize);
    let cells = 1;
    while (cells * CELL < bufferSize) cells *= 2;
    this.#core = coreOf(SharedRing.create(cells, maxsize));
  }

  /**
   * Revives a queue from `share().data` (in a worker, from `workerData` or a message). An already
   * revived `ThreadQueue` is returned as is.
   */
  static from<T = unknown>(data: unknown): ThreadQueue<T> {
    if (isInstance(data, ThreadQueue)) return data as ThreadQueue<T>;
    if (!isData(data)) throw typeError("data", "the data of ThreadQueue.share()", data);
    adopting = coreOf(new SharedRing(data.buffer));
    return new ThreadQueue<T>();
  }

  /** Data for `workerData` or `postMessage`; revive it with `ThreadQueue.from(data)`. */
  share(): SharedData {
    const data: ThreadQueueData = { kind: "multiloop.ThreadQueue", buffer: this.#core.ring.buffer };
    return { data, transferList: [] };
  }

  /** The most items the queue holds (0: no limit but the buffer). */
  get maxsize(): number {
    return this.#core.ring.maxsize;
  }

  /** Items in the queue now, counting those being written or read by some thread this instant. */
  qsize(): number {
    return this.#core.ring.qsize();
  }

  empty(): boolean {
    return this.qsize() === 0;
  }

  /** True when `maxsize` items are queued (a full buffer with fewer items does not count). */
  full(): boolean {
    const maxsize = this.maxsize;
    return maxsize > 0 && this.qsize() >= maxsize;
  }

  /** Whether `close()` was called (in any thread). */
  get closed(): boolean {
    return this.#core.ring.closed();
  }

  /**
   * Puts `item` now. Throws QueueFull when `maxsize` items are queued or the buffer is full,
   * QueueShutDown after `close()`, TypeError if structured clone cannot copy the item.
   */
  putNowait(item: T): void {
    const writer = takeScratch();
    try {
      writer.append(item, "item");
      this.#checkFits(writer, 0);
      const put = this.#core.ring.tryPut(writer, 0, 1);
      if (put === PUT_CLOSED) throw new QueueShutDown("The queue was closed");
      if (put === 0) throw new QueueFull(this.#fullMessage());
    } finally {
      giveScratch(writer);
    }
    this.#afterPut();
  }

  /**
   * Puts `item`, waiting while the queue is full. Rejects with QueueShutDown if the queue is (or
   * gets) closed before the item went in. With `{ signal }`, an abort rejects with the signal's
   * reason and puts nothing.
   */
  async put(item: T, options: ThreadQueueWaitOptions = {}): Promise<void> {
    const loop = getRunningLoop();
    const signal = startWait(options);
    const scratchWriter = takeScratch();
    let writer = scratchWriter;
    try {
      writer.append(item, "item");
      this.#checkFits(writer, 0);
      const put = this.#core.ring.tryPut(writer, 0, 1);
      if (put === 1) {
        this.#afterPut();
        return;
      }
      if (put === PUT_CLOSED) throw new QueueShutDown("The queue was closed");
      // It waits: keep our own copy of the encoded item (the scratch is for synchronous use).
      writer = writer.slice(0, 1);
    } finally {
      giveScratch(scratchWriter);
    }
    await this.#putAll(loop, writer, signal);
  }

  /**
   * Puts every item of `items`, in order, waiting for room as needed; the batch is encoded once and
   * moved in as few steps as room allows (use it for throughput). Every item is checked before the
   * first goes in. If cancelled, aborted (`{ signal }`) or closed half way, the items put so far
   * stay in the queue.
   */
  async putMany(items: Iterable<T>, options: ThreadQueueWaitOptions = {}): Promise<void> {
    const loop = getRunningLoop();
    const signal = startWait(options);
    if (!isIterableObject(items) && typeof items !== "string") throw typeError("items", "an iterable", items);
    const writer = new RecordWriter();
    let i = 0;
    for (const item of items) {
      writer.append(item, `items[${i}]`);
      this.#checkFits(writer, i, `items[${i}]`);
      i++;
    }
    await this.#putAll(loop, writer, signal);
  }

  async #putAll(loop: EventLoop, writer: RecordWriter, signal: AbortSignal | undefined): Promise<void> {
    const core = this.#core;
    const total = writer.count;
    let done = 0;
    while (done < total) {
      const put = core.ring.tryPut(writer, done, total);
      if (put === PUT_CLOSED) throw new QueueShutDown("The queue was closed");
      if (put > 0) {
        done += put;
        this.#afterPut();
        continue;
      }
      await core.waitForRoom(loop, writer.cells[done] as number, signal);
    }
  }

  /** Takes the first item now. Throws QueueEmpty, or QueueShutDown once closed and drained. */
  getNowait(): T {
    const out: unknown[] = [];
    if (this.#take(1, out) === 0) throw this.#emptyError();
    return out[0] as T;
  }

  /**
   * Takes the first item, waiting while the queue is empty. Rejects with QueueShutDown once the
   * queue is closed and drained. With `{ signal }`, an abort rejects with the signal's reason and
   * takes nothing.
   */
  async get(options: ThreadQueueWaitOptions = {}): Promise<T> {
    const loop = getRunningLoop();
    const signal = startWait(options);
    const out: unknown[] = [];
    for (;;) {
      if (this.#take(1, out) === 1) return out[0] as T;
      if (this.#drained()) throw new QueueShutDown("The queue was closed");
      await this.#core.waitForItem(loop, signal);
    }
  }

  /**
   * Takes up to `max` items at once, waiting while the queue is empty: resolves with at least one
   * item, as many as are queued (up to `max`), in order. Rejects with QueueShutDown once the queue
   * is closed and drained. With `{ signal }`, an abort rejects with the signal's reason and takes
   * nothing.
   */
  async getMany(max: number, options: ThreadQueueWaitOptions = {}): Promise<T[]> {
    checkInteger("max", max, 1);
    const loop = getRunningLoop();
    const signal = startWait(options);
    const out: unknown[] = [];
    for (;;) {
      if (this.#take(max, out) > 0) return out as T[];
      if (this.#drained()) throw new QueueShutDown("The queue was closed");
      await this.#core.waitForItem(loop, signal);
    }
  }

  /**
   * Closes the queue, for every thread: puts fail with QueueShutDown from now on, waiting putters
   * everywhere wake with QueueShutDown, gets take what is left and then fail with QueueShutDown
   * (so waiting getters wake with it at once), and `for await` loops end. Idempotent.
   */
  close(): void {
    const core = this.#core;
    core.ring.close();
    core.kickGetters();
    core.kickPutters();
  }

  /** Closes the queue for every thread (`close()`): `await using queue = new ThreadQueue()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Yields items until the queue is closed and drained (asyncio's `async for`). */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (err) {
        if (err instanceof QueueShutDown) return;
        throw err;
      }
      yield item;
    }
  }

  #take(max: number, out: unknown[]): number {
    const core = this.#core;
    const n = core.ring.tryTake(max, out);
    // Room was made: this thread's own waiting putters need not wait for the signal's round trip.
    if (n > 0) core.kickPutters();
    return n;
  }

  #afterPut(): void {
    this.#core.kickGetters();
  }

  #drained(): boolean {
    const ring = this.#core.ring;
    return ring.closed() && ring.qsize() === 0;
  }

  #emptyError(): Error {
    return this.#drained() ? new QueueShutDown("The queue was closed") : new QueueEmpty("The queue is empty");
  }

  #fullMessage(): string {
    const ring = this.#core.ring;
    return ring.maxsize > 0 && ring.qsize() >= ring.maxsize
      ? `The queue is full (maxsize ${ring.maxsize})`
      : `The queue's buffer is full (${ring.bufferBytes} bytes)`;
  }

  #checkFits(writer: RecordWriter, index: number, what = "item"): void {
    const ring = this.#core.ring;
    const length = writer.bytes(index, index + 1) - HEADER;
    if ((writer.cells[index] as number) * CELL > ring.bufferBytes) {
      throw new RangeError(
        `Expected \`${what}\` to fit in the queue's buffer of ${ring.bufferBytes} bytes (option bufferSize), ` +
          `got about ${length} bytes once serialized`,
      );
    }
  }

  toString(): string {
    const ring = this.#core.ring;
    const closed = ring.closed() ? " closed" : "";
    return `<ThreadQueue maxsize=${ring.maxsize} qsize=${ring.qsize()}${closed}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

registerShareable("ThreadQueue", ThreadQueue, (data) => ThreadQueue.from(data));
