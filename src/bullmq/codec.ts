/**
 * What a `QueueExecutor` job carries through Redis, and how its outcome comes back.
 *
 * BullMQ stores job data and return values as JSON, which would turn a Buffer into
 * `{ type: "Buffer", data: [...] }`, a Map into `{}`, a Date into a string and drop `undefined`.
 * Arguments and results therefore cross as the threads layer sends them: checked by `scanValue`
 * (crossing.ts: functions, symbols, promises and proxies are refused at the call site, naming
 * where they sit), then written with `v8.serialize`, which is structured clone's own wire format
 * (so Maps, Sets, Dates, RegExps, BigInts, typed arrays, Buffers, sparse arrays, cycles and
 * shared references survive), and stored as one base64 string inside the JSON. The format's
 * version (15) is the same from Node 20 to Node 26, so callers and workers may run different
 * Node versions.
 *
 * Most jobs carry a few numbers and strings, which JSON keeps exactly: those travel as JSON (the
 * `json` field instead of the base64 one), which costs a fraction of a serialize + base64 round
 * and stays readable in dashboards. A value goes that way only when JSON gives back exactly what
 * structured clone would (see `jsonExact`).
 *
 * Errors cross in multiloop's error envelope, with the worker's host and process id: a failed
 * job's `failedReason` (what BullMQ keeps and sends in its `failed` event) is the error's readable
 * first line followed by a line with the envelope, so dashboards still show what went wrong.
 *
 * Everything read here may come from anywhere (another program writing to the same queue, a
 * corrupted key): reading never throws anything but a TypeError or RangeError that says what is
 * wrong with which job.
 */
import { Buffer } from "node:buffer";
import { hostname } from "node:os";
import { types } from "node:util";
import { deserialize, serialize } from "node:v8";
import { scanValue } from "../threads/crossing.js";
import { fromEnvelope, isEnvelope, toEnvelope, type ProcessOrigin } from "../threads/error-envelope.js";
import { currentThreadName } from "../core/thread-name.js";
import { describeValue } from "../core/validate.js";
import { safeString } from "../core/format.js";

/** The data of a job a `QueueExecutor` adds (BullMQ's `job.data`). */
export interface JobData {
  /** The format's version. */
  multiloop: 1;
  /** The module, as the caller wrote it: resolved on the worker's side. */
  filename: string;
  /** The export to call. */
  name: string;
  /** The arguments: base64 of `v8.serialize(args)`; absent when `json` holds them. */
  args?: string;
  /** The arguments, when JSON keeps them exactly. */
  json?: unknown[];
  /**
   * Set by a caller that cancelled the job while a worker ran it (with the cancel's message, or
   * ""): a worker that gets the job later (its first worker died) refuses it.
   */
  cancelled?: string;
}

/** A job's return value as a multiloop worker stores it. */
export interface JobResult {
  multiloop: 1;
  /** base64 of `v8.serialize(value)`; absent when `json` holds it. */
  value?: string;
  /** The value, when JSON keeps it exactly. */
  json?: unknown;
}

/** How many values `jsonExact` looks at before it leaves a value to the serializer. */
const JSON_BUDGET = 256;

/**
 * Whether `JSON.parse(JSON.stringify(value))` is what structured clone would make of it: strings,
 * booleans, null, finite numbers other than -0, dense arrays and plain objects of those, no object
 * twice (JSON would copy it), no `__proto__` key, at most JSON_BUDGET values. Anything else (a
 * Buffer, a Map, undefined, a Date...) is left to the serializer.
 */
function jsonExact(root: unknown): boolean {
  let budget = JSON_BUDGET;
  const seen = new Set<object>();
  const exact = (value: unknown): boolean => {
    if (--budget < 0) return false;
    switch (typeof value) {
      case "string":
      case "boolean":
        return true;
      case "number":
        return Number.isFinite(value) && !Object.is(value, -0);
      case "object": {
        if (value === null) return true;
        if (seen.has(value)) return false;
        seen.add(value);
        if (Array.isArray(value)) {
          if (types.isProxy(value)) return false;
          for (let i = 0; i < value.length; i++) if (!(i in value) || !exact(value[i])) return false;
          return true;
        }
        const proto: unknown = Object.getPrototypeOf(value);
        if ((proto !== Object.prototype && proto !== null) || types.isProxy(value)) return false;
        for (const key of Object.keys(value)) if (key === "__proto__" || !exact((value as Record<string, unknown>)[key])) return false;
        // Symbol keys and non-enumerable properties: JSON and structured clone both drop them.
        return true;
      }
      default:
        return false;
    }
  };
  return exact(root);
}

/** The most a job's data may hold, decoded (serveQueue's `maxJobBytes` default). */
export const DEFAULT_MAX_JOB_BYTES = 64 * 1024 * 1024;
/** Longest module name a job may give. */
const MAX_FILENAME = 4096;
/** Longest export name a job may give. */
const MAX_NAME = 1024;

const ENVELOPE_LINE = "\n[multiloop error envelope] ";

/** This process, as errors from it say where they were thrown. */
export const ORIGIN: ProcessOrigin = { host: hostname(), pid: process.pid };

/**
 * `value` as a base64 string of its structured clone. Throws a TypeError naming `target` and the
 * position of a value that cannot cross (a function, a LoopHandle...).
 */
export function encodeValue(value: unknown, target: string, where: string): string {
  if (scanValue(value, target, where)) {
    throw new TypeError(
      `Cannot send ${where} of '${target}' to a queue worker: a LoopHandle, ThreadQueue, ThreadLock or ThreadSemaphore ` +
        "works between the threads of one process only, and a job may run on any machine. Send plain data instead.",
    );
  }
  try {
    return serialize(value).toString("base64");
  } catch (err) {
    throw new TypeError(`Cannot send ${where} of '${target}' to a queue worker: ${safeString(err)}. Send plain data instead.`, {
      cause: err,
    });
  }
}

/** The value `encodeValue` wrote; a TypeError saying `what` could not be read otherwise. */
export function decodeValue(text: string, what: string): unknown {
  try {
    return deserialize(Buffer.from(text, "base64"));
  } catch (err) {
    throw new TypeError(`${what} could not be read: multiloop did not write them (${safeString(err)})`, { cause: err });
  }
}

export function jobData(filename: string, name: string, args: unknown[]): JobData {
  if (jsonExact(args)) return { multiloop: 1, filename, name, json: args };
  return { multiloop: 1, filename, name, args: encodeValue(args, name, "the arguments") };
}

/**
 * The data of a job whose caller cancelled it while it ran: `data` as it was, marked. Data that
 * is not an object (not a multiloop job) is left as it is: no multiloop worker would run it.
 */
export function cancelledJobData(data: unknown, message: string | undefined): unknown {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return data;
  return { ...data, cancelled: message ?? "" };
}

/** What a worker runs for a job. */
export interface JobCall {
  filename: string;
  name: string;
  args: unknown[];
  /** The job was cancelled by its caller while another worker ran it (the cancel's message). */
  cancelled?: string;
}

/**
 * Reads a job's data, refusing what multiloop did not write: a TypeError for the wrong shape,
 * a RangeError past `maxBytes`. `job` names the job in the messages.
 */
export function readJobData(data: unknown, job: string, maxBytes: number): JobCall {
  const shape = "{ multiloop: 1, filename, name, args } as a QueueExecutor writes it";
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new TypeError(`The data of ${job} is not a multiloop job: expected ${shape}, got ${describeValue(data)}`);
  }
  const { multiloop, filename, name, args, json, cancelled } = data as Record<string, unknown>;
  if (multiloop !== 1) {
    throw new TypeError(`The data of ${job} is not a multiloop job: expected ${shape}, got an object whose \`multiloop\` is ${describeValue(multiloop)}`);
  }
  if (typeof filename !== "string" || filename === "" || filename.length > MAX_FILENAME) {
    throw new TypeError(`The data of ${job} has no usable \`filename\`: expected a module path or URL, got ${describeValue(filename)}`);
  }
  if (typeof name !== "string" || name === "" || name.length > MAX_NAME) {
    throw new TypeError(`The data of ${job} has no usable \`name\`: expected the name of an exported function, got ${describeValue(name)}`);
  }
  // A cancelled job is refused before its arguments are decoded.
  if (typeof cancelled === "string") return { filename, name, args: [], cancelled };
  if (args === undefined && Array.isArray(json)) return { filename, name, args: json };
  if (typeof args !== "string") {
    throw new TypeError(
      `The data of ${job} has no usable arguments: expected \`args\` (the encoded arguments, a string) or \`json\` (an array), got ${describeValue(args ?? json)}`,
    );
  }
  // base64 holds 3 bytes in 4 characters: refuse before decoding anything.
  if (Math.floor((args.length * 3) / 4) > maxBytes) {
    throw new RangeError(`The arguments of ${job} are about ${Math.floor((args.length * 3) / 4)} bytes, more than this worker's maxJobBytes (${maxBytes})`);
  }
  const decoded = decodeValue(args, `The arguments of ${job}`);
  if (!Array.isArray(decoded)) {
    throw new TypeError(`The arguments of ${job} are not a list of arguments: got ${describeValue(decoded)}`);
  }
  return { filename, name, args: decoded };
}

export function jobResult(value: unknown, name: string): JobResult {
  if (jsonExact(value)) return { multiloop: 1, json: value };
  return { multiloop: 1, value: encodeValue(value, name, "the result") };
}

/**
 * A job's return value, as the caller reads it: multiloop's encoding, or (a job some other
 * BullMQ worker completed) the JSON value as BullMQ gives it.
 */
export function readJobResult(returnvalue: unknown, job: string): unknown {
  if (typeof returnvalue === "object" && returnvalue !== null && (returnvalue as { multiloop?: unknown }).multiloop === 1) {
    const { value, json } = returnvalue as { value?: unknown; json?: unknown };
    if (value === undefined && Object.hasOwn(returnvalue, "json")) return json;
    if (typeof value !== "string") throw new TypeError(`The result of ${job} is not one multiloop wrote: its \`value\` is ${describeValue(value)}`);
    return decodeValue(value, `The result of ${job}`);
  }
  return returnvalue;
}

/** The `failedReason` a worker stores for `err`: its first line, then its envelope. */
export function failureText(err: unknown): string {
  const envelope = toEnvelope(err, currentThreadName(), ORIGIN);
  let encoded: string;
  try {
    encoded = serialize(envelope).toString("base64");
  } catch {
    // The envelope holds only cloneable values (error-envelope.ts checks each); this is a guard.
    encoded = serialize(toEnvelope(new Error(`${envelope.name}: ${envelope.message}`), currentThreadName(), ORIGIN)).toString("base64");
  }
  const first = `${envelope.name}: ${envelope.message}`.split("\n", 1)[0] as string;
  return `${first}${ENVELOPE_LINE}${encoded}`;
}

/** The error a `failedReason` carries, or null when it carries no envelope (a plain reason). */
export function readFailure(failedReason: string): unknown {
  const at = failedReason.lastIndexOf(ENVELOPE_LINE);
  if (at < 0) return null;
  let envelope: unknown;
  try {
    envelope = deserialize(Buffer.from(failedReason.slice(at + ENVELOPE_LINE.length), "base64"));
  } catch {
    return null;
  }
  return isEnvelope(envelope) ? fromEnvelope(envelope) : null;
}
