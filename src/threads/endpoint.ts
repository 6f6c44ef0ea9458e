/**
 * The loop's side of cross-thread calls: what a loop exposes to other threads, and the tasks it
 * runs for their `runCoroutineThreadsafe` calls. The mailbox (core/mailbox.ts) hands it each
 * message; it answers on the port the call came from, batched per loop iteration.
 */
import type { MessagePort, Transferable } from "node:worker_threads";
import { ConcurrentFuture, kSettle } from "./concurrent-future.js";
import { contextFromEntries } from "../core/context.js";
import { decodeValue, encodeValue } from "./crossing.js";
import { LookupError, LoopClosedError } from "../core/errors.js";
import { fromEnvelope, toEnvelope } from "./error-envelope.js";
import type { EventLoop } from "../core/event-loop.js";
import { mailboxOf, type Mailbox } from "../core/mailbox.js";
import { Task, constructTask, kCompleted } from "../core/task.js";
import { kMarkRetrieved, kScheduleCall } from "../core/symbols.js";
import { channels } from "../core/log.js";
import { exposeOnPort } from "./comlink-bridge.js";
import { LoopHandle } from "./loop-handle.js";
import {
  OP_ATTACH,
  OP_CALL,
  OP_CANCEL,
  OP_DEFINE,
  OP_DETACH,
  OP_FIELDS,
  OP_RUN,
  OP_STOP,
  OP_WRAP,
  R_CANCELLED,
  R_ERROR,
  R_OK,
  type ContextEntries,
  type ReplyKind,
} from "./wire.js";

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
        // A cancel and a stop run as callbacks in their turn, like asyncio's call_soon_threadsafe
        // of `fut.cancel` / `loop.stop`: messages are taken in whenever the loop queues a callback,
        // so acting at once would run them inside whatever code queued it.
        case OP_CANCEL: {
          const task = sender.tasks[batch[i + 1] as number];
          const msg = batch[i + 2] as string;
          if (task !== undefined && !this.loop.isClosed()) this.loop[kScheduleCall](cancelTask as (...a: unknown[]) => unknown, [task, msg], null);
          break;
        }
        case OP_STOP:
          if (!this.loop.isClosed()) this.loop[kScheduleCall](stopLoop as (...a: unknown[]) => unknown, [this.loop], null);
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
