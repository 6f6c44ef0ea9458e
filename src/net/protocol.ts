/**
 * Protocols: the callback side of a connection (asyncio.Protocol / asyncio.BufferedProtocol).
 *
 * The transport calls a protocol's methods as loop callbacks, in this order and with these
 * guarantees (asyncio's state machine):
 *
 *     connectionMade -> dataReceived* -> eofReceived? -> connectionLost
 *
 * - `connectionMade` is always first and `connectionLost` always last, exactly once;
 * - no `dataReceived` arrives while reading is paused (`transport.pauseReading()`);
 * - `eofReceived` returning a truthy value keeps the connection half-open (the protocol closes it
 *   later); anything else makes the transport close itself;
 * - `pauseWriting` is called when the transport's write buffer goes above the high-water mark,
 *   `resumeWriting` once it drains to the low-water mark.
 *
 * A callback that throws is a fatal error for its connection only: the loop's exception handler
 * gets `Fatal error: protocol.<method>() call failed.`, the transport is aborted and
 * `connectionLost(error)` follows.
 */
import type { Transport } from "./transport.js";

/**
 * A streaming protocol: every method is optional.
 *
 * @example
 * class Echo implements Protocol {
 *   #transport: Transport | null = null;
 *   connectionMade(t: Transport) { this.#transport = t; }
 *   dataReceived(data: Buffer) { this.#transport?.write(data); }
 * }
 * const server = await loop.createServer(() => new Echo(), "127.0.0.1", 0);
 */
export interface Protocol {
  /** The connection is up; `transport` is the way to write, pause and close. */
  connectionMade?(transport: Transport): void;
  /** Some bytes arrived. Chunk boundaries mean nothing: TCP splits and merges at will. */
  dataReceived?(data: Buffer): void;
  /** The peer will send no more. Return true to keep the connection half-open. */
  eofReceived?(): boolean | void;
  /** The connection is closed: `null` after a normal close or EOF, else the error that ended it. */
  connectionLost?(exc: Error | null): void;
  /** The transport's write buffer went above its high-water mark: stop writing for now. */
  pauseWriting?(): void;
  /** The write buffer drained to its low-water mark: writing may go on. */
  resumeWriting?(): void;
}

/**
 * A protocol that supplies the buffer the transport reads into (asyncio.BufferedProtocol), which
 * saves an allocation per read when the protocol parses in place.
 *
 * For every chunk that arrives, the transport calls `getBuffer(sizeHint)` (`sizeHint` is the
 * number of bytes waiting), copies as much as fits, and calls `bufferUpdated(n)`; it repeats until
 * the chunk is used up. `dataReceived` is never called on a buffered protocol.
 */
export interface BufferedProtocol extends Protocol {
  /** A non-empty buffer to copy incoming bytes into; `sizeHint` is how many bytes are waiting. */
  getBuffer(sizeHint: number): Uint8Array;
  /** `nbytes` bytes were written at the start of the buffer `getBuffer` returned. */
  bufferUpdated(nbytes: number): void;
}

/** Whether `protocol` is a `BufferedProtocol` (it has both `getBuffer` and `bufferUpdated`). */
export function isBufferedProtocol(protocol: Protocol): protocol is BufferedProtocol {
  return (
    typeof (protocol as Partial<BufferedProtocol>).getBuffer === "function" &&
    typeof (protocol as Partial<BufferedProtocol>).bufferUpdated === "function"
  );
}
