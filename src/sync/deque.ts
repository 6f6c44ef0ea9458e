/**
 * A double-ended queue on a ring buffer: `push` and `shift` in O(1) however long it gets.
 *
 * `Array.prototype.shift` moves every element once the array is large (V8 only keeps it O(1) for
 * small arrays), so a queue of a million items would cost a million moves per item taken. The ring
 * keeps a power-of-two capacity, so an index wraps with a mask rather than a modulo; it doubles
 * when full and halves when three quarters empty (above a floor), so a queue that once held many
 * items does not keep their memory.
 */

const MIN_CAPACITY = 16;

export class Deque<T> {
  #buf: (T | undefined)[];
  #mask: number;
  #head = 0;
  #size = 0;

  constructor() {
    this.#buf = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.#mask = MIN_CAPACITY - 1;
  }

  get length(): number {
    return this.#size;
  }

  /** Adds at the back. */
  push(item: T): void {
    if (this.#size > this.#mask) this.#resize((this.#mask + 1) * 2);
    this.#buf[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
  }

  /** Removes and returns the front item; undefined when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const buf = this.#buf;
    const head = this.#head;
    const item = buf[head];
    // Clear the slot so the deque does not keep a taken item alive.
    buf[head] = undefined;
    this.#head = (head + 1) & this.#mask;
    this.#size--;
    if (this.#mask >= MIN_CAPACITY * 4 && this.#size <= this.#mask >>> 2) this.#resize((this.#mask + 1) >>> 1);
    return item;
  }

  /** Removes and returns the back item; undefined when empty. */
  pop(): T | undefined {
    if (this.#size === 0) return undefined;
    this.#size--;
    const index = (this.#head + this.#size) & this.#mask;
    const item = this.#buf[index];
    this.#buf[index] = undefined;
    if (this.#mask >= MIN_CAPACITY * 4 && this.#size <= this.#mask >>> 2) this.#resize((this.#mask + 1) >>> 1);
    return item;
  }

  /**
   * Removes the first occurrence of `item` (searching from the front, where a queue's waiters
   * usually leave from); false if it is not there. O(n): for the rare removal from the middle.
   */
  remove(item: T): boolean {
    const buf = this.#buf;
    const mask = this.#mask;
    const n = this.#size;
    for (let i = 0; i < n; i++) {
      if (buf[(this.#head + i) & mask] !== item) continue;
      // Close the gap by moving the later items one slot towards the front.
      for (let j = i; j < n - 1; j++) buf[(this.#head + j) & mask] = buf[(this.#head + j + 1) & mask];
      buf[(this.#head + n - 1) & mask] = undefined;
      this.#size = n - 1;
      return true;
    }
    return false;
  }

  /** The front item without removing it; undefined when empty. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head];
  }

  clear(): void {
    this.#buf = new Array<T | undefined>(MIN_CAPACITY).fill(undefined);
    this.#mask = MIN_CAPACITY - 1;
    this.#head = 0;
    this.#size = 0;
  }

  /** The items from front to back, as a new array. */
  toArray(): T[] {
    const out = new Array<T>(this.#size);
    for (let i = 0; i < this.#size; i++) out[i] = this.#buf[(this.#head + i) & this.#mask] as T;
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#size; i++) yield this.#buf[(this.#head + i) & this.#mask] as T;
  }

  #resize(capacity: number): void {
    const next = new Array<T | undefined>(capacity).fill(undefined);
    for (let i = 0; i < this.#size; i++) next[i] = this.#buf[(this.#head + i) & this.#mask];
    this.#buf = next;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}
