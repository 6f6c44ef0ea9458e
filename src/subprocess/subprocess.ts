/**
 * Subprocesses with stream pipes: `createSubprocessExec`, `createSubprocessShell` and `Process`
 * (asyncio.subprocess).
 *
 * Any loop thread may start and wait for children. Python needed "child watchers" to learn that a
 * child exited (a SIGCHLD handler works only in the main thread, so 3.8-3.13 shipped a threaded
 * watcher, and 3.14 removed the watcher API for a pidfd or thread per loop). Node's libuv reaps
 * children itself in every thread and reports the exit as an event, so there is nothing to watch
 * or to configure here: the exit arrives as a Node event and is handed to the owning loop.
 */
import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { constants } from "node:os";
import { types } from "node:util";
import type { Socket } from "node:net";
import { BrokenPipeError, ConnectionResetError, ProcessLookupError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { gather } from "../tasks/gather.js";
import { getRunningLoop } from "../core/policy.js";
import { checkString, readOptions, typeError } from "../core/validate.js";
import { toOSError } from "../net/os-error.js";
import { kStart } from "../net/symbols.js";
import { Transport } from "../net/transport.js";
import { StreamReaderProtocol } from "../streams/protocol.js";
import { StreamReader, checkLimit } from "../streams/reader.js";
import { StreamWriter } from "../streams/writer.js";

/** How one of the child's standard streams is connected. A number is a file descriptor to pass on. */
export type StdioSetting = "pipe" | "inherit" | "ignore" | number;

/** Options of `createSubprocessExec` / `createSubprocessShell`. */
export interface SubprocessOptions {
  /** @default "inherit" (asyncio's `None`) */
  stdin?: StdioSetting;
  /** @default "inherit" */
  stdout?: StdioSetting;
  /** @default "inherit" */
  stderr?: StdioSetting;
  /** Working directory of the child. */
  cwd?: string;
  /** Environment of the child. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Buffer limit of the stdout/stderr readers. @default 65536 */
  limit?: number;
}

/** Options asyncio refuses (the pipes carry bytes), with its messages. */
const refused: [string, string][] = [
  ["text", "text must be False"],
  ["encoding", "encoding must be None"],
  ["errors", "errors must be None"],
  ["universalNewlines", "universal_newlines must be False"],
  ["bufsize", "bufsize must be 0"],
];

function checkStdio(name: string, value: unknown): StdioSetting {
  if (value === undefined) return "inherit";
  if (value === "pipe" || value === "inherit" || value === "ignore") return value;
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  throw typeError(name, '"pipe", "inherit", "ignore" or a file descriptor', value);
}

function checkOptions(
  options: unknown,
  shell: boolean,
): Required<Pick<SubprocessOptions, "stdin" | "stdout" | "stderr">> & SubprocessOptions {
  const o = readOptions("options", options as Record<string, unknown> | undefined);
  if (o["shell"] !== undefined && o["shell"] !== shell) throw new RangeError(shell ? "shell must be True" : "shell must be False");
  for (const [key, message] of refused) {
    if (o[key] !== undefined && o[key] !== false && o[key] !== null && !(key === "bufsize" && o[key] === 0)) {
      throw new RangeError(message);
    }
  }
  if (o["cwd"] !== undefined) checkString("options.cwd", o["cwd"]);
  if (o["env"] !== undefined && (typeof o["env"] !== "object" || o["env"] === null)) {
    throw typeError("options.env", "an object of strings", o["env"]);
  }
  const out: SubprocessOptions & Required<Pick<SubprocessOptions, "stdin" | "stdout" | "stderr">> = {
    stdin: checkStdio("options.stdin", o["stdin"]),
    stdout: checkStdio("options.stdout", o["stdout"]),
    stderr: checkStdio("options.stderr", o["stderr"]),
    limit: checkLimit(o["limit"]),
  };
  if (typeof o["cwd"] === "string") out.cwd = o["cwd"];
  if (o["env"] !== undefined) out.env = o["env"] as NodeJS.ProcessEnv;
  return out;
}

function swallow(): void {
  // The child's errors are reported through the spawn waiter, the exit code or the pipes.
}

/**
 * A child process with optional stream pipes (asyncio.subprocess.Process).
 *
 * @example
 * const proc = await createSubprocessExec("sort", [], { stdin: "pipe", stdout: "pipe" });
 * const [out] = await proc.communicate(Buffer.from("b\na\n"));
 * console.log(String(out), proc.returncode); // "a\nb\n" 0
 *
 * Thread-safety: use a process from the loop thread that started it; any loop thread may start
 * children.
 */
export class Process {
  /** The child's process id. */
  readonly pid: number;
  /** A writer to the child's stdin when it is `"pipe"`, else null. */
  readonly stdin: StreamWriter | null;
  /** A reader of the child's stdout when it is `"pipe"`, else null. */
  readonly stdout: StreamReader | null;
  /** A reader of the child's stderr when it is `"pipe"`, else null. */
  readonly stderr: StreamReader | null;
  readonly #loop: EventLoop;
  readonly #child: ChildProcess;
  readonly #pipes: Transport[];
  #returncode: number | null = null;
  #finished = false;
  #waiters: Future<number>[] = [];

  /** @internal use `createSubprocessExec` / `createSubprocessShell`. */
  constructor(
    loop: EventLoop,
    child: ChildProcess,
    pipes: {
      stdin: StreamWriter | null;
      stdout: StreamReader | null;
      stderr: StreamReader | null;
      transports: Transport[];
      watch: ExitWatch;
    },
  ) {
    this.#loop = loop;
    this.#child = child;
    this.pid = child.pid as number;
    this.stdin = pipes.stdin;
    this.stdout = pipes.stdout;
    this.stderr = pipes.stderr;
    this.#pipes = pipes.transports;
    // The child may have exited already (between its spawn and this loop iteration): the watcher
    // attached at spawn time kept what happened.
    const watch = pipes.watch;
    if (watch.returncode !== null) this.#returncode = watch.returncode;
    watch.onExit = this.#onExit;
    watch.onClose = this.#onClose;
    if (watch.closed) this.#onClose();
  }

  /** The exit status once the child has exited: its exit code, or minus the signal that killed it. */
  get returncode(): number | null {
    return this.#returncode;
  }

  /**
   * Waits for the child to exit (and its pipes to close) and returns `returncode`. With piped
   * output that nobody reads, the child can block on a full pipe: read it, or use `communicate()`.
   */
  async wait(): Promise<number> {
    if (this.#finished) return this.#returncode as number;
    const fut = this.#loop.createFuture<number>();
    this.#waiters.push(fut);
    return await fut;
  }

  /**
   * Sends `input` to stdin (then closes it), reads stdout and stderr to the end, waits for the
   * exit, and returns `[stdout, stderr]` (null for a stream that is not piped). A child that
   * exits without reading its input is not an error (`BrokenPipeError` is ignored, as asyncio).
   */
  async communicate(input?: Uint8Array | string | null): Promise<[Buffer | null, Buffer | null]> {
    if (input !== undefined && input !== null && typeof input !== "string" && !(input instanceof Uint8Array)) {
      throw typeError("input", "bytes, a string or undefined", input);
    }
    const stdin = this.stdin;
    const feed = async (): Promise<void> => {
      if (stdin === null) return;
      try {
        if (input !== undefined && input !== null) stdin.write(input);
        await stdin.drain();
      } catch (err) {
        if (!(err instanceof BrokenPipeError || err instanceof ConnectionResetError)) throw err;
      }
      stdin.close();
    };
    const readAll = async (reader: StreamReader | null): Promise<Buffer | null> => {
      if (reader === null) return null;
      return reader.read();
    };
    const [, out, err] = await gather(feed, () => readAll(this.stdout), () => readAll(this.stderr));
    await this.wait();
    return [out, err];
  }

  /**
   * Sends `signal` (a name such as `"SIGTERM"` or a number) to the child. Throws
   * `ProcessLookupError` once the child has exited.
   */
  sendSignal(signal: NodeJS.Signals | number): void {
    if (typeof signal !== "string" && (typeof signal !== "number" || !Number.isInteger(signal))) {
      throw typeError("signal", "a signal name or number", signal);
    }
    if (this.#returncode !== null || !this.#child.kill(signal)) {
      throw new ProcessLookupError("No such process", { syscall: "kill" });
    }
  }

  /** `sendSignal("SIGTERM")`. */
  terminate(): void {
    this.sendSignal("SIGTERM");
  }

  /** `sendSignal("SIGKILL")`. */
  kill(): void {
    this.sendSignal("SIGKILL");
  }

  toString(): string {
    return `<Process ${this.pid}${this.#returncode === null ? "" : ` returncode=${this.#returncode}`}>`;
  }

  readonly #onExit = (returncode: number): void => {
    if (this.#returncode === null) this.#returncode = returncode;
  };

  readonly #onClose = (): void => {
    this.#finished = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    if (this.#loop.isClosed()) return;
    const code = this.#returncode as number;
    for (const w of waiters) if (!w.done()) w.setResult(code);
    // Pipes the child closed have ended already; make sure none outlives the process.
    for (const t of this.#pipes) if (!t.isClosing()) t.close();
  };
}

/** Records the child's exit and close from the moment it is spawned, before a `Process` exists. */
interface ExitWatch {
  returncode: number | null;
  closed: boolean;
  onExit: ((returncode: number) => void) | null;
  onClose: (() => void) | null;
}

function watchExit(child: ChildProcess): ExitWatch {
  const watch: ExitWatch = { returncode: null, closed: false, onExit: null, onClose: null };
  child.on("exit", (code: number | null, signal: NodeJS.Signals | null) => {
    // Python's convention: minus the signal number for a child killed by a signal.
    watch.returncode = code ?? -((signal !== null ? constants.signals[signal] : undefined) ?? 0);
    watch.onExit?.(watch.returncode);
  });
  child.on("close", () => {
    watch.closed = true;
    watch.onClose?.();
  });
  return watch;
}

function pipeTransport(
  loop: EventLoop,
  socket: Socket,
  protocol: StreamReaderProtocol,
): Transport {
  const transport = new Transport(loop, socket, protocol, { pipe: socket }, null);
  transport[kStart](null);
  return transport;
}

async function start(
  loop: EventLoop,
  file: string,
  args: string[],
  shell: boolean,
  opts: ReturnType<typeof checkOptions>,
): Promise<Process> {
  const stdio: StdioOptions = [opts.stdin, opts.stdout, opts.stderr];
  const spawnOptions: Parameters<typeof spawn>[2] = { stdio, shell, windowsHide: true };
  if (opts.cwd !== undefined) spawnOptions.cwd = opts.cwd;
  if (opts.env !== undefined) spawnOptions.env = opts.env;
  const child = spawn(file, args, spawnOptions);
  child.on("error", swallow);
  const watch = watchExit(child);
  const spawned = loop.createFuture<void>();
  const onSpawn = (): void => {
    if (!spawned.done()) spawned.setResult(undefined);
  };
  const onError = (err: Error): void => {
    if (!spawned.done()) spawned.setException(toOSError(err));
  };
  child.once("spawn", onSpawn);
  child.once("error", onError);
  try {
    await spawned;
  } catch (err) {
    for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
    throw err;
  } finally {
    child.off("spawn", onSpawn);
    child.off("error", onError);
  }
  const limit = opts.limit;
  const transports: Transport[] = [];
  let stdin: StreamWriter | null = null;
  let stdout: StreamReader | null = null;
  let stderr: StreamReader | null = null;
  if (child.stdin !== null) {
    const protocol = new StreamReaderProtocol(null, null, loop);
    const t = pipeTransport(loop, child.stdin as Socket, protocol);
    transports.push(t);
    stdin = new StreamWriter(t, protocol, null, loop);
  }
  for (const which of ["stdout", "stderr"] as const) {
    const stream = child[which];
    if (stream === null) continue;
    const reader = new StreamReader(limit === undefined ? { loop } : { limit, loop });
    transports.push(pipeTransport(loop, stream as Socket, new StreamReaderProtocol(reader, null, loop)));
    if (which === "stdout") stdout = reader;
    else stderr = reader;
  }
  return new Process(loop, child, { stdin, stdout, stderr, transports, watch });
}

function everyString(list: readonly unknown[]): list is readonly string[] {
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== "string") return false;
  return true;
}

/**
 * Starts `program` with `args` (no shell) and returns its `Process` once it is running. A program
 * that does not exist throws `FileNotFoundError`; one that may not be run, `PermissionError`.
 * Needs a running loop (any loop thread).
 *
 * @example
 * const proc = await createSubprocessExec("node", ["-e", "console.log(1 + 1)"], { stdout: "pipe" });
 * console.log(String(await proc.stdout!.read())); // "2\n"
 * await proc.wait();
 */
export async function createSubprocessExec(
  program: string,
  args: readonly string[] = [],
  options: SubprocessOptions = {},
): Promise<Process> {
  checkString("program", program);
  // By index, not every(): every() skips holes, and a sparse array would then be spread in full.
  const list: unknown = args;
  if (types.isProxy(list) || !Array.isArray(list) || !everyString(list)) {
    throw typeError("args", "an array of strings", args);
  }
  const opts = checkOptions(options, false);
  return start(getRunningLoop(), program, Array.from(list as readonly string[]), false, opts);
}

/**
 * Runs `cmd` through the shell (`/bin/sh -c`) and returns its `Process`. Quote anything that
 * comes from outside (or use `createSubprocessExec`).
 */
export async function createSubprocessShell(cmd: string, options: SubprocessOptions = {}): Promise<Process> {
  // asyncio's own message, byte for byte.
  if (typeof cmd !== "string") throw new TypeError("cmd must be a string");
  const opts = checkOptions(options, true);
  return start(getRunningLoop(), cmd, [], true, opts);
}
