/**
 * The loop's side of cross-thread calls: what a loop exposes to other threads, and the tasks it
 * runs for their `runCoroutineThreadsafe` calls. The mailbox (core/mailbox.ts) hands it each
 * message; it answers on the port the call came from, batched per loop iteration.
 */
import { MessagePort, type Transferable } from "node:worker_threads";
import { ConcurrentFuture, kSettle } from "./concurrent-future.js";
import { contextFromEntries } from "../core/context.js";
import { encodeSpecials, scanValue } from "./crossing.js";
import { decodeSpecials } from "./crossing-decode.js";
import type { SpecialTable } from "./crossing-table.js";
import { LookupError, LoopClosedError } from "../core/errors.js";
import { fromEnvelope, toEnvelope } from "./error-envelope.js";
import type { EventLoop } from "../core/event-loop.js";
import { mailboxOf, type Mailbox } from "../core/mailbox.js";
import { Task, constructTask, kCompleted } from "../core/task.js";
import { kMarkRetrieved, kScheduleCall } from "../core/symbols.js";
import { channels } from "../core/log.js";
import { errorRepr, safeString } from "../core/format.js";
import { exposeOnPort } from "./comlink-bridge.js";
import { LoopHandle, isSharedWord } from "./loop-handle.js";
import { refuseStream, startProducer } from "./stream-producer.js";
import { isCreditBlock } from "./stream-wire.js";
import {
  OP_ATTACH,
  OP_CALL,
  OP_CANCEL,
  OP_DEFINE,
  OP_DETACH,
  OP_FIELDS,
  OP_FROM,
  OP_RUN,
  OP_STOP,
  OP_STREAM,
  OP_WRAP,
  REPLY_FIELDS,
  R_CANCELLED,
  R_ERROR,
  R_OK,
  type ContextEntries,
  type ReplyKind,
} from "./wire.js";

/** Names of the items of the tuple `[args, context entries]` a call's special table refers to. */
const CALL_PARTS = ["the arguments", "the context variables"] as const;

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

const cancelTask = (task: Task<unknown>, msg: string): void => {
  task.cancel(msg === "" ? undefined : msg);
};

const stopLoop = (loop: EventLoop): void => {
  loop.stop();
};

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
  /** The sender's thread id (OP_FROM, sent once per channel); -1 until known. */
  threadId: number;
}

/** @internal the call a task runs for another thread: who sent it and the sender's id for it. */
export function servedCall(task: Task<unknown>): { fromThreadId: number; callId: number } | null {
  if (!(task instanceof RemoteCallTask) || task.sender === null) return null;
  return { fromThreadId: task.sender.threadId, callId: task.callId };
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
        this.#dispatch(message, port);
      },
      () => {
        this.#onClose();
      },
    );
    this.localHandle = new LoopHandle(this.mailbox.control, this.mailbox.threadName, null, this);
  }

  #sender(port: MessagePort): SenderState {
    let sender = this.#senders.get(port);
    if (sender === undefined) this.#senders.set(port, (sender = { targets: [], tasks: [], threadId: -1 }));
    return sender;
  }

  #dispatch(message: unknown, port: MessagePort): void {
    // Nothing in a message may throw out of the port handler (it would end this thread): each
    // operation is handled on its own, and one that fails is answered or reported, not thrown.
    if (!Array.isArray(message)) {
      this.#malformed(`a message that is not a batch of operations (${safeString(typeof message)})`);
      return;
    }
    const batch = message as unknown[];
    const sender = this.#sender(port);
    const n = batch.length;
    for (let i = 0; i < n; ) {
      const op = batch[i];
      const fields = typeof op === "number" ? OP_FIELDS[op] : undefined;
      if (fields === undefined || i + fields > n) {
        // The rest of the batch cannot be read without knowing where this operation ends.
        this.#malformed(`an unknown operation ${safeString(op)}`);
        return;
      }
      try {
        if (op === OP_DETACH) {
          this.mailbox.removePort(port);
          this.#senders.delete(port);
          port.close();
          return;
        }
        this.#operation(op as number, batch, i, sender, port);
      } catch (err) {
        this.loop.callExceptionHandler({ message: "A cross-thread operation into this loop failed", exception: err });
      }
      i += fields;
    }
  }

  #operation(op: number, batch: unknown[], i: number, sender: SenderState, port: MessagePort): void {
    switch (op) {
      case OP_CALL:
        this.#call(sender.targets[batch[i + 1] as number], batch[i + 2], batch[i + 3] as ContextEntries, batch[i + 4]);
        break;
      case OP_RUN:
        this.#run(port, sender, batch[i + 1], sender.targets[batch[i + 2] as number], batch[i + 3], batch[i + 4] as ContextEntries, batch[i + 5]);
        break;
      case OP_STREAM: {
        const streamPort = batch[i + 5];
        if (!(streamPort instanceof MessagePort)) throw new TypeError("Received a stream request without its port");
        const target = sender.targets[batch[i + 1] as number];
        try {
          if (typeof target !== "string") throw new TypeError("Received a stream of a target that was never defined");
          const args = this.#decodeCall(target, batch[i + 2], batch[i + 3] as ContextEntries, batch[i + 4]);
          const block = batch[i + 6];
          if (!isCreditBlock(block)) throw new TypeError("Received a stream request without its credit block");
          this.streamLocal(target, args, streamPort, block, this.#decodedCtx);
        } catch (err) {
          refuseStream(streamPort, err, this.mailbox.threadName);
        }
        break;
      }
      // A cancel and a stop run as callbacks in their turn, like asyncio's call_soon_threadsafe
      // of `fut.cancel` / `loop.stop`: messages are taken in whenever the loop queues a callback,
      // so acting at once would run them inside whatever code queued it.
      case OP_CANCEL: {
        const id = batch[i + 1];
        const msg = batch[i + 2];
        const task = typeof id === "number" ? sender.tasks[id] : undefined;
        if (task !== undefined && !this.loop.isClosed()) {
          this.loop[kScheduleCall](cancelTask as (...a: unknown[]) => unknown, [task, typeof msg === "string" ? msg : ""], null);
        }
        break;
      }
      case OP_STOP:
        if (!this.loop.isClosed()) this.loop[kScheduleCall](stopLoop as (...a: unknown[]) => unknown, [this.loop], null);
        break;
      case OP_ATTACH: {
        const replies = batch[i + 2];
        this.mailbox.addPort(batch[i + 1] as MessagePort, isSharedWord(replies) ? replies : null);
        break;
      }
      case OP_WRAP:
        exposeOnPort(this, batch[i + 1] as MessagePort);
        break;
      case OP_FROM:
        if (typeof batch[i + 1] === "number") sender.threadId = batch[i + 1] as number;
        break;
      case OP_DEFINE: {
        const id = batch[i + 1];
        const name = batch[i + 2];
        // Ids are handed out in order from 0: anything else is not from a channel of ours.
        if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > sender.targets.length || typeof name !== "string") {
          throw new TypeError(`Received a malformed target definition (${safeString(id)}: ${safeString(name)})`);
        }
        sender.targets[id] = name;
        break;
      }
    }
  }

  #malformed(what: string): void {
    this.loop.callExceptionHandler({
      message: "A cross-thread message into this loop could not be read",
      exception: new TypeError(`Received ${what} on the mailbox of thread '${this.mailbox.threadName}'; the rest of the message was dropped`),
    });
  }

  #lookup(target: string): ((...args: never[]) => unknown) | undefined {
    if (channels.threadCall.hasSubscribers) {
      channels.threadCall.publish({ threadName: this.mailbox.threadName, target });
    }
    return this.exposed.get(target);
  }

  #unknownTarget(target: string): LookupError {
    // A name comes from another thread and may be anything up to a megabyte long: the message
    // shows its start and at most 20 of the exposed names, so a log line stays a line.
    const shown = (name: string): string => `'${name.length > 60 ? `${name.slice(0, 57)}...` : name}'`;
    const exposed = [...this.exposed.keys()];
    const more = exposed.length > 20 ? ` and ${exposed.length - 20} more` : "";
    const names = (exposed.slice(0, 20).map(shown).join(", ") || "none") + more;
    return new LookupError(
      `No function named ${shown(target)} is exposed on the event loop of thread '${this.mailbox.threadName}' ` +
        `(exposed: ${names})`,
      { hint: "Expose it with loop.expose(name, fn), or export it from the module given to spawnLoopThread." },
    );
  }

  /** `callSoonThreadsafe`: a plain callback, like asyncio's. */
  #call(target: string | undefined, encodedArgs: unknown, ctx: ContextEntries, table: unknown): void {
    if (this.loop.isClosed()) return;
    if (typeof target !== "string") throw new TypeError("Received a call to a target that was never defined");
    const fn = this.#lookup(target);
    if (fn === undefined) {
      this.loop.callExceptionHandler({ message: "callSoonThreadsafe() into this loop failed", exception: this.#unknownTarget(target) });
      return;
    }
    let args: unknown[];
    try {
      args = this.#decodeCall(target, encodedArgs, ctx, table);
    } catch (err) {
      this.loop.callExceptionHandler({ message: "callSoonThreadsafe() into this loop failed", exception: err });
      return;
    }
    const entries = this.#decodedCtx;
    // A promise it returns is watched by its handle: a rejection is reported, like a throw.
    this.loop[kScheduleCall](fn as (...a: unknown[]) => unknown, args, entries === 0 ? null : contextFromEntries(entries));
  }

  /** The context entries of the call `#decodeCall` decoded last. */
  #decodedCtx: ContextEntries = 0;

  /**
   * The arguments of a call, revived (its context entries in `#decodedCtx`). Throws a TypeError
   * naming the position (of a special value that cannot be revived here, or of a malformed payload).
   */
  #decodeCall(target: string, args: unknown, ctx: ContextEntries, table: unknown): unknown[] {
    let decodedArgs = args;
    let decodedCtx: unknown = ctx;
    if (table !== 0) {
      // A sender's channel does not say which thread it is in.
      const decoded = decodeSpecials([args, ctx], table, target, "from the calling thread", CALL_PARTS) as [unknown, unknown];
      decodedArgs = decoded[0];
      decodedCtx = decoded[1];
    }
    if (!Array.isArray(decodedArgs)) throw new TypeError(`Received a call of '${target}' whose arguments are not an array`);
    if (decodedCtx !== 0 && !Array.isArray(decodedCtx)) throw new TypeError(`Received a call of '${target}' with malformed context variables`);
    // Handed back beside the result, not in a tuple: one fewer array per call.
    this.#decodedCtx = decodedCtx as ContextEntries;
    return decodedArgs;
  }

  #run(
    port: MessagePort,
    sender: SenderState,
    callId: unknown,
    target: string | undefined,
    encodedArgs: unknown,
    ctx: ContextEntries,
    table: unknown,
  ): void {
    if (typeof callId !== "number" || !Number.isInteger(callId) || callId < 0) {
      throw new TypeError(`Received a call with a malformed id (${safeString(callId)})`);
    }
    const id = callId;
    if (this.loop.isClosed()) {
      this.#reply(port, id, R_ERROR, toEnvelope(new LoopClosedError(), this.mailbox.threadName));
      return;
    }
    if (typeof target !== "string") {
      this.#reply(port, id, R_ERROR, toEnvelope(new TypeError("Received a call to a target that was never defined"), this.mailbox.threadName));
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
    let task: RemoteCallTask;
    try {
      const args = this.#decodeCall(target, encodedArgs, ctx, table);
      const entries = this.#decodedCtx;
      const options = entries === 0 ? { name: target } : { name: target, context: contextFromEntries(entries) };
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
        const text = (err as { message?: unknown }).message;
        message = typeof text === "string" ? text : "";
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

  /**
   * Streams the async iterable `target(...args)` returns on `port` (to the consumer, see
   * stream-consumer.ts), read by a task of this loop; for other threads and the loop's own.
   */
  streamLocal(target: string, args: unknown[], port: MessagePort, block: Int32Array, entries: ContextEntries = 0): void {
    const threadName = this.mailbox.threadName;
    if (this.loop.isClosed()) throw new LoopClosedError();
    const fn = this.#lookup(target);
    if (fn === undefined) {
      refuseStream(port, this.#unknownTarget(target), threadName, true);
      return;
    }
    const context = entries === 0 ? undefined : contextFromEntries(entries);
    startProducer({ port, block, paused: false, target, threadName, loop: this.loop }, target, () => (fn as (...a: unknown[]) => unknown)(...args), context);
  }

  callLocal(target: string, args: unknown[]): void {
    if (this.loop.isClosed()) return;
    // Calls other threads posted before this one go first.
    this.mailbox.poll();
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
    let table: SpecialTable = 0;
    if (kind === R_OK) {
      try {
        if (scanValue(payload, target, "the result")) {
          const encoded = encodeSpecials(payload, outbox.transfers, target, "the result");
          value = encoded.value;
          table = encoded.table;
        }
      } catch (err) {
        kind = R_ERROR;
        value = toEnvelope(err, this.mailbox.threadName);
      }
    }
    outbox.items.push(id, kind, value, table);
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
      // Counted before the post (see Channel), so a spinning caller never polls for nothing.
      const word = this.mailbox.replyWord(port);
      if (word !== null) Atomics.add(word, 0, 1);
      try {
        port.postMessage(items, transfers);
      } catch {
        if (word !== null) Atomics.sub(word, 0, 1);
        // One result could not be cloned: send them one by one, the bad ones as TypeErrors.
        this.#replyOneByOne(port, items, transfers, word);
      }
    }
    this.#replies.clear();
  };

  #replyOneByOne(port: MessagePort, items: unknown[], transfers: Transferable[], word: Int32Array | null): void {
    for (let i = 0; i < items.length; i += REPLY_FIELDS) {
      const reply = items.slice(i, i + REPLY_FIELDS);
      if (word !== null) Atomics.add(word, 0, 1);
      try {
        port.postMessage(reply, transfers.filter((t) => containsTransfer(reply, t)));
      } catch (err) {
        const error = new TypeError(`The result cannot be sent back to the calling thread: ${errorRepr(err)}`);
        try {
          port.postMessage([reply[0], R_ERROR, toEnvelope(error, this.mailbox.threadName), 0]);
        } catch {
          if (word !== null) Atomics.sub(word, 0, 1);
          // The port is gone (the caller's thread died): nobody is waiting for this answer.
        }
      }
    }
  }

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

/** Whether `transfer` (a port a special value carries) belongs to this one reply. */
function containsTransfer(reply: unknown[], transfer: Transferable): boolean {
  const table = reply[3];
  if (!Array.isArray(table)) return false;
  return (table as unknown[]).some((entry) => Array.isArray(entry) && holds(entry[1], transfer, 0));
}

function holds(data: unknown, transfer: Transferable, depth: number): boolean {
  if (data === transfer) return true;
  if (typeof data !== "object" || data === null || depth > 4) return false;
  return Object.values(data).some((v) => holds(v, transfer, depth + 1));
}

const endpoints = new WeakMap<EventLoop, LoopEndpoint>();

/** The loop's thread endpoint, created on first use. */
export function endpointOf(loop: EventLoop): LoopEndpoint {
  let endpoint = endpoints.get(loop);
  if (endpoint === undefined) endpoints.set(loop, (endpoint = new LoopEndpoint(loop)));
  return endpoint;
}
