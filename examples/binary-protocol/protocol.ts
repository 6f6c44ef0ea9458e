/**
 * The binary protocol on multiloop's `Protocol`/`Transport`: a server that answers each request
 * frame, and a pipelining client. Both run on whatever loop is running them; nothing here knows
 * which thread that is.
 */
import {
  ConnectionResetError,
  sleep,
  type EventLoop,
  type Future,
  type Protocol,
  type Server,
  type Transport,
} from "multiloop";
import { FrameDecoder, encodeFrame, type Frame } from "./frame.js";

/** Turns a request payload into the response payload. */
export type Handler = (payload: Buffer) => Uint8Array;

/** What the server saw on one connection: how TCP cut the stream compared to the frames in it. */
export interface ConnectionStats {
  chunks: number;
  frames: number;
}

/** Server side: decodes request frames and writes one response frame (same id) for each. */
export class FrameServerProtocol implements Protocol {
  readonly #decoder = new FrameDecoder();
  readonly #handler: Handler;
  readonly stats: ConnectionStats = { chunks: 0, frames: 0 };
  #transport: Transport | null = null;

  constructor(handler: Handler) {
    this.#handler = handler;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
  }

  dataReceived(data: Buffer): void {
    this.stats.chunks++;
    // A garbage length throws here: the transport reports it and closes this connection only.
    const frames = this.#decoder.push(data);
    if (frames.length === 0) return;
    this.stats.frames += frames.length;
    const out = frames.map((f) => encodeFrame(f.id, this.#handler(f.payload)));
    // Answers to frames that arrived together leave together.
    this.#transport?.writelines(out);
  }
}

/** Starts a frame server on `loop`; every connection's stats are appended to `stats`. */
export async function serveFrames(
  loop: EventLoop,
  handler: Handler,
  host: string,
  port: number,
  stats: ConnectionStats[] = [],
): Promise<Server> {
  return loop.createServer(
    () => {
      const p = new FrameServerProtocol(handler);
      stats.push(p.stats);
      return p;
    },
    host,
    port,
  );
}

class FrameClientProtocol implements Protocol {
  readonly decoder = new FrameDecoder();
  readonly pending = new Map<number, Future<Buffer>>();
  readonly closed: Future<void>;
  lost: Error | null = null;

  constructor(loop: EventLoop) {
    this.closed = loop.createFuture<void>();
  }

  dataReceived(data: Buffer): void {
    for (const frame of this.decoder.push(data)) this.#deliver(frame);
  }

  connectionLost(exc: Error | null): void {
    const err = exc ?? new ConnectionResetError("Connection lost");
    this.lost = err;
    for (const fut of this.pending.values()) if (!fut.done()) fut.setException(err);
    this.pending.clear();
    this.closed.setResult(undefined);
  }

  #deliver(frame: Frame): void {
    const fut = this.pending.get(frame.id);
    if (fut === undefined) return;
    this.pending.delete(frame.id);
    if (!fut.done()) fut.setResult(frame.payload);
  }
}

/**
 * Client side: requests carry increasing ids, any number may be in flight (pipelining), and each
 * response settles the future of its id.
 */
export class FrameClient {
  readonly #loop: EventLoop;
  readonly #transport: Transport;
  readonly #protocol: FrameClientProtocol;
  #nextId = 1;

  private constructor(loop: EventLoop, transport: Transport, protocol: FrameClientProtocol) {
    this.#loop = loop;
    this.#transport = transport;
    this.#protocol = protocol;
  }

  /** Connects on `loop` to a frame server. */
  static async connect(loop: EventLoop, host: string, port: number): Promise<FrameClient> {
    const [transport, protocol] = await loop.createConnection(() => new FrameClientProtocol(loop), host, port);
    return new FrameClient(loop, transport, protocol);
  }

  /** Sends one request; the future settles with the response payload. */
  request(payload: Uint8Array): Future<Buffer> {
    const [id, fut] = this.#register();
    this.#transport.write(encodeFrame(id, payload));
    return fut;
  }

  /** Sends many requests in a single write (frames merged in one TCP segment, or a few). */
  requestBatch(payloads: readonly Uint8Array[]): Future<Buffer>[] {
    const futs: Future<Buffer>[] = [];
    const frames: Buffer[] = [];
    for (const payload of payloads) {
      const [id, fut] = this.#register();
      futs.push(fut);
      frames.push(encodeFrame(id, payload));
    }
    this.#transport.write(Buffer.concat(frames));
    return futs;
  }

  /**
   * Sends one request one byte per write, yielding to the loop for `gapMs` between bytes, so the
   * peer receives the frame in many pieces.
   */
  async requestTrickle(payload: Uint8Array, gapMs = 1): Promise<Buffer> {
    const [id, fut] = this.#register();
    const bytes = encodeFrame(id, payload);
    for (let i = 0; i < bytes.length; i++) {
      this.#transport.write(bytes.subarray(i, i + 1));
      await sleep(gapMs);
    }
    return fut;
  }

  /** Closes the connection and waits until it is gone; pending requests fail with `ConnectionResetError`. */
  async close(): Promise<void> {
    this.#transport.close();
    await this.#protocol.closed;
  }

  #register(): [number, Future<Buffer>] {
    const lost = this.#protocol.lost;
    if (lost !== null) throw lost;
    const id = this.#nextId;
    this.#nextId = (this.#nextId + 1) >>> 0;
    const fut = this.#loop.createFuture<Buffer>();
    this.#protocol.pending.set(id, fut);
    return [id, fut];
  }
}

/** The demo service: the payload reversed, prefixed with its length as text ("5:olleh"). */
export function reverseHandler(payload: Buffer): Buffer {
  const reversed = Buffer.from(payload).reverse();
  return Buffer.concat([Buffer.from(`${payload.length}:`), reversed]);
}
