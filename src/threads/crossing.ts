/**
 * Values crossing threads: arguments and results of cross-thread calls.
 *
 * Structured clone does the copying. Around it:
 * - objects made to cross threads (LoopHandle, ThreadQueue, ThreadLock, ThreadSemaphore) are
 *   replaced by their `share()` data plus transfer list on the way out, and revived with their
 *   `from()` on the way in, wherever they sit in the arguments (nested in arrays, plain objects,
 *   Maps and Sets), so each copy gets its own channel;
 * - values structured clone would reject (functions, symbols, promises, weak collections) are
 *   caught at the call site with a TypeError that names the target and where the value sits,
 *   instead of failing later inside a batched postMessage.
 * Only containers that hold a shareable are copied; everything else is passed to postMessage as is.
 */
import type { Transferable } from "node:worker_threads";

/** What `share()` returns: data for `from()`, and what must be transferred with it. */
export interface SharedData {
  data: unknown;
  transferList: Transferable[];
}

/** Implemented by classes whose instances may cross threads. */
export interface Shareable {
  share(): SharedData;
}

const TAG = "__multiloop_shared__";

interface Tagged {
  [TAG]: string;
  data: unknown;
}

type Reviver = (data: unknown) => unknown;
const revivers = new Map<string, Reviver>();
const shareableTypes = new Map<abstract new (...args: never[]) => unknown, string>();

/** Registers a shareable class under a stable name (the same in every thread). */
export function registerShareable(
  name: string,
  cls: abstract new (...args: never[]) => Shareable,
  revive: Reviver,
): void {
  revivers.set(name, revive);
  shareableTypes.set(cls, name);
}

function shareableName(value: object): string | undefined {
  for (const [cls, name] of shareableTypes) if (value instanceof cls) return name;
  return undefined;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function uncloneable(what: string, where: string, target: string): TypeError {
  return new TypeError(
    `Cannot send ${where} of '${target}' to another thread: ${what} cannot be cloned. ` +
      "Arguments and results cross threads by structured clone; pass plain data instead.",
  );
}

/**
 * Thrown inside the walk for a value that cannot cross; each container on the way out prepends
 * its part of the position. Building the position only on failure keeps the walk free of a
 * string per element on every call.
 */
class Refused extends Error {
  readonly what: string;
  path = "";

  constructor(what: string) {
    super(what);
    this.what = what;
  }
}

function at(err: unknown, segment: string): unknown {
  if (err instanceof Refused) err.path = segment + err.path;
  return err;
}

/**
 * Prepares `value` for postMessage. Returns the value to post (a copy only where shareables were
 * replaced) and adds transferables to `transfers`. Throws a TypeError naming `target` and the
 * position (`where`) of a value that cannot cross.
 */
export function encodeValue(value: unknown, target: string, where: string, transfers: Transferable[]): unknown {
  try {
    return encode(value, transfers, 0);
  } catch (err) {
    if (err instanceof Refused) throw uncloneable(err.what, where + err.path, target);
    throw err;
  }
}

const MAX_DEPTH = 64;

function encode(value: unknown, transfers: Transferable[], depth: number): unknown {
  switch (typeof value) {
    case "function":
      throw new Refused("a function");
    case "symbol":
      throw new Refused("a symbol");
    case "object":
      break;
    default:
      return value;
  }
  if (value === null || depth > MAX_DEPTH) return value;
  // Arrays and plain objects first: they are most of what crosses, and never shareables.
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      let encoded: unknown;
      try {
        encoded = encode(item, transfers, depth + 1);
      } catch (err) {
        throw at(err, `[${i}]`);
      }
      if (encoded !== item) copy ??= value.slice();
      if (copy !== null) copy[i] = encoded;
    }
    return copy ?? value;
  }
  if (isPlainObject(value)) {
    let copy: Record<string, unknown> | null = null;
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      let encoded: unknown;
      try {
        encoded = encode(item, transfers, depth + 1);
      } catch (err) {
        throw at(err, `.${key}`);
      }
      if (encoded !== item) copy ??= { ...(value as Record<string, unknown>) };
      if (copy !== null) copy[key] = encoded;
    }
    return copy ?? value;
  }
  const name = shareableName(value);
  if (name !== undefined) {
    const shared = (value as Shareable).share();
    transfers.push(...shared.transferList);
    const tagged: Tagged = { [TAG]: name, data: shared.data };
    return tagged;
  }
  if (value instanceof Promise) throw new Refused("a Promise");
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
    throw new Refused(`a ${value.constructor.name}`);
  }
  if (value instanceof Map) {
    let changed = false;
    const entries: [unknown, unknown][] = [];
    for (const [k, v] of value) {
      let ek: unknown;
      let ev: unknown;
      try {
        ek = encode(k, transfers, depth + 1);
      } catch (err) {
        throw at(err, " (a Map key)");
      }
      try {
        ev = encode(v, transfers, depth + 1);
      } catch (err) {
        throw at(err, `.get(${String(k)})`);
      }
      if (ek !== k || ev !== v) changed = true;
      entries.push([ek, ev]);
    }
    return changed ? new Map(entries) : value;
  }
  if (value instanceof Set) {
    let changed = false;
    const items: unknown[] = [];
    for (const v of value) {
      let ev: unknown;
      try {
        ev = encode(v, transfers, depth + 1);
      } catch (err) {
        throw at(err, " (a Set item)");
      }
      if (ev !== v) changed = true;
      items.push(ev);
    }
    return changed ? new Set(items) : value;
  }
  // Class instances, typed arrays, dates, errors...: structured clone decides.
  return value;
}

/** Revives shareables in a received value (the inverse of `encodeValue`). */
export function decodeValue(value: unknown): unknown {
  return decode(value, 0);
}

function decode(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decode(value[i], depth + 1);
    return value;
  }
  if (value instanceof Map) {
    let changed = false;
    const entries: [unknown, unknown][] = [];
    for (const [k, v] of value) {
      const dk = decode(k, depth + 1);
      const dv = decode(v, depth + 1);
      if (dk !== k || dv !== v) changed = true;
      entries.push([dk, dv]);
    }
    return changed ? new Map(entries) : value;
  }
  if (value instanceof Set) {
    let changed = false;
    const items: unknown[] = [];
    for (const v of value) {
      const dv = decode(v, depth + 1);
      if (dv !== v) changed = true;
      items.push(dv);
    }
    return changed ? new Set(items) : value;
  }
  if (!isPlainObject(value)) return value;
  const tag = (value as Partial<Tagged>)[TAG];
  if (typeof tag === "string") {
    const revive = revivers.get(tag);
    if (revive === undefined) {
      throw new TypeError(`Received a shared '${tag}', but this thread has no reviver for it`);
    }
    return revive((value as Tagged).data);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = decode(record[key], depth + 1);
  return value;
}

/** Whether a value needs the (cheap) decode walk: only objects can hold shareables. */
export function mayHoldShareables(value: unknown): boolean {
  return typeof value === "object" && value !== null;
}
