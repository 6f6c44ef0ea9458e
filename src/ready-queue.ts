/**
 * The loop's ready queue: FIFO, drained in bounded passes.
 *
 * A pass takes the callbacks queued when it starts (asyncio's `ntodo` snapshot); whatever they
 * schedule lands in the next pass. Two arrays that swap roles make that a pointer swap instead of a
 * count-and-shift on a deque, and keep the hot loop a plain indexed array walk.
 */
export class ReadyQueue<T> {
  #items: T[] = [];
  #spare: T[] | null = [];

  get length(): number {
    return this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Everything queued so far, in order; later pushes go to the next batch. Hand it back with `recycle`. */
  takeBatch(): T[] {
    const batch = this.#items;
    this.#items = this.#spare ?? [];
    this.#spare = null;
    return batch;
  }

  recycle(batch: T[]): void {
    batch.length = 0;
    this.#spare = batch;
  }

  /** Drops every queued item without running it (used by `close()`). */
  clear(): void {
    this.#items = [];
    this.#spare = [];
  }
}
