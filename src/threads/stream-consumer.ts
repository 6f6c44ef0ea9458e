/**
 * `ThreadStream`: the consuming side of a stream across threads, an async iterator over the
 * items another thread's iterable yields (stream-producer.ts sends them; stream-wire.ts is the
 * protocol). It gives the producer credit back for the items it took, so the producer is never
 * more than `highWaterMark` items ahead and a consumer that stops reading holds at most that many.
 */
import type { MessagePort } from "node:worker_threads";
import { CancelledError } from "../core/errors.js";
import type { Future } from "../core/future.js";
import { runningLoopOrNull } from "../core/frame.js";
import { decodeSpecials } from "./crossing-decode.js";
import { fromEnvelope, isEnvelope } from "./error-envelope.js";
import {
  C_CLOSE,
  C_WAKE,
  S_CANCELLED,
  S_CLOSED,
  S_DONE,
  S_ERROR,
  S_ITEMS,
  TAKEN,
  WAITING,
  WINDOW,
  type CheckedStreamOptions,
} from "./stream-wire.js";

/** How a consumer starts its stream, and learns why the producer's side went away. */
export interface ConsumerSpec {
  /** The target's name (or the argument's position, for a client stream), for errors. */
  readonly target: string;
  /** The producer's thread, for errors. */
  readonly threadName: string;
  readonly options: CheckedStreamOptions;
  /**
   * Starts the producer (on the first `next()`) with credit for `highWaterMark` items; returns
   * the port of this side. May throw (the loop is closed, an argument cannot cross).
   */
  readonly open: () => MessagePort;
  /** The credit block this side counts the items it took in (stream-wire.ts). */
  readonly block: Int32Array;
  /** The error for a producer whose port closed before the stream ended (its thread died). */
  readonly lost: () => Promise<unknown>;
}

interface Waiter {
  resolve(result: IteratorResult<unknown, undefined>): void;
  reject(error: unknown): void;
  /** The loop future the consumer awaits (null outside a loop): a cancel of it closes the stream. */
  readonly future: Future<IteratorResult<unknown, undefined>> | null;
}

const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

const IDLE = 0;
const OPEN = 1;
/** The producer's side ended (or was lost); buffered items may remain. */
const ENDED = 2;

/**
 * The items another thread's async iterable yields, in order, each once: what
 * `thread.stream(name, ...args)` returns, and what an async iterable argument becomes in the
 * thread that receives it.
 *
 * Cancellation: `break` in `for await`, `return()`, cancelling the task that awaits `next()`, or
 * the `signal` closes the producer; its `finally` runs in its own thread, and `return()` resolves
 * only after it did. An error the producer throws rejects `next()` (as the error envelope carries
 * it); the producer's thread dying rejects it with `ThreadExitError`.
 *
 * Thread-safety: belongs to the thread that made it; pass it on as a top-level argument of a call
 * to stream it further.
 */
export class ThreadStream<T> implements AsyncIterableIterator<T, undefined>, AsyncDisposable {
  readonly #spec: ConsumerSpec;
  #state = IDLE;
  #port: MessagePort | null = null;
  /** Items received and not taken yet: `#items[#head...]`. */
  #items: unknown[] = [];
  #head = 0;
  readonly #waiters: Waiter[] = [];
  /** Items taken and not counted in the credit block yet. */
  #taken = 0;
  /** Items taken in all, modulo 2^32 (the block's TAKEN). */
  #takenTotal = 0;
  /** Items taken since the producer was last woken. */
  #sinceWake = 0;
  readonly #wakeEvery: number;
  /** How the producer's side ended, once the buffer is drained: null = done. */
  #ending: { error: unknown } | null = null;
  /** A close was sent; the producer has not confirmed it yet. */
  #closing = false;
  #settled: Promise<void> | null = null;
  #resolveSettled: (() => void) | null = null;
  #closeError: { error: unknown } | null = null;
  #refs = 0;
  readonly #onAbort: (() => void) | null = null;

  /** @internal use `thread.stream()` / `handle.stream()`. */
  constructor(spec: ConsumerSpec) {
    this.#spec = spec;
    // A waiting producer is woken once half the window is free (or this side ran dry): fewer
    // messages, and it does not stall on a consumer that keeps up.
    this.#wakeEvery = Math.max(1, Math.min(spec.options.highWaterMark, spec.block[WINDOW] as number) >> 1);
    const { signal } = spec.options;
    if (signal !== undefined) {
      this.#onAbort = () => {
        this.#abort(signal.reason);
      };
      if (signal.aborted) this.#ending = { error: signal.reason };
      else signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    if (signal?.aborted === true) this.#state = ENDED;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#state === IDLE) {
      try {
        this.#start();
      } catch (err) {
        this.#portDone();
        this.#end({ error: err });
      }
    }
    // Items taken by earlier calls are done with now: count them (the producer may go on).
    if (this.#taken > 0) this.#giveCredit(this.#head === this.#items.length);
    if (this.#head < this.#items.length) return Promise.resolve({ done: false, value: this.#take() as T });
    if (this.#state === ENDED) return this.#drained() as Promise<IteratorResult<T, undefined>>;
    return this.#wait() as Promise<IteratorResult<T, undefined>>;
  }

  /**
   * Closes the stream: the producer stops, its `finally` runs in its thread, and this resolves
   * once it has. Items not taken yet are dropped. Rejects if the producer's cleanup threw.
   */
  async return(): Promise<IteratorResult<T, undefined>> {
    this.#items = [];
    this.#head = 0;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(DONE);
    if (this.#state === IDLE) {
      this.#end(null);
      return DONE;
    }
    if (this.#state === OPEN) this.#close();
    if (this.#settled !== null) await this.#settled;
    const failure = this.#closeError;
    this.#closeError = null;
    if (failure !== null) throw failure.error;
    return DONE;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  #start(): void {
    this.#state = OPEN;
    this.#settled = new Promise<void>((resolve) => {
      this.#resolveSettled = resolve;
    });
    const port = this.#spec.open();
    this.#port = port;
    port.on("message", this.#onMessage);
    port.on("close", this.#onPortClose);
    port.unref();
  }

  #take(): unknown {
    const value = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    this.#taken++;
    return value;
  }

  #giveCredit(dry: boolean): void {
    const block = this.#spec.block;
    this.#takenTotal = (this.#takenTotal + this.#taken) | 0;
    this.#sinceWake += this.#taken;
    this.#taken = 0;
    Atomics.store(block, TAKEN, this.#takenTotal);
    if (this.#state !== OPEN || this.#closing) return;
    if ((dry || this.#sinceWake >= this.#wakeEvery) && Atomics.load(block, WAITING) === 1 && Atomics.compareExchange(block, WAITING, 1, 0) === 1) {
      this.#sinceWake = 0;
      this.#port?.postMessage(C_WAKE);
    }
  }

  #wait(): Promise<IteratorResult<unknown, undefined>> {
    const loop = runningLoopOrNull();
    this.#ref();
    if (loop !== null) {
      const future = loop.createFuture<IteratorResult<unknown, undefined>>();
      const waiter: Waiter = {
        resolve: (r) => {
          if (!future.done()) future.setResult(r);
        },
        reject: (e) => {
          if (!future.done()) future.setException(e);
        },
        future,
      };
      this.#waiters.push(waiter);
      future.addDoneCallback(this.#waiterDone);
      // A Future is awaitable like a Promise (the contract lets `Promise<T>` APIs return one).
      return future;
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({
        resolve: (r) => {
          this.#unref();
          resolve(r);
        },
        reject: (e) => {
          this.#unref();
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the producer's error as it was thrown, whatever it is
          reject(e);
        },
        future: null,
      });
    });
  }

  readonly #waiterDone = (future: Future<IteratorResult<unknown, undefined>>): void => {
    this.#unref();
    if (!future.cancelled()) return;
    // The task awaiting next() was cancelled: the stream is closed (for await does not call
    // return() when next() rejects).
    const i = this.#waiters.findIndex((w) => w.future === future);
    if (i >= 0) this.#waiters.splice(i, 1);
    if (this.#state === OPEN) this.#close();
    this.#end(null);
  };

  #ref(): void {
    if (this.#refs++ === 0) this.#port?.ref();
  }

  #unref(): void {
    if (--this.#refs === 0) this.#port?.unref();
  }

  /** What `next()` gives once the items are taken and the producer's side ended. */
  #drained(): Promise<IteratorResult<unknown, undefined>> {
    const ending = this.#ending;
    if (ending === null) return Promise.resolve(DONE);
    // The error is given once; after it the stream is done.
    this.#ending = null;
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the producer's error as it was thrown, whatever it is
    return Promise.reject(ending.error);
  }

  #close(): void {
    this.#closing = true;
    this.#ref();
    try {
      this.#port?.postMessage(C_CLOSE);
    } catch {
      // The port is gone already: its close event ends the stream.
    }
  }

  #abort(reason: unknown): void {
    if (this.#state === ENDED) return;
    this.#items = [];
    this.#head = 0;
    if (this.#state === OPEN) this.#close();
    this.#end({ error: reason });
  }

  readonly #onMessage = (message: unknown): void => {
    if (!Array.isArray(message)) return;
    const [kind, items, table, payload] = message as [unknown, unknown, unknown, unknown];
    if (Array.isArray(items) && !this.#closing && this.#state === OPEN) {
      try {
        const values = table === 0 ? items : (decodeSpecials(items, table, this.#spec.target, `from thread '${this.#spec.threadName}'`, "the streamed items") as unknown[]);
        this.#receive(values);
      } catch (err) {
        this.#close();
        this.#end({ error: err });
        return;
      }
    }
    if (kind === S_ITEMS) return;
    if (kind === S_DONE || kind === S_CLOSED) this.#finished(null);
    else if (kind === S_ERROR) this.#finished({ error: isEnvelope(payload) ? fromEnvelope(payload) : payload });
    else if (kind === S_CANCELLED) this.#finished({ error: new CancelledError(typeof payload === "string" ? payload : "") });
  };

  #receive(values: unknown[]): void {
    let i = 0;
    const waiters = this.#waiters;
    while (i < values.length && waiters.length > 0) {
      const waiter = waiters.shift() as Waiter;
      this.#taken++;
      waiter.resolve({ done: false, value: values[i++] });
    }
    if (i === values.length) return;
    if (this.#head === this.#items.length) {
      this.#items = i === 0 ? values : values.slice(i);
      this.#head = 0;
    } else {
      for (; i < values.length; i++) this.#items.push(values[i]);
    }
  }

  /** The producer's side is over (ended, or its thread gone): `return()` may settle. */
  #portDone(): void {
    this.#resolveSettled?.();
    this.#resolveSettled = null;
  }

  /** The producer's side ended: the port is done with. */
  #finished(ending: { error: unknown } | null): void {
    const port = this.#port;
    if (port !== null) {
      port.off("message", this.#onMessage);
      port.off("close", this.#onPortClose);
      port.close();
    }
    this.#portDone();
    if (this.#closing) {
      // The close we asked for: an error here is the producer's cleanup failing.
      this.#closeError = ending;
      this.#closing = false;
      this.#unref();
      this.#end(null);
    } else {
      this.#end(ending);
    }
  }

  readonly #onPortClose = (): void => {
    if (this.#port !== null) this.#port.off("message", this.#onMessage);
    this.#portDone();
    if (this.#closing) {
      // The producer's thread is gone while closing: nothing more can run there.
      this.#closing = false;
      this.#unref();
      this.#end(null);
      return;
    }
    this.#ref();
    void this.#spec.lost().then((error) => {
      this.#unref();
      this.#end({ error });
    });
  };

  /** No more items will come: pending `next()`s get the buffered items' end (or the error). */
  #end(ending: { error: unknown } | null): void {
    if (this.#state !== ENDED) {
      this.#state = ENDED;
      if (this.#ending === null) this.#ending = ending;
      if (this.#onAbort !== null) this.#spec.options.signal?.removeEventListener("abort", this.#onAbort);
    }
    if (this.#head < this.#items.length) return;
    for (const waiter of this.#waiters.splice(0)) {
      const ending = this.#ending;
      this.#ending = null;
      if (ending === null) waiter.resolve(DONE);
      else waiter.reject(ending.error);
    }
  }

  toString(): string {
    return `<ThreadStream '${this.#spec.target}' from thread '${this.#spec.threadName}'>`;
  }
}
