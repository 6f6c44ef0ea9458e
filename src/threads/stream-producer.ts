/**
 * The producing side of a stream across threads: reads an async iterable in this thread and sends
 * its items to the consumer's port, within the credit the consumer gave (stream-wire.ts).
 *
 * In a loop thread the reading runs as a task of the loop, so closing the stream while the
 * iterable awaits something cancels that await (the generator sees `CancelledError` there and
 * its `finally` runs), and the loop shutting down ends the stream as cancelled. Outside a loop
 * (a client stream sent from plain code) it runs as a plain async function.
 */
import type { MessagePort, Transferable } from "node:worker_threads";
import { CancelledError } from "../core/errors.js";
import type { Context } from "../core/context.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { cancellationOf, type Task } from "../core/task.js";
import { describeValue } from "../core/validate.js";
import { encodeSpecials, scanValue } from "./crossing.js";
import type { SpecialTable } from "./crossing-table.js";
import { toEnvelope } from "./error-envelope.js";
import { C_CLOSE, S_CANCELLED, S_CLOSED, S_DONE, S_ERROR, S_ITEMS, TAKEN, WAITING, WINDOW, isAsyncIterable, type StreamKind } from "./stream-wire.js";

/** What a producer needs to know. */
export interface ProducerSpec {
  /** The port to the consumer. */
  readonly port: MessagePort;
  /** The credit block the consumer counts its items in (stream-wire.ts). */
  readonly block: Int32Array;
  /** Wait for the consumer's first wake-up before reading anything (a client stream). */
  readonly paused: boolean;
  /** The target's name (or the argument's position, for a client stream), for errors. */
  readonly target: string;
  /** This thread's name, for error envelopes. */
  readonly threadName: string;
  /** The loop to read in, or null for plain async code. */
  readonly loop: EventLoop | null;
}

const CLOSED_BY_CONSUMER = "the stream was closed by its consumer";
/** How long a producer out of credit keeps looking before it sleeps (see #spinForCredit). */
const SPIN_MS = 0.2;

class StreamProducer {
  readonly #spec: ProducerSpec;
  readonly #port: MessagePort;
  readonly #block: Int32Array;
  readonly #window: number;
  /** Credit worth resuming for (half the window). */
  readonly #resume: number;
  /** Items produced so far, modulo 2^32 (compared with the consumer's TAKEN). */
  #produced = 0;
  #paused: boolean;
  #batch: unknown[] = [];
  /** Items sent so far: the index of the next one, for errors naming a bad item. */
  #sent = 0;
  #flushQueued = false;
  /** The consumer asked to close (or is gone). */
  #closing = false;
  #finished = false;
  /** Reading `next()` of the iterable now (a close must cancel that await). */
  #pulling = false;
  /** Wakes the read loop waiting for credit or a close. */
  #wake: (() => void) | null = null;
  task: Task<void> | null = null;
  /** The task was cancelled by a close (not by its loop). */
  #cancelledByUs = false;
  /** An item that cannot cross, met while sending a batch: the stream ends with it. */
  #failure: { error: unknown } | null = null;

  constructor(spec: ProducerSpec) {
    this.#spec = spec;
    this.#port = spec.port;
    this.#block = spec.block;
    this.#window = spec.block[WINDOW] as number;
    this.#resume = Math.max(1, this.#window >> 1);
    this.#paused = spec.paused;
    this.#port.on("message", this.#onMessage);
    this.#port.on("close", this.#onPortClose);
    // What keeps this thread alive is its loop or its caller, not the stream.
    this.#port.unref();
  }

  readonly #onMessage = (message: unknown): void => {
    if (typeof message !== "number") return;
    if (message === C_CLOSE) {
      this.#requestClose();
    } else {
      this.#paused = false;
      this.#wakeUp();
    }
  };

  readonly #onPortClose = (): void => {
    // The consumer's thread is gone (or it closed the port after the end): close the producer.
    if (!this.#finished) this.#requestClose();
  };

  #wakeUp(): void {
    const wake = this.#wake;
    if (wake === null) return;
    this.#wake = null;
    wake();
  }

  #requestClose(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#wake !== null) this.#wakeUp();
    // The iterable awaits something of its own: cancel that await (in a loop; plain code cannot).
    else if (this.#pulling && this.task !== null) {
      this.#cancelledByUs = true;
      this.task.cancel(CLOSED_BY_CONSUMER);
    }
  }

  /** How many more items it may produce now. */
  #credit(): number {
    if (this.#paused) return 0;
    return this.#window - ((this.#produced - Atomics.load(this.#block, TAKEN)) | 0);
  }

  /**
   * Before it sleeps (and costs the consumer a wake-up message, and itself a wake-up from it),
   * looks again for credit on a few turns of Node's event loop for up to SPIN_MS: a consumer
   * that keeps up frees some while it takes the batch just sent. True if enough credit came.
   */
  async #spinForCredit(): Promise<boolean> {
    const deadline = performance.now() + SPIN_MS;
    do {
      await new Promise(setImmediate);
      // Half the window, as the consumer's wake-ups: batches of that many, not of one item each.
      if (this.#credit() >= this.#resume || this.#closing || this.#failure !== null) return true;
    } while (performance.now() < deadline);
    return false;
  }

  /** Waits until there may be credit (or a close, or a failure). */
  #waitForCredit(): Promise<void> | Future<void> | null {
    // Marked first, then checked again: a consumer that took items in between either sees the
    // mark (and sends a wake-up) or took them before this check sees them (seq-cst atomics).
    Atomics.store(this.#block, WAITING, 1);
    if (this.#credit() > 0) {
      Atomics.store(this.#block, WAITING, 0);
      return null;
    }
    const loop = this.#spec.loop;
    if (loop !== null) {
      const fut = loop.createFuture<void>();
      this.#wake = () => {
        if (!fut.done()) fut.setResult(undefined);
      };
      return fut;
    }
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
  }

  async run(open: () => unknown): Promise<void> {
    let iterator: AsyncIterator<unknown> | null = null;
    let kind: StreamKind = S_DONE;
    let payload: unknown = 0;
    try {
      const iterable = await open();
      if (!isAsyncIterable(iterable)) {
        throw new TypeError(
          `'${this.#spec.target}' returned ${describeValue(iterable)}, not an async iterable: stream() takes an async ` +
            "generator, or a function returning an async iterable. Use call() for a plain result.",
        );
      }
      iterator = iterable[Symbol.asyncIterator]();
      for (;;) {
        while (this.#credit() <= 0 && !this.#closing && this.#failure === null) {
          this.#flush();
          if (!this.#paused && (await this.#spinForCredit())) break;
          const wait = this.#waitForCredit();
          if (wait !== null) await wait;
        }
        // Cancelled while the credit kept coming (the loop is closing): end here.
        if (!this.#closing && this.task !== null && this.task.cancelling() > 0) throw new CancelledError();
        if (this.#closing || this.#failure !== null) break;
        this.#pulling = true;
        const result = await iterator.next();
        this.#pulling = false;
        if (result.done === true) {
          iterator = null;
          break;
        }
        this.#push(result.value);
      }
      if (this.#failure !== null) throw this.#failure.error;
      if (this.#closing) kind = S_CLOSED;
    } catch (err) {
      // A generator that threw (or was cancelled at an await of its own) is done; after any other
      // error (a cancel while waiting for credit, say) it is still open.
      if (this.#pulling) iterator = null;
      this.#pulling = false;
      [kind, payload] = this.#outcome(err);
    }
    // Our own cancel of a close is taken back, so it does not land in the iterable's cleanup.
    if (this.#cancelledByUs) this.task?.uncancel();
    if (iterator !== null) {
      // Closed early (by the consumer, a failure, or a cancel while waiting for credit): the
      // iterable's `finally` runs now, before the consumer hears the stream ended.
      try {
        await iterator.return?.();
      } catch (err) {
        if (kind === S_CLOSED || kind === S_DONE) [kind, payload] = this.#outcome(err);
      }
    }
    this.finish(kind, payload);
  }

  #outcome(err: unknown): [StreamKind, unknown] {
    const cancelled = cancellationOf(err);
    if (cancelled !== null) {
      // Our own cancel of a close, or the loop's (it is shutting down), or the task's owner.
      if (this.#closing) return [S_CLOSED, 0];
      return [S_CANCELLED, cancelled.message];
    }
    if (this.#closing && this.#failure === null) return [S_CLOSED, 0];
    return [S_ERROR, toEnvelope(err, this.#spec.threadName)];
  }

  #push(value: unknown): void {
    this.#batch.push(value);
    this.#produced = (this.#produced + 1) | 0;
    if (this.#credit() <= 0) {
      this.#flush();
    } else if (!this.#flushQueued) {
      // When this thread next turns to Node's event loop: a fast iterable's items (and a loop's
      // iterations) run before it, so they travel together; a slow one's go when it waits.
      this.#flushQueued = true;
      setImmediate(this.#queuedFlush);
    }
  }

  readonly #queuedFlush = (): void => {
    this.#flushQueued = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#batch.length === 0 || this.#finished) return;
    this.#post(S_ITEMS, 0);
  }

  /** Sends the batch (with an ending, if `kind` is one). */
  #post(kind: StreamKind, payload: unknown): void {
    let items = this.#batch;
    this.#batch = [];
    let table: SpecialTable = 0;
    const transfers: Transferable[] = [];
    const target = this.#spec.target;
    if (items.length > 0) {
      try {
        if (scanValue(items, target, "the streamed items")) {
          const encoded = encodeSpecials(items, transfers, target, "the streamed items");
          items = encoded.value as unknown[];
          table = encoded.table;
        }
      } catch (err) {
        // An item cannot cross: the ones before it still go, then the stream ends with its error.
        const bad = this.#firstBadItem(items, err);
        this.#batch = items.slice(0, bad.index);
        this.#post(S_ITEMS, 0);
        this.#failWith(bad.error, kind);
        return;
      }
    }
    try {
      this.#port.postMessage([kind, items.length === 0 ? 0 : items, table, payload], transfers);
    } catch (err) {
      // Rare (the scan catches what cannot be cloned): end the stream with the error.
      this.#failWith(new TypeError(`Cannot send the streamed items of '${target}' to another thread: ${String(err)}`), kind);
      return;
    }
    this.#sent += items.length;
  }

  #firstBadItem(items: unknown[], batchError: unknown): { index: number; error: unknown } {
    for (let i = 0; i < items.length; i++) {
      try {
        scanValue(items[i], this.#spec.target, `streamed item ${this.#sent + i}`);
      } catch (err) {
        return { index: i, error: err };
      }
    }
    return { index: 0, error: batchError };
  }

  /** Ends the stream with `error`; if the message that failed was the ending, at once. */
  #failWith(error: unknown, kind: StreamKind): void {
    if (kind !== S_ITEMS) {
      this.#post(S_ERROR, toEnvelope(error, this.#spec.threadName));
      return;
    }
    if (this.#failure !== null) return;
    this.#failure = { error };
    // The read loop is waiting for credit: end it; otherwise it sees the failure after next().
    this.#wakeUp();
  }

  /** Ends the stream (once): the last items and the ending in one message. */
  finish(kind: StreamKind, payload: unknown): void {
    if (this.#finished) return;
    // A consumer that closed the stream wants no more items.
    if (kind === S_CLOSED) this.#batch = [];
    this.#post(kind, payload);
    this.#finished = true;
    this.#port.off("message", this.#onMessage);
  }
}

/**
 * Starts producing: calls `open()` (the exposed function, or the client's iterable) and sends the
 * items of the async iterable it returns on `spec.port`. In a loop, as a task named `name`.
 */
export function startProducer(spec: ProducerSpec, name: string, open: () => unknown, context?: Context): void {
  const producer = new StreamProducer(spec);
  const loop = spec.loop;
  if (loop === null) {
    void producer.run(open);
    return;
  }
  const task = loop.createTask(() => producer.run(open), context === undefined ? { name } : { name, context });
  producer.task = task;
  // Cancelled before its first step (the loop shutting down), the task never ran `run`.
  task.addDoneCallback((t) => {
    if (t.cancelled()) producer.finish(S_CANCELLED, new CancelledError().message);
  });
}

/** Ends a stream that could not start (an unknown target, arguments that cannot be read) with `error`. */
export function refuseStream(port: MessagePort, error: unknown, threadName: string, forceRemote = false): void {
  const envelope = toEnvelope(error, threadName);
  // As for calls: an unknown target arrives as RemoteError whose remoteName is "LookupError".
  if (forceRemote) envelope.forceRemote = true;
  try {
    port.postMessage([S_ERROR, 0, 0, envelope]);
  } catch {
    // The consumer is gone.
  }
}
