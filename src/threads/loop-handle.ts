/**
 * `LoopHandle`: a reference to a loop that any thread can use. A copy revived in another thread
 * talks to the loop through its own `Channel` (channel.ts); the loop's own handle calls the
 * endpoint directly (endpoint.ts). See channel.ts for the path of one call.
 */
import { MessageChannel, MessagePort } from "node:worker_threads";
import { inspect, types } from "node:util";
import type { ConcurrentFuture } from "./concurrent-future.js";
import { registerShareable, type Shareable, type SharedData } from "./crossing.js";
import { LoopClosedError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import { CONTROL_SLOTS, isControlClosed } from "../core/mailbox.js";
import { checkString, fieldOf, isInstance, typeError } from "../core/validate.js";
import { exposeOnPort, wrapPort, type ExposingLoop } from "./comlink-bridge.js";
import { channelFor, detachOnCollect, type Channel } from "./channel.js";
import { splitCarrier } from "./context-carrier.js";
import { OP_ATTACH, OP_STOP, OP_WRAP } from "./wire.js";
import { callTracing } from "../core/log.js";
import { tracedCall } from "./call-tracing.js";
import type { CallArgs, CallResult, ExposedModule, ExposedName, StreamItem, StreamName } from "./exposed-types.js";
import { ThreadStream } from "./stream-consumer.js";
import { checkStreamOptions, newCreditBlock, type CheckedStreamOptions, type StreamOptions } from "./stream-wire.js";
import type { Remote } from "./remote-types.js";

/**
 * What the loop's own handle needs of its endpoint (endpoint.ts), declared here so that the
 * handle does not import the endpoint, which makes handles.
 */
export interface LocalEndpoint extends ExposingLoop {
  readonly loop: EventLoop;
  readonly mailbox: { addPort(port: MessagePort, replies: Int32Array | null): void };
  runLocal<T>(target: string, args: unknown[]): ConcurrentFuture<T>;
  callLocal(target: string, args: unknown[]): void;
  streamLocal(target: string, args: unknown[], port: MessagePort, block: Int32Array): void;
}

export interface LoopHandleData {
  kind: "multiloop.LoopHandle";
  control: Int32Array;
  threadName: string;
  port: MessagePort;
  /** The word the loop counts its replies on `port` in (see Channel). */
  replies: Int32Array;
}

function isHandleData(data: unknown): data is LoopHandleData {
  const control = fieldOf(data, "control");
  return (
    fieldOf(data, "kind") === "multiloop.LoopHandle" &&
    types.isInt32Array(control) &&
    types.isSharedArrayBuffer((control).buffer) &&
    (control).length >= CONTROL_SLOTS &&
    typeof fieldOf(data, "threadName") === "string" &&
    isInstance(fieldOf(data, "port"), MessagePort) &&
    isSharedWord(fieldOf(data, "replies"))
  );
}

/** An Int32Array over shared memory, with a slot (a reply word). */
export function isSharedWord(value: unknown): value is Int32Array {
  return types.isInt32Array(value) && types.isSharedArrayBuffer(value.buffer) && value.length >= 1;
}

/**
 * A reference to a loop that any thread can use: call functions the loop exposed, stop it, check
 * whether it is closed. Pass it to other threads directly as an argument or result of
 * cross-thread calls, or with `share()` / `LoopHandle.from()` through `workerData` or your own
 * `postMessage`. Every thread holding copies talks to the loop through one channel of its own.
 *
 * @example
 * const handle = getRunningLoop().handle;
 * new Worker(file, { workerData: handle.share().data, transferList: handle.share().transferList });
 * // in the worker:
 * const loop = LoopHandle.from(workerData);
 * loop.callSoonThreadsafe("log", "hello from a worker");
 *
 * Typed calls: `LoopHandle<typeof import("./worker.js")>` (what `LoopThread<M>.handle` is, or
 * `LoopHandle.from<M>(data)`) checks the target's name, arguments and result against the module's
 * exports; a plain `LoopHandle` accepts any name.
 *
 * Thread-safety: a handle object belongs to the thread it was revived in; send copies, not the object.
 */
export class LoopHandle<M = ExposedModule> implements Shareable {
  readonly #control: Int32Array;
  readonly #threadName: string;
  readonly #channel: Channel | null;
  readonly #endpoint: LocalEndpoint | null;
  /** @internal the comlink root proxy made by `wrap()`, kept alive while this handle lives (comlink#692). */
  root: object | null = null;

  /** @internal use `loop.handle` or `LoopHandle.from(data)`. */
  constructor(control: Int32Array, threadName: string, channel: Channel | null, endpoint: LocalEndpoint | null) {
    this.#control = control;
    this.#threadName = threadName;
    this.#channel = channel;
    this.#endpoint = endpoint;
    if (channel !== null) detachOnCollect.register(this, channel, this);
  }

  /**
   * Revives a handle from `share().data` (an already revived handle is returned as is). `M`, the
   * type of what the loop exposes, types the calls (see the class docs).
   */
  static from<M = ExposedModule>(data: unknown): LoopHandle<M> {
    if (isInstance(data, LoopHandle)) return data as LoopHandle<M>;
    if (!isHandleData(data)) throw typeError("data", "the data of LoopHandle.share()", data);
    return new LoopHandle<M>(data.control, data.threadName, channelFor(data.port, data.control, data.threadName, data.replies), null);
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
  callSoonThreadsafe<K extends ExposedName<M>>(target: K, ...callArgs: CallArgs<M, K>): void {
    checkString("target", target);
    const args = callArgs as unknown[];
    const channel = this.#channel;
    if (channel !== null) {
      channel.call(target, args);
      return;
    }
    const endpoint = this.#endpoint as LocalEndpoint;
    if (endpoint.loop.isClosed()) throw new LoopClosedError();
    splitCarrier(args);
    endpoint.callLocal(target, args);
  }

  /**
   * Runs the function the loop exposed as `target` as a task on that loop; the returned future
   * settles with its result or error. Throws `RuntimeError("Event loop is closed")` at once if the
   * loop is closed. Cancellation: `future.cancel()` (or cancelling the task that awaits it)
   * cancels the remote task. Traced on `tracing:multiloop:call:*` in this thread.
   */
  runCoroutineThreadsafe<K extends ExposedName<M>>(target: K, ...callArgs: CallArgs<M, K>): ConcurrentFuture<CallResult<M, K>> {
    checkString("target", target);
    const args = callArgs as unknown[];
    if (callTracing.hasSubscribers) return tracedCall(target, this.#threadName, args, () => this.#run(target, args));
    return this.#run(target, args);
  }

  #run<T>(target: string, args: unknown[]): ConcurrentFuture<T> {
    const channel = this.#channel;
    if (channel !== null) return channel.run<T>(target, args);
    const endpoint = this.#endpoint as LocalEndpoint;
    if (endpoint.loop.isClosed()) throw new LoopClosedError();
    splitCarrier(args);
    return endpoint.runLocal<T>(target, args);
  }

  /**
   * Streams the items of the async iterable that the function the loop exposed as `target`
   * returns (an async generator, say): they arrive here in order, each once, at most
   * `highWaterMark` (16) ahead of what this side took. The call starts on the first `next()`.
   * Throws `RuntimeError("Event loop is closed")` at once if the loop is closed. See
   * `ThreadStream` for cancellation and errors.
   */
  stream<K extends StreamName<M>>(target: K, ...callArgs: CallArgs<M, K>): ThreadStream<StreamItem<M, K>> {
    return this.#stream(target, callArgs as unknown[], checkStreamOptions("handle.stream()", undefined));
  }

  /** `stream` with options: `{ highWaterMark }` (the window, default 16) and `{ signal }` (closes the stream). */
  streamWith<K extends StreamName<M>>(options: StreamOptions, target: K, ...callArgs: CallArgs<M, K>): ThreadStream<StreamItem<M, K>> {
    return this.#stream(target, callArgs as unknown[], checkStreamOptions("handle.streamWith()", options ?? null));
  }

  #stream<T>(target: string, args: unknown[], options: CheckedStreamOptions): ThreadStream<T> {
    checkString("target", target);
    const channel = this.#channel;
    const endpoint = this.#endpoint as LocalEndpoint;
    if (channel !== null) channel.checkOpen();
    else if (endpoint.loop.isClosed()) throw new LoopClosedError();
    const block = newCreditBlock(options.highWaterMark);
    return new ThreadStream<T>({
      target,
      threadName: this.#threadName,
      options,
      block,
      open: () => {
        const { port1, port2 } = new MessageChannel();
        if (channel !== null) {
          channel.stream(target, args, port2, block);
        } else {
          splitCarrier(args);
          endpoint.streamLocal(target, args, port2, block);
        }
        return port1;
      },
      lost: () => (channel === null ? Promise.resolve(new LoopClosedError()) : channel.whyClosed()),
    });
  }

  /** Stops the loop after its current iteration (like `callSoonThreadsafe(loop.stop)`). */
  stop(): void {
    const channel = this.#channel;
    if (channel === null) {
      (this.#endpoint as LocalEndpoint).loop.stop();
      return;
    }
    if (!channel.closed) channel.post([OP_STOP]);
  }

  /** Data plus transfer list for `workerData` or `postMessage`; revive with `LoopHandle.from`. */
  share(): SharedData {
    const { port1, port2 } = new MessageChannel();
    const replies = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
    const channel = this.#channel;
    if (channel === null) {
      (this.#endpoint as LocalEndpoint).mailbox.addPort(port1, replies);
    } else {
      channel.checkOpen();
      channel.post([OP_ATTACH, port1, replies], [port1]);
      // Flush now: the new copy may be used before this thread's current job ends.
      channel.flush();
    }
    const data: LoopHandleData = { kind: "multiloop.LoopHandle", control: this.#control, threadName: this.#threadName, port: port2, replies };
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
      exposeOnPort(this.#endpoint as LocalEndpoint, port1);
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
 * `handle.runCoroutineThreadsafe(target, ...args)`, typed the same way).
 */
export function runCoroutineThreadsafe<M, K extends ExposedName<M>>(
  handle: LoopHandle<M>,
  target: K,
  ...args: CallArgs<M, K>
): ConcurrentFuture<CallResult<M, K>> {
  if (!isInstance(handle, LoopHandle)) throw typeError("handle", "a LoopHandle", handle);
  return handle.runCoroutineThreadsafe(target, ...args);
}
