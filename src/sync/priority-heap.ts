/**
 * The store behind `PriorityQueue`: a binary min-heap that is stable (equal items come out in
 * insertion order) and stays intact when a comparison throws.
 *
 * Stability: each item carries a sequence number, compared when `compare` says "equal".
 * Throwing comparisons (the default order refuses to compare a number with a string, as Python
 * does; a user's `compare` may throw anything): `push` and `take` first find where things go,
 * comparing only, then move them, so a throw leaves the heap exactly as it was.
 */
import { describeValue } from "../core/validate.js";

/** Orders two values; negative when `a` comes first. */
export type Compare<T> = (a: T, b: T) => number;

const NUMBERISH = 0;
const STRING = 1;
const ARRAY = 2;
const DATE = 3;
/** Objects, functions, symbols, null, undefined: no order; they compare equal to each other. */
const UNORDERED = 4;

function kindOf(value: unknown): number {
  switch (typeof value) {
    case "number":
    case "bigint":
    case "boolean":
      return NUMBERISH;
    case "string":
      return STRING;
    default:
      if (Array.isArray(value)) return ARRAY;
      if (value instanceof Date) return DATE;
      return UNORDERED;
  }
}

const KIND_NAMES = ["number", "string", "array", "Date", "object"];

/**
 * The default order of `PriorityQueue`, modelled on Python's comparisons: numbers, bigints and
 * booleans by value (NaN last); strings by UTF-16 code units; arrays element by element, like
 * tuples (a prefix first); Dates by time. Values with no natural order (objects, functions,
 * symbols, null, undefined) compare equal to each other, so `[priority, payload]` pairs with equal
 * priorities keep their insertion order. Two values of different kinds throw `TypeError`.
 */
export function naturalOrder(a: unknown, b: unknown): number {
  if (a === b) return 0;
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) {
    throw new TypeError(
      `PriorityQueue cannot order ${describeValue(a)} against ${describeValue(b)}: a ${KIND_NAMES[ka]} and ` +
        `a ${KIND_NAMES[kb]} have no common order. Put items of one kind (e.g. [priority, payload] arrays) ` +
        "or pass { compare } to the PriorityQueue.",
    );
  }
  switch (ka) {
    case NUMBERISH: {
      const x = a as number;
      const y = b as number;
      if (x < y) return -1;
      if (x > y) return 1;
      // Equal, or NaN on one side: NaN sorts after every number, so the order stays total.
      const xNaN = x !== x;
      const yNaN = y !== y;
      return xNaN === yNaN ? 0 : xNaN ? 1 : -1;
    }
    case STRING:
      return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
    case ARRAY: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = naturalOrder(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    case DATE:
      return naturalOrder((a as Date).getTime(), (b as Date).getTime());
    default:
      return 0;
  }
}

export class PriorityHeap<T> {
  readonly #compare: Compare<T>;
  readonly #items: T[] = [];
  readonly #seqs: number[] = [];
  #nextSeq = 0;
  /** Scratch for `take`: the children the hole moves through (reused; at most ~53 entries). */
  readonly #path: number[] = [];

  constructor(compare: Compare<T>) {
    this.#compare = compare;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Whether (a, seqA) comes before (b, seqB); a NaN from `compare` counts as "equal". */
  #before(a: T, seqA: number, b: T, seqB: number): boolean {
    const c = this.#compare(a, b);
    return c < 0 || (!(c > 0) && seqA < seqB);
  }

  push(item: T): void {
    const items = this.#items;
    const seqs = this.#seqs;
    const seq = this.#nextSeq;
    let pos = items.length;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!this.#before(item, seq, items[parent] as T, seqs[parent] as number)) break;
      pos = parent;
    }
    // Nothing has moved yet; now shift the parents on the way down one level each.
    let hole = items.length;
    items.push(item);
    seqs.push(seq);
    while (hole > pos) {
      const parent = (hole - 1) >> 1;
      items[hole] = items[parent] as T;
      seqs[hole] = seqs[parent] as number;
      hole = parent;
    }
    items[hole] = item;
    seqs[hole] = seq;
    this.#nextSeq = seq + 1;
  }

  /** Removes and returns the first item; the heap must not be empty. */
  take(): T {
    const items = this.#items;
    const seqs = this.#seqs;
    const top = items[0] as T;
    const n = items.length - 1;
    if (n === 0) {
      items.pop();
      seqs.pop();
      return top;
    }
    const last = items[n] as T;
    const lastSeq = seqs[n] as number;
    // Find the path the last item sinks along from the root (comparing only)...
    const path = this.#path;
    path.length = 0;
    let pos = 0;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.#before(items[right] as T, seqs[right] as number, items[child] as T, seqs[child] as number)) {
        child = right;
      }
      if (!this.#before(items[child] as T, seqs[child] as number, last, lastSeq)) break;
      path.push(child);
      pos = child;
    }
    // ...then move: each child on the path up one level, the last item into the final hole.
    let hole = 0;
    for (const child of path) {
      items[hole] = items[child] as T;
      seqs[hole] = seqs[child] as number;
      hole = child;
    }
    items[hole] = last;
    seqs[hole] = lastSeq;
    items.pop();
    seqs.pop();
    return top;
  }

  clear(): void {
    this.#items.length = 0;
    this.#seqs.length = 0;
  }

  /** The items in heap order (the first item first, the rest partially ordered). */
  toArray(): T[] {
    return this.#items.slice();
  }
}
