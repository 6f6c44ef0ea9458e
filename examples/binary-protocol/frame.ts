/**
 * A length-prefixed binary frame format of our own, and an incremental decoder for it.
 *
 *     +----------------+----------------+------------------+
 *     | length: u32 BE | request id: u32 BE | payload (length bytes) |
 *     +----------------+----------------+------------------+
 *
 * TCP is a byte stream: a read may hold half a frame, or ten frames and a bit. `FrameDecoder`
 * accepts chunks cut anywhere and yields whole frames. Nothing here knows about threads or loops.
 */

/** Bytes before the payload: the length and the request id. */
export const HEADER_SIZE = 8;
/** The largest payload a decoder accepts by default (a guard against garbage lengths). */
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

export interface Frame {
  readonly id: number;
  readonly payload: Buffer;
}

/** One frame as bytes. */
export function encodeFrame(id: number, payload: Uint8Array): Buffer {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new RangeError(`Expected \`id\` to be an integer in [0, 2^32), got ${id}`);
  }
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.writeUInt32BE(id, 4);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** A frame's length field announced more than the decoder's limit. */
export class FrameTooLargeError extends Error {
  override readonly name = "FrameTooLargeError";
  readonly length: number;
  readonly max: number;
  constructor(length: number, max: number) {
    super(`Frame payload of ${length} bytes exceeds the limit of ${max} bytes`);
    this.length = length;
    this.max = max;
  }
}

/**
 * Reassembles frames from chunks split and merged arbitrarily.
 *
 * It keeps the unread bytes as a list of chunks and copies only when a frame straddles chunks, so
 * a large coalesced read is decoded without copying every frame.
 */
export class FrameDecoder {
  readonly #max: number;
  #chunks: Buffer[] = [];
  #buffered = 0;

  constructor(maxPayload = DEFAULT_MAX_PAYLOAD) {
    this.#max = maxPayload;
  }

  /** Bytes received and not yet part of a whole frame. */
  get pending(): number {
    return this.#buffered;
  }

  /** Adds `chunk`; returns the frames it completed, in order. Throws `FrameTooLargeError`. */
  push(chunk: Uint8Array): Frame[] {
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#buffered += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#buffered < HEADER_SIZE) break;
      const header = this.#peek(HEADER_SIZE);
      const length = header.readUInt32BE(0);
      if (length > this.#max) throw new FrameTooLargeError(length, this.#max);
      if (this.#buffered < HEADER_SIZE + length) break;
      const id = header.readUInt32BE(4);
      this.#skip(HEADER_SIZE);
      frames.push({ id, payload: this.#take(length) });
    }
    return frames;
  }

  /** The first `n` bytes (n <= buffered), without consuming them. */
  #peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) return first;
    this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0] as Buffer;
  }

  #skip(n: number): void {
    this.#take(n);
  }

  /** Removes and returns the first `n` bytes. */
  #take(n: number): Buffer {
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Buffer;
      const want = Math.min(n - filled, chunk.length);
      chunk.copy(out, filled, 0, want);
      filled += want;
      if (want === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(want);
    }
    return out;
  }
}
