/**
 * The shared memory behind a ThreadQueue: a multi-producer multi-consumer ring of cells, without
 * locks, in one SharedArrayBuffer.
 *
 * Layout: a header of Int32 words (each hot word on its own 64-byte line, so producers and
 * consumers do not fight over one cache line), then one sequence word per cell, then the cells
 * (`CELL` bytes each) holding the records (thread-queue-codec.ts). A record takes one or more
 * consecutive cells.
 *
 * The ring follows D. Vyukov's bounded MPMC queue, extended to records of several cells. Positions
 * are Int32 counters that wrap (differences are taken with `| 0`); position `p` lives in cell
 * `p & mask`, and that cell's sequence word says what may happen there:
 * - `seq == p`      free for a producer at position `p`;
 * - `seq == p + 1`  a committed record starts at `p` (written on the record's first cell only);
 * - `seq == p + cells` released by its consumer: free for position `p + cells` of the next lap.
 * Producers reserve a run of free cells by CAS on `ENQ`, copy their records in, then commit each
 * record by storing its first cell's sequence word. Consumers claim a run of committed records by
 * CAS on `DEQ`, decode them, then release every cell. A CAS that succeeds proves nobody else
 * reserved or claimed those positions meanwhile, which is what makes the reads before it valid.
 *
 * `COUNT` holds the items in the queue as tokens: a producer takes a token per item before it
 * reserves cells (so `maxsize` is never exceeded, counting items being written), a consumer gives it
 * back after claiming. Bit 30 of `COUNT` is the closed flag, so "take a token" and "is the queue
 * closed" are one atomic step: a put either counts before `close()` (and its item will be
 * delivered) or fails with QueueShutDown.
 *
 * Invariants: positions are claimed in the order they were reserved, so the queue is FIFO and
 * each producer's items keep their order; a record is decoded only between its claim and its
 * release, so nothing is read twice or overwritten while read; tokens >= records reserved and not
 * yet claimed. Every operation is a bounded, non-blocking series of Atomics (a failed CAS means
 * another thread made progress). A thread that dies between reserving and committing leaves its
 * position uncommitted: consumers then see the queue as empty from there on (they wait, they do
 * not spin); this cannot be told apart from a slow producer, and is documented.
 */
import { Buffer } from "node:buffer";
import { CELL, HEADER, RecordReader, cellsFor, type RecordWriter } from "./thread-queue-codec.js";
import { signalAll, signalWatchers } from "./shared-signal.js";
import { writeSharedId } from "./shared-cores.js";

// Header words (Int32 indices).
const MAGIC = 0;
/** Two words: the random id of the queue (shared-cores.ts). */
export const ID = 1;
const CELLS = 3;
const MAXSIZE = 4;
const COUNT = 16;
const ENQ = 32;
const DEQ = 48;
/** Bumped when records were committed (or on close); `GET_WATCHERS` counts who waits for it. */
export const NOT_EMPTY = 64;
export const GET_WATCHERS = 65;
/** Bumped when cells and tokens were given back (or on close). */
export const NOT_FULL = 80;
export const PUT_WATCHERS = 81;
const HEADER_WORDS = 96;

const MAGIC_VALUE = 0x4d4c5451; // "MLTQ"
const CLOSED = 0x40000000;
const COUNT_MASK = CLOSED - 1;
/** The largest maxsize (COUNT's token bits). */
export const MAX_ITEMS = COUNT_MASK;

/** What `tryPut` returns when the queue is closed. */
export const PUT_CLOSED = -1;

/** Room for `n` cells (a power of two) and their records. */
export function ringBytes(cells: number): number {
  return HEADER_WORDS * 4 + cells * 4 + cells * CELL;
}

export class SharedRing {
  readonly buffer: SharedArrayBuffer;
  readonly header: Int32Array;
  readonly #seq: Int32Array;
  /** The cells, as a Buffer over shared memory (Buffer for fast UTF-8 and copies). */
  readonly #cells: Buffer;
  readonly #cellView: DataView;
  readonly #reader: RecordReader;
  readonly #capacity: number;
  readonly #mask: number;
  readonly #maxsize: number;

  /** Lays out a new ring of `cells` cells (a power of two) in a new SharedArrayBuffer. */
  static create(cells: number, maxsize: number): SharedRing {
    const buffer = new SharedArrayBuffer(ringBytes(cells));
    const header = new Int32Array(buffer, 0, HEADER_WORDS);
    header[MAGIC] = MAGIC_VALUE;
    header[CELLS] = cells;
    header[MAXSIZE] = maxsize;
    writeSharedId(header, ID);
    const seq = new Int32Array(buffer, HEADER_WORDS * 4, cells);
    for (let i = 0; i < cells; i++) seq[i] = i;
    return new SharedRing(buffer);
  }

  /** Whether `buffer` holds a ring made by `create` (used to validate `ThreadQueue.from`). */
  static isRing(buffer: SharedArrayBuffer): boolean {
    if (buffer.byteLength < HEADER_WORDS * 4) return false;
    const header = new Int32Array(buffer, 0, HEADER_WORDS);
    const cells = header[CELLS] as number;
    return header[MAGIC] === MAGIC_VALUE && cells > 0 && (cells & (cells - 1)) === 0 && buffer.byteLength === ringBytes(cells);
  }

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, HEADER_WORDS);
    const cells = this.header[CELLS] as number;
    this.#capacity = cells;
    this.#mask = cells - 1;
    this.#maxsize = this.header[MAXSIZE] as number;
    this.#seq = new Int32Array(buffer, HEADER_WORDS * 4, cells);
    this.#cells = Buffer.from(buffer, HEADER_WORDS * 4 + cells * 4, cells * CELL);
    this.#cellView = new DataView(buffer, HEADER_WORDS * 4 + cells * 4, cells * CELL);
    this.#reader = new RecordReader(this.#cells);
  }

  get maxsize(): number {
    return this.#maxsize;
  }

  /** The largest payload a record can have: the whole ring. */
  get maxPayload(): number {
    return this.#capacity * CELL - HEADER;
  }

  get bufferBytes(): number {
    return this.#capacity * CELL;
  }

  /** Items in the queue, counting those being written or read right now. */
  qsize(): number {
    return Atomics.load(this.header, COUNT) & COUNT_MASK;
  }

  closed(): boolean {
    return (Atomics.load(this.header, COUNT) & CLOSED) !== 0;
  }

  /** Tokens a producer could take now (Infinity when unbounded). */
  freeTokens(): number {
    const count = Atomics.load(this.header, COUNT);
    if ((count & CLOSED) !== 0) return 0;
    return this.#maxsize === 0 ? Infinity : Math.max(0, this.#maxsize - (count & COUNT_MASK));
  }

  /** Closes the queue: no more puts; every watcher in every thread looks again. */
  close(): void {
    Atomics.or(this.header, COUNT, CLOSED);
    signalAll(this.header, NOT_EMPTY);
    signalAll(this.header, NOT_FULL);
  }

  // ---------------------------------------------------------------- producers

  /**
   * Puts the records `[from, to)` of `writer`, as many as fit now, in order. Returns how many were
   * put (0: full), or PUT_CLOSED.
   */
  tryPut(writer: RecordWriter, from: number, to: number): number {
    const tokens = this.#takeTokens(to - from);
    if (tokens <= 0) return tokens;
    const reserved = this.#reserve(writer.cells, from, from + tokens);
    if (reserved.records < tokens) this.#giveTokensBack(tokens - reserved.records);
    const n = reserved.records;
    if (n === 0) return 0;
    this.#copyIn(writer, from, from + n, reserved.pos);
    // Commit in order, each record by its first cell's sequence word (after its bytes).
    let pos = reserved.pos;
    for (let r = from; r < from + n; r++) {
      Atomics.store(this.#seq, pos & this.#mask, (pos + 1) | 0);
      pos = (pos + (writer.cells[r] as number)) | 0;
    }
    signalWatchers(this.header, NOT_EMPTY, GET_WATCHERS);
    return n;
  }

  #takeTokens(want: number): number {
    const header = this.header;
    const maxsize = this.#maxsize;
    for (;;) {
      const count = Atomics.load(header, COUNT);
      if ((count & CLOSED) !== 0) return PUT_CLOSED;
      const items = count & COUNT_MASK;
      const free = maxsize === 0 ? COUNT_MASK - items : maxsize - items;
      if (free <= 0) return 0;
      const take = Math.min(want, free);
      if (Atomics.compareExchange(header, COUNT, count, count + take) === count) return take;
    }
  }

  #giveTokensBack(n: number): void {
    const after = Atomics.sub(this.header, COUNT, n) - n;
    // Waiting getters of a closed queue wait for the count to reach 0 (not for a record).
    if ((after & CLOSED) !== 0) signalAll(this.header, NOT_EMPTY);
    else signalWatchers(this.header, NOT_FULL, PUT_WATCHERS);
  }

  /** Reserves a run of free cells for the longest prefix of records `[from, to)` that fits. */
  #reserve(cells: readonly number[], from: number, to: number): { pos: number; records: number } {
    let need = 0;
    for (let r = from; r < to; r++) need += cells[r] as number;
    const seq = this.#seq;
    const mask = this.#mask;
    for (;;) {
      const pos = Atomics.load(this.header, ENQ);
      let free = 0;
      let stale = false;
      while (free < need) {
        const at = (pos + free) | 0;
        const diff = (Atomics.load(seq, at & mask) - at) | 0;
        if (diff === 0) {
          free++;
          continue;
        }
        // Ahead of us: another producer took this position, our `pos` is stale.
        stale = diff > 0;
        break;
      }
      if (stale) continue;
      let records = 0;
      let taken = 0;
      while (from + records < to && taken + (cells[from + records] as number) <= free) {
        taken += cells[from + records] as number;
        records++;
      }
      if (records === 0) return { pos, records: 0 };
      if (Atomics.compareExchange(this.header, ENQ, pos, (pos + taken) | 0) === pos) return { pos, records };
    }
  }

  #copyIn(writer: RecordWriter, from: number, to: number, pos: number): void {
    const src = writer.buffer;
    const begin = writer.offsets[from] as number;
    const length = writer.bytes(from, to);
    const at = (pos & this.#mask) * CELL;
    const room = this.#cells.length - at;
    if (length <= room) {
      src.copy(this.#cells, at, begin, begin + length);
    } else {
      src.copy(this.#cells, at, begin, begin + room);
      src.copy(this.#cells, 0, begin + room, begin + length);
    }
  }

  /** Contiguous free cells at the producers' position, counting up to `limit`. */
  freeCells(limit: number): number {
    const seq = this.#seq;
    const pos = Atomics.load(this.header, ENQ);
    let free = 0;
    while (free < limit) {
      const at = (pos + free) | 0;
      if (Atomics.load(seq, at & this.#mask) !== at) break;
      free++;
    }
    return free;
  }

  // ---------------------------------------------------------------- consumers

  /** Committed records visible at the consumers' position, counting up to `limit`. */
  visible(limit: number): number {
    const seq = this.#seq;
    let pos = Atomics.load(this.header, DEQ);
    let n = 0;
    let walked = 0;
    while (n < limit && walked < this.#capacity) {
      if (Atomics.load(seq, pos & this.#mask) !== ((pos + 1) | 0)) break;
      const cells = cellsFor(this.#cellView.getUint32((pos & this.#mask) * CELL, true));
      pos = (pos + cells) | 0;
      walked += cells;
      n++;
    }
    return n;
  }

  /** Takes up to `max` records, in order, decoded into `out`. Returns how many (0: none visible). */
  tryTake(max: number, out: unknown[]): number {
    const header = this.header;
    const seq = this.#seq;
    const mask = this.#mask;
    const capacity = this.#capacity;
    for (;;) {
      const start = Atomics.load(header, DEQ);
      let pos = start;
      let n = 0;
      let walked = 0;
      while (n < max) {
        if (Atomics.load(seq, pos & mask) !== ((pos + 1) | 0)) break;
        // With a stale `start` this header may be changing under us; the CAS below will fail, but
        // keep the walk bounded meanwhile.
        const cells = cellsFor(this.#cellView.getUint32((pos & mask) * CELL, true));
        if (cells > capacity - walked) break;
        pos = (pos + cells) | 0;
        walked += cells;
        n++;
      }
      if (n === 0) {
        if (Atomics.load(header, DEQ) !== start) continue;
        return 0;
      }
      if (Atomics.compareExchange(header, DEQ, start, pos) !== start) continue;
      this.#readAndRelease(start, n, out);
      return n;
    }
  }

  #readAndRelease(start: number, n: number, out: unknown[]): void {
    const seq = this.#seq;
    const mask = this.#mask;
    const capacity = this.#capacity;
    let pos = start;
    let failed = false;
    let failure: unknown;
    for (let i = 0; i < n; i++) {
      const at = (pos & mask) * CELL;
      const length = this.#cellView.getUint32(at, true);
      try {
        out.push(this.#decode(at + HEADER, length));
      } catch (err) {
        // Cannot happen with what our encoder wrote; if it ever did, the ring must keep moving.
        if (!failed) failure = err;
        failed = true;
      }
      const cells = cellsFor(length);
      // Release every cell of the record for the next lap, after its bytes were read.
      for (let c = 0; c < cells; c++) {
        const p = (pos + c) | 0;
        Atomics.store(seq, p & mask, (p + capacity) | 0);
      }
      pos = (pos + cells) | 0;
    }
    Atomics.sub(this.header, COUNT, n);
    signalWatchers(this.header, NOT_FULL, PUT_WATCHERS);
    if (failed) throw failure;
  }

  #decode(at: number, length: number): unknown {
    const size = this.#cells.length;
    if (at + length <= size) return this.#reader.read(at, length);
    // The record wraps around the end of the ring (its header never does: a cell is larger than
    // it): decode a contiguous copy.
    const copy = Buffer.allocUnsafe(length);
    const first = size - at;
    this.#cells.copy(copy, 0, at, size);
    this.#cells.copy(copy, first, 0, length - first);
    return new RecordReader(copy).read(0, length);
  }
}
