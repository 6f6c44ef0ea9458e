/**
 * Argument checks for the public boundary. One message template for all of them:
 * "Expected `x` to be <what>, got `<value>` (<type>)". Internals assume valid input.
 */
import { types } from "node:util";
import { safeGet, safeInspect } from "./format.js";

/**
 * A short rendering of any value for error messages. Never throws and runs no user code a
 * check could not (a revoked proxy is `<Revoked Proxy>` (proxy), not V8's "Cannot perform
 * 'IsArray' on a proxy that has been revoked").
 */
export function describeValue(value: unknown): string {
  let shown =
    typeof value === "string"
      ? JSON.stringify(value)
      : safeInspect(value, { depth: 0, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 60 }, "<unprintable value>");
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `\`${shown}\` (${kindOf(value)})`;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object" && typeof value !== "function") return typeof value;
  // Array.isArray throws on a revoked proxy; isProxy cannot be trapped.
  if (types.isProxy(value)) return "proxy";
  return Array.isArray(value) ? "array" : typeof value;
}

export function typeError(name: string, expected: string, value: unknown): TypeError {
  return new TypeError(`Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`);
}

export function rangeError(name: string, expected: string, value: unknown): RangeError {
  return new RangeError(`Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`);
}

export function checkFunction(name: string, value: unknown): asserts value is (...args: never[]) => unknown {
  if (typeof value !== "function") throw typeError(name, "a function", value);
}

/** A number that is not NaN (Infinity allowed): a delay or a point in time. */
export function checkTime(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw typeError(name, "a number of milliseconds (not NaN)", value);
  }
}

export function checkOptionalTime(name: string, value: unknown): asserts value is number | null | undefined {
  if (value === null || value === undefined) return;
  checkTime(name, value);
}

export function checkInteger(name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw typeError(name, `an integer >= ${min}`, value);
  }
  if (value < min) throw rangeError(name, `an integer >= ${min}`, value);
}

export function checkString(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string") throw typeError(name, "a string", value);
}

export function checkObject(name: string, value: unknown): asserts value is object | undefined {
  if (value !== undefined && (typeof value !== "object" || value === null || types.isProxy(value))) {
    throw typeError(name, "an options object", value);
  }
}

/**
 * An options argument, read once into a plain object: undefined gives `{}`. A proxy, a
 * non-object, or a property whose getter throws is a TypeError naming the argument (or
 * `options.key`), so a hostile options object cannot throw anything else at the boundary. Reads
 * enumerable properties, inherited ones too (an options class with getters works).
 */
export function readOptions<T extends object>(name: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (typeof value !== "object" || value === null || types.isProxy(value)) throw typeError(name, "an options object", value);
  const copy: Record<string, unknown> = {};
  let key = "";
  try {
    for (key in value) {
      const v: unknown = (value as Record<string, unknown>)[key];
      if (key === "__proto__") Object.defineProperty(copy, key, { value: v, enumerable: true, writable: true, configurable: true });
      else copy[key] = v;
    }
  } catch (err) {
    throw new TypeError(`Expected \`${name}${key === "" ? "" : `.${key}`}\` to be readable, but reading it threw ${describeValue(err)}`, {
      cause: err,
    });
  }
  return copy as T;
}

/**
 * `value instanceof cls` for values from outside: false, not a throw, when the prototype chain
 * cannot be walked (a revoked proxy, a getPrototypeOf trap that throws). It sits on hot paths
 * (every gather item, every remote call's trailing argument), so it catches rather than asking
 * `types.isProxy` first.
 */
export function isInstance(value: unknown, cls: abstract new (...args: never[]) => unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  try {
    return value instanceof cls;
  } catch {
    return false;
  }
}

/** `value[key]` of an argument that should be plain data: undefined for non-objects, proxies, throwing getters. */
export function fieldOf(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? safeGet(value, key) : undefined;
}

/** An object (not a proxy) with a `[Symbol.iterator]` method: what iterable parameters take. */
export function isIterableObject(value: unknown): value is Iterable<unknown> {
  return typeof value === "object" && value !== null && typeof safeGet(value, Symbol.iterator) === "function";
}

const arrayValues = Array.prototype[Symbol.iterator];

/**
 * The items of `iterable` in an array, each passed to `check` (which throws for a bad one) as it is
 * read: a bad item fails the call before the rest is read. Copying first and checking after would
 * read a sparse array of 2^32 - 1 holes whole (out of memory, the process dies) before refusing
 * its first hole.
 */
export function readChecked<T>(iterable: Iterable<T>, check: (item: T, index: number) => void): T[] {
  if (Array.isArray(iterable) && iterable[Symbol.iterator] === arrayValues) {
    // An array iterated as arrays are: by index, then one copy (as fast as the spread it replaces).
    const n = iterable.length;
    for (let i = 0; i < n; i++) check(iterable[i] as T, i);
    return iterable.slice() as T[];
  }
  const items: T[] = [];
  for (const item of iterable) {
    check(item, items.length);
    items.push(item);
  }
  return items;
}

/** The class name of `value` for messages (asyncio's "not Task"), read without trusting it. */
export function className(value: unknown): string {
  if (typeof value !== "object" || value === null) return typeof value;
  const ctor = safeGet(value, "constructor");
  const name = typeof ctor === "function" ? safeGet(ctor, "name") : undefined;
  return typeof name === "string" && name !== "" ? name : "Object";
}

/** Whether `value` has a `then` method; false (not a throw) when reading `then` throws (a revoked proxy). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return false;
  try {
    return typeof (value as { then?: unknown }).then === "function";
  } catch {
    return false;
  }
}

/**
 * Options objects are closed: a key `what` does not know is a TypeError naming it (a misspelt
 * option would otherwise be ignored without a word).
 */
export function checkKnownOptions(what: string, options: object, known: readonly string[], name = "options"): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(
        `${what} got an unknown option \`${name}.${key}\`; it takes ${known.map((k) => `\`${k}\``).join(", ")}`,
      );
    }
  }
}
