/**
 * A binary min-heap of timers ordered by (when, sequence number), so timers with the same deadline
 * run in the order they were scheduled (a superset of asyncio, whose heap leaves ties unordered).
 *
 * Cancelled timers stay in the heap and are dropped when they reach the top, unless they pile up:
 * like asyncio, the heap is rebuilt when more than half of more than 100 timers are cancelled.
 */
export interface HeapTimer {
  readonly heapWhen: number;
  readonly heapSeq: number;
  isCancelled(): boolean;
}

function less(a: HeapTimer, b: HeapTimer): boolean {
  return a.heapWhen < b.heapWhen || (a.heapWhen === b.heapWhen && a.heapSeq < b.heapSeq);
}

export class TimerHeap<T extends HeapTimer> {
  #heap: T[] = [];
  #cancelled = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(timer: T): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as T;
      if (!less(timer, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
  }

  /** The earliest live timer, dropping cancelled ones from the top. */
  peek(): T | undefined {
    const heap = this.#heap;
    while (heap.length > 0) {
      const top = heap[0] as T;
      if (!top.isCancelled()) return top;
      this.pop();
      this.#cancelled--;
    }
    return undefined;
  }

  pop(): T | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) this.#siftDown(last);
    return top;
  }

  #siftDown(item: T): void {
    const heap = this.#heap;
    const n = heap.length;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && less(heap[right] as T, heap[child] as T)) child = right;
      const c = heap[child] as T;
      if (!less(c, item)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = item;
  }

  /** Called when a timer in the heap is cancelled. */
  noteCancelled(): void {
    this.#cancelled++;
    const n = this.#heap.length;
    if (n > 100 && this.#cancelled * 2 > n) this.#rebuild();
  }

  #rebuild(): void {
    const live = this.#heap.filter((t) => !t.isCancelled());
    live.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
    this.#heap = live;
    this.#cancelled = 0;
  }

  clear(): void {
    this.#heap = [];
    this.#cancelled = 0;
  }
}
