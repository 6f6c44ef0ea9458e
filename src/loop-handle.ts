/**
 * `LoopHandle`: how other threads call into a loop.
 *
 * The path of one call, `handle.runCoroutineThreadsafe("work", 1)` in thread A into a loop in thread B:
 * 1. A's `Channel` (this file) checks the control block (closed? -> throw now), encodes the
 *    arguments (crossing.ts), queues `[RUN, id, "work", [1]]` in its outbox and registers a
 *    `ConcurrentFuture` in slot `id` of its table of calls waiting for an answer;
 * 2. at the end of A's current job the outbox goes out as one message on A's port, and
 *    `signalPosted` (mailbox.ts) counts it and wakes B's loop if it is parked;
 * 3. B's loop drains its ports at the start of an iteration (mailbox.ts) and hands each message to
 *    the `LoopEndpoint` (this file), which starts a task running the exposed `work(1)`;
 * 4. when the task is done the endpoint queues `[id, OK, value]` (or an error envelope, or
 *    CANCELLED) and sends the replies of that job back on the same port;
 * 5. A's channel receives them as one 'message' event and settles the futures.
 * If B's thread dies or its loop closes, the ports close, and every future still pending on a
 * closed port is rejected (`ThreadExitError` or "Event loop is closed"): nothing hangs.
 */
import { MessageChannel, type MessagePort, type Transferable } from "node:worker_threads";
import { inspect } from "node:util";
import type { Remote } from "comlink";
import { ConcurrentFuture, kSettle, type RemoteCanceller, type SettleKind } from "./concurrent-future.js";
import { contextEntries, contextFromEntries, ContextVar } from "./context.js";
import { decodeValue, encodeValue, registerShareable, type Shareable, type SharedData } from "./crossing.js";
import { LookupError, LoopClosedError, ThreadExitError } from "./errors.js";
import { fromEnvelope, isEnvelope, toEnvelope } from "./error-envelope.js";
import { type EventLoop } from "./event-loop.js";
import {
  CLOSED,
  DEAD,
  EXIT_CODE,
  STATE,
  isControlClosed,
  mailboxOf,
  signalPosted,
  type Mailbox,
} from "./mailbox.js";
import { Task, constructTask, kCompleted } from "./task.js";
import { kMarkRetrieved, kScheduleCall } from "./symbols.js";
import { checkFunction, checkString, typeError } from "./validate.js";
import { channels } from "./log.js";
import { exposeOnPort, wrapPort } from "./comlink-bridge.js";

// Operations, sender -> loop. A message is one flat array of operations, each an op code followed
// by its fields (OP_FIELDS says how many): one array to clone and revive per batch, not one per
// call. A sender names each target once (OP_DEFINE) and then refers to it by number.
const OP_CALL = 0; // target id, args, context entries | 0
const OP_RUN = 1; // call id, target id, args, context entries | 0
const OP_CANCEL = 2; // call id, message
const OP_STOP = 3;
const OP_ATTACH = 4; // port
const OP_DETACH = 5;
const OP_WRAP = 6; // port
const OP_DEFINE = 7; // target id, target name
const OP_FIELDS = [4, 5, 3, 1, 2, 1, 2, 3];

/** A batch goes out once it holds this many operations, so the receiver can start on it. */
const MAX_OPS_PER_MESSAGE = 512;

// Replies, loop -> sender: flat triples [call id, kind, payload, ...].
const R_OK = 0;
const R_ERROR = 1;
const R_CANCELLED = 2;

type ContextEntries = Array<[string, unknown]> | 0;
type Op =
  | [typeof OP_CALL, number, unknown[], ContextEntries]
  | [typeof OP_RUN, number, number, unknown[], ContextEntries]
  | [typeof OP_CANCEL, number, string]
  | [typeof OP_STOP]
  | [typeof OP_ATTACH, MessagePort]
  | [typeof OP_DETACH]
  | [typeof OP_WRAP, MessagePort]
  | [typeof OP_DEFINE, number, string];
type ReplyKind = typeof R_OK | typeof R_ERROR | typeof R_CANCELLED;

/**
 * Carries the values of chosen context variables with a cross-thread call; pass it as the last
 * argument of `callSoonThreadsafe` / `runCoroutineThreadsafe`. Made by `carryContext()`.
 */
export class ContextCarrier {
  readonly vars: ReadonlyArray<ContextVar<unknown>>;
  /** @internal */
  constructor(vars: ReadonlyArray<ContextVar<unknown>>) {
    this.vars = vars;
  }
}

/**
 * Context variables do not cross threads unless asked: `carryContext(a, b)` as the last argument
 * of a cross-thread call sends the current values of `a` and `b`, and the remote task runs with
 * them set in its thread's variables of the same names.
 *
 * @example
 * await thread.handle.runCoroutineThreadsafe("handle", request, carryContext(requestId));
 */
export function carryContext(...vars: ContextVar<unknown>[]): ContextCarrier {
  vars.forEach((v, i) => {
    if (!(v instanceof ContextVar)) throw typeError(`vars[${i}]`, "a ContextVar", v);
  });
  return new ContextCarrier(vars);
}

function splitCarrier(args: unknown[]): ContextEntries {
  const last = args.length > 0 ? args[args.length - 1] : undefined;
  if (!(last instanceof ContextCarrier)) return 0;
  args.pop();
  return contextEntries(last.vars);
}

function encodeArgs(args: unknown[], target: string, transfers: Transferable[]): unknown[] {
  return encodeValue(args, target, "the arguments", transfers) as unknown[];
}

// ---------------------------------------------------------------- the loop's side

/** What a loop exposes to other threads, and the state of calls it is running for them. */
/** The task of a `runCoroutineThreadsafe` call from another thread; it answers when done. */
class RemoteCallTask extends Task<unknown> {
  endpoint: LoopEndpoint | null = null;
  port: MessagePort | null = null;
  callId = 0;
  sender: SenderState | null = null;

  override [kCompleted](): void {
    this.endpoint?.taskCompleted(this);
  }
}

/** What the loop knows about one sender's channel. */
interface SenderState {
  /** Target names by the numbers this sender gave them (OP_DEFINE). */
  readonly targets: string[];
  /**
   * Tasks running for this sender's `runCoroutineThreadsafe` calls, by call id (for OP_CANCEL).
   * Ids are the sender's slot numbers, reused only after the answer, so the array is as long as
   * the most calls the sender had in flight at once.
   */
  readonly tasks: Array<Task<unknown> | undefined>;
}

export class LoopEndpoint {
  readonly loop: EventLoop;
  readonly mailbox: Mailbox;
  readonly exposed = new Map<string, (...args: never[]) => unknown>();
  exposedObject: object | null = null;
  readonly #senders = new Map<MessagePort, SenderState>();
  readonly #replies = new Map<MessagePort, { items: unknown[]; transfers: Transferable[] }>();
  #flushScheduled = false;
  readonly #cleanups: Array<() => void> = [];
  readonly localHandle: LoopHandle;

  constructor(loop: EventLoop) {
    this.loop = loop;
    this.mailbox = mailboxOf(loop);
    this.mailbox.setDispatcher(
      (message, port) => {
        this.#dispatch(message as unknown[], port);
      },
      () => {
        this.#onClose();
      },
    );
    this.localHandle = new LoopHandle(this.mailbox.control, this.mailbox.threadName, null, this);
  }

  #sender(port: MessagePort): SenderState {
    let sender = this.#senders.get(port);
    if (sender === undefined) this.#senders.set(port, (sender = { targets: [], tasks: [] }));
    return sender;
  }

  #dispatch(batch: unknown[], port: MessagePort): void {
    const sender = this.#sender(port);
    const n = batch.length;
    for (let i = 0; i < n; ) {
      const op = batch[i] as number;
      switch (op) {
        case OP_CALL:
          this.#call(sender.targets[batch[i + 1] as number] as string, batch[i + 2] as unknown[], batch[i + 3] as ContextEntries);
          break;
        case OP_RUN:
          this.#run(
            port,
            sender,
            batch[i + 1] as number,
            sender.targets[batch[i + 2] as number] as string,
            batch[i + 3] as unknown[],
            batch[i + 4] as ContextEntries,
          );
          break;
        case OP_CANCEL: {
          const msg = batch[i + 2] as string;
          sender.tasks[batch[i + 1] as number]?.cancel(msg === "" ? undefined : msg);
          break;
        }
        case OP_STOP:
          if (!this.loop.isClosed()) this.loop.stop();
          break;
        case OP_ATTACH:
          this.mailbox.addPort(batch[i + 1] as MessagePort);
          break;
        case OP_DETACH:
          this.mailbox.removePort(port);
          this.#senders.delete(port);
          port.close();
          return;
        case OP_WRAP:
          exposeOnPort(this, batch[i + 1] as MessagePort);
          break;
        case OP_DEFINE:
          sender.targets[batch[i + 1] as number] = batch[i + 2] as string;
          break;
        default:
          throw new TypeError(`multiloop: unknown mailbox operation ${String(op)}`);
      }
      i += OP_FIELDS[op] as number;
    }
  }

  #lookup(target: string): ((...args: never[]) => unknown) | undefined {
    if (channels.threadCall.hasSubscribers) {
      channels.threadCall.publish({ threadName: this.mailbox.threadName, target });
    }
    return this.exposed.get(target);
  }

  #unknownTarget(target: string): LookupError {
    const names = [...this.exposed.keys()].map((n) => `'${n}'`).join(", ") || "none";
    return new LookupError(
      `No function named '${target}' is exposed on the event loop of thread '${this.mailbox.threadName}' ` +
        `(exposed: ${names})`,
      { hint: "Expose it with loop.expose(name, fn), or export it from the module given to spawnLoopThread." },
    );
  }

  /** `callSoonThreadsafe`: a plain callback, like asyncio's. */
  #call(target: string, encodedArgs: unknown[], ctx: ContextEntries): void {
    if (this.loop.isClosed()) return;
    const fn = this.#lookup(target);
    if (fn === undefined) {
      this.loop.callExceptionHandler({ message: "callSoonThreadsafe() into this loop failed", exception: this.#unknownTarget(target) });
      return;
    }
    const args = decodeValue(encodedArgs) as unknown[];
    this.loop[kScheduleCall](fn as (...a: unknown[]) => unknown, args, ctx === 0 ? null : contextFromEntries(ctx));
  }

  #run(port: MessagePort, sender: SenderState, id: number, target: string, encodedArgs: unknown[], ctx: ContextEntries): void {
    if (this.loop.isClosed()) {
      this.#reply(port, id, R_ERROR, toEnvelope(new LoopClosedError(), this.mailbox.threadName));
      return;
    }
    const fn = this.#lookup(target);
    if (fn === undefined) {
      const envelope = toEnvelope(this.#unknownTarget(target), this.mailbox.threadName);
      // The contract: an unknown target arrives as RemoteError whose remoteName is "LookupError".
      envelope.forceRemote = true;
      this.#reply(port, id, R_ERROR, envelope);
      return;
    }
    const args = decodeValue(encodedArgs) as unknown[];
    let task: RemoteCallTask;
    try {
      const options = ctx === 0 ? { name: target } : { name: target, context: contextFromEntries(ctx) };
      task = constructTask(RemoteCallTask, this.loop, fn as (...a: unknown[]) => unknown, options, args);
    } catch (err) {
      this.#reply(port, id, R_ERROR, toEnvelope(err, this.mailbox.threadName));
      return;
    }
    task.endpoint = this;
    task.port = port;
    task.callId = id;
    task.sender = sender;
    sender.tasks[id] = task;
  }

  /** A remote call's task finished: answer at once (no done callback, no extra loop iteration). */
  taskCompleted(task: RemoteCallTask): void {
    const port = task.port as MessagePort;
    const id = task.callId;
    const sender = task.sender;
    if (sender !== null && sender.tasks[id] === task) sender.tasks[id] = undefined;
    if (task.cancelled()) {
      let message = "";
      try {
        task.result();
      } catch (err) {
        message = (err as Error).message;
      }
      this.#reply(port, id, R_CANCELLED, message);
      return;
    }
    const failure = task[kMarkRetrieved]();
    if (failure !== undefined) this.#reply(port, id, R_ERROR, toEnvelope(failure.error, this.mailbox.threadName));
    else this.#reply(port, id, R_OK, task.result(), task.getName());
  }

  /** Runs an exposed target for the loop's own thread (the local handle). */
  runLocal<T>(target: string, args: unknown[]): ConcurrentFuture<T> {
    const fn = this.#lookup(target);
    if (fn === undefined) {
      const cf = new ConcurrentFuture<T>(target, this.mailbox.threadName, null);
      const envelope = toEnvelope(this.#unknownTarget(target), this.mailbox.threadName);
      envelope.forceRemote = true;
      cf[kSettle]("failed", fromEnvelope(envelope));
      return cf;
    }
    const task = this.loop.createTask(() => (fn as (...a: unknown[]) => unknown)(...args), { name: target }) as Task<T>;
    const cf = new ConcurrentFuture<T>(target, this.mailbox.threadName, {
      cancelRemote: (_id, msg) => task.cancel(msg === "" ? undefined : msg),
    });
    task.addDoneCallback((t) => {
      if (t.cancelled()) {
        cf[kSettle]("cancelled", "");
        return;
      }
      const failure = t[kMarkRetrieved]();
      if (failure !== undefined) cf[kSettle]("failed", failure.error);
      else cf[kSettle]("finished", t.result());
    });
    return cf;
  }

  callLocal(target: string, args: unknown[]): void {
    if (this.loop.isClosed()) return;
    const fn = this.#lookup(target);
    if (fn === undefined) {
      this.loop.callExceptionHandler({ message: "callSoonThreadsafe() into this loop failed", exception: this.#unknownTarget(target) });
      return;
    }
    this.loop[kScheduleCall](fn as (...a: unknown[]) => unknown, args, null);
  }

  #reply(port: MessagePort, id: number, kind: ReplyKind, payload: unknown, target = ""): void {
    let outbox = this.#replies.get(port);
    if (outbox === undefined) this.#replies.set(port, (outbox = { items: [], transfers: [] }));
    let value = payload;
    if (kind === R_OK) {
      try {
        value = encodeValue(payload, target, "the result", outbox.transfers);
      } catch (err) {
        kind = R_ERROR;
        value = toEnvelope(err, this.mailbox.threadName);
      }
    }
    outbox.items.push(id, kind, value);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Once per loop iteration, not per microtask: calls complete one after another within an
      // iteration (each task settles in its own microtask), and their answers should travel
      // together. A closed or stopped loop answers at once.
      if (this.loop.isRunning()) this.loop.callSoon(this.#flushReplies);
      else queueMicrotask(this.#flushReplies);
    }
  }

  readonly #flushReplies = (): void => {
    this.#flushScheduled = false;
    for (const [port, { items, transfers }] of this.#replies) {
      try {
        port.postMessage(items, transfers);
      } catch {
        // One result could not be cloned: send them one by one, the bad ones as TypeErrors.
        for (let i = 0; i < items.length; i += 3) {
          const reply = items.slice(i, i + 3);
          try {
            port.postMessage(reply);
          } catch (err) {
            const error = new TypeError(`The result cannot be sent back to the calling thread: ${(err as Error).message}`);
            port.postMessage([reply[0], R_ERROR, toEnvelope(error, this.mailbox.threadName)]);
          }
        }
      }
    }
    this.#replies.clear();
  };

  /** Runs `fn` when the loop closes (closing ports it serves besides the mailbox's own). */
  addCleanup(fn: () => void): void {
    this.#cleanups.push(fn);
  }

  #onClose(): void {
    // The loop closed: tasks it never finished will not answer; their callers learn it from the
    // ports closing. Replies already queued still go out first.
    this.#flushReplies();
    this.#senders.clear();
    for (const fn of this.#cleanups.splice(0)) fn();
  }
}

const endpoints = new WeakMap<EventLoop, LoopEndpoint>();

/** The loop's thread endpoint, created on first use. */
export function endpointOf(loop: EventLoop): LoopEndpoint {
  let endpoint = endpoints.get(loop);
  if (endpoint === undefined) endpoints.set(loop, (endpoint = new LoopEndpoint(loop)));
  return endpoint;
}

// ---------------------------------------------------------------- the caller's side

function decodeError(envelope: unknown): unknown {
  return isEnvelope(envelope) ? fromEnvelope(envelope) : envelope;
}

function cloneFailure(target: string, err: unknown): TypeError {
  return new TypeError(
    `Cannot send the arguments of '${target}' to another thread: ${(err as Error).message}. ` +
      "Arguments and results cross threads by structured clone; pass plain data instead.",
    { cause: err },
  );
}

/** What the owner of a loop thread knows when it dies (see loop-thread.ts). */
export interface DeathInfo {
  exitCode: number | null;
  cause?: unknown;
}

/** A handle copy's own channel into the loop's mailbox. */
class Channel implements RemoteCanceller {
  readonly port: MessagePort;
  readonly control: Int32Array;
  readonly threadName: string;
  /** Operations of the current job not sent yet, flat (see OP_FIELDS); null: none queued. */
  #outbox: unknown[] | null = null;
  #outboxOps = 0;
  #transfers: Transferable[] = [];
  readonly #targets = new Map<string, number>();
  /**
   * Calls waiting for an answer, by call id: the id is a slot number, reused once the loop has
   * answered (an array lookup instead of a Map insert and delete per call, which cost more than
   * the rest of the call's bookkeeping together). A cancelled call leaves `null` until the
   * loop's answer to it arrives, so its id is not reused while an answer may still come.
   */
  readonly #slots: Array<ConcurrentFuture<unknown> | null | undefined> = [];
  readonly #freeSlots: number[] = [];
  /** Calls waiting for an answer (not cancelled): only they keep this thread alive. */
  #waiting = 0;
  #portClosed = false;
  /** Set by a LoopThread for its own handle: waits for the exit code before rejecting. */
  deathInfo: Promise<DeathInfo> | null = null;

  constructor(port: MessagePort, control: Int32Array, threadName: string) {
    this.port = port;
    this.control = control;
    this.threadName = threadName;
    port.on("message", this.#onReplies);
    port.on("close", this.#onClose);
    // Only calls waiting for an answer keep this thread alive (see #track).
    port.unref();
  }

  get closed(): boolean {
    return this.#portClosed || isControlClosed(this.control);
  }

  checkOpen(): void {
    if (!this.closed) return;
    const state = Atomics.load(this.control, STATE);
    if (state === CLOSED) throw new LoopClosedError();
    throw this.#deathError(null);
  }

  /** The number this channel gave `target`, defining it on first use. */
  #targetId(target: string): number {
    let id = this.#targets.get(target);
    if (id === undefined) {
      id = this.#targets.size;
      this.#targets.set(target, id);
      this.post([OP_DEFINE, id, target]);
    }
    return id;
  }

  /**
   * Sends `op`. The first op of a job goes out at once (no added latency for a lone call); the
   * ones that follow in the same job are batched, flat, into messages of at most
   * MAX_OPS_PER_MESSAGE operations, the last one sent when the job ends. A burst costs a few
   * messages and a few wake-ups whatever its size, and the loop can start on it early.
   */
  post(op: Op, transfers?: readonly Transferable[]): void {
    const outbox = this.#outbox;
    if (outbox !== null) {
      for (let i = 0; i < op.length; i++) outbox.push(op[i]);
      this.#queued(transfers);
      return;
    }
    this.#sendFirst(op, transfers);
  }

  /** `post` for the per-call operations, without building an array per call when batching. */
  #postCall(code: typeof OP_CALL | typeof OP_RUN, a: unknown, b: unknown, c: unknown, d: unknown, transfers: Transferable[]): void {
    const outbox = this.#outbox;
    if (outbox !== null) {
      if (code === OP_RUN) outbox.push(code, a, b, c, d);
      else outbox.push(code, a, b, c);
      this.#queued(transfers);
      return;
    }
    this.#sendFirst((code === OP_RUN ? [code, a, b, c, d] : [code, a, b, c]) as Op, transfers);
  }

  #queued(transfers: readonly Transferable[] | undefined): void {
    if (transfers !== undefined && transfers.length > 0) this.#transfers.push(...transfers);
    if (++this.#outboxOps >= MAX_OPS_PER_MESSAGE) this.#sendOutbox();
  }

  #sendFirst(op: Op, transfers: readonly Transferable[] | undefined): void {
    this.#outbox = [];
    queueMicrotask(this.flush);
    try {
      this.port.postMessage(op, transfers ?? []);
    } catch (err) {
      // Sent at once, so it fails at the call site, as it should.
      this.#outbox = null;
      throw cloneFailure(this.#targetNameOf(op), err);
    }
    signalPosted(this.control, 1);
  }

  /** Ends the current job's batch: sends what is queued. */
  readonly flush = (): void => {
    if (this.#outbox === null) return;
    this.#sendOutbox();
    this.#outbox = null;
  };

  #sendOutbox(): void {
    const ops = this.#outbox as unknown[];
    if (this.#outboxOps === 0) return;
    const transfers = this.#transfers;
    this.#outbox = [];
    this.#outboxOps = 0;
    this.#transfers = [];
    try {
      this.port.postMessage(ops, transfers);
    } catch (err) {
      // The per-call checks in crossing.ts should make this rare (a class instance holding
      // something uncloneable): retry one op at a time so only the bad calls fail.
      this.#postOneByOne(ops, err);
      return;
    }
    signalPosted(this.control, 1);
  }

  #targetNameOf(op: readonly unknown[]): string {
    const id = op[0] === OP_CALL ? op[1] : op[0] === OP_RUN ? op[2] : undefined;
    for (const [name, n] of this.#targets) if (n === id) return name;
    return "(internal)";
  }

  #postOneByOne(ops: unknown[], firstError: unknown): void {
    let posted = 0;
    for (let i = 0; i < ops.length; ) {
      const code = ops[i] as number;
      const op = ops.slice(i, i + (OP_FIELDS[code] as number));
      i += op.length;
      try {
        const transfers = code === OP_ATTACH || code === OP_WRAP ? [op[1] as MessagePort] : [];
        this.port.postMessage(op, transfers);
        posted++;
      } catch (err) {
        const error = cloneFailure(this.#targetNameOf(op), err ?? firstError);
        if (code === OP_RUN) this.#settle(op[1] as number, "failed", error);
        else process.emitWarning(error.message, { type: "MultiloopWarning", code: "MULTILOOP_UNSENDABLE_CALL" });
      }
    }
    if (posted > 0) signalPosted(this.control, posted);
  }

  run<T>(target: string, args: unknown[]): ConcurrentFuture<T> {
    this.checkOpen();
    const ctx = splitCarrier(args);
    const transfers: Transferable[] = [];
    const encoded = encodeArgs(args, target, transfers);
    const id = this.#freeSlots.pop() ?? this.#slots.length;
    const cf = new ConcurrentFuture<T>(target, this.threadName, this, id);
    this.#slots[id] = cf as ConcurrentFuture<unknown>;
    if (++this.#waiting === 1) this.port.ref();
    const targetId = this.#targetId(target);
    try {
      this.#postCall(OP_RUN, id, targetId, encoded, ctx, transfers);
    } catch (err) {
      // Not sent: no answer will come, the id is free at once.
      this.#release(id);
      this.#stopWaiting();
      throw err;
    }
    return cf;
  }

  call(target: string, args: unknown[]): void {
    this.checkOpen();
    const ctx = splitCarrier(args);
    const transfers: Transferable[] = [];
    const encoded = encodeArgs(args, target, transfers);
    this.#postCall(OP_CALL, this.#targetId(target), encoded, ctx, undefined, transfers);
  }

  #stopWaiting(): void {
    if (--this.#waiting === 0) this.port.unref();
  }

  #release(id: number): void {
    this.#slots[id] = undefined;
    this.#freeSlots.push(id);
  }

  /** `cf.cancel()` of call `id`: forget it, and ask the loop to cancel its task. */
  cancelRemote(id: number, msg: string, future: ConcurrentFuture<unknown>): void {
    if (this.#slots[id] !== future) return;
    this.#slots[id] = null;
    this.#stopWaiting();
    if (!this.closed) this.post([OP_CANCEL, id, msg]);
  }

  /** The loop answered call `id` (or it could not be sent): settle it, free the id. */
  #settle(id: number, kind: SettleKind, payload: unknown): void {
    const cf = this.#slots[id];
    if (cf === undefined) return;
    this.#release(id);
    if (cf === null) return; // cancelled here already
    this.#stopWaiting();
    cf[kSettle](kind, payload);
  }

  readonly #onReplies = (message: unknown): void => {
    const items = message as unknown[];
    for (let i = 0; i < items.length; i += 3) {
      const id = items[i] as number;
      const kind = items[i + 1] as ReplyKind;
      const payload = items[i + 2];
      if (kind === R_OK) this.#settle(id, "finished", decodeValue(payload));
      else if (kind === R_ERROR) this.#settle(id, "failed", decodeError(payload));
      else this.#settle(id, "cancelled", payload);
    }
  };

  #deathError(info: DeathInfo | null): ThreadExitError {
    const exitCode = info?.exitCode ?? (Atomics.load(this.control, STATE) === DEAD ? Atomics.load(this.control, EXIT_CODE) : null);
    return new ThreadExitError(this.threadName, exitCode, info?.cause === undefined ? {} : { cause: info.cause });
  }

  readonly #onClose = (): void => {
    this.#portClosed = true;
    if (this.#waiting === 0) return;
    if (Atomics.load(this.control, STATE) === CLOSED) {
      this.#rejectAll(() => new LoopClosedError());
      return;
    }
    // The thread died. Its owner knows the exit code; wait for it when we can.
    const info = this.deathInfo;
    if (info === null) {
      Atomics.store(this.control, STATE, DEAD);
      this.#rejectAll(() => this.#deathError(null));
    } else {
      void info.then((i) => {
        this.#rejectAll(() => this.#deathError(i));
      });
    }
  };

  #rejectAll(makeError: () => unknown): void {
    const pending = this.#slots.filter((cf) => cf instanceof ConcurrentFuture);
    this.#slots.length = 0;
    this.#freeSlots.length = 0;
    this.#waiting = 0;
    this.port.unref();
    for (const cf of pending) cf[kSettle]("failed", makeError());
  }

  /** Tells the loop this copy is gone, and closes the port. */
  detach(): void {
    if (this.#portClosed) return;
    try {
      this.port.postMessage([OP_DETACH]);
      signalPosted(this.control, 1);
    } catch {
      // The port may already be closed by the other side.
    }
    this.port.close();
  }
}

/** Copies that nobody references any more tell the loop to drop their port. */
const detachOnCollect = new FinalizationRegistry<Channel>((channel) => {
  channel.detach();
});

export interface LoopHandleData {
  kind: "multiloop.LoopHandle";
  control: Int32Array;
  threadName: string;
  port: MessagePort;
}

function isHandleData(data: unknown): data is LoopHandleData {
  return (
    typeof data === "object" &&
    data !== null &&
    (data as Partial<LoopHandleData>).kind === "multiloop.LoopHandle" &&
    (data as Partial<LoopHandleData>).control instanceof Int32Array
  );
}

/**
 * A reference to a loop that any thread can use: call functions the loop exposed, stop it, check
 * whether it is closed. Pass it to other threads directly as an argument or result of
 * cross-thread calls, or with `share()` / `LoopHandle.from()` through `workerData` or your own
 * `postMessage`. Every copy gets its own channel into the loop's mailbox.
 *
 * @example
 * const handle = getRunningLoop().handle;
 * new Worker(file, { workerData: handle.share().data, transferList: handle.share().transferList });
 * // in the worker:
 * const loop = LoopHandle.from(workerData);
 * loop.callSoonThreadsafe("log", "hello from a worker");
 *
 * Thread-safety: a handle object belongs to the thread it was revived in; send copies, not the object.
 */
export class LoopHandle implements Shareable {
  readonly #control: Int32Array;
  readonly #threadName: string;
  readonly #channel: Channel | null;
  readonly #endpoint: LoopEndpoint | null;
  /** @internal the comlink root proxy made by `wrap()`, kept alive while this handle lives (comlink#692). */
  root: object | null = null;

  /** @internal use `loop.handle` or `LoopHandle.from(data)`. */
  constructor(control: Int32Array, threadName: string, channel: Channel | null, endpoint: LoopEndpoint | null) {
    this.#control = control;
    this.#threadName = threadName;
    this.#channel = channel;
    this.#endpoint = endpoint;
    if (channel !== null) detachOnCollect.register(this, channel, this);
  }

  /** Revives a handle from `share().data` (an already revived handle is returned as is). */
  static from(data: unknown): LoopHandle {
    if (data instanceof LoopHandle) return data;
    if (!isHandleData(data)) throw typeError("data", "the data of LoopHandle.share()", data);
    return new LoopHandle(data.control, data.threadName, new Channel(data.port, data.control, data.threadName), null);
  }

  /** The name of the thread the loop lives in. */
  get threadName(): string {
    return this.#threadName;
  }

  /** Whether the loop is closed or its thread is gone (read from shared memory; never blocks). */
  isClosed(): boolean {
    return this.#channel?.closed ?? isControlClosed(this.#control);
  }

  /**
   * Runs the function the loop exposed as `target` with `args` as a plain callback on that loop.
   * Throws `RuntimeError("Event loop is closed")` at once if the loop is closed. A trailing
   * `carryContext(...)` sends context variable values along.
   */
  callSoonThreadsafe(target: string, ...args: unknown[]): void {
    checkString("target", target);
    const channel = this.#channel;
    if (channel !== null) {
      channel.call(target, args);
      return;
    }
    const endpoint = this.#endpoint as LoopEndpoint;
    if (endpoint.loop.isClosed()) throw new LoopClosedError();
    splitCarrier(args);
    endpoint.callLocal(target, args);
  }

  /**
   * Runs the function the loop exposed as `target` as a task on that loop; the returned future
   * settles with its result or error. Throws `RuntimeError("Event loop is closed")` at once if the
   * loop is closed. Cancellation: `future.cancel()` (or cancelling the task that awaits it)
   * cancels the remote task.
   */
  runCoroutineThreadsafe<T = unknown>(target: string, ...args: unknown[]): ConcurrentFuture<T> {
    checkString("target", target);
    const channel = this.#channel;
    if (channel !== null) return channel.run<T>(target, args);
    const endpoint = this.#endpoint as LoopEndpoint;
    if (endpoint.loop.isClosed()) throw new LoopClosedError();
    splitCarrier(args);
    return endpoint.runLocal<T>(target, args);
  }

  /** Stops the loop after its current iteration (like `callSoonThreadsafe(loop.stop)`). */
  stop(): void {
    const channel = this.#channel;
    if (channel === null) {
      (this.#endpoint as LoopEndpoint).loop.stop();
      return;
    }
    if (!channel.closed) channel.post([OP_STOP]);
  }

  /** Data plus transfer list for `workerData` or `postMessage`; revive with `LoopHandle.from`. */
  share(): SharedData {
    const { port1, port2 } = new MessageChannel();
    const channel = this.#channel;
    if (channel === null) {
      (this.#endpoint as LoopEndpoint).mailbox.addPort(port1);
    } else {
      channel.checkOpen();
      channel.post([OP_ATTACH, port1], [port1]);
      // Flush now: the new copy may be used before this thread's current job ends.
      channel.flush();
    }
    const data: LoopHandleData = { kind: "multiloop.LoopHandle", control: this.#control, threadName: this.#threadName, port: port2 };
    return { data, transferList: [port2] };
  }

  /**
   * A typed comlink proxy of the object the loop exposed with `exposeObject`. Its calls run as
   * tasks on that loop, errors cross with multiloop's envelope, and pending calls reject with
   * `ThreadExitError` if the thread dies.
   */
  wrap<T>(): Remote<T> {
    const { port1, port2 } = new MessageChannel();
    const channel = this.#channel;
    if (channel === null) {
      exposeOnPort(this.#endpoint as LoopEndpoint, port1);
    } else {
      channel.checkOpen();
      channel.post([OP_WRAP, port1], [port1]);
      channel.flush();
    }
    return wrapPort<T>(port2, this.#threadName, this.#control, channel?.deathInfo ?? null, this);
  }

  /** @internal */
  get channel(): Channel | null {
    return this.#channel;
  }

  toString(): string {
    return `<LoopHandle thread=${JSON.stringify(this.#threadName)}${this.isClosed() ? " closed" : ""}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

registerShareable("LoopHandle", LoopHandle, (data) => LoopHandle.from(data));

/**
 * Runs `target` on the loop behind `handle` (the top-level form of
 * `handle.runCoroutineThreadsafe(target, ...args)`).
 */
export function runCoroutineThreadsafe<T = unknown>(handle: LoopHandle, target: string, ...args: unknown[]): ConcurrentFuture<T> {
  if (!(handle instanceof LoopHandle)) throw typeError("handle", "a LoopHandle", handle);
  return handle.runCoroutineThreadsafe<T>(target, ...args);
}

// ---------------------------------------------------------------- EventLoop methods

declare module "./event-loop.js" {
  interface EventLoop {
    /** A reference to this loop that other threads can use (see `LoopHandle`). */
    readonly handle: LoopHandle;
    /** Names `fn` so other threads can call it with `handle.callSoonThreadsafe/runCoroutineThreadsafe`. */
    expose(name: string, fn: (...args: never[]) => unknown): void;
    /** The object remote threads reach with `handle.wrap<T>()` (comlink). */
    exposeObject(obj: object): void;
  }
}

/**
 * Adds the thread methods to `EventLoop`. The loop core must not import the thread layer (so it
 * can be read without knowing threads exist); index.ts calls this once instead.
 */
export function installThreadMethods(proto: EventLoop): void {
  Object.defineProperty(proto, "handle", {
    configurable: true,
    get(this: EventLoop): LoopHandle {
      return endpointOf(this).localHandle;
    },
  });
  Object.defineProperty(proto, "expose", {
    configurable: true,
    writable: true,
    value(this: EventLoop, name: string, fn: (...args: never[]) => unknown): void {
      checkString("name", name);
      checkFunction("fn", fn);
      endpointOf(this).exposed.set(name, fn);
    },
  });
  Object.defineProperty(proto, "exposeObject", {
    configurable: true,
    writable: true,
    value(this: EventLoop, obj: object): void {
      if (typeof obj !== "object" || obj === null) throw typeError("obj", "an object", obj);
      endpointOf(this).exposedObject = obj;
    },
  });
}

export type { Channel };
