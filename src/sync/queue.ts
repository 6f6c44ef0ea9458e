/**
 * `Queue`, `PriorityQueue`, `LifoQueue`: producer/consumer queues for tasks of one loop
 * (asyncio.Queue with Python 3.13's `shutdown`).
 *
 * Waking, as in asyncio: a put wakes the first waiting getter and a get wakes the first waiting
 * putter, in FIFO order. The woken task takes its item (or slot) when it runs; if it is cancelled
 * before that, it passes the wake-up to the next waiter, so nothing is stranded. As in asyncio, a
 * woken task does not reserve the item: another task that runs first may take it, and the woken
 * one then waits again (at the back).
 *
 * Speed: `put`/`get` that need not wait allocate no future and do not touch the loop; the items
 * live in a ring buffer (FIFO), an array (LIFO) or a stable binary heap (priority).
 */
import { inspect } from "node:util";
import { Deque } from "./deque.js";
import { QueueEmpty, QueueFull, QueueShutDown } from "../core/errors.js";
import { Event } from "./event.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { RESOLVED_VOID, rejected } from "./lock.js";
import { bindLoop } from "./loop-bound.js";
import { PriorityHeap, naturalOrder, type Compare } from "./priority-heap.js";
import { checkString, readOptions, typeError } from "../core/validate.js";
import { pyStr } from "../core/format.js";
import { kDescribeWait, kWaitsFor } from "../core/symbols.js";

/**
 * Options of `Queue` and `LifoQueue`.
 *
 * @example
 * const jobs = new Queue<Job>({ maxsize: 100 }); // put() waits while 100 jobs are queued
 */
export interface QueueOptions {
  /**
   * How many items the queue holds before `put()` waits (`putNowait()` throws `QueueFull`). Zero or
   * less means unbounded; a fractional value is allowed (a queue is full when `qsize() >= maxsize`).
   * @default 0
   */
  maxsize?: number;
  /** A name for the queue, shown where a task waits on it (`captureCallGraph`, `snapshotThreads`). */
  name?: string;
}

/**
 * Options of `PriorityQueue`.
 *
 * @example
 * // Latest deadline first; equal deadlines in the order they were put.
 * const q = new PriorityQueue<Job>({ maxsize: 50, compare: (a, b) => b.deadline - a.deadline });
 */
export interface PriorityQueueOptions<T> extends QueueOptions {
  /**
   * Orders items: negative when `a` comes out first. Items it calls equal come out in insertion
   * order. Default: Python-like natural order (see `PriorityQueue`).
   */
  compare?: (a: T, b: T) => number;
}

/** How a queue keeps its items: the one thing its three kinds differ in (asyncio's `_put`/`_get`). */
interface QueueStore<T> {
  readonly length: number;
  push(item: T): void;
  /** Removes the next item in this store's order; only called when not empty. */
  take(): T;
  clear(): void;
  toArray(): T[];
}

class FifoStore<T> extends Deque<T> implements QueueStore<T> {
  take(): T {
    return this.shift() as T;
  }
}

class LifoStore<T> implements QueueStore<T> {
  readonly #items: T[] = [];

  get length(): number {
    return this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  take(): T {
    return this.#items.pop() as T;
  }

  clear(): void {
    this.#items.length = 0;
  }

  toArray(): T[] {
    return this.#items.slice();
  }
}

/** Swaps a queue's store (set in `Queue`'s static block, which can reach its #fields). */
let installStore: <T>(queue: Queue<T>, store: QueueStore<T>) => void;

function toResult<T>(value: T): IteratorResult<T, undefined> {
  return { value, done: false };
}

function endOnShutdown(err: unknown): IteratorResult<never, undefined> {
  if (err instanceof QueueShutDown) return { value: undefined, done: true };
  throw err;
}

/** `for await (const item of queue)`: `get()` until the queue is shut down and empty. */
class QueueIterator<T> implements AsyncIterableIterator<T, undefined, undefined> {
  readonly #queue: Queue<T>;

  constructor(queue: Queue<T>) {
    this.#queue = queue;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    return this.#queue.get().then(toResult, endOnShutdown);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/**
 * A first-in, first-out queue for tasks of one loop (asyncio.Queue, with Python 3.13's
 * `shutdown`). `put()` waits while the queue is full (`maxsize`), `get()` while it is empty.
 * `taskDone()` and `join()` let a producer wait until consumers processed everything.
 * `for await (const item of queue)` gets items until the queue is shut down and empty.
 *
 * @example
 * const queue = new Queue<string>({ maxsize: 10 });
 * const worker = createTask(async () => {
 *   for await (const url of queue) {
 *     try {
 *       await download(url);
 *     } finally {
 *       queue.taskDone();
 *     }
 *   }
 * });
 * for (const url of urls) await queue.put(url); // waits while 10 are queued
 * await queue.join();                          // every item got and processed
 * queue.shutdown();                            // ends the worker's loop
 * await worker;
 *
 * Cancellation: a task cancelled while it waits in `put()` or `get()` neither adds nor takes an
 * item; if it had been woken already, the wake-up goes to the next waiter.
 *
 * Items that are promises (thenables) are adopted by the promise `get()` returns, as any promise
 * adopts a thenable: wrap them (`{ promise }`) to pass them through as values.
 *
 * The queue binds to the running loop the first time a task has to wait on it; waiting on it later
 * from another loop throws `RuntimeError("... is bound to a different event loop")`.
 */
export class Queue<T = unknown> implements AsyncIterable<T, undefined, undefined> {
  #items: QueueStore<T>;
  readonly #maxsize: number;
  /** `qsize() >= limit` is `full()`: maxsize, or Infinity when unbounded. */
  readonly #limit: number;
  // Waiters in FIFO order. Deques rather than Sets: waking the first one is the hot path (no
  // iterator per wake-up); removing a cancelled one from the middle is rare.
  readonly #getters = new Deque<Future<void>>();
  readonly #putters = new Deque<Future<void>>();
  #unfinished = 0;
  readonly #finished = new Event();
  #shutdown = false;
  #loop: EventLoop | null = null;
  readonly #name: string | undefined;

  static {
    installStore = (queue, store) => {
      queue.#items = store;
    };
  }

  constructor(options: QueueOptions = {}) {
    options = readOptions("options", options);
    const maxsize = options.maxsize ?? 0;
    if (typeof maxsize !== "number" || Number.isNaN(maxsize)) {
      throw typeError("options.maxsize", "a number (0 or less for unbounded)", maxsize);
    }
    if (options.name !== undefined) checkString("options.name", options.name);
    this.#name = options.name;
    this.#maxsize = maxsize;
    this.#limit = maxsize > 0 ? maxsize : Infinity;
    this.#items = new FifoStore<T>();
    this.#finished.set();
  }

  /** How many items the queue holds before `put()` waits; 0 or less: unbounded. */
  get maxsize(): number {
    return this.#maxsize;
  }

  /** The number of items in the queue (exact: nothing else runs between this call and the next). */
  qsize(): number {
    return this.#items.length;
  }

  /** Whether the queue has no items. */
  empty(): boolean {
    return this.#items.length === 0;
  }

  /** Whether the queue holds `maxsize` items; never true for an unbounded queue. */
  full(): boolean {
    return this.#items.length >= this.#limit;
  }

  /**
   * Adds `item`, first waiting while the queue is full. Rejects with `QueueShutDown` once the
   * queue is shut down (also while waiting).
   */
  put(item: T): Promise<void> {
    try {
      if (this.#items.length >= this.#limit) return this.#putWait(item);
      this.putNowait(item);
      return RESOLVED_VOID;
    } catch (err) {
      // QueueShutDown, a foreign loop, or a PriorityQueue comparison that threw (nothing added).
      return rejected(err as Error);
    }
  }

  /*
   * The waiting paths are asyncio's `while full(): wait` loops written as continuations of the
   * waiter future rather than as async functions: `then()` called here, in the caller's task,
   * makes the waiter the task's cancel target just as an `await` would, and the continuation runs
   * in the wake-up's own loop slot. That saves an async function's promise and a thenable job per
   * wait, which is most of the cost of a `maxsize: 1` hand-off.
   */

  /** One round of asyncio's `while self.full():` in `put()`. */
  #putWait(item: T): Promise<void> {
    if (this.#shutdown) throw new QueueShutDown();
    const putter = this.#bind().createFuture<void>();
    putter[kWaitsFor](this);
    this.#putters.push(putter);
    return putter.then(
      () => this.#putWoken(item),
      (err: unknown) => this.#putterFailed(putter, err),
    );
  }

  #putWoken(item: T): Promise<void> | undefined {
    // Another task may have filled the slot since the wake-up (asyncio allows that): wait again.
    if (this.#items.length >= this.#limit) return this.#putWait(item);
    this.putNowait(item);
    return undefined;
  }

  #putterFailed(putter: Future<void>, err: unknown): never {
    putter.cancel();
    this.#putters.remove(putter);
    // Woken by a get() (or shutdown) but leaving: let the next putter have the free slot.
    if (!this.full() && !putter.cancelled()) this.#wakeUpNext(this.#putters);
    throw err;
  }

  /**
   * Adds `item` without waiting; throws `QueueFull` if the queue is full, `QueueShutDown` if it is
   * shut down.
   */
  putNowait(item: T): void {
    if (this.#shutdown) throw new QueueShutDown();
    if (this.#items.length >= this.#limit) throw new QueueFull();
    this.#putItem(item);
  }

  #putItem(item: T): void {
    this.#items.push(item);
    this.#unfinished++;
    this.#finished.clear();
    if (this.#getters.length > 0) this.#wakeUpNext(this.#getters);
  }

  /**
   * Removes and returns the next item, first waiting while the queue is empty. Once the queue is
   * shut down it still returns the items left, then rejects with `QueueShutDown` (at once after
   * `shutdown(true)`, which drops them).
   */
  get(): Promise<T> {
    try {
      if (this.#items.length === 0) return this.#getWait();
      return Promise.resolve(this.#takeItem());
    } catch (err) {
      // QueueShutDown, a foreign loop, or a PriorityQueue comparison that threw (nothing taken).
      return rejected(err as Error);
    }
  }

  /** One round of asyncio's `while self.empty():` in `get()`. */
  #getWait(): Promise<T> {
    if (this.#shutdown) throw new QueueShutDown();
    const getter = this.#bind().createFuture<void>();
    getter[kWaitsFor](this);
    this.#getters.push(getter);
    return getter.then(
      () => this.#getWoken(),
      (err: unknown) => this.#getterFailed(getter, err),
    );
  }

  #getWoken(): T | Promise<T> {
    // Another task may have taken the item since the wake-up (asyncio allows that): wait again.
    if (this.#items.length === 0) return this.#getWait();
    return this.#takeItem();
  }

  #getterFailed(getter: Future<void>, err: unknown): never {
    getter.cancel();
    this.#getters.remove(getter);
    // Woken by a put() but leaving: let the next getter have the item.
    if (this.#items.length > 0 && !getter.cancelled()) this.#wakeUpNext(this.#getters);
    throw err;
  }

  /**
   * Removes and returns the next item without waiting; throws `QueueEmpty` if there is none
   * (`QueueShutDown` if the queue is also shut down).
   */
  getNowait(): T {
    if (this.#items.length === 0) {
      if (this.#shutdown) throw new QueueShutDown();
      throw new QueueEmpty();
    }
    return this.#takeItem();
  }

  #takeItem(): T {
    const item = this.#items.take();
    if (this.#putters.length > 0) this.#wakeUpNext(this.#putters);
    return item;
  }

  /** Wakes the first waiter that is not done, dropping done ones on the way (asyncio's `_wakeup_next`). */
  #wakeUpNext(waiters: Deque<Future<void>>): void {
    for (let fut = waiters.shift(); fut !== undefined; fut = waiters.shift()) {
      if (!fut.done()) {
        fut.setResult(undefined);
        return;
      }
    }
  }

  #bind(): EventLoop {
    return (this.#loop = bindLoop(this.#loop, this));
  }

  /**
   * Marks one item taken with `get()` as processed. `join()` resolves when every item ever put was
   * marked. Throws `RangeError("task_done() called too many times")` when no item is unfinished.
   */
  taskDone(): void {
    if (this.#unfinished <= 0) throw new RangeError("task_done() called too many times");
    if (--this.#unfinished === 0) this.#finished.set();
  }

  /**
   * Waits until every item put so far was processed (`taskDone()` once per item); resolves at
   * once when nothing is unfinished.
   */
  async join(): Promise<void> {
    if (this.#unfinished > 0) await this.#finished.wait();
  }

  /**
   * Shuts the queue down (Python 3.13): `put`/`putNowait` throw `QueueShutDown` from now on, and
   * every task waiting in `put()` or `get()` is woken. Getters still receive the items left, then
   * `QueueShutDown`. With `immediate`, the items left are dropped and counted as done (so `join()`
   * returns), and getters throw at once.
   * @param immediate drop the items left. @default false
   */
  shutdown(immediate = false): void {
    if (typeof immediate !== "boolean") throw typeError("immediate", "a boolean", immediate);
    this.#shutdown = true;
    if (immediate) {
      const dropped = this.#items.length;
      this.#items.clear();
      this.#unfinished = Math.max(0, this.#unfinished - dropped);
      if (this.#unfinished === 0) this.#finished.set();
    }
    // Every waiter re-checks the queue when its task runs, and throws QueueShutDown if it must.
    for (let getter = this.#getters.shift(); getter !== undefined; getter = this.#getters.shift()) {
      if (!getter.done()) getter.setResult(undefined);
    }
    for (let putter = this.#putters.shift(); putter !== undefined; putter = this.#putters.shift()) {
      if (!putter.done()) putter.setResult(undefined);
    }
  }

  /** Gets items until the queue is shut down and empty (`QueueShutDown` ends the loop). */
  [Symbol.asyncIterator](): AsyncIterableIterator<T, undefined, undefined> {
    return new QueueIterator(this);
  }

  /** @internal what a task waiting in `get()` or `put()` waits for (see core/call-graph.ts). */
  [kDescribeWait](fut: Future<unknown>): string {
    const what = this.#getters.toArray().includes(fut as Future<void>) ? "get()" : "put()";
    if (this.#name === undefined) return `${this.constructor.name}.${what} on ${this.toString()}`;
    return `${this.constructor.name}.${what} on ${this.constructor.name} ${pyStr(this.#name)} (${this.#items.length} items)`;
  }

  toString(): string {
    let s = `maxsize=${String(this.#maxsize)}`;
    if (this.#items.length > 0) {
      s += ` _queue=${inspect(this.#items.toArray(), { depth: 1, breakLength: Infinity, maxArrayLength: 20 })}`;
    }
    if (this.#getters.length > 0) s += ` _getters[${this.#getters.length}]`;
    if (this.#putters.length > 0) s += ` _putters[${this.#putters.length}]`;
    if (this.#unfinished > 0) s += ` tasks=${this.#unfinished}`;
    if (this.#shutdown) s += " shutdown";
    return `<${this.constructor.name} ${s}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * A queue that returns its lowest item first (asyncio.PriorityQueue), kept in a binary heap. Items
 * that compare equal come out in the order they were put.
 *
 * Order, by default, is Python's for the values people use as priorities: numbers, bigints and
 * booleans by value; strings by UTF-16 code units; arrays element by element like Python tuples (a
 * shorter prefix first), so `[priority, payload]` works; Dates by time. Values with no natural
 * order (objects, functions, null, undefined) compare equal, so a payload never decides (Python
 * would throw here; this keeps equal priorities in insertion order). Comparing two different
 * kinds, such as a number and a string, throws `TypeError` from the put or get, and the queue is
 * left unchanged. Pass `compare` for any other order.
 *
 * @example
 * const jobs = new PriorityQueue<[number, string]>();
 * jobs.putNowait([2, "write report"]);
 * jobs.putNowait([1, "fix outage"]);
 * jobs.putNowait([2, "answer mail"]);
 * jobs.getNowait(); // [1, "fix outage"]
 * jobs.getNowait(); // [2, "write report"]  (equal priority: insertion order)
 *
 * @example
 * const byDeadline = new PriorityQueue<Job>({ compare: (a, b) => a.deadline - b.deadline });
 */
export class PriorityQueue<T = unknown> extends Queue<T> {
  constructor(options: PriorityQueueOptions<T> = {}) {
    super(options);
    const compare: Compare<T> = options.compare ?? naturalOrder;
    if (typeof compare !== "function") throw typeError("options.compare", "a function", compare);
    installStore(this, new PriorityHeap<T>(compare));
  }
}

/**
 * A queue that returns the most recently added item first, a stack (asyncio.LifoQueue).
 *
 * @example
 * const stack = new LifoQueue<number>();
 * stack.putNowait(1);
 * stack.putNowait(2);
 * stack.getNowait(); // 2
 */
export class LifoQueue<T = unknown> extends Queue<T> {
  constructor(options: QueueOptions = {}) {
    super(options);
    installStore(this, new LifoStore<T>());
  }
}
