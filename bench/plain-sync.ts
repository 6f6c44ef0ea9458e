/**
 * What a Node program without multiloop writes instead of `Queue` and `Lock`: a hand-rolled async
 * queue (an array plus waiting resolvers) and a promise mutex. They are the baselines of the
 * synchronisation scenarios, and they follow the same method names, so the scenarios drive both
 * sides with the same code.
 */
import type { LockLike, QueueLike } from "./features.js";

/** FIFO of items with a moving head, so `get` does not shift the array. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T {
    const item = this.#items[this.#head] as T;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    return item;
  }
}

export class PlainAsyncQueue<T> implements QueueLike<T> {
  readonly #maxsize: number;
  readonly #items = new Fifo<T>();
  readonly #getters = new Fifo<(item: T) => void>();
  readonly #putters = new Fifo<() => void>();

  /** `maxsize` 0 means unbounded. */
  constructor(maxsize = 0) {
    this.#maxsize = maxsize;
  }

  qsize(): number {
    return this.#items.length;
  }

  putNowait(item: T): void {
    if (this.#getters.length > 0) {
      this.#getters.shift()(item);
      return;
    }
    if (this.#maxsize > 0 && this.#items.length >= this.#maxsize) throw new Error("queue full");
    this.#items.push(item);
  }

  getNowait(): T {
    if (this.#items.length === 0) throw new Error("queue empty");
    const item = this.#items.shift();
    if (this.#putters.length > 0) this.#putters.shift()();
    return item;
  }

  async put(item: T): Promise<void> {
    while (this.#maxsize > 0 && this.#items.length >= this.#maxsize && this.#getters.length === 0) {
      await new Promise<void>((resolve) => this.#putters.push(resolve));
    }
    this.putNowait(item);
  }

  get(): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.getNowait());
    return new Promise<T>((resolve) => this.#getters.push(resolve));
  }
}

export class PlainMutex implements LockLike {
  #locked = false;
  readonly #waiters = new Fifo<() => void>();

  locked(): boolean {
    return this.#locked;
  }

  acquire(): Promise<true> {
    if (!this.#locked) {
      this.#locked = true;
      return Promise.resolve(true);
    }
    return new Promise<true>((resolve) =>
      this.#waiters.push(() => {
        resolve(true);
      }),
    );
  }

  release(): void {
    // Ownership passes straight to the next waiter, so nobody can barge in between.
    if (this.#waiters.length > 0) this.#waiters.shift()();
    else this.#locked = false;
  }
}
