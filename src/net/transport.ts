/**
 * `Transport`: one connection (a TCP or Unix socket, or a child process's pipe) driven by the
 * loop, after asyncio's `_SelectorSocketTransport`.
 *
 * Node delivers socket events (`data`, `end`, `error`, `close`) outside the loop's runner. The
 * transport queues what arrived and schedules one delivery callback with `loop.callSoon` (which
 * wakes a parked loop), so protocol methods always run as loop callbacks, in the order the events
 * happened, and never before `connectionMade`. Queuing (instead of one callback per event) keeps a
 * burst of reads to one loop callback, and lets `pauseReading()` hold back data that already
 * arrived, as asyncio's `remove_reader` cancels a read that was already scheduled.
 *
 * Protocol callbacks run in a copy of the context current when the transport was made (asyncio
 * registers the socket's reader, a handle with its context, at that time).
 */
import type { Socket } from "node:net";
import { copyContext, withContext, type ContextMarker } from "../core/context.js";
import { RuntimeError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { logger } from "../core/log.js";
import { pyStr } from "../core/format.js";
import { typeError } from "../core/validate.js";
import { isBufferedProtocol, type BufferedProtocol, type Protocol } from "./protocol.js";
import { toError } from "./os-error.js";
import { kFatal, kOnLost, kStart } from "./symbols.js";

/** asyncio's `LOG_THRESHOLD_FOR_CONNLOST_WRITES`: writes dropped silently before a warning. */
const LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5;
const DEFAULT_HIGH = 64 * 1024;
const EMPTY = Buffer.alloc(0);

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as { constructor?: { name?: string } }).constructor?.name ?? "object";
  return typeof value;
}

/** Turns `write()`'s argument into bytes, with asyncio's error for anything else. */
export function toBytes(data: unknown): Buffer {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`data argument must be a bytes-like object, not ${pyStr(typeName(data))}`);
}

/** What a transport tells its server: the connection is gone. */
export interface TransportOwner {
  transportLost(transport: Transport): void;
}

/**
 * Collects the transports that got socket events during one turn of Node's event loop and hands
 * them to their loop together, from a `setImmediate` (Node's check phase, right after the poll
 * phase that delivered the events). Scheduling each transport with `callSoon` directly would wake
 * the loop in the microtask checkpoint after every single event, so 64 busy connections would cost
 * 64 loop iterations; batched, they cost one. Order is kept: transports are scheduled in the order
 * their first event arrived, and each transport delivers its own events in order.
 */
class IoBatch {
  readonly #loop: EventLoop;
  #pending: Transport[] = [];
  #armed = false;

  constructor(loop: EventLoop) {
    this.#loop = loop;
  }

  add(transport: Transport): void {
    this.#pending.push(transport);
    if (!this.#armed) {
      this.#armed = true;
      setImmediate(this.#flush);
    }
  }

  readonly #flush = (): void => {
    this.#armed = false;
    const pending = this.#pending;
    this.#pending = [];
    const closed = this.#loop.isClosed();
    for (const t of pending) t[kDispatch](closed);
  };
}

const batches = new WeakMap<EventLoop, IoBatch>();

function batchOf(loop: EventLoop): IoBatch {
  let batch = batches.get(loop);
  if (batch === undefined) {
    batch = new IoBatch(loop);
    batches.set(loop, batch);
  }
  return batch;
}

const kDispatch = Symbol("multiloop.net.dispatch");

function setWaiterResult(waiter: Future<void>): void {
  if (!waiter.done()) waiter.setResult(undefined);
}

/**
 * A bidirectional byte stream owned by the loop: write to it, pause and resume reading, close it.
 * Transports are made by `loop.createConnection`, `loop.createServer` (one per accepted
 * connection) and the subprocess functions; never construct one yourself.
 *
 * Writing never blocks: data goes to a buffer that the transport flushes as the peer accepts it.
 * When the buffer grows above the high-water mark (default 64 KiB) the protocol's `pauseWriting()`
 * is called; when it drains to the low-water mark (default 16 KiB), `resumeWriting()`.
 *
 * Thread-safety: a transport belongs to its loop's thread.
 */
export class Transport {
  readonly #loop: EventLoop;
  readonly #socket: Socket;
  #protocol: Protocol;
  #buffered: boolean;
  readonly #marker: ContextMarker;
  readonly #extra: Record<string, unknown>;
  readonly #owner: TransportOwner | null;
  readonly #batch: IoBatch;
  #waiter: Future<void> | null = null;
  #made = false;
  /** close(), abort() or a fatal error happened: no more protocol data callbacks. */
  #closing = false;
  #readingPaused = false;
  #eofWritten = false;
  #connLost = 0;
  #lostCalled = false;
  #socketClosed = false;
  #lostError: Error | null = null;
  readonly #inbox: Buffer[] = [];
  #eofPending = false;
  #deliveryScheduled = false;
  #high = DEFAULT_HIGH;
  #low = DEFAULT_HIGH / 4;
  #writingPaused = false;
  #onLost: (() => void) | null = null;

  /** @internal use the loop's `createConnection` / `createServer` instead. */
  constructor(
    loop: EventLoop,
    socket: Socket,
    protocol: Protocol,
    extra: Record<string, unknown>,
    owner: TransportOwner | null,
  ) {
    this.#loop = loop;
    this.#socket = socket;
    this.#protocol = protocol;
    this.#buffered = isBufferedProtocol(protocol);
    this.#marker = withContext(copyContext());
    this.#extra = { ...extra, socket };
    this.#owner = owner;
    this.#batch = batchOf(loop);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
  }

  // ---------------------------------------------------------------- base transport

  /** Whether the transport is closing or closed (`close()`, `abort()`, EOF handling, an error). */
  isClosing(): boolean {
    return this.#closing;
  }

  /**
   * Closes the transport: stops reading at once, flushes what is buffered, then closes the
   * connection; the protocol's `connectionLost(null)` follows. Idempotent.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#connLost++;
    this.#inbox.length = 0;
    this.#eofPending = false;
    const socket = this.#socket;
    socket.pause();
    if (socket.destroyed) return;
    if (socket.writableFinished || (!socket.writable && !socket.writableEnded)) {
      socket.destroy();
      return;
    }
    // Flush first (end() sends the buffer, then FIN), then release the socket: with
    // allowHalfOpen, Node would otherwise keep the read side open until the peer ends too.
    socket.once("finish", () => {
      socket.destroy();
    });
    if (!socket.writableEnded) socket.end();
  }

  /** Closes at once, dropping buffered data; `connectionLost(null)` follows. */
  abort(): void {
    this.#forceClose(null);
  }

  /** Extra information: `"peername"`, `"sockname"`, `"socket"` (the `net.Socket`); else `fallback`. */
  getExtraInfo(name: string, fallback?: unknown): unknown {
    return Object.prototype.hasOwnProperty.call(this.#extra, name) ? this.#extra[name] : fallback;
  }

  /** The protocol this transport calls. */
  getProtocol(): Protocol {
    return this.#protocol;
  }

  /** Switches the protocol that receives the following callbacks. */
  setProtocol(protocol: Protocol): void {
    if (typeof protocol !== "object" || protocol === null) {
      throw typeError("protocol", "a protocol object", protocol);
    }
    this.#protocol = protocol;
    this.#buffered = isBufferedProtocol(protocol);
  }

  // ---------------------------------------------------------------- reading

  /** Whether data is being delivered (not paused and not closing). */
  isReading(): boolean {
    return !this.#readingPaused && !this.#closing;
  }

  /** Stops delivering data until `resumeReading()`; idempotent. */
  pauseReading(): void {
    if (this.#closing || this.#readingPaused) return;
    this.#readingPaused = true;
    this.#socket.pause();
  }

  /** Delivers data again (also what arrived before the pause and was held back); idempotent. */
  resumeReading(): void {
    if (this.#closing || !this.#readingPaused) return;
    this.#readingPaused = false;
    this.#socket.resume();
    if (this.#inbox.length > 0 || this.#eofPending) this.#schedule();
  }

  // ---------------------------------------------------------------- writing

  /**
   * Queues `data` (bytes, or a string sent as UTF-8) for sending. Empty data is ignored. After the
   * connection is closed or lost, data is dropped (with a warning once that has happened five
   * times, as asyncio); after `writeEof()` it is an error.
   */
  write(data: Uint8Array | string): void {
    const bytes = toBytes(data);
    if (this.#eofWritten) throw new RuntimeError("Cannot call write() after writeEof()", { code: "ERR_LOOP_WRITE_AFTER_EOF" });
    if (bytes.length === 0) return;
    if (this.#closing) {
      if (this.#connLost >= LOG_THRESHOLD_FOR_CONNLOST_WRITES) logger.warning("socket.send() raised exception.");
      this.#connLost++;
      return;
    }
    const socket = this.#socket;
    // Only writes that leave the buffer above the low-water mark need to report their completion
    // (that is when resumeWriting may become due); the common small write stays callback-free.
    if (socket.writableLength + bytes.length > this.#low) socket.write(bytes, this.#onWritten);
    else socket.write(bytes);
    this.#maybePauseProtocol();
  }

  /** Writes several chunks as one. */
  writelines(list: Iterable<Uint8Array | string>): void {
    if (list === null || typeof (list as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
      throw typeError("list", "an iterable of bytes or strings", list);
    }
    const chunks: Buffer[] = [];
    for (const item of list) chunks.push(toBytes(item));
    if (chunks.length === 0) return;
    this.write(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  }

  /** Closes the write side once the buffer is flushed (TCP half-close); reading goes on. */
  writeEof(): void {
    if (this.#closing || this.#eofWritten) return;
    this.#eofWritten = true;
    this.#socket.end();
  }

  /** True: sockets and pipes support `writeEof()`. */
  canWriteEof(): boolean {
    return true;
  }

  /** Bytes buffered and not yet handed to the operating system. */
  getWriteBufferSize(): number {
    return this.#socket.writableLength;
  }

  /** `[low, high]` water marks of the write buffer, in bytes. */
  getWriteBufferLimits(): [low: number, high: number] {
    return [this.#low, this.#high];
  }

  /**
   * Sets the write buffer's water marks. Only `high`: `low = high / 4`; only `low`: `high = 4 * low`;
   * neither: 64 KiB / 16 KiB. `high` 0 makes every write pause the protocol until it is flushed.
   */
  setWriteBufferLimits(high?: number, low?: number): void {
    let h = high;
    let l = low;
    for (const [name, v] of [["high", h], ["low", l]] as const) {
      if (v !== undefined && (typeof v !== "number" || Number.isNaN(v))) {
        throw typeError(name, "a number of bytes", v);
      }
    }
    if (h === undefined) h = l === undefined ? DEFAULT_HIGH : 4 * l;
    if (l === undefined) l = Math.floor(h / 4);
    if (!(h >= l && l >= 0)) throw new RangeError(`high (${h}) must be >= low (${l}) must be >= 0`);
    this.#high = h;
    this.#low = l;
    if (this.#maybePauseProtocol() && !this.#socket.writableEnded) {
      // No write in flight may carry a completion callback: an empty write reports the flush.
      this.#socket.write(EMPTY, this.#onWritten);
    }
  }

  toString(): string {
    const state = this.#lostCalled ? "closed" : this.#closing ? "closing" : "open";
    const read = this.isReading() ? "polling" : "idle";
    return `<Transport ${state} read=${read} write=<bufsize=${this.#socket.writableLength}>>`;
  }

  // ---------------------------------------------------------------- internal protocol

  /** @internal schedules `connectionMade`; `waiter` gets its result right after it. */
  [kStart](waiter: Future<void> | null): void {
    this.#waiter = waiter;
    this.#loop.callSoon(this.#connectionMade, this.#marker);
  }

  /** @internal a fatal error: report it (when `message` is given) and abort with `exc`. */
  [kFatal](exc: Error, message?: string): void {
    if (message !== undefined) {
      this.#loop.callExceptionHandler({ message, exception: exc, transport: this, protocol: this.#protocol });
    }
    this.#forceClose(exc);
  }

  /** @internal called once, right after `connectionLost`. */
  set [kOnLost](fn: () => void) {
    this.#onLost = fn;
  }

  // ---------------------------------------------------------------- Node events (outside the runner)

  readonly #onData = (chunk: Buffer): void => {
    if (this.#closing) return;
    this.#inbox.push(chunk);
    this.#schedule();
  };

  readonly #onEnd = (): void => {
    if (this.#closing) return;
    this.#eofPending = true;
    this.#schedule();
  };

  readonly #onError = (err: Error): void => {
    // `close` follows; connectionLost gets the error (asyncio: an OSError ends the connection
    // quietly, and is only logged in debug mode).
    if (this.#lostError === null) this.#lostError = toError(err);
    if (this.#loop.getDebug()) logger.warning(`${this.toString()}: ${String(err)}`);
  };

  readonly #onClose = (): void => {
    this.#socketClosed = true;
    this.#closing = true;
    this.#schedule();
  };

  readonly #onWritten = (err?: Error | null): void => {
    if (err != null || !this.#writingPaused || this.#lostCalled) return;
    if (this.#socket.writableLength <= this.#low) {
      this.#writingPaused = false;
      if (this.#loop.isClosed()) return;
      this.#loop.callSoon(this.#resumeWriting, this.#marker);
    }
  };

  /** Arranges one delivery callback for whatever arrived (see `IoBatch`). */
  #schedule(): void {
    if (this.#deliveryScheduled) return;
    this.#deliveryScheduled = true;
    this.#batch.add(this);
  }

  /** @internal the batch's turn: queue the delivery on the loop. */
  [kDispatch](loopClosed: boolean): void {
    if (loopClosed) {
      // Nobody can run the protocol any more; release the socket so the thread can exit.
      this.#deliveryScheduled = false;
      this.#socket.destroy();
      return;
    }
    this.#loop.callSoon(this.#deliver, this.#marker);
  }

  // ---------------------------------------------------------------- loop callbacks

  readonly #connectionMade = (): void => {
    this.#made = true;
    const waiter = this.#waiter;
    this.#waiter = null;
    try {
      this.#protocol.connectionMade?.(this);
    } catch (err) {
      if (waiter !== null && !waiter.done()) waiter.setException(err);
      this[kFatal](toError(err), "Fatal error: protocol.connectionMade() call failed.");
      return;
    }
    if (waiter !== null) this.#loop.callSoon(setWaiterResult, waiter);
    if (this.#inbox.length > 0 || this.#eofPending || this.#socketClosed) this.#schedule();
  };

  readonly #deliver = (): void => {
    this.#deliveryScheduled = false;
    if (!this.#made || this.#lostCalled) return;
    const inbox = this.#inbox;
    while (inbox.length > 0 && !this.#readingPaused && !this.#closing) {
      const chunk = inbox.shift() as Buffer;
      if (this.#buffered) this.#feedBuffered(chunk);
      else this.#feed(chunk);
    }
    if (this.#eofPending && inbox.length === 0 && !this.#readingPaused && !this.#closing) {
      this.#eofPending = false;
      let keepOpen: unknown;
      try {
        keepOpen = this.#protocol.eofReceived?.();
      } catch (err) {
        this[kFatal](toError(err), "Fatal error: protocol.eofReceived() call failed.");
        return;
      }
      if (!keepOpen) this.close();
    }
    if (this.#socketClosed) this.#callConnectionLost();
  };

  #feed(chunk: Buffer): void {
    try {
      this.#protocol.dataReceived?.(chunk);
    } catch (err) {
      this[kFatal](toError(err), "Fatal error: protocol.dataReceived() call failed.");
    }
  }

  #feedBuffered(chunk: Buffer): void {
    const protocol = this.#protocol as BufferedProtocol;
    let offset = 0;
    while (offset < chunk.length) {
      let buf: Uint8Array;
      try {
        buf = protocol.getBuffer(chunk.length - offset);
        if (!(buf instanceof Uint8Array) || buf.length === 0) {
          throw new RuntimeError("getBuffer() returned an empty buffer", { code: "ERR_LOOP_EMPTY_BUFFER" });
        }
      } catch (err) {
        this[kFatal](toError(err), "Fatal error: protocol.getBuffer() call failed.");
        return;
      }
      const n = Math.min(buf.length, chunk.length - offset);
      chunk.copy(buf, 0, offset, offset + n);
      offset += n;
      try {
        protocol.bufferUpdated(n);
      } catch (err) {
        this[kFatal](toError(err), "Fatal error: protocol.bufferUpdated() call failed.");
        return;
      }
      if ((this.#readingPaused || this.#closing) && offset < chunk.length) {
        // Paused in the middle of a chunk: the rest waits for resumeReading().
        if (!this.#closing) this.#inbox.unshift(chunk.subarray(offset));
        return;
      }
    }
  }

  #callConnectionLost(): void {
    if (this.#lostCalled) return;
    this.#lostCalled = true;
    this.#closing = true;
    this.#inbox.length = 0;
    this.#eofPending = false;
    try {
      this.#protocol.connectionLost?.(this.#lostError);
    } catch (err) {
      this.#loop.callExceptionHandler({
        message: "Exception in callback protocol.connectionLost()",
        exception: err,
        transport: this,
        protocol: this.#protocol,
      });
    } finally {
      this.#owner?.transportLost(this);
      const onLost = this.#onLost;
      this.#onLost = null;
      if (onLost !== null) onLost();
    }
  }

  readonly #resumeWriting = (): void => {
    if (this.#lostCalled || this.#writingPaused) return;
    try {
      this.#protocol.resumeWriting?.();
    } catch (err) {
      this[kFatal](toError(err), "protocol.resumeWriting() failed");
    }
  };

  /** Pauses the protocol if the buffer is above the high-water mark; true if it did. */
  #maybePauseProtocol(): boolean {
    if (this.#writingPaused || this.#socket.writableLength <= this.#high) return false;
    this.#writingPaused = true;
    try {
      this.#protocol.pauseWriting?.();
    } catch (err) {
      this[kFatal](toError(err), "protocol.pauseWriting() failed");
    }
    return true;
  }

  #forceClose(exc: Error | null): void {
    if (exc !== null && this.#lostError === null) this.#lostError = exc;
    if (!this.#closing) {
      this.#closing = true;
      this.#connLost++;
    }
    this.#inbox.length = 0;
    this.#eofPending = false;
    if (!this.#socket.destroyed) this.#socket.destroy();
    else if (this.#socketClosed) this.#schedule();
  }
}
