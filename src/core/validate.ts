/**
 * Argument checks for the public boundary. One message template for all of them:
 * "Expected `x` to be <what>, got `<value>` (<type>)". Internals assume valid input.
 */
import { inspect } from "node:util";

/** A short, safe rendering of any value for error messages. */
export function describeValue(value: unknown): string {
  let shown: string;
  try {
    shown =
      typeof value === "string"
        ? JSON.stringify(value)
        : inspect(value, { depth: 0, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 60 });
  } catch {
    shown = Object.prototype.toString.call(value);
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  return `\`${shown}\` (${type})`;
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
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    throw typeError(name, "an options object", value);
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * Options objects are closed: a key `what` does not know is a TypeError naming it (a misspelt
 * option would otherwise be ignored without a word).
 */
export function checkKnownOptions(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${what} got an unknown option \`${key}\`; it takes ${known.map((k) => `\`${k}\``).join(", ")}`);
    }
  }
}
