/**
 * `Channel`: a thread's way into a loop in another thread (the caller's side), shared by every copy
 * of that loop's handle revived in the thread (see `channelFor`).
 *
 * The path of one call, `handle.runCoroutineThreadsafe("work", 1)` in thread A into a loop in thread B:
 * 1. A's `Channel` (this file) checks the control block (closed? -> throw now), encodes the
 *    arguments (crossing.ts), queues `[RUN, id, "work", [1]]` in its outbox and registers a
 *    `ConcurrentFuture` in slot `id` of its table of calls waiting for an answer;
 * 2. at the end of A's current job the outbox goes out as one message on A's port, and
 *    `signalPosted` (core/mailbox.ts) counts it and wakes B's loop if it is parked;
 * 3. B's loop drains its ports at the start of an iteration (core/mailbox.ts) and hands each message to
 *    the `LoopEndpoint` (endpoint.ts), which starts a task running the exposed `work(1)`;
 * 4. when the task is done the endpoint queues `[id, OK, value]` (or an error envelope, or
 *    CANCELLED) and sends the replies of that job back on the same port;
 * 5. A's channel receives them as one 'message' event and settles the futures.
 * If B's thread dies or its loop closes, the ports close, and every future still pending on a
 * closed port is rejected (`ThreadExitError` or "Event loop is closed"): nothing hangs.
 */
import { receiveMessageOnPort, threadId, type MessagePort, type Transferable } from "node:worker_threads";
import { addSpinSource, removeSpinSource } from "../core/mailbox-spin.js";
import { ConcurrentFuture, kSettle, kTarget, type RemoteCanceller, type SettleKind } from "./concurrent-future.js";
import { encodeSpecials, scanValue } from "./crossing.js";
import { decodeSpecials } from "./crossing-decode.js";
import type { SpecialTable } from "./crossing-table.js";
import { LoopClosedError } from "../core/errors.js";
import { fromEnvelope, isEnvelope } from "./error-envelope.js";
import { CLOSED, STATE, isControlClosed, loopId, signalPosted, unsignalPosted } from "../core/mailbox.js";
import { splitCarrier } from "./context-carrier.js";
import { deathError, learnDeath, type DeathInfo } from "./thread-death.js";
import { streamArguments } from "./client-stream.js";
import {
  MAX_OPS_PER_MESSAGE,
  OP_ATTACH,
  OP_CALL,
  OP_CANCEL,
  OP_DEFINE,
  OP_DETACH,
  OP_FIELDS,
  OP_FROM,
  OP_RUN,
  OP_STREAM,
  OP_WRAP,
  REPLY_FIELDS,
  R_CANCELLED,
  R_ERROR,
  R_OK,
  type ContextEntries,
  type Op,
} from "./wire.js";

export type { DeathInfo } from "./thread-death.js";

/** Names of the items of the tuple `[args, context entries]` a call's special table refers to. */
const CALL_PARTS = ["the arguments", "the context variables"] as const;

/** A call's payload once checked: its arguments and context entries, and their special table. */
interface CallPayload {
  args: unknown[];
  ctx: ContextEntries;
  table: SpecialTable;
}

/**
 * Checks a call's arguments and carried context values (a TypeError at the call site, naming the
 * position, for what cannot cross) and, only when they hold shareables, copies them with their
 * table of special positions.
 */
function encodeCall(args: unknown[], ctx: ContextEntries, target: string, transfers: Transferable[]): CallPayload | null {
  let special = scanValue(args, target, "the arguments");
  if (ctx !== 0) {
    for (const [name, value] of ctx) {
      if (scanValue(value, target, `the value of context variable '${name}'`)) special = true;
    }
  }
  if (!special) return null;
  const encoded = encodeSpecials([args, ctx], transfers, target, CALL_PARTS);
  const [encodedArgs, encodedCtx] = encoded.value as [unknown[], ContextEntries];
  return { args: encodedArgs, ctx: encodedCtx, table: encoded.table };
}

function decodeError(envelope: unknown): unknown {
  return isEnvelope(envelope) ? fromEnvelope(envelope) : envelope;
}

function cloneFailure(target: string, err: unknown): TypeError {
  return new TypeError(
    `Cannot send the arguments of '${target}' to another thread: ${errorMessage(err)}. ` +
      "Arguments and results cross threads by structured clone; pass plain data instead.",
    { cause: err },
  );
}

function errorMessage(err: unknown): string {
  return err instanceof Error && typeof err.message === "string" ? err.message : String(err);
}

/** A thread's channel into one loop's mailbox, shared by the handle copies revived there. */
export class Channel implements RemoteCanceller {
  readonly port: MessagePort;
  readonly control: Int32Array;
  readonly threadName: string;
  /** Operations of the current job not sent yet, flat (see OP_FIELDS); null: none queued. */
  #outbox: unknown[] | null = null;
  #outboxOps = 0;
  #transfers: Transferable[] = [];
  readonly #targets = new Map<string, number>();
  /**
   * Target definitions made while no batch is open: they go out in the same message as the op
   * that needed them, so a job's first call still leaves at once (and its effects are ordered
   * before whatever the caller does next, as with asyncio's `call_soon_threadsafe`).
   */
  #definitions: unknown[] | null = [OP_FROM, threadId];
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
  /** Handle copies in this thread using this channel (see `channelFor`). */
  #copies = 0;

  /**
   * Counts reply messages the loop posted on `port` and this side has not received yet (the loop
   * adds before it posts): a spinning loop in this thread reads it, and polls the port only when it
   * is positive. Null for a port that came without one.
   */
  readonly replies: Int32Array | null;

  constructor(port: MessagePort, control: Int32Array, threadName: string, replies: Int32Array | null = null) {
    this.port = port;
    this.control = control;
    this.threadName = threadName;
    this.replies = replies;
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
    throw deathError(this.threadName, this.control, null);
  }

  /** The number this channel gave `target`, defining it on first use. */
  #targetId(target: string): number {
    let id = this.#targets.get(target);
    if (id === undefined) {
      id = this.#targets.size;
      this.#targets.set(target, id);
      if (this.#outbox === null) (this.#definitions ??= []).push(OP_DEFINE, id, target);
      else this.post([OP_DEFINE, id, target]);
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
  #postCall(
    code: typeof OP_CALL | typeof OP_RUN,
    a: unknown,
    b: unknown,
    c: unknown,
    d: unknown,
    e: unknown,
    transfers: Transferable[],
  ): void {
    const outbox = this.#outbox;
    if (outbox !== null) {
      if (code === OP_RUN) outbox.push(code, a, b, c, d, e);
      else outbox.push(code, a, b, c, d);
      this.#queued(transfers);
      return;
    }
    this.#sendFirst((code === OP_RUN ? [code, a, b, c, d, e] : [code, a, b, c, d]) as Op, transfers);
  }

  #queued(transfers: readonly Transferable[] | undefined): void {
    if (transfers !== undefined && transfers.length > 0) this.#transfers.push(...transfers);
    if (++this.#outboxOps >= MAX_OPS_PER_MESSAGE) this.#sendOutbox();
  }

  #sendFirst(op: Op, transfers: readonly Transferable[] | undefined): void {
    const definitions = this.#definitions;
    this.#outbox = [];
    queueMicrotask(this.flush);
    // Counted before it is posted (see core/mailbox.ts), taken back if it cannot go.
    signalPosted(this.control, 1);
    try {
      this.port.postMessage(definitions === null ? op : [...definitions, ...op], transfers ?? []);
    } catch (err) {
      unsignalPosted(this.control, 1);
      // Sent at once, so it fails at the call site, as it should. The definitions wait for the next op.
      this.#outbox = null;
      throw cloneFailure(this.#targetNameOf(op), err);
    }
    this.#definitions = null;
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
    signalPosted(this.control, 1);
    try {
      this.port.postMessage(ops, transfers);
    } catch (err) {
      unsignalPosted(this.control, 1);
      // The per-call checks in crossing.ts should make this rare (a class instance holding
      // something uncloneable): retry one op at a time so only the bad calls fail.
      this.#postOneByOne(ops, err);
    }
  }

  #targetNameOf(op: readonly unknown[]): string {
    const id = op[0] === OP_CALL ? op[1] : op[0] === OP_RUN ? op[2] : undefined;
    for (const [name, n] of this.#targets) if (n === id) return name;
    return "(internal)";
  }

  #postOneByOne(ops: unknown[], firstError: unknown): void {
    for (let i = 0; i < ops.length; ) {
      const code = ops[i] as number;
      const op = ops.slice(i, i + (OP_FIELDS[code] as number));
      i += op.length;
      try {
        const transfers = code === OP_ATTACH || code === OP_WRAP ? [op[1] as MessagePort] : code === OP_STREAM ? [op[5] as MessagePort] : [];
        signalPosted(this.control, 1);
        try {
          this.port.postMessage(op, transfers);
        } catch (err) {
          unsignalPosted(this.control, 1);
          throw err;
        }
      } catch (err) {
        const error = cloneFailure(this.#targetNameOf(op), err ?? firstError);
        if (code === OP_RUN) this.#settle(op[1] as number, "failed", error);
        else process.emitWarning(error.message, { type: "MultiloopWarning", code: "MULTILOOP_UNSENDABLE_CALL" });
      }
    }
  }

  run<T>(target: string, args: unknown[]): ConcurrentFuture<T> {
    this.checkOpen();
    const ctx = splitCarrier(args);
    streamArguments(args, target);
    const transfers: Transferable[] = [];
    const payload = encodeCall(args, ctx, target, transfers);
    const id = this.#freeSlots.pop() ?? this.#slots.length;
    const cf = new ConcurrentFuture<T>(target, this.threadName, this, id);
    this.#slots[id] = cf as ConcurrentFuture<unknown>;
    if (++this.#waiting === 1) {
      this.port.ref();
      addSpinSource(this.#spinPoll);
    }
    const targetId = this.#targetId(target);
    try {
      if (payload === null) this.#postCall(OP_RUN, id, targetId, args, ctx, 0, transfers);
      else this.#postCall(OP_RUN, id, targetId, payload.args, payload.ctx, payload.table, transfers);
    } catch (err) {
      // Not sent: no answer will come, the id is free at once.
      this.#release(id);
      this.#stopWaiting();
      throw err;
    }
    return cf;
  }

  /** Asks the loop to stream `target(...args)` on `port`, within the credit of `block` (stream-wire.ts). */
  stream(target: string, args: unknown[], port: MessagePort, block: Int32Array): void {
    this.checkOpen();
    const ctx = splitCarrier(args);
    streamArguments(args, target);
    const transfers: Transferable[] = [port];
    const payload = encodeCall(args, ctx, target, transfers);
    const targetId = this.#targetId(target);
    if (payload === null) this.post([OP_STREAM, targetId, args, ctx, 0, port, block], transfers);
    else this.post([OP_STREAM, targetId, payload.args, payload.ctx, payload.table, port, block], transfers);
  }

  call(target: string, args: unknown[]): void {
    this.checkOpen();
    const ctx = splitCarrier(args);
    streamArguments(args, target);
    const transfers: Transferable[] = [];
    const payload = encodeCall(args, ctx, target, transfers);
    if (payload === null) this.#postCall(OP_CALL, this.#targetId(target), args, ctx, 0, undefined, transfers);
    else this.#postCall(OP_CALL, this.#targetId(target), payload.args, payload.ctx, payload.table, undefined, transfers);
  }

  #stopWaiting(): void {
    if (--this.#waiting !== 0) return;
    this.port.unref();
    removeSpinSource(this.#spinPoll);
    // The last copy went away while these calls were out: the channel stayed for their answers.
    if (this.#copies === 0) this.#drop();
  }

  /** One more handle copy uses this channel. */
  retain(): void {
    this.#copies++;
  }

  /** A handle copy was collected; the last one detaches, once no call waits for an answer. */
  release(): void {
    if (--this.#copies > 0 || this.#waiting > 0) return;
    this.#drop();
  }

  #drop(): void {
    const key = loopId(this.control);
    if (shared.get(key) === this) shared.delete(key);
    this.detach();
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

  /** A spinning loop in this thread polls for replies here (core/mailbox-spin.ts). */
  readonly #spinPoll = (): boolean => {
    if (this.#portClosed) return false;
    const replies = this.replies;
    if (replies !== null && Atomics.load(replies, 0) <= 0) return false;
    const received = receiveMessageOnPort(this.port);
    if (received === undefined) return false;
    this.#onReplies(received.message);
    return true;
  };

  readonly #onReplies = (message: unknown): void => {
    // Nothing a reply holds may throw out of this handler (it would end the thread): a reply that
    // cannot be decoded fails its own call with a TypeError naming the position.
    const replies = this.replies;
    if (replies !== null) Atomics.sub(replies, 0, 1);
    if (!Array.isArray(message)) return;
    const items = message as unknown[];
    for (let i = 0; i + REPLY_FIELDS <= items.length; i += REPLY_FIELDS) {
      const id = items[i];
      if (typeof id !== "number") continue;
      const kind = items[i + 1];
      const payload = items[i + 2];
      try {
        if (kind === R_OK) {
          const table = items[i + 3];
          this.#settle(id, "finished", table === 0 ? payload : this.#decodeResult(id, payload, table));
        } else if (kind === R_ERROR) {
          this.#settle(id, "failed", decodeError(payload));
        } else if (kind === R_CANCELLED) {
          this.#settle(id, "cancelled", typeof payload === "string" ? payload : "");
        } else {
          this.#settle(id, "failed", new TypeError(`Received a reply of unknown kind ${String(kind)} from thread '${this.threadName}'`));
        }
      } catch (err) {
        this.#settle(id, "failed", err);
      }
    }
  };

  #decodeResult(id: number, payload: unknown, table: unknown): unknown {
    const cf = this.#slots[id];
    const target = cf instanceof ConcurrentFuture ? cf[kTarget] : "(cancelled call)";
    return decodeSpecials(payload, table, target, `from thread '${this.threadName}'`, "the result");
  }

  readonly #onClose = (): void => {
    this.#portClosed = true;
    if (this.#waiting === 0) return;
    if (Atomics.load(this.control, STATE) === CLOSED) {
      this.#rejectAll(() => new LoopClosedError());
      return;
    }
    // The thread died. Its owner knows the exit code: wait until it is published (thread-death.ts).
    void learnDeath(this.control, this.deathInfo).then((info) => {
      this.#rejectAll(() => deathError(this.threadName, this.control, info));
    });
  };

  /** Why work on this loop can no longer finish: its loop closed, or its thread died (with the exit code). */
  async whyClosed(): Promise<LoopClosedError> {
    if (Atomics.load(this.control, STATE) === CLOSED) return new LoopClosedError();
    return deathError(this.threadName, this.control, await learnDeath(this.control, this.deathInfo));
  }

  #rejectAll(makeError: () => unknown): void {
    const pending = this.#slots.filter((cf) => cf instanceof ConcurrentFuture);
    this.#slots.length = 0;
    this.#freeSlots.length = 0;
    this.#waiting = 0;
    this.port.unref();
    removeSpinSource(this.#spinPoll);
    for (const cf of pending) cf[kSettle]("failed", makeError());
  }

  /** Tells the loop this copy is gone, and closes the port. */
  detach(): void {
    if (this.#portClosed) return;
    signalPosted(this.control, 1);
    try {
      this.port.postMessage([OP_DETACH]);
    } catch {
      unsignalPosted(this.control, 1);
      // The port may already be closed by the other side.
    }
    this.port.close();
  }
}

/**
 * This thread's channel into each loop, by loop id. Every copy of a loop's handle revived in one
 * thread shares one channel: a handle passed as an argument of every request would otherwise
 * keep a MessagePort pair alive per request until garbage collection found its copy, and a thread
 * whose JS heap stays small collects rarely (that was a service's RSS growing by 120 MB over
 * 30,000 requests with a flat heap). The port a new copy arrives with is handed back at once.
 * Copies sharing a channel keep the per-sender FIFO order among themselves, too.
 */
const shared = new Map<string, Channel>();

/** The channel of a handle copy revived in this thread from `port` (see `shared`). */
export function channelFor(port: MessagePort, control: Int32Array, threadName: string, replies: Int32Array | null): Channel {
  const key = loopId(control);
  let channel = shared.get(key);
  if (channel !== undefined && !channel.closed) {
    // The loop attached `port` for this copy; tell it to drop it again.
    signalPosted(control, 1);
    try {
      port.postMessage([OP_DETACH]);
    } catch {
      unsignalPosted(control, 1);
      // The loop's side is gone already.
    }
    port.close();
  } else {
    channel = new Channel(port, control, threadName, replies);
    shared.set(key, channel);
  }
  channel.retain();
  return channel;
}

/** Copies that nobody references any more release their channel. */
export const detachOnCollect = new FinalizationRegistry<Channel>((channel) => {
  channel.release();
});
