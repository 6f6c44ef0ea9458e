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
 */
import * as errors from "../core/errors.js";
import { RemoteError } from "../core/errors.js";
import { currentThreadName } from "../core/thread-name.js";

const ENVELOPE = "__multiloop_error__";

export interface ErrorEnvelope {
  [ENVELOPE]: 1;
  name: string;
  message: string;
  stack: string | undefined;
  threadName: string;
  /** An envelope for an Error cause, or the cause itself when it is not an Error. */
  cause?: unknown;
  errors?: unknown[];
  props: Record<string, unknown>;
  /** The thrown value was not an Error (a string, a number...): this is it. */
  thrown?: unknown;
  isError: boolean;
  /** Arrive as RemoteError even if the class is known here. */
  forceRemote?: boolean;
}

type ErrorCtor = new (message?: string) => Error;

const builtins: Record<string, ErrorCtor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

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
  if (typeof cls !== "function" || !(cls.prototype instanceof Error)) {
    throw new TypeError("Expected `cls` to be a class extending Error");
  }
  registered.set(cls.name, cls as unknown as ErrorCtor);
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

/** Packs a thrown value for postMessage; `seen` breaks cause cycles. */
export function toEnvelope(err: unknown, threadName: string, seen: Set<unknown> = new Set()): ErrorEnvelope {
  if (!(err instanceof Error)) {
    return {
      [ENVELOPE]: 1,
      name: "Error",
      message: String(err),
      stack: undefined,
      threadName,
      props: {},
      thrown: cloneable(err) ? err : String(err),
      isError: false,
    };
  }
  seen.add(err);
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    if (SKIP.has(key)) continue;
    const value = (err as unknown as Record<string, unknown>)[key];
    props[key] = cloneable(value) ? value : String(value);
  }
  const envelope: ErrorEnvelope = {
    [ENVELOPE]: 1,
    name: err.name,
    message: err.message,
    stack: err.stack,
    threadName,
    props,
    isError: true,
  };
  if ("cause" in err && err.cause !== undefined) {
    const cause: unknown = err.cause;
    if (cause instanceof Error) {
      if (!seen.has(cause)) envelope.cause = toEnvelope(cause, threadName, seen);
    } else {
      envelope.cause = cloneable(cause) ? cause : String(cause);
    }
  }
  if (err instanceof AggregateError && Array.isArray(err.errors)) {
    envelope.errors = (err.errors as unknown[]).map((e) => toEnvelope(e, threadName, seen));
  }
  return envelope;
}

export function isEnvelope(value: unknown): value is ErrorEnvelope {
  return typeof value === "object" && value !== null && (value as Partial<ErrorEnvelope>)[ENVELOPE] === 1;
}

function define(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, configurable: true, writable: true });
}

/** Rebuilds the error an envelope describes (see the module docs). */
export function fromEnvelope(envelope: ErrorEnvelope): unknown {
  if (!envelope.isError) return envelope.thrown;
  const cause = isEnvelope(envelope.cause) ? fromEnvelope(envelope.cause) : envelope.cause;
  const ctor = envelope.forceRemote === true ? undefined : (builtins[envelope.name] ?? registered.get(envelope.name));
  let err: Error;
  if (envelope.name === "AggregateError" || envelope.errors !== undefined) {
    const inner = (envelope.errors ?? []).map((e) => (isEnvelope(e) ? fromEnvelope(e) : e));
    err = ctor === undefined && envelope.name !== "AggregateError"
      ? new RemoteError(envelope.name, envelope.message, envelope.threadName)
      : new AggregateError(inner, envelope.message);
    if (!(err instanceof AggregateError)) define(err, "errors", inner, true);
  } else if (ctor === undefined) {
    err = new RemoteError(envelope.name, envelope.message, envelope.threadName);
  } else {
    try {
      err = new ctor(envelope.message);
    } catch {
      err = Object.create(ctor.prototype as object) as Error;
    }
    define(err, "message", envelope.message, false);
  }
  if (cause !== undefined) define(err, "cause", cause, false);
  for (const [key, value] of Object.entries(envelope.props)) define(err, key, value, true);
  // ThreadExitError has a threadName of its own (the thread that died); keep that one.
  if (!(err instanceof RemoteError) && !("threadName" in envelope.props)) {
    define(err, "threadName", envelope.threadName, true);
  }
  const remoteStack = envelope.stack ?? `${envelope.name}: ${envelope.message}`;
  define(err, "stack", `${remoteStack}\n    (thrown in thread '${envelope.threadName}')`, false);
  return err;
}

/**
 * Packs any thrown value for `postMessage` (class name, message, stack, `cause`, own properties,
 * this thread's name); `deserializeError` turns it back into an error (see the module docs).
 */
export function serializeError(err: unknown): ErrorEnvelope {
  return toEnvelope(err, currentThreadName());
}

/** The inverse of `serializeError`; any other value is returned as is. */
export function deserializeError(data: unknown): unknown {
  return isEnvelope(data) ? fromEnvelope(data) : data;
}
