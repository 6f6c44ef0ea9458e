/**
 * How a ThreadQueue item becomes bytes in shared memory and back: structured clone semantics,
 * with a fast path for plain data.
 *
 * A record is `[u32 payload length][payload]`, padded to whole cells of `CELL` bytes (the unit the
 * ring hands out). The payload starts with a tag:
 * - primitives (undefined, null, booleans, int32, float64, well-formed strings) and plain objects
 *   and dense arrays made of them are written by hand: these are what queues mostly carry, and
 *   `v8.serialize` costs microseconds per call where this costs tens of nanoseconds;
 * - anything else (Map, Set, Date, RegExp, Error, typed arrays, BigInt, class instances, objects
 *   seen twice — shared references or cycles —, strings with lone surrogates, ...) goes through
 *   V8's own serializer (`v8.Serializer`, the base class, which is what structured clone uses:
 *   a Buffer arrives as a Uint8Array, as with postMessage).
 * The fast path bails out to V8 whenever it meets something it does not copy exactly as structured
 * clone would, so both paths give the same result. Values that structured clone rejects
 * (functions, symbols, MessagePorts, SharedArrayBuffers...) fail with a TypeError at `put`.
 */
import { Buffer } from "node:buffer";
import { types } from "node:util";
import { Deserializer, Serializer } from "node:v8";
import { describeValue } from "../core/validate.js";

/** Bytes per cell: the ring's unit of space. A number or a short string fits in one. */
export const CELL = 32;
/** The record header: the payload length. */
export const HEADER = 4;

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_INT = 4;
const T_FLOAT = 5;
const T_STRING = 6;
const T_ARRAY = 7;
const T_OBJECT = 8;
const T_V8 = 9;

/** Strings up to this length are tried as ASCII by hand (encode) and without Buffer (decode). */
const SHORT_STRING = 64;
/** Object keys decoded and kept for reuse (V8 then also reuses the object shapes). */
const KEY_CACHE_SIZE = 4096;

/** Deeper structures go through V8 (which has no such limit); this bounds our recursion. */
const MAX_DEPTH = 32;

/** Cells taken by a record whose payload is `length` bytes. */
export function cellsFor(length: number): number {
  return Math.ceil((HEADER + length) / CELL);
}

/** `String.prototype.isWellFormed` (Node 20; typed only in TypeScript's ES2024 lib). */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Thrown by the encoder's fast path to hand an item to V8 (one instance: no stack per bail). */
const BAIL = new Error("multiloop: the item needs V8's serializer");

/**
 * Encodes items into a private (non-shared) buffer, record after record, each aligned to a cell.
 * The ring then copies whole runs of records into shared memory at once.
 */
export class RecordWriter {
  #buf: Buffer;
  #view: DataView;
  #pos = 0;
  readonly #seen = new Set<object>();
  #root: object | null = null;
  /** Start offset of each record written since `reset()`, plus the end as the last entry. */
  readonly offsets: number[] = [0];
  /** Cells of each record written since `reset()`. */
  readonly cells: number[] = [];

  constructor(initialBytes = 4096) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
    this.#view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength);
  }

  get buffer(): Buffer {
    return this.#buf;
  }

  /** Number of records written since `reset()`. */
  get count(): number {
    return this.cells.length;
  }

  reset(): void {
    this.#pos = 0;
    this.offsets.length = 1;
    this.cells.length = 0;
  }

  /** Appends one item as a record. Throws a TypeError (naming `what`) if it cannot be cloned. */
  append(item: unknown, what: string): void {
    const start = this.#pos;
    this.#ensure(HEADER + 16);
    const payload = start + HEADER;
    this.#pos = payload;
    try {
      this.#write(item, 0);
    } catch (err) {
      if (err !== BAIL) {
        this.#pos = start;
        this.#forget();
        // A getter of the item threw while it was read (structured clone would throw it too).
        throw new TypeError(`Expected \`${what}\` to be readable, but reading it threw ${describeValue(err)}`, { cause: err });
      }
      this.#pos = payload;
      this.#writeV8(item, what, start);
    }
    this.#forget();
    const length = this.#pos - payload;
    this.#view.setUint32(start, length, true);
    const cells = cellsFor(length);
    this.#pos = start + cells * CELL;
    this.#ensure(0);
    this.cells.push(cells);
    this.offsets.push(this.#pos);
  }

  /** A new writer holding a copy of the records `[from, to)` (to keep them past this job). */
  slice(from: number, to: number): RecordWriter {
    const begin = this.offsets[from] as number;
    const length = this.bytes(from, to);
    const copy = new RecordWriter(Math.max(CELL, length));
    this.#buf.copy(copy.#buf, 0, begin, begin + length);
    copy.#pos = length;
    for (let r = from; r < to; r++) {
      copy.cells.push(this.cells[r] as number);
      copy.offsets.push((this.offsets[r + 1] as number) - begin);
    }
    return copy;
  }

  #forget(): void {
    this.#root = null;
    if (this.#seen.size > 0) this.#seen.clear();
  }

  /** Byte length of the records `[from, to)`. */
  bytes(from: number, to: number): number {
    return (this.offsets[to] as number) - (this.offsets[from] as number);
  }

  #ensure(extra: number): void {
    const need = this.#pos + extra;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
    this.#view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  #write(value: unknown, depth: number): void {
    switch (typeof value) {
      case "undefined":
        this.#tag(T_UNDEFINED);
        return;
      case "boolean":
        this.#tag(value ? T_TRUE : T_FALSE);
        return;
      case "number":
        this.#ensure(9);
        if ((value | 0) === value && !Object.is(value, -0)) {
          this.#buf[this.#pos] = T_INT;
          this.#view.setInt32(this.#pos + 1, value, true);
          this.#pos += 5;
        } else {
          this.#buf[this.#pos] = T_FLOAT;
          this.#view.setFloat64(this.#pos + 1, value, true);
          this.#pos += 9;
        }
        return;
      case "string":
        this.#tag(T_STRING);
        this.#string(value);
        return;
      case "object":
        if (value === null) {
          this.#tag(T_NULL);
          return;
        }
        this.#object(value, depth);
        return;
      default:
        // bigint goes to V8; functions and symbols too, which then reject them.
        throw BAIL;
    }
  }

  #tag(tag: number): void {
    this.#ensure(1);
    this.#buf[this.#pos++] = tag;
  }

  #string(value: string): void {
    const length = value.length;
    if (length <= SHORT_STRING) {
      // Short ASCII strings (keys, names, ids) by hand: cheaper than a call into Buffer.write.
      this.#ensure(4 + length);
      const buf = this.#buf;
      const at = this.#pos + 4;
      let i = 0;
      for (; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === length) {
        this.#view.setUint32(this.#pos, length, true);
        this.#pos = at + length;
        return;
      }
    }
    // UTF-8 cannot carry a lone surrogate; structured clone keeps it, so V8 does those.
    if (!isWellFormed(value)) throw BAIL;
    this.#ensure(4 + length * 3);
    const written = this.#buf.write(value, this.#pos + 4, "utf8");
    this.#view.setUint32(this.#pos, written, true);
    this.#pos += 4 + written;
  }

  #object(value: object, depth: number): void {
    // Shared references and cycles must come out shared, as structured clone makes them: V8 does
    // that. The root is compared directly, so an item with no nested object never uses the set.
    if (depth === 0) this.#root = value;
    else if (depth >= MAX_DEPTH || value === this.#root || this.#seen.has(value)) throw BAIL;
    else this.#seen.add(value);
    if (types.isProxy(value)) throw BAIL;
    const proto: unknown = Object.getPrototypeOf(value);
    if (Array.isArray(value)) {
      if (proto !== Array.prototype) throw BAIL;
      const length = value.length;
      // Holes and extra named properties survive structured clone; leave those arrays to V8.
      if (Object.keys(value).length !== length) throw BAIL;
      this.#ensure(5);
      this.#buf[this.#pos] = T_ARRAY;
      this.#view.setUint32(this.#pos + 1, length, true);
      this.#pos += 5;
      for (let i = 0; i < length; i++) this.#write(value[i], depth + 1);
      return;
    }
    if (proto !== Object.prototype && proto !== null) throw BAIL;
    const keys = Object.keys(value);
    this.#ensure(5);
    this.#buf[this.#pos] = T_OBJECT;
    this.#view.setUint32(this.#pos + 1, keys.length, true);
    this.#pos += 5;
    for (const key of keys) {
      this.#string(key);
      this.#write((value as Record<string, unknown>)[key], depth + 1);
    }
  }

  #writeV8(item: unknown, what: string, start: number): void {
    let bytes: Buffer;
    try {
      const serializer = new Serializer();
      serializer.writeHeader();
      serializer.writeValue(item);
      bytes = serializer.releaseBuffer();
    } catch (err) {
      this.#pos = start;
      this.#forget();
      throw new TypeError(
        `Expected \`${what}\` to be a value structured clone can copy, got ${describeValue(item)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    this.#ensure(1 + bytes.length);
    this.#buf[this.#pos] = T_V8;
    bytes.copy(this.#buf, this.#pos + 1);
    this.#pos += 1 + bytes.length;
  }
}

/** Reads one record's payload. `buf`/`view` may be shared memory: nothing returned aliases it. */
export class RecordReader {
  #buf: Buffer;
  #view: DataView;
  #pos = 0;
  #end = 0;

  constructor(buf: Buffer) {
    this.#buf = buf;
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Decodes the payload at `[start, start + length)`. */
  read(start: number, length: number): unknown {
    this.#pos = start;
    this.#end = start + length;
    return this.#value();
  }

  #value(): unknown {
    const buf = this.#buf;
    const tag = buf[this.#pos++];
    switch (tag) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_INT: {
        const v = this.#view.getInt32(this.#pos, true);
        this.#pos += 4;
        return v;
      }
      case T_FLOAT: {
        const v = this.#view.getFloat64(this.#pos, true);
        this.#pos += 8;
        return v;
      }
      case T_STRING:
        return this.#string();
      case T_ARRAY: {
        const length = this.#view.getUint32(this.#pos, true);
        this.#pos += 4;
        const array = new Array<unknown>(length);
        for (let i = 0; i < length; i++) array[i] = this.#value();
        return array;
      }
      case T_OBJECT: {
        const count = this.#view.getUint32(this.#pos, true);
        this.#pos += 4;
        const object: Record<string, unknown> = {};
        for (let i = 0; i < count; i++) {
          const key = this.#key();
          const value = this.#value();
          // An own "__proto__" key must stay a plain property, not set the prototype.
          if (key === "__proto__") Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
          else object[key] = value;
        }
        return object;
      }
      case T_V8: {
        // Node's deserializers may return views over their input: give them a private copy.
        const bytes = Buffer.from(buf.subarray(this.#pos, this.#end));
        this.#pos = this.#end;
        const deserializer = new Deserializer(bytes);
        deserializer.readHeader();
        return deserializer.readValue();
      }
      default:
        throw new Error(`multiloop: corrupt ThreadQueue record (tag ${String(tag)})`);
    }
  }

  #string(): string {
    const length = this.#view.getUint32(this.#pos, true);
    const start = this.#pos + 4;
    this.#pos = start + length;
    if (length <= SHORT_STRING) {
      const buf = this.#buf;
      let text = "";
      let i = start;
      for (; i < start + length; i++) {
        const c = buf[i] as number;
        if (c >= 0x80) break;
        text += String.fromCharCode(c);
      }
      if (i === start + length) return text;
    }
    return this.#buf.toString("utf8", start, start + length);
  }

  /** An object key: short ASCII keys come from a cache (checked byte by byte on every hit). */
  #key(): string {
    const length = this.#view.getUint32(this.#pos, true);
    const start = this.#pos + 4;
    const end = start + length;
    if (length > SHORT_STRING) return this.#string();
    const buf = this.#buf;
    let hash = length;
    for (let i = start; i < end; i++) {
      const c = buf[i] as number;
      if (c >= 0x80) return this.#string();
      hash = (Math.imul(hash, 31) + c) | 0;
    }
    this.#pos = end;
    const cached = keyCache.get(hash);
    if (cached !== undefined && cached.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (cached.charCodeAt(i) !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached;
    }
    let key = "";
    for (let i = start; i < end; i++) key += String.fromCharCode(buf[i] as number);
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
    keyCache.set(hash, key);
    return key;
  }
}

/** Per thread (module state is per thread): hash of a short ASCII key -> the key. */
const keyCache = new Map<number, string>();
