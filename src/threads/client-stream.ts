/**
 * Client streaming: an async iterable passed as a top-level argument of a call into another
 * thread arrives there as a `ThreadStream` pulling from it. It crosses as a shareable
 * (crossing.ts): sharing it starts a producer here (stream-producer.ts) that reads the iterable
 * only as the other side pulls, within the default window.
 */
import { types } from "node:util";
import { MessageChannel, MessagePort } from "node:worker_threads";
import { ThreadExitError } from "../core/errors.js";
import { runningLoopOrNull } from "../core/frame.js";
import { currentThreadName } from "../core/thread-name.js";
import { fieldOf, isInstance, typeError } from "../core/validate.js";
import { isShareable, registerShareable, type Shareable, type SharedData } from "./crossing.js";
import { ThreadStream } from "./stream-consumer.js";
import { startProducer } from "./stream-producer.js";
import { C_WAKE, DEFAULT_HIGH_WATER_MARK, isAsyncIterable, isCreditBlock, newCreditBlock } from "./stream-wire.js";

interface ClientStreamData {
  kind: "multiloop.ClientStream";
  port: MessagePort;
  block: Int32Array;
  /** The thread the iterable is read in. */
  threadName: string;
  /** The argument's position, for errors. */
  where: string;
}

/** An async iterable argument on its way to another thread. */
class ClientStream implements Shareable {
  readonly #iterable: AsyncIterable<unknown>;
  readonly #where: string;

  constructor(iterable: AsyncIterable<unknown>, where: string) {
    this.#iterable = iterable;
    this.#where = where;
  }

  share(): SharedData {
    const { port1, port2 } = new MessageChannel();
    const threadName = currentThreadName();
    const block = newCreditBlock(DEFAULT_HIGH_WATER_MARK);
    // Paused until the other side's first next(): nothing is read before it is wanted.
    startProducer({ port: port1, block, paused: true, target: this.#where, threadName, loop: runningLoopOrNull() }, this.#where, () => this.#iterable);
    const data: ClientStreamData = { kind: "multiloop.ClientStream", port: port2, block, threadName, where: this.#where };
    return { data, transferList: [port2] };
  }
}

function reviveClientStream(data: unknown): ThreadStream<unknown> {
  const port = fieldOf(data, "port");
  const threadName = fieldOf(data, "threadName");
  const where = fieldOf(data, "where");
  const block = fieldOf(data, "block");
  if (fieldOf(data, "kind") !== "multiloop.ClientStream" || !isInstance(port, MessagePort) || !isCreditBlock(block) || typeof threadName !== "string" || typeof where !== "string") {
    throw typeError("data", "the data of a streamed argument", data);
  }
  const streamPort = port as MessagePort;
  return new ThreadStream({
    target: where,
    threadName,
    options: { highWaterMark: DEFAULT_HIGH_WATER_MARK, signal: undefined },
    block,
    open: () => {
      streamPort.postMessage(C_WAKE);
      return streamPort;
    },
    lost: () => Promise.resolve(new ThreadExitError(threadName, null, { hint: "The thread streaming this argument is gone." })),
  });
}

registerShareable("ClientStream", ClientStream, reviveClientStream);

/**
 * Replaces each top-level async iterable of `args` (not a shareable such as a ThreadQueue) by a
 * stream of it. Nested ones are refused later, by the scan of the arguments, naming the position.
 */
export function streamArguments(args: unknown[], target: string): void {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg === "object" && arg !== null && !types.isProxy(arg) && isAsyncIterable(arg) && !isShareable(arg)) {
      args[i] = new ClientStream(arg, `${target}, argument ${i}`);
    }
  }
}
