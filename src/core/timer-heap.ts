/**
 * The loop's timers, ordered by (when, sequence number): timers with the same deadline run in the
 * order they were scheduled (a superset of asyncio, whose heap leaves ties unordered).
 *
 * Like Node's own timers, timers scheduled with the same delay share a list: `when = time() +
 * delay` only grows with scheduling order, so each list is already sorted and appending is O(1).
 * A binary min-heap holds the lists, keyed by their first timer. With the usual handful of
 * distinct delays, scheduling and firing cost O(1) plus a heap of a few lists, where a heap of
 * every timer costs O(log n) per timer (100,000 timers: 17 levels). A timer scheduled for an
 * absolute time (`callAt`) gets a list of its own.
 *
 * Cancelled timers stay where they are and are dropped when they reach the front, unless they pile
 * up: like asyncio, everything is rebuilt when more than half of more than 100 timers are cancelled.
 */
export interface HeapTimer {
  readonly heapWhen: number;
  readonly heapSeq: number;
  isCancelled(): boolean;
}

/**
 * Timers sorted by (when, seq); consumed from the front. The head's key is copied into the list
 * (`when`, `seq`): with timers of a few delays interleaved in time, nearly every timer taken
 * reorders the heap, and comparing two numbers on the lists themselves is cheaper than loading
 * each head out of its array first.
 */
class TimerList<T extends HeapTimer> {
  readonly key: number | null;
  items: T[];
  start = 0;
  /** The head's `heapWhen` and `heapSeq` (stale once the list is empty; it is dropped then). */
  when: number;
  seq: number;

  constructor(key: number | null, first: T) {
    this.key = key;
    this.items = [first];
    this.when = first.heapWhen;
    this.seq = first.heapSeq;
  }

  get head(): T {
    return this.items[this.start] as T;
  }

  get length(): number {
    return this.items.length - this.start;
  }

  shift(): void {
    const items = this.items;
    items[this.start] = undefined as unknown as T;
    const start = ++this.start;
    if (start < items.length) {
      const head = items[start] as T;
      this.when = head.heapWhen;
      this.seq = head.heapSeq;
    }
    // Compact now and then so a long-lived list does not keep a growing array of holes.
    if (start >= 1024 && start * 2 >= items.length) {
      this.items = items.slice(start);
      this.start = 0;
    }
  }
}

function headLess<T extends HeapTimer>(a: TimerList<T>, b: TimerList<T>): boolean {
  return a.when < b.when || (a.when === b.when && a.seq < b.seq);
}

export class TimerHeap<T extends HeapTimer> {
  #heap: TimerList<T>[] = [];
  #byDelay = new Map<number, TimerList<T>>();
  #size = 0;
  #cancelled = 0;

  /** Timers in the heap, cancelled ones included until they are dropped. */
  get size(): number {
    return this.#size;
  }

  /**
   * Adds `timer`. `delay` is the delay it was scheduled with (`callLater`), so it can join the
   * list of that delay; null for an absolute time (`callAt`).
   */
  push(timer: T, delay: number | null): void {
    this.#size++;
    if (delay !== null) {
      const list = this.#byDelay.get(delay);
      if (list !== undefined) {
        const items = list.items;
        const last = items[items.length - 1] as T;
        // time() never goes back, so a later timer of the same delay sorts last; guard anyway
        // (a clock that stood still gives equal whens, ordered by seq, which is fine too).
        if (timer.heapWhen >= last.heapWhen) {
          items.push(timer);
          return;
        }
      } else {
        const fresh = new TimerList(delay, timer);
        this.#byDelay.set(delay, fresh);
        this.#heapPush(fresh);
        return;
      }
    }
    this.#heapPush(new TimerList(null, timer));
  }

  /** The earliest live timer, dropping cancelled ones from the front. */
  peek(): T | undefined {
    const heap = this.#heap;
    while (heap.length > 0) {
      const list = heap[0] as TimerList<T>;
      const head = list.head;
      if (!head.isCancelled()) return head;
      this.#cancelled--;
      this.#removeHead(list);
    }
    return undefined;
  }

  /**
   * Hands every timer due at `now` to `take`, in (when, seq) order, and drops the cancelled ones
   * on the way. The front list is drained while its head also comes before the heads of the two
   * lists under it (so before every other list): the heap is reordered once per run of a list,
   * not once per timer, as Node's timers do per list.
   */
  takeDue(now: number, take: (timer: T) => void): void {
    const heap = this.#heap;
    while (heap.length > 0) {
      const list = heap[0] as TimerList<T>;
      const left = heap[1];
      const right = heap[2];
      const rival = left === undefined ? undefined : right === undefined || headLess(left, right) ? left : right;
      if (list.when > now) return;
      do {
        const head = list.head;
        list.shift();
        this.#size--;
        if (head.isCancelled()) this.#cancelled--;
        else take(head);
        if (list.length === 0) break;
      } while (list.when <= now && (rival === undefined || headLess(list, rival)));
      if (list.length > 0) this.#siftDown(0);
      else this.#dropFront(list);
    }
  }

  #removeHead(list: TimerList<T>): void {
    this.#size--;
    list.shift();
    if (list.length > 0) {
      this.#siftDown(0);
      return;
    }
    this.#dropFront(list);
  }

  /** The front list is empty: forget it. */
  #dropFront(list: TimerList<T>): void {
    if (list.key !== null && this.#byDelay.get(list.key) === list) this.#byDelay.delete(list.key);
    const last = this.#heap.pop() as TimerList<T>;
    if (this.#heap.length > 0 && last !== list) {
      this.#heap[0] = last;
      this.#siftDown(0);
    }
  }

  #heapPush(list: TimerList<T>): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(list);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as TimerList<T>;
      if (!headLess(list, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = list;
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i] as TimerList<T>;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && headLess(heap[right] as TimerList<T>, heap[child] as TimerList<T>)) child = right;
      const c = heap[child] as TimerList<T>;
      if (!headLess(c, item)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = item;
  }

  /** Called when a timer in the heap is cancelled. */
  noteCancelled(): void {
    this.#cancelled++;
    if (this.#size > 100 && this.#cancelled * 2 > this.#size) this.#rebuild();
  }

  #rebuild(): void {
    const lists: TimerList<T>[] = [];
    let size = 0;
    for (const list of this.#heap) {
      const live = list.items.slice(list.start).filter((t) => !t.isCancelled());
      if (live.length === 0) continue;
      list.items = live;
      list.start = 0;
      const head = live[0] as T;
      list.when = head.heapWhen;
      list.seq = head.heapSeq;
      size += live.length;
      lists.push(list);
    }
    this.#heap = [];
    this.#byDelay = new Map();
    for (const list of lists) {
      if (list.key !== null) this.#byDelay.set(list.key, list);
      this.#heapPush(list);
    }
    this.#size = size;
    this.#cancelled = 0;
  }

  clear(): void {
    this.#heap = [];
    this.#byDelay = new Map();
    this.#size = 0;
    this.#cancelled = 0;
  }
}
