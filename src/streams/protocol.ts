/**
 * `StreamReaderProtocol`: the protocol behind the streams API, which feeds a `StreamReader` and
 * gives `StreamWriter.drain()` something to wait on (asyncio's FlowControlMixin +
 * StreamReaderProtocol).
 */
import { ConnectionResetError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import type { Protocol } from "../net/protocol.js";
import type { Transport } from "../net/transport.js";
import type { StreamReader } from "./reader.js";
import { StreamWriter } from "./writer.js";

/** What `startServer` calls for every connection; it may be async (it then runs as a task). */
export type ClientConnectedCallback = (reader: StreamReader, writer: StreamWriter) => unknown;

function connectionLost(): ConnectionResetError {
  return new ConnectionResetError("Connection lost");
}

/**
 * Adapts the protocol callbacks to a `StreamReader` (and, on a server, calls the
 * client-connected callback with a reader and a writer). Build streams with `openConnection` /
 * `startServer` unless you need the loop's lower-level calls.
 */
export class StreamReaderProtocol implements Protocol {
  readonly #loop: EventLoop;
  #reader: StreamReader | null;
  readonly #clientConnected: ClientConnectedCallback | null;
  #paused = false;
  #drainWaiters: Future<void>[] = [];
  #connectionLost = false;
  readonly #closed: Future<void>;

  constructor(reader: StreamReader | null, clientConnected: ClientConnectedCallback | null, loop: EventLoop) {
    this.#loop = loop;
    this.#reader = reader;
    this.#clientConnected = clientConnected;
    this.#closed = loop.createFuture<void>();
  }

  connectionMade(transport: Transport): void {
    const reader = this.#reader;
    if (reader !== null) reader.setTransport(transport);
    const cb = this.#clientConnected;
    if (cb === null || reader === null) return;
    const writer = new StreamWriter(transport, this, reader, this.#loop);
    // asyncio calls the callback here and wraps a coroutine in a task; a JS async function starts
    // running when called, so it is started inside the task instead (one iteration later, which
    // is when asyncio's task would take its first step).
    const task = this.#loop.createTask(() => cb(reader, writer));
    task.addDoneCallback((t) => {
      if (t.cancelled()) {
        transport.close();
        return;
      }
      const exc = t.exception();
      if (exc !== null) {
        this.#loop.callExceptionHandler({
          message: "Unhandled exception in client_connected_cb",
          exception: exc,
          transport,
        });
        transport.close();
      }
    });
  }

  dataReceived(data: Buffer): void {
    this.#reader?.feedData(data);
  }

  eofReceived(): boolean {
    this.#reader?.feedEof();
    // Keep the write side open: the writer decides when to close.
    return true;
  }

  connectionLost(exc: Error | null): void {
    const reader = this.#reader;
    if (reader !== null) {
      if (exc === null) reader.feedEof();
      else reader.setException(exc);
    }
    const closed = this.#closed;
    if (!closed.done()) {
      if (exc === null) closed.setResult(undefined);
      else {
        closed.setException(exc);
        // Nobody has to await waitClosed(); do not report the error as never retrieved.
        closed.exception();
      }
    }
    this.#connectionLost = true;
    if (this.#paused) {
      for (const waiter of this.#drainWaiters) {
        if (waiter.done()) continue;
        if (exc === null) waiter.setResult(undefined);
        else waiter.setException(exc);
      }
    }
    this.#reader = null;
  }

  pauseWriting(): void {
    this.#paused = true;
  }

  resumeWriting(): void {
    this.#paused = false;
    for (const waiter of this.#drainWaiters) if (!waiter.done()) waiter.setResult(undefined);
  }

  /** @internal whether `drainHelper()` would wait or throw (so `drain()` can skip it). */
  mustWait(): boolean {
    return this.#paused || this.#connectionLost;
  }

  /** @internal what `StreamWriter.drain()` waits on after its own checks. */
  async drainHelper(): Promise<void> {
    if (this.#connectionLost) throw connectionLost();
    if (!this.#paused) return;
    const waiter = this.#loop.createFuture<void>();
    this.#drainWaiters.push(waiter);
    try {
      await waiter;
    } finally {
      const i = this.#drainWaiters.indexOf(waiter);
      if (i !== -1) this.#drainWaiters.splice(i, 1);
    }
  }

  /** @internal settles when the connection is lost (with its error, if any). */
  closeWaiter(): Future<void> {
    return this.#closed;
  }
}
