/**
 * A Redis client on multiloop's `Protocol`/`Transport`: RESP2 or RESP3, pipelining, pub/sub.
 *
 * Replies come back in the order commands were sent, so the client keeps a FIFO of what it waits
 * for; pub/sub messages (RESP3 pushes, or RESP2 arrays on a subscribed connection) go to the
 * listeners instead. Nothing here knows about threads: a client lives on the loop that made it.
 */
import {
  ConnectionResetError,
  getRunningLoop,
  type EventLoop,
  type Future,
  type Protocol,
  type Transport,
} from "multiloop";
import { DEFAULT_MAX_REPLY_BYTES, Push, RedisError, RespParser, RespProtocolError, encodeCommand, type Arg, type RespValue } from "./resp.js";

/** Options of `RedisClient.connect`. */
export interface RedisClientOptions {
  /** 2 (the default, as redis-server's) or 3 (`HELLO 3` after connecting). */
  protocol?: 2 | 3;
  /** Bulk strings as Buffers instead of UTF-8 strings. @default false */
  returnBuffers?: boolean;
  /**
   * The largest reply accepted, in bytes; a larger one (or one that breaks the protocol) fails
   * every pending command with `RespProtocolError` and closes the connection.
   * @default 536870912 (512 MiB, Redis's proto-max-bulk-len)
   */
  maxReplyBytes?: number;
}

/** A pub/sub message: `pattern` is set for messages received through `psubscribe`. */
export interface PubSubMessage {
  channel: string;
  message: string | Buffer;
  pattern?: string;
}

export type MessageListener = (message: PubSubMessage) => void;

/** What the reply FIFO waits for. */
interface Pending {
  /** Settled with the value (a single command), or with all values (a pipeline). */
  readonly fut: Future<RespValue> | Future<RespValue[]>;
  /** Replies still expected (pipelines and multi-channel (un)subscribe expect several). */
  remaining: number;
  /** For pipelines: the replies so far (RedisErrors stay values, as ioredis' `exec()`). */
  readonly values: RespValue[] | null;
  /** (P)(UN)SUBSCRIBE confirmations arrive as pushes in RESP3: route those here. */
  readonly subscription: boolean;
}

const SUBSCRIPTION_KINDS = new Set(["subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"]);

function text(v: RespValue | undefined): string {
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString();
  return typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" ? String(v) : "";
}

class RedisProtocol implements Protocol {
  readonly parser: RespParser;
  readonly queue: Pending[] = [];
  head = 0;
  transport: Transport | null = null;
  lost: Error | null = null;
  readonly closed: Future<void>;
  subscriptions = 0;
  readonly listeners = new Map<string, MessageListener>();
  readonly patternListeners = new Map<string, MessageListener>();
  readonly #onReply = (value: RespValue): void => {
    this.reply(value);
  };

  constructor(loop: EventLoop, returnBuffers: boolean, maxReplyBytes: number) {
    this.parser = new RespParser({ returnBuffers, maxReplyBytes });
    this.closed = loop.createFuture<void>();
  }

  connectionMade(transport: Transport): void {
    this.transport = transport;
  }

  dataReceived(data: Buffer): void {
    if (this.lost !== null) return;
    try {
      this.parser.feed(data, this.#onReply);
    } catch (err) {
      if (!(err instanceof RespProtocolError)) throw err;
      // Nothing after a protocol error can be trusted: fail what is pending, drop the connection.
      this.connectionLost(err);
      this.transport?.abort();
    }
  }

  connectionLost(exc: Error | null): void {
    if (this.lost !== null) {
      // Already failed (a protocol error); the transport's own report follows.
      if (!this.closed.done()) this.closed.setResult(undefined);
      return;
    }
    const err = exc ?? new ConnectionResetError("Connection lost");
    this.lost = err;
    for (let i = this.head; i < this.queue.length; i++) {
      const fut = (this.queue[i] as Pending).fut;
      if (!fut.done()) fut.setException(err);
    }
    this.queue.length = 0;
    this.head = 0;
    this.closed.setResult(undefined);
  }

  reply(value: RespValue): void {
    if (value instanceof Push) {
      this.#push(value.kind, value.items);
      return;
    }
    if (Array.isArray(value) && (this.subscriptions > 0 || this.queue[this.head]?.subscription === true)) {
      // RESP2: on a subscribed connection (or one about to be), messages and confirmations are
      // plain arrays.
      const kind = text(value[0]);
      if (kind === "message" || kind === "pmessage" || SUBSCRIPTION_KINDS.has(kind)) {
        this.#push(kind, value);
        return;
      }
    }
    this.#settle(value);
  }

  #push(kind: string, items: RespValue[]): void {
    if (kind === "message") {
      const channel = text(items[1]);
      this.listeners.get(channel)?.({ channel, message: items[2] as string | Buffer });
    } else if (kind === "pmessage") {
      const pattern = text(items[1]);
      const channel = text(items[2]);
      this.patternListeners.get(pattern)?.({ pattern, channel, message: items[3] as string | Buffer });
    } else if (SUBSCRIPTION_KINDS.has(kind)) {
      this.subscriptions = Number(items[2]);
      this.#settle(this.subscriptions);
    }
    // Other pushes (client tracking invalidations, ...) have no listener in this example.
  }

  #settle(value: RespValue): void {
    const entry = this.queue[this.head];
    if (entry === undefined) return;
    if (entry.values !== null) entry.values.push(value);
    if (--entry.remaining > 0) return;
    this.queue[this.head++] = undefined as unknown as Pending;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (entry.values !== null) (entry.fut as Future<RespValue[]>).setResult(entry.values);
    else if (value instanceof RedisError) entry.fut.setException(value);
    else (entry.fut as Future<RespValue>).setResult(value);
  }
}

/**
 * A connection to a Redis server.
 *
 * @example
 * const redis = await RedisClient.connect("127.0.0.1", 6379, { protocol: 3 });
 * await redis.call("SET", "greeting", "hello");
 * console.log(await redis.call("GET", "greeting")); // "hello"
 * const [a, b] = await redis.pipeline([["INCR", "n"], ["INCR", "n"]]);
 * await redis.close();
 */
export class RedisClient {
  readonly #loop: EventLoop;
  readonly #transport: Transport;
  readonly #protocol: RedisProtocol;
  /** The protocol version spoken on this connection. */
  readonly protocol: 2 | 3;

  private constructor(loop: EventLoop, transport: Transport, protocol: RedisProtocol, version: 2 | 3) {
    this.#loop = loop;
    this.#transport = transport;
    this.#protocol = protocol;
    this.protocol = version;
  }

  /** Connects on the running loop; with `protocol: 3` sends `HELLO 3` first. */
  static async connect(host: string, port: number, options: RedisClientOptions = {}): Promise<RedisClient> {
    const loop = getRunningLoop();
    const version = options.protocol ?? 2;
    const [transport, protocol] = await loop.createConnection(
      () => new RedisProtocol(loop, options.returnBuffers ?? false, options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES),
      host,
      port,
    );
    const client = new RedisClient(loop, transport, protocol, version);
    if (version === 3) {
      try {
        await client.call("HELLO", "3");
      } catch (err) {
        await client.close();
        throw err;
      }
    }
    return client;
  }

  /** Sends one command; the future settles with its reply (an error reply rejects with `RedisError`). */
  call(...args: [string, ...Arg[]]): Future<RespValue> {
    const fut = this.#loop.createFuture<RespValue>();
    this.#enqueue({ fut, remaining: 1, values: null, subscription: false });
    this.#transport.write(encodeCommand(args));
    return fut;
  }

  /**
   * Sends several commands in one write and settles with all their replies, in order. Error
   * replies are values in the result (`RedisError`), so one failed command does not hide the rest.
   */
  pipeline(commands: readonly (readonly [string, ...Arg[]])[]): Future<RespValue[]> {
    const fut = this.#loop.createFuture<RespValue[]>();
    if (commands.length === 0) {
      fut.setResult([]);
      return fut;
    }
    this.#enqueue({ fut, remaining: commands.length, values: [], subscription: false });
    let allText = true;
    const encoded = commands.map((c) => {
      const e = encodeCommand(c);
      if (typeof e !== "string") allText = false;
      return e;
    });
    this.#transport.write(allText ? (encoded as string[]).join("") : Buffer.concat(encoded.map((e) => (typeof e === "string" ? Buffer.from(e) : e))));
    return fut;
  }

  /** Subscribes to `channels`; `listener` gets their messages. Settles with the subscription count. */
  subscribe(channels: readonly string[], listener: MessageListener): Future<RespValue> {
    for (const c of channels) this.#protocol.listeners.set(c, listener);
    return this.#subscription(["SUBSCRIBE", ...channels], channels.length);
  }

  /** Subscribes to channel patterns (`news.*`). */
  psubscribe(patterns: readonly string[], listener: MessageListener): Future<RespValue> {
    for (const p of patterns) this.#protocol.patternListeners.set(p, listener);
    return this.#subscription(["PSUBSCRIBE", ...patterns], patterns.length);
  }

  /** Unsubscribes from `channels`. */
  unsubscribe(channels: readonly string[]): Future<RespValue> {
    for (const c of channels) this.#protocol.listeners.delete(c);
    return this.#subscription(["UNSUBSCRIBE", ...channels], channels.length);
  }

  /** Unsubscribes from `patterns`. */
  punsubscribe(patterns: readonly string[]): Future<RespValue> {
    for (const p of patterns) this.#protocol.patternListeners.delete(p);
    return this.#subscription(["PUNSUBSCRIBE", ...patterns], patterns.length);
  }

  /** Closes the connection and waits until it is gone; pending commands fail with `ConnectionResetError`. */
  async close(): Promise<void> {
    this.#transport.close();
    await this.#protocol.closed;
  }

  #subscription(args: [string, ...string[]], count: number): Future<RespValue> {
    if (count === 0) throw new RangeError("Expected at least one channel or pattern");
    const fut = this.#loop.createFuture<RespValue>();
    this.#enqueue({ fut, remaining: count, values: null, subscription: true });
    this.#transport.write(encodeCommand(args));
    return fut;
  }

  #enqueue(entry: Pending): void {
    const lost = this.#protocol.lost;
    if (lost !== null) throw lost;
    this.#protocol.queue.push(entry);
  }
}

export { Push, RedisError, RespParser, RespProtocolError, encodeCommand };
export type { Arg, RespValue };
