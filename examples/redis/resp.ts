/**
 * RESP, the Redis serialization protocol: versions 2 and 3, an incremental parser and a command
 * encoder. https://redis.io/docs/latest/develop/reference/protocol-spec/
 *
 * The parser takes chunks cut anywhere and yields whole replies, in work linear in the bytes it
 * is given, whatever the server sends:
 * - it resumes where it stopped: open arrays, maps and sets are kept on a stack, so a reply of a
 *   million elements arriving in 64 KiB reads is parsed once, not from its start on every read;
 * - an element cut by a read waits in a list of chunks, joined once when complete (a bulk string
 *   says how many bytes it needs, a line ends at its LF), never copied again per read;
 * - a reply larger than `maxReplyBytes` (default 512 MiB, Redis's own `proto-max-bulk-len`), a
 *   length or integer that is not strictly decimal, a line without CRLF or a bulk string not
 *   followed by CRLF is a `RespProtocolError` (code `ERR_REDIS_PROTOCOL`): the stream cannot be
 *   trusted past it, so the client closes the connection and fails what was pending.
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

/** The server broke the protocol (see the module docs); the connection cannot go on. */
export class RespProtocolError extends Error {
  override readonly name = "RespProtocolError";
  readonly code = "ERR_REDIS_PROTOCOL";
}

/** Redis's own `proto-max-bulk-len`: the largest reply accepted by default. */
export const DEFAULT_MAX_REPLY_BYTES = 512 * 1024 * 1024;

export interface RespParserOptions {
  /** Bulk strings as Buffers instead of UTF-8 strings. @default false */
  returnBuffers?: boolean;
  /** The largest reply (all its bytes) accepted; more is a RespProtocolError. @default 536870912 (512 MiB) */
  maxReplyBytes?: number;
}

const INCOMPLETE: unique symbol = Symbol("incomplete");
const EMPTY = Buffer.alloc(0);
const CR = 13;
const LF = 10;

/** An aggregate being filled: its items so far and how many are still to come. */
class Open {
  readonly type: number;
  readonly items: RespValue[] = [];
  remaining: number;
  constructor(type: number, remaining: number) {
    this.type = type;
    this.remaining = remaining;
  }
}

const DECIMAL = /^-?\d+$/u;
const DOUBLE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/u;

/** Incremental RESP2/RESP3 parser (see the module docs). */
export class RespParser {
  readonly #returnBuffers: boolean;
  readonly #maxReplyBytes: number;
  #buf: Buffer = EMPTY;
  #pos = 0;
  /** The cut element's bytes so far, waiting for the rest (joined once it is all there). */
  readonly #tail: Buffer[] = [];
  #tailBytes = 0;
  /** What the cut element needs: a byte count (bulk), or -1 for "up to the next LF". */
  #need = 0;
  /** Open aggregates of the reply being parsed, innermost last. */
  readonly #stack: Open[] = [];
  /** Bytes of the current top-level reply consumed so far (for maxReplyBytes). */
  #replyBytes = 0;

  constructor(options: RespParserOptions = {}) {
    this.#returnBuffers = options.returnBuffers ?? false;
    this.#maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  }

  /** Bytes held back, waiting for the rest of a reply. */
  get pending(): number {
    return this.#tailBytes + (this.#buf.length - this.#pos) + (this.#stack.length > 0 ? 1 : 0);
  }

  /**
   * Adds `chunk` and calls `onReply` for every reply it completes, in order. Throws
   * RespProtocolError when the server broke the protocol.
   */
  feed(chunk: Buffer, onReply: (value: RespValue) => void): void {
    if (chunk.length === 0) return;
    if (this.#tailBytes > 0) {
      this.#tail.push(chunk);
      this.#tailBytes += chunk.length;
      this.#checkSize(this.#tailBytes);
      // Not enough yet: keep the chunk, copy nothing.
      if (this.#need > 0 ? this.#tailBytes < this.#need : chunk.indexOf(LF) === -1) return;
      this.#buf = this.#tail.length === 1 ? (this.#tail[0] as Buffer) : Buffer.concat(this.#tail, this.#tailBytes);
      this.#tail.length = 0;
      this.#tailBytes = 0;
    } else {
      this.#buf = chunk;
    }
    this.#pos = 0;
    this.#need = 0;
    const buf = this.#buf;
    while (this.#pos < buf.length) {
      const start = this.#pos;
      const value = this.#element();
      if (value === INCOMPLETE) {
        // Keep only the cut element (a reply's finished parts are on the stack already).
        this.#pos = start;
        const rest = buf.subarray(start);
        this.#tail.push(rest);
        this.#tailBytes = rest.length;
        this.#checkSize(rest.length);
        break;
      }
      this.#replyBytes += this.#pos - start;
      this.#checkSize(0);
      this.#deliver(value, onReply);
    }
    this.#buf = EMPTY;
    this.#pos = 0;
  }

  #checkSize(extra: number): void {
    if (this.#replyBytes + extra > this.#maxReplyBytes) {
      throw new RespProtocolError(`A reply is larger than the ${this.#maxReplyBytes} bytes allowed (option maxReplyBytes)`);
    }
  }

  /** A finished value goes into the innermost open aggregate, or out as a reply. */
  #deliver(first: RespValue | Open | null, onReply: (value: RespValue) => void): void {
    let value: RespValue | Open | typeof SKIP | null = first;
    for (;;) {
      if (value instanceof Open) {
        // A new aggregate header: open it, unless it is empty.
        const open = value;
        if (open.remaining > 0) {
          this.#stack.push(open);
          return;
        }
        value = close(open);
        if (value === SKIP) return;
      }
      const top = this.#stack[this.#stack.length - 1];
      if (top === undefined) {
        this.#replyBytes = 0;
        onReply(value);
        return;
      }
      top.items.push(value);
      if (--top.remaining > 0) return;
      this.#stack.pop();
      value = close(top);
      // An attribute (metadata) was complete: dropped; what follows is the value itself.
      if (value === SKIP) return;
    }
  }

  /** One element: a scalar, or an aggregate's header (an `Open`). */
  #element(): RespValue | Open | null | typeof INCOMPLETE {
    const buf = this.#buf;
    const type = buf[this.#pos++] as number;
    switch (type) {
      case 0x2b: // + simple string
        return this.#line();
      case 0x2d: {
        // - error
        const s = this.#line();
        return s === INCOMPLETE ? s : new RedisError(s);
      }
      case 0x3a: // : integer
        return this.#integer();
      case 0x24: // $ bulk string
        return this.#bulk(false);
      case 0x5f: {
        // _ null
        const s = this.#line();
        if (s === INCOMPLETE) return s;
        if (s !== "") throw new RespProtocolError(`A null carries data: ${JSON.stringify(s.slice(0, 40))}`);
        return null;
      }
      case 0x23: {
        // # boolean
        const s = this.#line();
        if (s === INCOMPLETE) return s;
        if (s !== "t" && s !== "f") throw new RespProtocolError(`A boolean is ${JSON.stringify(s.slice(0, 40))}, not t or f`);
        return s === "t";
      }
      case 0x2c: {
        // , double
        const s = this.#line();
        if (s === INCOMPLETE) return s;
        if (s === "inf" || s === "+inf") return Infinity;
        if (s === "-inf") return -Infinity;
        if (s === "nan") return NaN;
        if (!DOUBLE.test(s)) throw new RespProtocolError(`A double is ${JSON.stringify(s.slice(0, 40))}`);
        return Number(s);
      }
      case 0x28: {
        // ( big number
        const s = this.#line();
        if (s === INCOMPLETE) return s;
        if (!DECIMAL.test(s)) throw new RespProtocolError(`A big number is ${JSON.stringify(s.slice(0, 40))}`);
        return BigInt(s);
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
      case 0x2a: // * array
      case 0x7e: // ~ set
      case 0x3e: // > push
        return this.#header(type, 1);
      case 0x25: // % map
      case 0x7c: // | attribute: metadata for the reply that follows; parsed and dropped
        return this.#header(type, 2);
      default:
        throw new RespProtocolError(`Unexpected type byte 0x${type.toString(16)}`);
    }
  }

  /** The rest of the line as text; the position moves past CRLF. */
  #line(): string | typeof INCOMPLETE {
    const buf = this.#buf;
    const start = this.#pos;
    const lf = buf.indexOf(LF, start);
    if (lf === -1) {
      this.#need = -1;
      return INCOMPLETE;
    }
    if (lf === start || buf[lf - 1] !== CR) throw new RespProtocolError("A line does not end with CRLF");
    this.#pos = lf + 1;
    return buf.toString("utf8", start, lf - 1);
  }

  /** A strictly decimal integer up to CRLF: a number, or a bigint past 2^53. */
  #integer(): number | bigint | typeof INCOMPLETE {
    const buf = this.#buf;
    const start = this.#pos;
    const lf = buf.indexOf(LF, start);
    if (lf === -1) {
      this.#need = -1;
      return INCOMPLETE;
    }
    const end = lf - 1;
    if (lf === start || buf[end] !== CR) throw new RespProtocolError("A line does not end with CRLF");
    let p = start;
    const negative = buf[p] === 0x2d;
    if (negative) p++;
    if (p === end) throw new RespProtocolError("An integer has no digits");
    let n = 0;
    for (let i = p; i < end; i++) {
      const c = buf[i] as number;
      if (c < 0x30 || c > 0x39) {
        throw new RespProtocolError(`An integer is ${JSON.stringify(buf.toString("latin1", start, Math.min(end, start + 40)))}`);
      }
      n = n * 10 + (c - 0x30);
    }
    this.#pos = lf + 1;
    if (end - p > 15) {
      // Past 2^53: exact as a bigint, a number again if it fits.
      const big = BigInt(buf.toString("latin1", start, end));
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
    }
    return negative ? -n : n;
  }

  /** A length: -1 (null), or a count no larger than the reply may be. */
  #length(): number | typeof INCOMPLETE {
    const n = this.#integer();
    if (n === INCOMPLETE) return n;
    if (typeof n === "bigint" || n < -1 || n > this.#maxReplyBytes) {
      throw new RespProtocolError(`A length of ${String(n)} is out of range (at most ${this.#maxReplyBytes}, option maxReplyBytes)`);
    }
    return n;
  }

  #bulk(asBuffer: boolean): string | Buffer | null | typeof INCOMPLETE {
    const top = this.#pos - 1;
    const len = this.#length();
    if (len === INCOMPLETE) return len;
    if (len < 0) return null;
    const start = this.#pos;
    const end = start + len;
    this.#checkSize(end - top);
    if (end + 2 > this.#buf.length) {
      // Ask for the whole element (from its type byte), so the next reads only collect chunks.
      this.#need = end + 2 - top;
      return INCOMPLETE;
    }
    if (this.#buf[end] !== CR || this.#buf[end + 1] !== LF) throw new RespProtocolError("A bulk string is not followed by CRLF");
    this.#pos = end + 2;
    if (asBuffer || this.#returnBuffers) return this.#buf.subarray(start, end);
    return this.#buf.toString("utf8", start, end);
  }

  #header(type: number, per: number): Open | null | typeof INCOMPLETE {
    const count = this.#length();
    if (count === INCOMPLETE) return count;
    // A null aggregate (RESP2 `*-1`); a null map (or attribute) is read as an empty one.
    if (count < 0) return type === 0x25 || type === 0x7c ? new Open(type, 0) : null;
    return new Open(type, count * per);
  }
}

/** What `close` returns for an attribute: nothing to deliver. */
const SKIP: unique symbol = Symbol("skip");

/** The value of a complete aggregate. */
function close(open: Open): RespValue | typeof SKIP {
  switch (open.type) {
    case 0x25: {
      const map = new Map<RespValue, RespValue>();
      for (let i = 0; i < open.items.length; i += 2) map.set(open.items[i] as RespValue, open.items[i + 1] as RespValue);
      return map;
    }
    case 0x7c:
      return SKIP;
    case 0x3e:
      return new Push(open.items);
    default:
      return open.items;
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
