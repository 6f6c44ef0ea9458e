/**
 * `StreamReader`: the reading half of a stream (asyncio.StreamReader).
 *
 * A protocol feeds it (`feedData`, `feedEof`, `setException`); coroutines read from it. Only one
 * read may wait at a time, as in asyncio. Flow control: when more than `2 * limit` bytes are
 * buffered the transport is paused, and resumed once the buffer is back at `limit` or below, so a
 * slow reader holds back a fast peer instead of buffering without bound.
 */
import { IncompleteReadError, LimitOverrunError, RuntimeError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { errorRepr } from "../core/format.js";
import { getEventLoop } from "../core/policy.js";
import { readOptions, typeError } from "../core/validate.js";
import type { Transport } from "../net/transport.js";


/**
 * The second callback of the chains on a waiter future below. With both callbacks a task's
 * `then` counts as an await, which makes the waiter the task's cancel target: a cancel of the
 * reading task then reaches the read (with one callback it would be a plain continuation).
 */
function rethrow(err: unknown): never {
  throw err;
}
/** asyncio's `_DEFAULT_LIMIT`: 64 KiB. */
export const DEFAULT_LIMIT = 2 ** 16;

const EMPTY = Buffer.alloc(0);
const NEWLINE = Buffer.from("\n");

/** Options of `new StreamReader()`. */
export interface StreamReaderOptions {
  /** Buffer limit in bytes for `readline`/`readuntil`, and the flow-control threshold. @default 65536 */
  limit?: number;
  /** The loop the reader's waits belong to. @default getEventLoop() */
  loop?: EventLoop;
}

/** What `readuntil` accepts: one separator, or several (the match that ends first wins, as asyncio 3.13). */
export type Separator = string | Uint8Array | readonly (string | Uint8Array)[];

/** A reader limit from options: default 64 KiB; asyncio's `Limit cannot be <= 0` as a RangeError. */
export function checkLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (typeof limit !== "number" || Number.isNaN(limit)) throw typeError("limit", "a number of bytes", limit);
  if (limit <= 0) throw new RangeError("Limit cannot be <= 0");
  return limit;
}

function toSeparator(sep: string | Uint8Array): Buffer {
  if (typeof sep === "string") return Buffer.from(sep, "utf8");
  if (sep instanceof Uint8Array) return Buffer.from(sep.buffer, sep.byteOffset, sep.byteLength);
  throw typeError("separator", "a string, a Uint8Array or an array of them", sep);
}

/**
 * Buffered reads from a connection or a pipe: `read`, `readline`, `readexactly`, `readuntil`,
 * and `for await (const line of reader)`.
 *
 * @example
 * const [reader, writer] = await openConnection("127.0.0.1", port);
 * writer.write("PING\r\n");
 * const reply = await reader.readuntil("\r\n");
 *
 * Cancellation: a cancelled read consumes nothing; the data stays buffered for the next read.
 */
export class StreamReader implements AsyncIterable<Buffer> {
  readonly #limit: number;
  readonly #loop: EventLoop;
  #buffer: Buffer = EMPTY;
  #eof = false;
  #waiter: Future<void> | null = null;
  #exception: Error | null = null;
  #transport: Transport | null = null;
  #paused = false;

  constructor(options: StreamReaderOptions = {}) {
    options = readOptions("options", options);
    this.#limit = checkLimit(options.limit);
    this.#loop = options.loop ?? getEventLoop();
  }

  /** The buffer limit (bytes). */
  get limit(): number {
    return this.#limit;
  }

  /** The error set by `setException`, or null. */
  exception(): Error | null {
    return this.#exception;
  }

  /** Makes pending and later reads throw `exc`. */
  setException(exc: Error): void {
    this.#exception = exc;
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      if (!waiter.done()) waiter.setException(exc);
    }
  }

  /** @internal the transport to pause and resume. */
  setTransport(transport: Transport): void {
    if (this.#transport !== null) throw new RuntimeError("Transport already set");
    this.#transport = transport;
  }

  /** The peer sent EOF: reads return what is left, then empty buffers. */
  feedEof(): void {
    this.#eof = true;
    this.#wakeupWaiter();
  }

  /** True once EOF was fed and everything was read. */
  atEof(): boolean {
    return this.#eof && this.#buffer.length === 0;
  }

  /** Appends `data` to the buffer (a protocol calls this). */
  feedData(data: Uint8Array): void {
    if (this.#eof) throw new RuntimeError("feedData after feedEof");
    if (data.length === 0) return;
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#wakeupWaiter();
    const transport = this.#transport;
    if (transport !== null && !this.#paused && this.#buffer.length > 2 * this.#limit) {
      transport.pauseReading();
      this.#paused = true;
    }
  }

  /**
   * Reads up to `n` bytes: as soon as at least one byte is buffered (`n > 0`), everything until EOF
   * (`n < 0`, the default), or nothing (`n === 0`). At EOF returns an empty buffer.
   */
  read(n = -1): Promise<Buffer> {
    if (typeof n !== "number" || Number.isNaN(n)) return Promise.reject(typeError("n", "a number", n));
    if (this.#exception !== null) return Promise.reject(this.#exception);
    if (n === 0) return Promise.resolve(EMPTY);
    // Fast path (no async frame): bytes are buffered already, or EOF.
    if (n > 0 && (this.#buffer.length > 0 || this.#eof)) return Promise.resolve(this.#take(Math.min(n, this.#buffer.length)));
    return this.#readSlow(n);
  }

  #readSlow(n: number): Promise<Buffer> {
    if (n < 0) return this.#readToEof();
    // No async frame: the continuation runs inside the waiter's wake-up, in the reading task's
    // step, and only if the task was not cancelled meanwhile (then nothing is consumed).
    return this.#wait("read").then(() => this.#take(Math.min(n, this.#buffer.length)), rethrow);
  }

  async #readToEof(): Promise<Buffer> {
    // Block by block (as asyncio), so the transport's flow control keeps working meanwhile.
    const blocks: Buffer[] = [];
    for (;;) {
      const block = await this.read(this.#limit);
      if (block.length === 0) break;
      blocks.push(block);
    }
    return blocks.length === 1 ? (blocks[0] as Buffer) : Buffer.concat(blocks);
  }

  /**
   * Reads one line, `\n` included. At EOF returns the partial line, then empty buffers. A line
   * longer than the limit throws `RangeError` (asyncio's ValueError) and is discarded.
   */
  async readline(): Promise<Buffer> {
    try {
      return await this.readuntil(NEWLINE);
    } catch (err) {
      if (err instanceof IncompleteReadError) return err.partial;
      if (err instanceof LimitOverrunError) {
        const buf = this.#buffer;
        if (buf.length >= err.consumed + 1 && buf[err.consumed] === 0x0a) this.#buffer = buf.subarray(err.consumed + 1);
        else this.#buffer = EMPTY;
        this.#maybeResumeTransport();
        throw new RangeError(err.message, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Reads up to and including `separator` (default `"\n"`; an array means any of them, and the
   * match that ends first wins). EOF
   * first: `IncompleteReadError` with what was read (the buffer is emptied). Past the limit:
   * `LimitOverrunError`, and the data stays buffered.
   */
  async readuntil(separator: Separator = NEWLINE): Promise<Buffer> {
    const seps = (Array.isArray(separator) ? separator : [separator]) as (string | Uint8Array)[];
    if (seps.length === 0) throw new RangeError("Separator should contain at least one element");
    const bufs = seps.map(toSeparator).sort((a, b) => a.length - b.length);
    const minLen = (bufs[0] as Buffer).length;
    const maxLen = (bufs[bufs.length - 1] as Buffer).length;
    if (minLen === 0) throw new RangeError("Separator should be at least one-byte string");
    if (this.#exception !== null) throw this.#exception;
    let offset = 0;
    // The match that ends first wins (so the shortest result), as asyncio 3.13; ties go to the
    // shorter separator, tried first.
    let matchStart = -1;
    let matchEnd = -1;
    for (;;) {
      const buf = this.#buffer;
      if (buf.length - offset >= minLen) {
        for (const sep of bufs) {
          const i = buf.indexOf(sep, offset);
          if (i !== -1 && (matchEnd === -1 || i + sep.length < matchEnd)) {
            matchStart = i;
            matchEnd = i + sep.length;
          }
        }
        if (matchEnd !== -1) break;
        offset = Math.max(0, buf.length + 1 - maxLen);
        if (offset > this.#limit) {
          throw new LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
        }
      }
      if (this.#eof) {
        const chunk = this.#buffer;
        this.#buffer = EMPTY;
        throw new IncompleteReadError(chunk, null);
      }
      await this.#waitForData("readuntil");
    }
    if (matchStart > this.#limit) {
      throw new LimitOverrunError("Separator is found, but chunk is longer than limit", matchStart);
    }
    return this.#take(matchEnd);
  }

  /** Reads exactly `n` bytes; EOF first throws `IncompleteReadError` (the buffer is emptied). */
  readexactly(n: number): Promise<Buffer> {
    if (typeof n !== "number" || Number.isNaN(n)) return Promise.reject(typeError("n", "a number", n));
    if (n < 0) return Promise.reject(new RangeError("readexactly size can not be less than zero"));
    if (this.#exception !== null) return Promise.reject(this.#exception);
    if (n === 0) return Promise.resolve(EMPTY);
    if (this.#buffer.length >= n) return Promise.resolve(this.#take(n));
    return this.#readexactlySlow(n);
  }

  #readexactlySlow(n: number): Promise<Buffer> {
    if (this.#eof) {
      const partial = this.#buffer;
      this.#buffer = EMPTY;
      return Promise.reject(new IncompleteReadError(partial, n));
    }
    return this.#wait("readexactly").then(
      () => (this.#buffer.length >= n ? this.#take(n) : this.#readexactlySlow(n)),
      rethrow,
    );
  }

  /** Lines until EOF (`for await (const line of reader)`). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** asyncio's repr: `<StreamReader 4 bytes eof limit=123 waiter=<Future pending> ...>`, only what applies. */
  toString(): string {
    const info = ["StreamReader"];
    if (this.#buffer.length > 0) info.push(`${this.#buffer.length} bytes`);
    if (this.#eof) info.push("eof");
    if (this.#limit !== DEFAULT_LIMIT) info.push(`limit=${this.#limit}`);
    if (this.#waiter !== null) info.push(`waiter=${this.#waiter.toString()}`);
    if (this.#exception !== null) info.push(`exception=${errorRepr(this.#exception)}`);
    if (this.#transport !== null) info.push(`transport=${this.#transport.toString()}`);
    if (this.#paused) info.push("paused");
    return `<${info.join(" ")}>`;
  }

  #take(n: number): Buffer {
    const buf = this.#buffer;
    let out: Buffer;
    if (n >= buf.length) {
      out = buf;
      this.#buffer = EMPTY;
    } else {
      out = buf.subarray(0, n);
      this.#buffer = buf.subarray(n);
    }
    this.#maybeResumeTransport();
    return out;
  }

  #maybeResumeTransport(): void {
    if (this.#paused && this.#buffer.length <= this.#limit) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
  }

  #wakeupWaiter(): void {
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      if (!waiter.done()) waiter.setResult(undefined);
    }
  }

  /** `#waitForData` with its synchronous error as a rejection. */
  #wait(funcName: string): Promise<void> {
    try {
      return this.#waitForData(funcName);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * The future a read waits on until data, EOF or an error arrives. Returned, not awaited here,
   * so a waiting read costs one loop future and no extra async frame.
   */
  #waitForData(funcName: string): Future<void> {
    const current = this.#waiter;
    // A waiter cancelled with its reader task no longer counts (asyncio clears it in `finally`).
    if (current !== null && !current.done()) {
      throw new RuntimeError(
        `${funcName}() called while another coroutine is already waiting for incoming data`,
        { code: "ERR_LOOP_CONCURRENT_READ" },
      );
    }
    if (this.#paused) {
      // The buffer may be over the limit while we wait for a separator: let more data in.
      this.#paused = false;
      this.#transport?.resumeReading();
    }
    const waiter = this.#loop.createFuture<void>();
    this.#waiter = waiter;
    return waiter;
  }
}
