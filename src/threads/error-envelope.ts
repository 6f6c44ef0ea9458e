/**
 * Errors that survive the trip between threads.
 *
 * Structured clone keeps an Error's message, stack and `cause` but drops its class (custom classes
 * arrive as plain `Error`) and its own properties (piscina#1143, comlink#594). The envelope carries
 * name, message, stack, `cause` (recursively), the errors of an AggregateError, every own
 * enumerable property that can be cloned, and the name of the thread where it was thrown.
 *
 * On arrival, classes this thread knows come back as themselves: the JavaScript built-ins, every
 * multiloop error class, and classes registered with `registerErrorClass`. Anything else arrives
 * as `RemoteError` with `remoteName` set. Either way the stack is the remote one, marked with the
 * thread's name, and `threadName` tells where it came from.
 *
 * Whatever was thrown reaches the caller, and packing or unpacking never throws:
 * - every read of the thrown value is guarded (a `message` or `name` getter that throws, a
 *   revoked proxy, an object without `toString`): what cannot be read shows as
 *   `<unprintable value>`;
 * - a thrown value that is not an Error arrives as structured clone copies it (a string, a
 *   number, plain data); one that structured clone cannot copy (a proxy, an object holding
 *   functions) arrives as a `RemoteError` whose `remoteName` is its kind and whose message
 *   describes it;
 * - `cause` chains are cut at `MAX_CAUSE_DEPTH` levels, and where a chain loops back on itself,
 *   with a marker: a `RemoteError` whose `remoteName` is `"CauseChainCut"`. An AggregateError
 *   keeps at most `MAX_AGGREGATED` of its errors, and one error carries at most `MAX_ERRORS_PACKED`
 *   errors in all (causes and aggregated errors together), so no shape of error is expensive to
 *   send;
 * - which slots hold an envelope is said by the envelope's shape (`[1, envelope]` vs
 *   `[0, value]`), never by a key inside the data, so a plain object cause is never mistaken for
 *   an envelope.
 */
import { types } from "node:util";
import * as errors from "../core/errors.js";
import { RemoteError } from "../core/errors.js";
import { UNPRINTABLE, isErrorLike, safeGet, safeString } from "../core/format.js";
import { currentThreadName } from "../core/thread-name.js";
import { typeError } from "../core/validate.js";

const ENVELOPE = "__multiloop_error__";

/** How deep a `cause` chain crosses; deeper causes are replaced by a `CauseChainCut` marker. */
export const MAX_CAUSE_DEPTH = 100;
/** How many of an AggregateError's errors cross. */
export const MAX_AGGREGATED = 1000;
/** How many errors one thrown error carries across in all (itself, causes, aggregated errors). */
export const MAX_ERRORS_PACKED = 2000;

/** A cause or an aggregated error: `[1, envelope]` for an Error, `[0, value]` for anything else. */
export type EnvelopeSlot = [0, unknown] | [1, ErrorEnvelope];

export interface ErrorEnvelope {
  [ENVELOPE]: 1;
  name: string;
  message: string;
  stack: string | undefined;
  threadName: string;
  cause?: EnvelopeSlot;
  errors?: EnvelopeSlot[];
  props: Record<string, unknown>;
  /** The thrown value was not an Error (a string, a number...): this is it. */
  thrown?: unknown;
  isError: boolean;
  /** Arrive as RemoteError even if the class is known here. */
  forceRemote?: boolean;
  /** Thrown in another process (a queue worker): where, instead of a thread name. */
  origin?: ProcessOrigin;
}

/** The process an error was thrown in, when it crossed processes rather than threads. */
export interface ProcessOrigin {
  host: string;
  pid: number;
}

type ErrorCtor = new (message?: string) => Error;

const builtins = new Map<string, ErrorCtor>([
  ["Error", Error],
  ["TypeError", TypeError],
  ["RangeError", RangeError],
  ["SyntaxError", SyntaxError],
  ["ReferenceError", ReferenceError],
  ["EvalError", EvalError],
  ["URIError", URIError],
]);

const registered = new Map<string, ErrorCtor>();

for (const value of Object.values(errors)) {
  if (typeof value === "function" && value.prototype instanceof Error) {
    registered.set(value.name, value as unknown as ErrorCtor);
  }
}

/**
 * Lets errors of class `cls` cross threads as themselves (register it in both threads, under the
 * same class name). Without it they arrive as `RemoteError`.
 *
 * @example
 * class QuotaExceeded extends Error { override name = "QuotaExceeded"; }
 * registerErrorClass(QuotaExceeded);
 */
export function registerErrorClass(cls: abstract new (...args: never[]) => Error): void {
  if (typeof cls !== "function" || types.isProxy(cls) || !isErrorLike(safeGet(cls, "prototype"))) {
    throw typeError("cls", "a class extending Error", cls);
  }
  const name = safeGet(cls, "name");
  if (typeof name !== "string" || name === "") throw typeError("cls", "a class extending Error with a name", cls);
  registered.set(name, cls as unknown as ErrorCtor);
}

const SKIP = new Set(["name", "message", "stack", "cause", "errors"]);

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** A value for a slot of the envelope: itself when structured clone can copy it, else its text. */
function sendable(value: unknown): unknown {
  return !types.isProxy(value) && cloneable(value) ? value : safeString(value);
}

/** `obj[key]` as text: `fallback` when absent, `<unprintable value>` when its getter throws. */
function readString(obj: object, key: string, fallback: string): string {
  let value: unknown;
  try {
    value = (obj as Record<string, unknown>)[key];
  } catch {
    return UNPRINTABLE;
  }
  if (typeof value === "string") return value;
  return value === undefined ? fallback : safeString(value);
}

/** What a thrown value that is no Error and cannot be cloned is called: its kind. */
function kindName(value: unknown): string {
  if (typeof value === "function") return "Function";
  if (typeof value === "symbol") return "Symbol";
  if (typeof value !== "object" || value === null) return typeof value;
  if (types.isProxy(value)) return "Proxy";
  const ctor = safeGet(value, "constructor");
  const name = typeof ctor === "function" ? safeGet(ctor, "name") : undefined;
  return typeof name === "string" && name !== "" ? name : "Object";
}

function base(name: string, message: string, walk: Packing): ErrorEnvelope {
  const envelope: ErrorEnvelope = { [ENVELOPE]: 1, name, message, stack: undefined, threadName: walk.threadName, props: {}, isError: true };
  if (walk.origin !== undefined) envelope.origin = walk.origin;
  return envelope;
}

function cutMarker(message: string, walk: Packing): ErrorEnvelope {
  const envelope = base("CauseChainCut", message, walk);
  envelope.forceRemote = true;
  return envelope;
}

/** The walk over one thrown error: the errors on the way down (for cycles) and a total budget. */
interface Packing {
  readonly threadName: string;
  readonly origin: ProcessOrigin | undefined;
  readonly ancestors: Set<object>;
  packed: number;
}

/**
 * Packs a thrown value for postMessage. Never throws; see the module docs. With `origin`, the
 * error is said to come from that process (a queue worker) rather than from a thread.
 */
export function toEnvelope(err: unknown, threadName: string, origin?: ProcessOrigin): ErrorEnvelope {
  return pack(err, { threadName, origin, ancestors: new Set(), packed: 0 }, 0);
}

function pack(err: unknown, walk: Packing, depth: number): ErrorEnvelope {
  if (!isErrorLike(err)) {
    if (!types.isProxy(err) && cloneable(err)) {
      const envelope = base("Error", safeString(err), walk);
      envelope.isError = false;
      envelope.thrown = err;
      return envelope;
    }
    const envelope = base(kindName(err), safeString(err) || UNPRINTABLE, walk);
    envelope.forceRemote = true;
    return envelope;
  }
  walk.packed++;
  walk.ancestors.add(err);
  try {
    const envelope = base(readString(err, "name", "Error"), readString(err, "message", ""), walk);
    const stack = safeGet(err, "stack");
    envelope.stack = typeof stack === "string" ? stack : undefined;
    let keys: string[] = [];
    try {
      keys = Object.keys(err);
    } catch {
      // Keys cannot be listed (a proxy in the way): no own properties cross.
    }
    for (const key of keys) {
      if (SKIP.has(key)) continue;
      let value: unknown;
      try {
        value = (err as unknown as Record<string, unknown>)[key];
      } catch {
        value = UNPRINTABLE;
      }
      envelope.props[key] = sendable(value);
    }
    const cause = safeGet(err, "cause");
    if (cause !== undefined) envelope.cause = slot(cause, walk, depth + 1);
    let isAggregate = false;
    try {
      isAggregate = err instanceof AggregateError;
    } catch {
      // A prototype chain with a throwing proxy in it: not an AggregateError.
    }
    const inner = isAggregate ? safeGet(err, "errors") : undefined;
    if (Array.isArray(inner) && !types.isProxy(inner)) {
      envelope.errors = inner.slice(0, MAX_AGGREGATED).map((e: unknown) => slot(e, walk, depth + 1));
    }
    return envelope;
  } finally {
    walk.ancestors.delete(err);
  }
}

function slot(value: unknown, walk: Packing, depth: number): EnvelopeSlot {
  if (!isErrorLike(value)) return [0, sendable(value)];
  if (walk.ancestors.has(value)) {
    return [1, cutMarker("The cause chain was cut here: it loops back to an error already in the chain", walk)];
  }
  if (depth >= MAX_CAUSE_DEPTH || walk.packed >= MAX_ERRORS_PACKED) {
    return [1, cutMarker(`The cause chain was cut here, ${depth} levels deep: the rest was not sent`, walk)];
  }
  return [1, pack(value, walk, depth)];
}

/** Whether `value` is an envelope made by `serializeError` (never runs a proxy's traps). */
export function isEnvelope(value: unknown): value is ErrorEnvelope {
  if (typeof value !== "object" || value === null || types.isProxy(value)) return false;
  return safeGet(value, ENVELOPE) === 1;
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, configurable: true, writable: true });
}

/** Rebuilds the error an envelope describes (see the module docs). Never throws. */
export function fromEnvelope(envelope: ErrorEnvelope): unknown {
  try {
    return rebuild(envelope, 0);
  } catch (err) {
    const threadName = typeof safeGet(envelope, "threadName") === "string" ? (envelope.threadName) : "unknown";
    return new RemoteError("Error", `An error from thread '${threadName}' could not be rebuilt: ${safeString(err)}`, threadName);
  }
}

function unslot(value: unknown, depth: number): unknown {
  if (!Array.isArray(value)) return value;
  if (value[0] === 1) return isEnvelope(value[1]) ? rebuild(value[1], depth + 1) : value[1];
  return value[1];
}

function rebuild(envelope: ErrorEnvelope, depth: number): unknown {
  if (envelope.isError !== true) return envelope.thrown;
  const name = typeof envelope.name === "string" ? envelope.name : "Error";
  const message = typeof envelope.message === "string" ? envelope.message : "";
  const origin = readOrigin(envelope.origin);
  const threadName =
    origin !== null ? `process ${origin.pid} on ${origin.host}` : typeof envelope.threadName === "string" ? envelope.threadName : "unknown";
  const props = typeof envelope.props === "object" && envelope.props !== null ? envelope.props : {};
  // Past the depth a sender would ever send, stop: a forged envelope cannot make this recurse.
  const cause = envelope.cause === undefined || depth > MAX_CAUSE_DEPTH + 1 ? undefined : unslot(envelope.cause, depth);
  const ctor = envelope.forceRemote === true ? undefined : (builtins.get(name) ?? registered.get(name));
  let err: Error;
  if (name === "AggregateError" || envelope.errors !== undefined) {
    const list = Array.isArray(envelope.errors) && depth <= MAX_CAUSE_DEPTH + 1 ? envelope.errors : [];
    const inner = list.map((e) => unslot(e, depth));
    err =
      ctor === undefined && name !== "AggregateError"
        ? new RemoteError(name, message, threadName)
        : new AggregateError(inner, message);
    if (!(err instanceof AggregateError)) define(err, "errors", inner, true);
  } else if (ctor === undefined) {
    err = new RemoteError(name, message, threadName);
  } else {
    try {
      err = new ctor(message);
    } catch {
      err = Object.create(ctor.prototype as object) as Error;
    }
    define(err, "message", message, false);
  }
  if (cause !== undefined) define(err, "cause", cause, false);
  for (const [key, value] of Object.entries(props)) define(err, key, value, true);
  const remoteStack = typeof envelope.stack === "string" ? envelope.stack : `${name}: ${message}`;
  if (origin !== null) {
    // From another process: its host and process id stand where a thread name would.
    if (!Object.hasOwn(props, "host")) define(err, "host", origin.host, true);
    if (!Object.hasOwn(props, "pid")) define(err, "pid", origin.pid, true);
    define(err, "stack", `${remoteStack}\n    (thrown in process ${origin.pid} on host '${origin.host}')`, false);
    return err;
  }
  // ThreadExitError has a threadName of its own (the thread that died); keep that one.
  if (!(err instanceof RemoteError) && !Object.hasOwn(props, "threadName")) define(err, "threadName", threadName, true);
  define(err, "stack", `${remoteStack}\n    (thrown in thread '${threadName}')`, false);
  return err;
}

/** An envelope's origin if it is well formed (the data may come from anywhere), else null. */
function readOrigin(value: unknown): ProcessOrigin | null {
  if (typeof value !== "object" || value === null || types.isProxy(value)) return null;
  const host = safeGet(value, "host");
  const pid = safeGet(value, "pid");
  return typeof host === "string" && typeof pid === "number" && Number.isInteger(pid) ? { host, pid } : null;
}

/**
 * Packs any thrown value for `postMessage` (class name, message, stack, `cause`, own properties,
 * this thread's name); `deserializeError` turns it back into an error (see the module docs).
 * Never throws.
 */
export function serializeError(err: unknown): ErrorEnvelope {
  return toEnvelope(err, currentThreadName());
}

/** The inverse of `serializeError`; any other value is returned as is. Never throws. */
export function deserializeError(data: unknown): unknown {
  return isEnvelope(data) ? fromEnvelope(data) : data;
}
