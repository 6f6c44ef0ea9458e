/**
 * Every error the package throws on purpose.
 *
 * All classes extend {@link LoopError}, carry a stable `code` (`ERR_LOOP_*`) and have `name` equal to
 * their class name. `instanceof` also works across two copies of the package (two versions in one
 * `node_modules`, or the dist build next to the sources): each class is branded with a
 * `Symbol.for()` key that every copy shares.
 *
 * Messages that asyncio users know (`Event loop is closed`, `no running event loop`, ...) are kept
 * byte for byte; advice on what to do instead lives in the `hint` property, so the message stays
 * matchable and the console still shows the advice (Node prints own properties of errors).
 *
 * The `OSError` family is the exception to `ERR_LOOP_*`: it keeps Node's system-error fields
 * (`code: "ENOENT"`, numeric `errno`, `syscall`, ...), which is what Node users match on.
 */
import { constants as osConstants } from "node:os";

import { types } from "node:util";
import { safeGet, safeString } from "./format.js";

const kBrands = Symbol.for("multiloop.error.brands");

type ErrorClass = abstract new (...args: never[]) => Error;

function brandOf(cls: ErrorClass): symbol {
  return Symbol.for(`multiloop.error.${cls.name}`);
}

export interface LoopErrorOptions extends ErrorOptions {
  /** A stable machine-readable code; defaults to the class's own code. */
  code?: string;
  /** What to do instead; shown by Node when the error is printed. */
  hint?: string;
}

/**
 * The options of an error constructor, read without trusting them: an error is made on a failure
 * path, where throwing instead (a revoked proxy, a throwing getter) would hide the failure. What
 * cannot be read is left out; `code` and `hint` count only as strings.
 */
function errorOptions(options: unknown): LoopErrorOptions {
  if (typeof options !== "object" || options === null || types.isProxy(options)) return {};
  const out: LoopErrorOptions = {};
  const cause = safeGet(options, "cause");
  if (cause !== undefined) out.cause = cause;
  const code = safeGet(options, "code");
  if (typeof code === "string") out.code = code;
  const hint = safeGet(options, "hint");
  if (typeof hint === "string") out.hint = hint;
  return out;
}

/** Base class of every error thrown by multiloop. */
export class LoopError extends Error {
  /** A stable code (`ERR_LOOP_*`); match on this rather than on the message text. */
  declare readonly code: string;
  /** Advice on what to do instead, when there is any. */
  declare readonly hint?: string;

  constructor(message = "", options: LoopErrorOptions = {}) {
    const opts = errorOptions(options);
    super(safeString(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    options = opts;
    const ctor = new.target as unknown as { defaultCode: string };
    Object.defineProperty(this, "code", {
      value: options.code ?? ctor.defaultCode,
      enumerable: true,
      configurable: true,
      writable: true,
    });
    if (options.hint !== undefined) {
      Object.defineProperty(this, "hint", {
        value: options.hint,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    }
  }

  static defaultCode = "ERR_LOOP";

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    // A thrown revoked proxy (or one whose traps throw) is no instance: `instanceof` runs on
    // every failure the loop handles, and must not throw there.
    try {
      const brands = (value as { [kBrands]?: ReadonlySet<symbol> })[kBrands];
      if (brands === undefined) return Function.prototype[Symbol.hasInstance].call(this, value);
      return brands instanceof Set && brands.has(brandOf(this));
    } catch {
      return false;
    }
  }
}

/** Sets `name` and the cross-copy brands on an error class; called once per class below. */
function register(cls: ErrorClass, code: string): void {
  Object.defineProperty(cls.prototype, "name", {
    value: cls.name,
    enumerable: false,
    configurable: true,
    writable: true,
  });
  (cls as unknown as { defaultCode: string }).defaultCode = code;
  const brands = new Set<symbol>();
  for (let c: unknown = cls; typeof c === "function" && c !== Error; c = Object.getPrototypeOf(c)) {
    brands.add(brandOf(c as ErrorClass));
  }
  Object.defineProperty(cls.prototype, kBrands, { value: brands, enumerable: false });
}

/** Loop-state misuse, as Python's `RuntimeError` in asyncio. */
export class RuntimeError extends LoopError {}

/** `no running event loop`: a function that needs a running loop was called outside one. */
export class NoRunningLoopError extends RuntimeError {
  constructor(options: LoopErrorOptions = {}) {
    super("no running event loop", {
      hint:
        "Call this from code the loop runs (a task, a callback, or a function passed to run()), " +
        "or use getEventLoop() / newEventLoop() to get a loop object explicitly.",
      ...errorOptions(options),
    });
  }
}

/** `There is no current event loop in thread '<name>'.` */
export class NoCurrentLoopError extends RuntimeError {}

/**
 * `Event loop is closed`. A loop whose thread is gone is closed too: `ThreadExitError` is one.
 * (`message` is for that subclass; the loop's own message stays asyncio's.)
 */
export class LoopClosedError extends RuntimeError {
  constructor(options: LoopErrorOptions = {}, message = "Event loop is closed") {
    super(message, {
      hint: "A closed loop accepts no new work. Create a new one with newEventLoop() or use run().",
      ...errorOptions(options),
    });
  }
}

/** A future or task was cancelled. `message` carries the cancel message, if one was given. */
export class CancelledError extends LoopError {}

/** A future was used in a state that does not allow it. */
export class InvalidStateError extends LoopError {}

/** A deadline passed (`waitFor`, `timeout`, `asCompleted`). */
export class TimeoutError extends LoopError {}

/** A lookup by name or key failed (a context variable without a value, an unknown remote target). */
export class LookupError extends LoopError {}

/** `getNowait()` on an empty queue. */
export class QueueEmpty extends LoopError {}
/** `putNowait()` on a full queue. */
export class QueueFull extends LoopError {}
/** The queue was shut down (Python 3.13 `QueueShutDown`). */
export class QueueShutDown extends LoopError {}

/**
 * A job of a `QueueExecutor` will not finish: it exhausted its attempts by stalling (each worker
 * that took it died or lost its lock while holding it: BullMQ's stalled-job recovery gave up), or
 * its outcome is no longer in Redis. `jobId` and `queue` say which.
 */
export class JobLostError extends LoopError {
  declare readonly jobId?: string;
  declare readonly queue?: string;
  constructor(message = "", options: LoopErrorOptions & { jobId?: string; queue?: string } = {}) {
    super(message, options);
    for (const key of ["jobId", "queue"] as const) {
      const value = safeGet(options, key);
      if (typeof value === "string") Object.defineProperty(this, key, { value, enumerable: true, configurable: true, writable: true });
    }
  }
}

/**
 * A queue worker refused a job without running it: the module it names is not in the worker's
 * `allow` list, or its data is not a job multiloop can read. Running it again would not help.
 */
export class JobRefusedError extends LoopError {}

/** A barrier was aborted or reset while tasks waited on it. */
export class BrokenBarrierError extends RuntimeError {}

/** A stream ended before the expected number of bytes or the separator arrived. */
export class IncompleteReadError extends LoopError {
  readonly partial: Buffer;
  readonly expected: number | null;
  constructor(partial: Buffer, expected: number | null) {
    if (!types.isUint8Array(partial)) throw new TypeError(`Expected \`partial\` to be a Buffer, got ${typeof partial}`);
    if (expected !== null && typeof expected !== "number") throw new TypeError(`Expected \`expected\` to be a number or null, got ${typeof expected}`);
    const total = expected === null ? "undefined" : String(expected);
    super(`${partial.length} bytes read on a total of ${total} expected bytes`);
    this.partial = partial;
    this.expected = expected;
  }
}

/** A stream's buffer limit was reached while looking for a separator. */
export class LimitOverrunError extends LoopError {
  readonly consumed: number;
  constructor(message: string, consumed: number) {
    if (typeof consumed !== "number") throw new TypeError(`Expected \`consumed\` to be a number, got ${typeof consumed}`);
    super(message);
    this.consumed = consumed;
  }
}

/** An error that crossed threads and whose class is not one multiloop knows. */
export class RemoteError extends LoopError {
  /** The `name` of the error in the thread where it was thrown. */
  readonly remoteName: string;
  /** The name of the thread where it was thrown. */
  readonly threadName: string;
  constructor(
    remoteName: string,
    message: string,
    threadName: string,
    options: LoopErrorOptions = {},
  ) {
    super(message, options);
    this.remoteName = safeString(remoteName);
    this.threadName = safeString(threadName);
  }
}

/**
 * The thread that owned a loop exited or crashed while work for it was pending, or a call was
 * made into a loop whose thread is gone. Its loop is closed for good, so this is a
 * `LoopClosedError` (and a `RuntimeError`), with its own message and code.
 */
export class ThreadExitError extends LoopClosedError {
  readonly threadName: string;
  readonly exitCode: number | null;
  constructor(threadName: string, exitCode: number | null, options: LoopErrorOptions = {}) {
    const name = safeString(threadName);
    const code = typeof exitCode === "number" ? exitCode : null;
    const how = code === null ? "exited" : `exited with code ${code}`;
    super(
      { hint: "The thread is gone; start a new one (spawnLoopThread) to go on.", ...errorOptions(options) },
      `Thread '${name}' ${how} while work for its event loop was pending`,
    );
    this.threadName = name;
    this.exitCode = code;
  }
}

/** The Node fields an `OSError` keeps, where Node gave them (see `OSError`). */
export interface OSErrorFields {
  /** Node's error code: `"ENOENT"`, `"ECONNREFUSED"`, `"EPIPE"`, ... */
  code?: string;
  /** Node's numeric error number (negative on POSIX, as in Node: -2 for ENOENT). */
  errno?: number;
  /** The system call that failed: `"connect"`, `"write"`, `"spawn /bin/nope"`, `"getaddrinfo"`. */
  syscall?: string;
  /** The file or program concerned (`spawn`, Unix sockets). */
  path?: string;
  /** The destination of a two-path call. */
  dest?: string;
  /** The network address concerned (`connect`, `listen`). */
  address?: string;
  /** The network port concerned. */
  port?: number;
  /** The host name that did not resolve (`getaddrinfo`). */
  hostname?: string;
}

/** The keys of {@link OSErrorFields} besides `code`, in the order Node prints them. */
export const OS_ERROR_FIELDS = ["errno", "syscall", "path", "dest", "address", "port", "hostname"] as const;

/**
 * An operating-system error from a socket, a pipe or a child process (Python's `OSError`), shaped
 * as Node's own system errors: `code` is Node's (`"ENOENT"`, `"ECONNREFUSED"`, ...), `errno` its
 * number, and `syscall`, `path`, `address`, `port`, `hostname` are there where Node gave them. The
 * Node error it came from is the `cause`. The subclasses keep asyncio's names
 * (`ConnectionRefusedError`, `FileNotFoundError`, ...); made without a Node error, each has the
 * code it stands for (`ConnectionResetError` -> `"ECONNRESET"`).
 *
 * @example
 * try {
 *   await createSubprocessExec("no-such-program");
 * } catch (err) {
 *   if (err instanceof FileNotFoundError) console.log(err.code, err.errno, err.path); // ENOENT -2 no-such-program
 * }
 */
export class OSError extends LoopError {
  declare readonly errno?: number;
  declare readonly syscall?: string;
  declare readonly path?: string;
  declare readonly dest?: string;
  declare readonly address?: string;
  declare readonly port?: number;
  declare readonly hostname?: string;

  constructor(message: string, options: LoopErrorOptions & OSErrorFields = {}) {
    const { code, ...rest } = options;
    const fields = rest as Record<string, unknown>;
    const base: LoopErrorOptions = {};
    if (code !== undefined) base.code = code;
    if (rest.cause !== undefined) base.cause = rest.cause;
    if (rest.hint !== undefined) base.hint = rest.hint;
    super(message, base);
    let errno = rest.errno;
    if (errno === undefined) {
      // As Node's (libuv's) numbers: minus the POSIX errno.
      const posix = (osConstants.errno as Record<string, number | undefined>)[this.code];
      if (posix !== undefined) errno = -posix;
    }
    for (const key of OS_ERROR_FIELDS) {
      const value = key === "errno" ? errno : fields[key];
      if (value !== undefined) {
        Object.defineProperty(this, key, { value, enumerable: true, configurable: true, writable: true });
      }
    }
  }
}
/** A connection-level failure (Python's `ConnectionError`). */
export class ConnectionError extends OSError {}
/** The peer refused the connection (`ECONNREFUSED`). */
export class ConnectionRefusedError extends ConnectionError {}
/** The peer reset the connection, or it was lost while data was pending (`ECONNRESET`). */
export class ConnectionResetError extends ConnectionError {}
/** The connection was aborted (`ECONNABORTED`). */
export class ConnectionAbortedError extends ConnectionError {}
/** Writing to a connection or pipe whose other end is gone (`EPIPE`). */
export class BrokenPipeError extends ConnectionError {}
/** A host name could not be resolved (Python's `socket.gaierror`: `ENOTFOUND`, `EAI_AGAIN`, ...). */
export class GaiError extends OSError {}
/** A file or program does not exist (`ENOENT`). */
export class FileNotFoundError extends OSError {}
/** Not allowed (`EACCES`, `EPERM`). */
export class PermissionError extends OSError {}
/** The process is gone: it was already reaped (`ESRCH`). */
export class ProcessLookupError extends OSError {}

register(LoopError, "ERR_LOOP");
register(RuntimeError, "ERR_LOOP_RUNTIME");
register(NoRunningLoopError, "ERR_LOOP_NO_RUNNING_LOOP");
register(NoCurrentLoopError, "ERR_LOOP_NO_CURRENT_LOOP");
register(LoopClosedError, "ERR_LOOP_CLOSED");
register(CancelledError, "ERR_LOOP_CANCELLED");
register(InvalidStateError, "ERR_LOOP_INVALID_STATE");
register(TimeoutError, "ERR_LOOP_TIMEOUT");
register(LookupError, "ERR_LOOP_LOOKUP");
register(QueueEmpty, "ERR_LOOP_QUEUE_EMPTY");
register(QueueFull, "ERR_LOOP_QUEUE_FULL");
register(QueueShutDown, "ERR_LOOP_QUEUE_SHUT_DOWN");
register(BrokenBarrierError, "ERR_LOOP_BROKEN_BARRIER");
register(IncompleteReadError, "ERR_LOOP_INCOMPLETE_READ");
register(LimitOverrunError, "ERR_LOOP_LIMIT_OVERRUN");
register(RemoteError, "ERR_LOOP_REMOTE");
register(ThreadExitError, "ERR_LOOP_THREAD_EXIT");
register(JobLostError, "ERR_LOOP_JOB_LOST");
register(JobRefusedError, "ERR_LOOP_JOB_REFUSED");
// OS errors carry Node's code; these are the codes of the ones made without a Node error.
register(OSError, "ERR_LOOP_OS");
register(ConnectionError, "ERR_LOOP_CONNECTION");
register(ConnectionRefusedError, "ECONNREFUSED");
register(ConnectionResetError, "ECONNRESET");
register(ConnectionAbortedError, "ECONNABORTED");
register(BrokenPipeError, "EPIPE");
register(GaiError, "ENOTFOUND");
register(FileNotFoundError, "ENOENT");
register(PermissionError, "EACCES");
register(ProcessLookupError, "ESRCH");
