/**
 * Values crossing threads: arguments and results of cross-thread calls, on the sending side.
 *
 * Structured clone does the copying. Before it, one walk over the outgoing value (`scanValue`):
 * - values structured clone would reject (functions, symbols, promises, proxies, weak
 *   collections, generator objects) and properties whose getters throw are caught at the call
 *   site with a TypeError that names the target and where the value sits, instead of failing
 *   later inside a batched postMessage;
 * - objects made to cross threads (LoopHandle, ThreadQueue, ThreadLock, ThreadSemaphore) are
 *   found, wherever they sit (nested in arrays, objects, Maps and Sets).
 * The walk visits each object once (a seen-set, as structured clone keeps one), skips the holes
 * of sparse arrays, and so costs O(size of the graph): shared references and cycles cost nothing
 * extra, `new Array(2 ** 32 - 1)` costs nothing at all.
 *
 * Only when a shareable was found (rare: a handle or a queue passed along) does a second pass
 * (`encodeSpecials`) copy the containers, put a placeholder where each shareable sat, and list it
 * in the table of special positions that travels beside the payload (crossing-table.ts). Each
 * shareable is shared once however often it appears, so the other side revives one copy, shared
 * at every position, as structured clone keeps identities.
 */
import { types } from "node:util";
import type { Transferable } from "node:worker_threads";
import { isErrorLike, safeString } from "../core/format.js";
import { keySegment, mapKeyText, type Path, type Segment, type Shareable, type SpecialEntry } from "./crossing-table.js";

export type { Path, Segment, Shareable, SharedData, SpecialEntry, SpecialTable } from "./crossing-table.js";

type Reviver = (data: unknown) => unknown;
const revivers = new Map<string, Reviver>();
/** On the prototype of each shareable class: its registered name. Not forgeable by data. */
const kShareable = Symbol("multiloop.shareable");

/** Registers a shareable class under a stable name (the same in every thread). */
export function registerShareable(
  name: string,
  cls: abstract new (...args: never[]) => Shareable,
  revive: Reviver,
): void {
  revivers.set(name, revive);
  Object.defineProperty(cls.prototype, kShareable, { value: name, enumerable: false });
}

/** Whether `value` is an instance of a shareable class (it crosses by `share()`). */
export function isShareable(value: object): boolean {
  return typeof (value as { [kShareable]?: unknown })[kShareable] === "string";
}

/** The reviver registered for `kind` in this thread. */
export function reviverOf(kind: string): Reviver | undefined {
  return revivers.get(kind);
}

/** A value that cannot cross; `container` and `segment` say where it was met (filled on the way out). */
class Refused extends Error {
  readonly what: string;
  container: object | null;
  segment: Segment | null;
  /** A position already written out (the copy pass knows it). */
  where: string | null = null;

  constructor(what: string, container: object | null = null, segment: Segment | null = null) {
    super(what);
    this.what = what;
    this.container = container;
    this.segment = segment;
  }
}

function uncloneable(what: string, where: string, target: string, cause?: unknown): TypeError {
  return new TypeError(
    `Cannot send ${where} of '${target}' to another thread: ${what} cannot be cloned. ` +
      "Arguments and results cross threads by structured clone; pass plain data instead.",
    cause === undefined ? undefined : { cause },
  );
}

function refusePrimitive(value: unknown, container: object | null, segment: Segment | null): never {
  throw new Refused(typeof value === "function" ? "a function" : "a symbol", container, segment);
}

/**
 * Only a top-level argument that is an async iterable crosses (it is streamed, client-stream.ts):
 * one nested in an argument, or a result, would arrive as a dead copy.
 */
const ASYNC_ITERABLE =
  "an async iterable (only a top-level argument can be one: it is streamed to the other thread; for a result, use stream())";

const K_ARRAY = 0;
const K_OBJECT = 1;
const K_MAP = 2;
const K_SET = 3;
/** Structured clone copies it whole (dates, buffers, errors...): not walked. */
const K_LEAF = 4;
const K_SHAREABLE = 5;

/** What kind of object `obj` is for the walk; throws Refused for what structured clone rejects. */
function classify(obj: object): number {
  // First: a proxy's traps are user code, and a revoked one throws on Array.isArray.
  if (types.isProxy(obj)) throw new Refused("a Proxy");
  if (Array.isArray(obj)) return K_ARRAY;
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto === Object.prototype || proto === null) {
    if (typeof (obj as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function") throw new Refused(ASYNC_ITERABLE);
    return K_OBJECT;
  }
  if (typeof (obj as { [kShareable]?: unknown })[kShareable] === "string") return K_SHAREABLE;
  if (typeof (obj as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function") throw new Refused(ASYNC_ITERABLE);
  if (types.isMap(obj)) return K_MAP;
  if (types.isSet(obj)) return K_SET;
  if (types.isPromise(obj)) throw new Refused("a Promise");
  if (types.isWeakMap(obj)) throw new Refused("a WeakMap");
  if (types.isWeakSet(obj)) throw new Refused("a WeakSet");
  if (obj instanceof WeakRef) throw new Refused("a WeakRef");
  if (types.isGeneratorObject(obj)) throw new Refused("a generator object");
  if (
    isErrorLike(obj) ||
    types.isArrayBufferView(obj) ||
    types.isAnyArrayBuffer(obj) ||
    types.isDate(obj) ||
    types.isRegExp(obj) ||
    types.isBoxedPrimitive(obj)
  ) {
    return K_LEAF;
  }
  // A class instance: structured clone copies its own enumerable properties, as of a plain object.
  return K_OBJECT;
}

/** After this many holes (and more holes than items), an array's indices come from Object.keys. */
const HOLES_BEFORE_KEYS = 1024;

/** The own keys of `array` from index `from` on (indices and named properties), for sparse arrays. */
function sparseKeys(array: unknown[], from: number): Segment[] {
  const keys: Segment[] = [];
  for (const key of Object.keys(array)) {
    const index = Number(key);
    if (Number.isInteger(index) && String(index) === key) {
      if (index >= from) keys.push(index);
    } else {
      keys.push(key);
    }
  }
  return keys;
}

/**
 * Calls `each(segment, child)` for every child structured clone would copy, in its order: array
 * items (holes skipped), own enumerable properties, Map keys and values, Set items.
 */
function forEachChild(obj: object, kind: number, each: (segment: Segment, child: unknown) => void): void {
  if (kind === K_ARRAY) {
    const array = obj as unknown[];
    const length = array.length;
    let holes = 0;
    for (let i = 0; i < length; i++) {
      const item = array[i];
      if (item === undefined && !(i in array)) {
        if (++holes > HOLES_BEFORE_KEYS && holes * 2 > i) {
          for (const key of sparseKeys(array, i + 1)) each(key, (array as unknown as Record<string | number, unknown>)[key as string]);
          return;
        }
        continue;
      }
      each(i, item);
    }
  } else if (kind === K_OBJECT) {
    for (const key of Object.keys(obj)) each(key, (obj as Record<string, unknown>)[key]);
  } else if (kind === K_MAP) {
    let i = 0;
    Map.prototype.forEach.call(obj as Map<unknown, unknown>, (value: unknown, key: unknown) => {
      each([i, 0], key);
      each([i++, 1], value);
    });
  } else if (kind === K_SET) {
    let i = 0;
    Set.prototype.forEach.call(obj as Set<unknown>, (value: unknown) => {
      each([i++], value);
    });
  }
}

function readFailure(err: unknown): string {
  return `a property whose getter threw (${isErrorLike(err) ? safeString(err) : `\`${safeString(err)}\``})`;
}

/**
 * Checks that `value` can cross (see the module docs). Returns true when it holds a shareable, so
 * `encodeSpecials` must run; throws a TypeError naming `target` and the position (`where` plus
 * the path) of the first value that cannot cross.
 */
export function scanValue(value: unknown, target: string, where: string): boolean {
  try {
    return scan(value);
  } catch (err) {
    if (!(err instanceof Refused)) throw err;
    const position = err.where ?? where + pathTo(value, err.container) + segmentText(err.container, err.segment);
    throw uncloneable(err.what, position, target);
  }
}

function scan(root: unknown): boolean {
  if (typeof root !== "object") {
    if (typeof root === "function" || typeof root === "symbol") refusePrimitive(root, null, null);
    return false;
  }
  if (root === null) return false;
  // The common case, a short argument list of primitives: no set, no stack. (Long arrays take the
  // general walk, which skips holes.)
  if (!types.isProxy(root) && Array.isArray(root) && root.length <= 16) {
    let primitives = true;
    for (let i = 0; i < root.length; i++) {
      const item: unknown = root[i];
      const t = typeof item;
      if (t === "object") {
        if (item !== null) {
          primitives = false;
          break;
        }
      } else if (t === "function" || t === "symbol") {
        refusePrimitive(item, root, i);
      }
    }
    if (primitives) return false;
  }
  let found = false;
  const seen = new Set<object>([root]);
  const stack: object[] = [root];
  let current: object = root;
  let segment: Segment | null = null;
  const visit = (seg: Segment, child: unknown): void => {
    segment = seg;
    const t = typeof child;
    if (t === "object") {
      if (child !== null) {
        // One hash operation, not has() then add(): the set grew only if the object is new.
        const size = seen.size;
        if (seen.add(child as object).size !== size) stack.push(child as object);
      }
    } else if (t === "function" || t === "symbol") {
      refusePrimitive(child, current, seg);
    }
  };
  while (stack.length > 0) {
    current = stack.pop() as object;
    segment = null;
    try {
      const kind = classify(current);
      if (kind === K_OBJECT) {
        // Inline, not through forEachChild's callback: plain objects are most of a large value.
        const obj = current as Record<string, unknown>;
        const keys = Object.keys(obj);
        for (let k = 0; k < keys.length; k++) {
          const key = keys[k] as string;
          segment = key;
          const child = obj[key];
          if (typeof child === "object") {
            if (child !== null) {
              const size = seen.size;
              if (seen.add(child).size !== size) stack.push(child);
            }
          } else if (typeof child === "function" || typeof child === "symbol") {
            refusePrimitive(child, current, key);
          }
        }
      } else if (kind === K_SHAREABLE) {
        found = true;
      } else if (kind !== K_LEAF) {
        forEachChild(current, kind, visit);
      }
    } catch (err) {
      if (err instanceof Refused) {
        if (err.container === null) {
          err.container = current;
          err.segment = null;
        }
        throw err;
      }
      throw new Refused(readFailure(err), current, segment);
    }
  }
  return found;
}

/** The position of `target` in `root` (as `[0].a.get(k)`), found again on the error path only. */
function pathTo(root: unknown, target: object | null): string {
  if (target === null || root === target || typeof root !== "object" || root === null) return "";
  const paths = new Map<object, string>([[root, ""]]);
  const queue: object[] = [root];
  for (let q = 0; q < queue.length; q++) {
    const obj = queue[q] as object;
    const base = paths.get(obj) as string;
    let kind: number;
    try {
      kind = classify(obj);
    } catch {
      continue;
    }
    if (kind === K_LEAF || kind === K_SHAREABLE) continue;
    try {
      forEachChild(obj, kind, (seg, child) => {
        if (typeof child !== "object" || child === null || paths.has(child)) return;
        const path = base + segmentText(obj, seg);
        if (child === target) throw new FoundPath(path);
        paths.set(child, path);
        queue.push(child);
      });
    } catch (err) {
      if (err instanceof FoundPath) return err.path;
      // A getter threw while looking again: look elsewhere.
    }
  }
  return "";
}

/** Ends the search of `pathTo` from inside a `forEachChild` callback. */
class FoundPath extends Error {
  readonly path: string;
  constructor(path: string) {
    super(path);
    this.path = path;
  }
}

/** `[1]`, `.key`, `.get(k)`, ` (a Map key)`, ` (a Set item)`: one step, as error messages show it. */
export function segmentText(container: object | null, segment: Segment | null): string {
  if (segment === null) return "";
  if (typeof segment === "number") return `[${segment}]`;
  if (typeof segment === "string") return keySegment(segment);
  if (segment.length === 1) return " (a Set item)";
  if (segment[1] === 0) return " (a Map key)";
  return `.get(${mapKeyText(container === null ? undefined : mapKeyAt(container, segment[0]))})`;
}

function mapKeyAt(map: object, index: number): unknown {
  if (!types.isMap(map)) return undefined;
  let i = 0;
  for (const key of Map.prototype.keys.call(map)) if (i++ === index) return key;
  return undefined;
}

/** A payload with its table of special positions (see crossing-table.ts). */
export interface EncodedSpecials {
  value: unknown;
  table: SpecialEntry[];
}

/**
 * The second pass, for a value `scanValue` found shareables in: copies its containers (class
 * instances become plain objects, as structured clone makes them), shares each shareable once,
 * puts a placeholder where it sat, and lists it with every position in the table. `names` names
 * the root's items in error messages when the root is a tuple made for sending (arguments and
 * context); otherwise `where` names the root.
 */
export function encodeSpecials(
  root: unknown,
  transfers: Transferable[],
  target: string,
  where: string | readonly string[],
): EncodedSpecials {
  try {
    return copySpecials(root, transfers, where);
  } catch (err) {
    if (err instanceof Refused) throw uncloneable(err.what, err.where ?? (typeof where === "string" ? where : "the value"), target);
    throw err;
  }
}

function copySpecials(root: unknown, transfers: Transferable[], where: string | readonly string[]): EncodedSpecials {
  const table: SpecialEntry[] = [];
  const memo = new Map<object, unknown>();
  const specials = new Map<object, SpecialEntry>();
  const work: Array<[original: object, copy: object, kind: number, path: Path]> = [];
  const position = (path: Path): string => {
    if (typeof where === "string") return where + path.map((seg) => segmentText(null, seg)).join("");
    const [first, ...rest] = path;
    return (typeof first === "number" ? (where[first] ?? "the value") : "the value") + rest.map((seg) => segmentText(null, seg)).join("");
  };
  const copyOf = (value: unknown, path: Path): unknown => {
    if (typeof value !== "object") {
      if (typeof value === "function" || typeof value === "symbol") {
        const refused = new Refused(typeof value === "function" ? "a function" : "a symbol");
        refused.where = position(path);
        throw refused;
      }
      return value;
    }
    if (value === null) return null;
    const entry = specials.get(value);
    if (entry !== undefined) {
      entry[2].push(path);
      return placeholder(path);
    }
    if (memo.has(value)) return memo.get(value);
    let kind: number;
    try {
      kind = classify(value);
    } catch (err) {
      const refused = err instanceof Refused ? err : new Refused(readFailure(err));
      refused.where = position(path);
      throw refused;
    }
    switch (kind) {
      case K_SHAREABLE: {
        const name = (value as { [kShareable]: string })[kShareable];
        const shared = (value as Shareable).share();
        for (const t of shared.transferList) transfers.push(t);
        const created: SpecialEntry = [name, shared.data, [path]];
        specials.set(value, created);
        table.push(created);
        return placeholder(path);
      }
      case K_LEAF:
        memo.set(value, value);
        return value;
      default: {
        const copy: object = kind === K_ARRAY ? [] : kind === K_MAP ? new Map() : kind === K_SET ? new Set() : {};
        memo.set(value, copy);
        work.push([value, copy, kind, path]);
        return copy;
      }
    }
  };
  const copiedRoot = copyOf(root, []);
  while (work.length > 0) {
    const [original, copy, kind, path] = work.pop() as [object, object, number, Path];
    // A Map's children come key, value, key, value...: the key waits here for its value.
    let mapKey: unknown = undefined;
    try {
      if (kind === K_ARRAY) (copy as unknown[]).length = (original as unknown[]).length;
      forEachChild(original, kind, (seg, child) => {
        const childPath = [...path, seg];
        if (kind === K_MAP) {
          if ((seg as [number, 0 | 1])[1] === 0) mapKey = copyOf(child, childPath);
          else (copy as Map<unknown, unknown>).set(mapKey, copyOf(child, childPath));
        } else if (kind === K_SET) {
          (copy as Set<unknown>).add(copyOf(child, childPath));
        } else {
          defineOwn(copy, seg as string | number, copyOf(child, childPath));
        }
      });
    } catch (err) {
      if (err instanceof Refused) throw err;
      const refused = new Refused(readFailure(err));
      refused.where = position(path);
      throw refused;
    }
  }
  return { value: copiedRoot, table };
}

/**
 * What stands where a shareable sat: null in arrays and objects; in a Map key or a Set item a
 * fresh object, so two placeholders never collide into one entry.
 */
function placeholder(path: Path): unknown {
  const last = path[path.length - 1];
  return typeof last === "object" && (last.length === 1 || last[1] === 0) ? {} : null;
}

/** Sets an own data property (an own `__proto__` key stays a key; no setter on the way runs). */
export function defineOwn(obj: object, key: string | number, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}
