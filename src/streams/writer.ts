/**
 * `StreamWriter`: the writing half of a stream (asyncio.StreamWriter).
 */
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { sleep } from "../core/tasks.js";
import type { Transport } from "../net/transport.js";
import type { StreamReader } from "./reader.js";

/**
 * What a writer needs of the protocol under it (StreamReaderProtocol in protocol.ts): flow
 * control and the end of the connection. Declared here so the writer does not import the
 * protocol, which makes writers.
 */
export interface WriterFlowControl {
  /** Whether `drainHelper()` would wait or throw (so `drain()` can skip it). */
  mustWait(): boolean;
  /** Waits while writing is paused; throws if the connection was lost. */
  drainHelper(): Promise<void>;
  /** Settles when the connection is closed. */
  closeWaiter(): Future<void>;
}

const DONE: Promise<void> = Promise.resolve();

/**
 * Writes to a connection or a pipe. `write()` never blocks; `await writer.drain()` after writing
 * waits while the transport's buffer is above its high-water mark, which is how a fast writer
 * keeps pace with a slow peer.
 *
 * @example
 * for (const row of rows) {
 *   writer.write(`${row}\n`);
 *   await writer.drain();
 * }
 * writer.close();
 * await writer.waitClosed();
 *
 * Cancellation: cancelling `drain()` or `waitClosed()` leaves the connection as it is.
 */
export class StreamWriter {
  readonly #transport: Transport;
  readonly #protocol: WriterFlowControl;
  readonly #reader: StreamReader | null;
  readonly #loop: EventLoop;

  /** @internal made by `openConnection`, `startServer` and the subprocess functions. */
  constructor(transport: Transport, protocol: WriterFlowControl, reader: StreamReader | null, loop: EventLoop) {
    this.#transport = transport;
    this.#protocol = protocol;
    this.#reader = reader;
    this.#loop = loop;
  }

  /** The transport underneath. */
  get transport(): Transport {
    return this.#transport;
  }

  /** Queues `data` (bytes, or a string sent as UTF-8); follow with `await drain()`. */
  write(data: Uint8Array | string): void {
    this.#transport.write(data);
  }

  /** Queues several chunks. */
  writelines(list: Iterable<Uint8Array | string>): void {
    this.#transport.writelines(list);
  }

  /** Half-closes: sends EOF after the buffered data; the peer may still send. */
  writeEof(): void {
    this.#transport.writeEof();
  }

  canWriteEof(): boolean {
    return this.#transport.canWriteEof();
  }

  /** Closes the stream (buffered data is flushed first); see `waitClosed()`. */
  close(): void {
    this.#transport.close();
  }

  isClosing(): boolean {
    return this.#transport.isClosing();
  }

  /** Resolves once the connection is closed; rejects with the error that ended it, if any. */
  async waitClosed(): Promise<void> {
    await this.#protocol.closeWaiter();
  }

  getExtraInfo(name: string, fallback?: unknown): unknown {
    return this.#transport.getExtraInfo(name, fallback);
  }

  /**
   * Waits until it is fine to write again: returns at once unless the write buffer is above its
   * high-water mark. Throws the reader's error if the connection failed, and
   * `ConnectionResetError("Connection lost")` once the connection is gone, so also after `close()`.
   */
  drain(): Promise<void> {
    const reader = this.#reader;
    if (reader !== null) {
      const exc = reader.exception();
      if (exc !== null) return Promise.reject(exc);
    }
    // The common case, nothing to wait for, costs no async frame.
    if (!this.#transport.isClosing() && !this.#protocol.mustWait()) return DONE;
    return this.#drainSlow();
  }

  async #drainSlow(): Promise<void> {
    if (this.#transport.isClosing()) {
      // Give the loop one iteration so connectionLost can run: a `write(); await drain()` loop on a
      // dead connection must see the error instead of spinning.
      await sleep(0);
      // With nothing left to flush, asyncio's transport has called connection_lost by now, so a
      // drain() after close() fails; Node reports the socket's close a little later: wait for it.
      if (!this.#protocol.mustWait() && this.#transport.getWriteBufferSize() === 0) await this.#connectionLost();
    }
    await this.#protocol.drainHelper();
  }

  /** Waits until the connection is gone, on a future of its own (a cancelled drain cancels only that). */
  async #connectionLost(): Promise<void> {
    const closed = this.#protocol.closeWaiter();
    if (closed.done()) return;
    const lost = this.#loop.createFuture<void>();
    const onClosed = (): void => {
      if (!lost.done()) lost.setResult(undefined);
    };
    closed.addDoneCallback(onClosed);
    try {
      await lost;
    } finally {
      closed.removeDoneCallback(onClosed);
    }
  }

  /** `close()` then `waitClosed()`, ignoring the connection's error (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    try {
      await this.waitClosed();
    } catch {
      // The connection's error was for the code that used it; disposal only has to close.
    }
  }

  toString(): string {
    return `<StreamWriter transport=${this.#transport.toString()}>`;
  }

  /** The loop this writer's waits belong to. */
  getLoop(): EventLoop {
    return this.#loop;
  }
}
