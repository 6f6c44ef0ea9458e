/** Python-style renderings used in reprs and in the asyncio-format log lines. */
import { inspect } from "node:util";

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

/** A compact repr of an arbitrary value for log lines and handle reprs. */
export function shortRepr(value: unknown): string {
  if (typeof value === "string") return pyStr(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === "function") return value.name === "" ? "<anonymous>" : value.name;
  try {
    const s = inspect(value, { depth: 0, breakLength: Infinity, maxArrayLength: 3 });
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** `name(arg1, arg2)` for a callback and its arguments. */
export function callbackRepr(fn: unknown, args: readonly unknown[] | null): string {
  const name = typeof fn === "function" ? fn.name || "<anonymous>" : shortRepr(fn);
  const shown = args === null ? "" : args.map(shortRepr).join(", ");
  return `${name}(${shown})`;
}
