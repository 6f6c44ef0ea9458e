/**
 * RESP, the Redis serialization protocol: versions 2 and 3, an incremental parser and a command
 * encoder. https://redis.io/docs/latest/develop/reference/protocol-spec/
 *
 * The parser takes chunks cut anywhere and yields whole replies. When a reply is incomplete it
 * rewinds to the reply's start and waits for more bytes; a long bulk string tells how many bytes it
 * needs, so a multi-megabyte value arriving in small reads is not re-parsed on every read.
 */

/** An error reply (`-ERR ...`, RESP3 `!` blob errors too). `prefix` is the first word: "ERR", "WRONGTYPE", ... */
export class RedisError extends Error {
  override readonly name = "RedisError";
  readonly prefix: string;
  constructor(message: string) {
    super(message);
    const space = message.indexOf(" ");
    this.prefix = space === -1 ? message : message.slice(0, space);
  }
}

/** A RESP3 out-of-band push (`>`): pub/sub messages, client-side caching invalidations. */
export class Push {
  readonly items: RespValue[];
  constructor(items: RespValue[]) {
    this.items = items;
  }
  /** The push's kind: its first item as text ("message", "subscribe", ...). */
  get kind(): string {
    const first = this.items[0];
    return typeof first === "string" ? first : Buffer.isBuffer(first) ? first.toString() : "";
  }
}

/**
 * A reply. RESP2: simple strings and bulk strings (`string`, or `Buffer` with `returnBuffers`),
 * integers (`number`), arrays, null, errors. RESP3 adds doubles (`number`), big numbers (`bigint`),
 * booleans, maps (`Map`), sets (arrays), verbatim strings (`string`) and pushes (`Push`).
 */
export type RespValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | RedisError
  | Push
  | RespValue[]
  | Map<RespValue, RespValue>;

/** A command argument: sent as a bulk string (numbers as their decimal text). */
export type Arg = string | number | Buffer;

const INCOMPLETE: unique symbol = Symbol("incomplete");
type Parsed = RespValue | typeof INCOMPLETE;

const EMPTY = Buffer.alloc(0);
const CR = 13;

/** Incremental RESP2/RESP3 parser. */
export class RespParser {
  readonly #returnBuffers: boolean;
  #buf: Buffer = EMPTY;
  #pos = 0;
  /** Bytes the buffer must hold (from the start of the pending reply) before parsing is worth it. */
  #need = 0;
  #top = 0;

  constructor(options: { returnBuffers?: boolean } = {}) {
    this.#returnBuffers = options.returnBuffers ?? false;
  }

  /** Bytes held back, waiting for the rest of a reply. */
  get pending(): number {
    return this.#buf.length - this.#pos;
  }

  /** Adds `chunk` and calls `onReply` for every reply it completes, in order. */
  feed(chunk: Buffer, onReply: (value: RespValue) => void): void {
    if (this.#pos >= this.#buf.length) {
      this.#buf = chunk;
    } else {
      this.#buf = Buffer.concat([this.#buf.subarray(this.#pos), chunk]);
    }
    this.#pos = 0;
    if (this.#buf.length < this.#need) return;
    this.#need = 0;
    const buf = this.#buf;
    while (this.#pos < buf.length) {
      this.#top = this.#pos;
      const value = this.#parse();
      if (value === INCOMPLETE) {
        this.#pos = this.#top;
        if (this.#need > 0) this.#need -= this.#top;
        return;
      }
      onReply(value);
    }
    this.#buf = EMPTY;
    this.#pos = 0;
  }

  #parse(): Parsed {
    const buf = this.#buf;
    if (this.#pos >= buf.length) return INCOMPLETE;
    const type = buf[this.#pos++] as number;
    switch (type) {
      case 0x2b: // + simple string
        return this.#lineString();
      case 0x2d: {
        // - error
        const s = this.#lineString();
        return s === INCOMPLETE ? s : new RedisError(s);
      }
      case 0x3a: // : integer
        return this.#integer();
      case 0x24: // $ bulk string
        return this.#bulk(false);
      case 0x2a: // * array
        return this.#aggregate(1);
      case 0x5f: // _ null
        return this.#skipLine() ? null : INCOMPLETE;
      case 0x23: {
        // # boolean
        const s = this.#lineString();
        return s === INCOMPLETE ? s : s === "t";
      }
      case 0x2c: {
        // , double
        const s = this.#lineString();
        if (s === INCOMPLETE) return s;
        return s === "inf" ? Infinity : s === "-inf" ? -Infinity : s === "nan" ? NaN : Number(s);
      }
      case 0x28: {
        // ( big number
        const s = this.#lineString();
        return s === INCOMPLETE ? s : BigInt(s);
      }
      case 0x21: {
        // ! blob error
        const s = this.#bulk(true);
        return s === INCOMPLETE || s === null ? s : new RedisError(String(s));
      }
      case 0x3d: {
        // = verbatim string: "txt:" + text
        const s = this.#bulk(true);
        return s === INCOMPLETE || s === null ? s : String(s).slice(4);
      }
      case 0x25: // % map
        return this.#map();
      case 0x7e: // ~ set
        return this.#aggregate(1);
      case 0x3e: {
        // > push
        const items = this.#aggregate(1);
        return items === INCOMPLETE || items === null ? items : new Push(items);
      }
      case 0x7c: {
        // | attribute: metadata for the reply that follows; parsed and dropped
        const attrs = this.#map();
        return attrs === INCOMPLETE ? attrs : this.#parse();
      }
      default:
        throw new RedisError(`Protocol error: unexpected type byte 0x${type.toString(16)}`);
    }
  }

  /** The rest of the line as text; the position moves past CRLF. */
  #lineString(): string | typeof INCOMPLETE {
    const buf = this.#buf;
    const start = this.#pos;
    const end = buf.indexOf(CR, start);
    if (end === -1 || end + 1 >= buf.length) return INCOMPLETE;
    this.#pos = end + 2;
    return buf.toString("utf8", start, end);
  }

  #skipLine(): boolean {
    const end = this.#buf.indexOf(CR, this.#pos);
    if (end === -1 || end + 1 >= this.#buf.length) return false;
    this.#pos = end + 2;
    return true;
  }

  /** A decimal integer up to CRLF, without making a string for the common small case. */
  #integer(): number | bigint | typeof INCOMPLETE {
    const buf = this.#buf;
    let p = this.#pos;
    const start = p;
    let negative = false;
    if (buf[p] === 0x2d) {
      negative = true;
      p++;
    }
    let n = 0;
    for (; p < buf.length; p++) {
      const c = buf[p] as number;
      if (c === CR) {
        if (p + 1 >= buf.length) return INCOMPLETE;
        this.#pos = p + 2;
        if (p - start > 15) {
          // Past 2^53: exact as a bigint, a number again if it fits.
          const big = BigInt(buf.toString("latin1", start, p));
          return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
        }
        return negative ? -n : n;
      }
      n = n * 10 + (c - 48);
    }
    return INCOMPLETE;
  }

  #length(): number | typeof INCOMPLETE {
    const n = this.#integer();
    return typeof n === "bigint" ? Number(n) : n;
  }

  #bulk(asBuffer: boolean): string | Buffer | null | typeof INCOMPLETE {
    const len = this.#length();
    if (len === INCOMPLETE) return len;
    if (len < 0) return null;
    const start = this.#pos;
    const end = start + len;
    if (end + 2 > this.#buf.length) {
      this.#need = end + 2;
      return INCOMPLETE;
    }
    this.#pos = end + 2;
    if (asBuffer || this.#returnBuffers) return this.#buf.subarray(start, end);
    return this.#buf.toString("utf8", start, end);
  }

  #aggregate(per: number): RespValue[] | null | typeof INCOMPLETE {
    const count = this.#length();
    if (count === INCOMPLETE) return count;
    if (count < 0) return null;
    const out = new Array<RespValue>(count * per);
    for (let i = 0; i < out.length; i++) {
      const v = this.#parse();
      if (v === INCOMPLETE) return v;
      out[i] = v;
    }
    return out;
  }

  #map(): Map<RespValue, RespValue> | typeof INCOMPLETE {
    const flat = this.#aggregate(2);
    if (flat === INCOMPLETE) return flat;
    const map = new Map<RespValue, RespValue>();
    if (flat === null) return map;
    for (let i = 0; i < flat.length; i += 2) map.set(flat[i] as RespValue, flat[i + 1] as RespValue);
    return map;
  }
}

/**
 * One command as RESP (an array of bulk strings). All-text commands become one string, which the
 * transport sends as UTF-8 without building a Buffer per argument.
 */
export function encodeCommand(args: readonly Arg[]): string | Buffer {
  let text = `*${args.length}\r\n`;
  let parts: Buffer[] | null = null;
  for (const arg of args) {
    if (typeof arg === "string") {
      text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
    } else if (typeof arg === "number") {
      const s = String(arg);
      text += `$${s.length}\r\n${s}\r\n`;
    } else {
      parts ??= [];
      parts.push(Buffer.from(`${text}$${arg.length}\r\n`), arg);
      text = "\r\n";
    }
  }
  if (parts === null) return text;
  parts.push(Buffer.from(text));
  return Buffer.concat(parts);
}
