/**
 * The loop's ready queue: FIFO, drained in bounded passes.
 *
 * A pass takes the callbacks queued when it starts (asyncio's `ntodo` snapshot); whatever they
 * schedule lands in the next pass. Two arrays that swap roles make that a pointer swap instead of a
 * count-and-shift on a deque, and keep the hot loop a plain indexed array walk.
 *
 * The arrays keep their capacity between passes (a count, not `length = 0`, which makes V8 shrink
 * and then regrow the backing store on every pass); the runner clears each slot as it takes it,
 * so nothing is kept alive by a slot it already ran.
 */
export class ReadyQueue<T> {
  #items: Array<T | undefined> = [];
  #count = 0;
  #spare: Array<T | undefined> | null = [];
  /** How many items the batch returned by the last `takeBatch()` holds. */
  batchLength = 0;

  get length(): number {
    return this.#count;
  }

  push(item: T): void {
    this.#items[this.#count++] = item;
  }

  /**
   * Everything queued so far, in order, in the first `batchLength` slots; later pushes go to the
   * next batch. The caller clears the slots it takes and hands the array back with `recycle`.
   */
  takeBatch(): Array<T | undefined> {
    const batch = this.#items;
    this.batchLength = this.#count;
    this.#items = this.#spare ?? [];
    this.#count = 0;
    this.#spare = null;
    return batch;
  }

  recycle(batch: Array<T | undefined>): void {
    this.#spare = batch;
  }

  /** Drops every queued item without running it (used by `close()`). */
  clear(): void {
    this.#items = [];
    this.#count = 0;
    this.#spare = [];
  }
}
