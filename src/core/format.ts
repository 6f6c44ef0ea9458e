/**
 * Python-style renderings used in reprs and in the asyncio-format log lines.
 *
 * Every function here is total: it never throws, whatever it is given. They run on values from
 * users and from other threads (a thrown revoked proxy, an Error whose `message` getter throws, a
 * function whose `name` getter throws) while the loop is reporting a failure; a formatter that
 * threw there would turn one bad value into a dead loop. So nothing here triggers a proxy trap
 * (proxies are recognised with `util.types.isProxy`, which cannot be trapped, and `inspect`
 * formats a proxy's target without calling its traps), and every property read is guarded.
 */
import { inspect, types } from "node:util";

/** What a value that cannot be rendered at all is shown as. */
export const UNPRINTABLE = "<unprintable value>";

/** Python's `repr()` of a string: single quotes unless the text has a single quote and no double one. */
export function pyStr(s: string): string {
  const useDouble = s.includes("'") && !s.includes('"');
  const q = useDouble ? '"' : "'";
  let out = "";
  for (const ch of s) {
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += `\\${q}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else out += ch;
  }
  return q + out + q;
}

/** `util.inspect`, or `fallback` when inspecting throws (a custom inspect that throws, say). */
export function safeInspect(value: unknown, options: Parameters<typeof inspect>[1], fallback = UNPRINTABLE): string {
  try {
    return inspect(value, options);
  } catch {
    return fallback;
  }
}

/**
 * Reads `obj[key]` without letting anything escape: undefined when `obj` is a proxy (its traps
 * are user code) or the read throws.
 */
export function safeGet(obj: object, key: PropertyKey): unknown {
  if (types.isProxy(obj)) return undefined;
  try {
    return (obj as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** A function's name for reprs: `<anonymous>` when it has none, `<proxy>` for a proxy. */
export function functionName(fn: unknown): string {
  if (typeof fn !== "function") return "<anonymous>";
  if (types.isProxy(fn)) return "<proxy>";
  const name = safeGet(fn, "name");
  return typeof name === "string" && name !== "" ? name : "<anonymous>";
}

/** `String(value)`, falling back to `inspect`, then to `<unprintable value>`. */
export function safeString(value: unknown): string {
  if (typeof value === "string") return value;
  // A primitive: String() is exact (and works on symbols, unlike a template).
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- not an object here
  if (typeof value !== "object" && typeof value !== "function") return String(value);
  if (value === null) return "null";
  if (!types.isProxy(value)) {
    try {
      // The object's own toString, if it has one that works, is what it wants to be shown as.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- and "[object Object]" is a fine last word
      const s: unknown = String(value);
      if (typeof s === "string") return s;
    } catch {
      // A toString that throws, or none at all (Object.create(null)): try inspect.
    }
  }
  return safeInspect(value, { depth: 0, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 200 });
}

/** A compact repr of an arbitrary value for log lines and handle reprs. */
export function shortRepr(value: unknown): string {
  if (typeof value === "string") return pyStr(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === "function") return functionName(value);
  const s = safeInspect(value, { depth: 0, breakLength: Infinity, maxArrayLength: 3 });
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * `Name('message')` for an error in a repr; any other thrown value as its short repr. Reads `name`
 * and `message` without trusting them: either may be a getter that throws.
 */
export function errorRepr(err: unknown): string {
  if (!isErrorLike(err)) return shortRepr(err);
  const name = safeGet(err, "name");
  const message = safeGet(err, "message");
  // Python's repr: RuntimeError('boom'), and RuntimeError() without a message.
  const shown = typeof message !== "string" ? UNPRINTABLE : message === "" ? "" : shortRepr(message);
  return `${typeof name === "string" ? name : "Error"}(${shown})`;
}

/** `value instanceof Error` without running user code: false for proxies (their traps are user code). */
export function isErrorLike(value: unknown): value is Error {
  if (typeof value !== "object" || value === null || types.isProxy(value)) return false;
  if (types.isNativeError(value)) return true;
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

/** `name(arg1, arg2)` for a callback and its arguments. */
export function callbackRepr(fn: unknown, args: readonly unknown[] | null): string {
  const name = typeof fn === "function" ? functionName(fn) : shortRepr(fn);
  const shown = args === null ? "" : args.map(shortRepr).join(", ");
  return `${name}(${shown})`;
}
