/**
 * `Server`: listening sockets that make a transport and a protocol for every connection
 * (asyncio.Server, with the 3.12.1 `waitClosed` and the 3.13 `closeClients`/`abortClients`).
 *
 * Lifetime: `close()` stops listening at once but leaves the connections it accepted open;
 * `waitClosed()` resolves once the server is closed *and* every one of those connections has
 * called `connectionLost`. So `close()` + `waitClosed()` is a graceful shutdown; add
 * `closeClients()` (flush, then close) or `abortClients()` (drop) to end the connections too.
 */
import type { Server as NodeServer, Socket } from "node:net";
import { CancelledError, RuntimeError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { sleep } from "../core/tasks.js";
import type { Protocol } from "./protocol.js";
import { kStart } from "./symbols.js";
import { Transport, type TransportOwner } from "./transport.js";

function ignoreError(): void {
  // Until a transport takes the socket over, a socket error only needs not to crash the thread;
  // the socket is destroyed by Node and skipped when its turn comes.
}

/** How a server describes the two ends of each accepted socket (TCP and Unix differ). */
export type ExtraInfoOf = (socket: Socket) => Record<string, unknown>;

/**
 * Listening sockets plus the connections they accepted. Made by `loop.createServer`,
 * `loop.createUnixServer` and `startServer`.
 *
 * @example
 * await using server = await loop.createServer(() => new Echo(), "127.0.0.1", 0);
 * const { port } = server.sockets[0].address() as AddressInfo;
 * await server.serveForever(); // until cancelled or closed
 *
 * Thread-safety: a server belongs to its loop's thread.
 */
export class Server implements TransportOwner {
  readonly #loop: EventLoop;
  readonly #factory: () => Protocol;
  readonly #extraOf: ExtraInfoOf;
  #servers: NodeServer[] | null;
  #serving = false;
  readonly #transports = new Set<Transport>();
  #waiters: Future<void>[] | null = [];
  #servingForever: Future<void> | null = null;
  /** Connections accepted by Node before `startServing()`: handed over when serving starts. */
  #held: Socket[] = [];

  /** @internal use `loop.createServer` / `startServer`. */
  constructor(loop: EventLoop, factory: () => Protocol, servers: NodeServer[], extraOf: ExtraInfoOf) {
    this.#loop = loop;
    this.#factory = factory;
    this.#servers = servers;
    this.#extraOf = extraOf;
    for (const srv of servers) {
      srv.on("connection", this.#onConnection);
    }
  }

  /** The listening Node servers (`.address()` gives the bound address and port); empty once closed. */
  get sockets(): NodeServer[] {
    return this.#servers === null ? [] : [...this.#servers];
  }

  getLoop(): EventLoop {
    return this.#loop;
  }

  /** Whether the server accepts connections now. */
  isServing(): boolean {
    return this.#serving;
  }

  /** Starts accepting connections (if not yet), then yields one loop iteration. */
  async startServing(): Promise<void> {
    this.#startServing();
    await sleep(0);
  }

  /**
   * Stops listening. Connections already accepted stay open (see `closeClients`); `waitClosed()`
   * waits for them. Idempotent. A pending `serveForever()` ends with `CancelledError`.
   */
  close(): void {
    const servers = this.#servers;
    if (servers === null) return;
    this.#servers = null;
    this.#serving = false;
    // Node's close() releases the listening socket now; its callback waits for the accepted
    // connections, which we track ourselves.
    for (const srv of servers) srv.close();
    for (const socket of this.#held) socket.destroy();
    this.#held = [];
    const fut = this.#servingForever;
    if (fut !== null && !fut.done()) fut.cancel();
    if (this.#transports.size === 0) this.#wakeup();
  }

  /** Closes every accepted connection gracefully (each flushes what it buffered). */
  closeClients(): void {
    for (const t of [...this.#transports]) t.close();
  }

  /** Aborts every accepted connection (buffered data is dropped). */
  abortClients(): void {
    for (const t of [...this.#transports]) t.abort();
  }

  /** Resolves once the server is closed and all its connections are gone. */
  async waitClosed(): Promise<void> {
    const waiters = this.#waiters;
    if (waiters === null) return;
    const fut = this.#loop.createFuture<void>();
    waiters.push(fut);
    await fut;
  }

  /**
   * Starts serving and waits until the server is closed. Cancelling the awaiting task closes the
   * server and waits for it, then re-throws the `CancelledError`.
   */
  async serveForever(): Promise<void> {
    if (this.#servingForever !== null) {
      throw new RuntimeError(`server ${this.toString()} is already being awaited on serveForever()`, {
        code: "ERR_LOOP_SERVE_FOREVER",
      });
    }
    if (this.#servers === null) {
      throw new RuntimeError(`server ${this.toString()} is closed`, { code: "ERR_LOOP_SERVER_CLOSED" });
    }
    this.#startServing();
    const fut = this.#loop.createFuture<void>();
    this.#servingForever = fut;
    try {
      await fut;
    } catch (err) {
      if (err instanceof CancelledError) {
        this.close();
        await this.waitClosed();
      }
      throw err;
    } finally {
      this.#servingForever = null;
    }
  }

  /** `close()` then `waitClosed()` (for `await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }

  toString(): string {
    const servers = this.#servers;
    if (servers === null) return "<Server sockets=()>";
    const addrs = servers.map((s) => {
      const a = s.address();
      return a === null ? "?" : typeof a === "string" ? a : `${a.address}:${a.port}`;
    });
    return `<Server sockets=(${addrs.join(", ")})>`;
  }

  /** @internal a connection's `connectionLost` ran. */
  transportLost(transport: Transport): void {
    this.#transports.delete(transport);
    if (this.#transports.size === 0 && this.#servers === null) this.#wakeup();
  }

  /** @internal starts accepting (what `startServing` does before yielding). */
  startServingNow(): void {
    this.#startServing();
  }

  #startServing(): void {
    if (this.#serving || this.#servers === null) return;
    this.#serving = true;
    const held = this.#held;
    this.#held = [];
    for (const socket of held) {
      socket.resume();
      this.#loop.callSoon(this.#accept, socket);
    }
  }

  #wakeup(): void {
    const waiters = this.#waiters;
    if (waiters === null) return;
    this.#waiters = null;
    for (const w of waiters) if (!w.done()) w.setResult(undefined);
  }

  /** A Node event, outside the loop's runner: hand the socket to the loop. */
  readonly #onConnection = (socket: Socket): void => {
    socket.on("error", ignoreError);
    if (this.#servers === null || this.#loop.isClosed()) {
      socket.destroy();
      return;
    }
    if (!this.#serving) {
      socket.pause();
      this.#held.push(socket);
      return;
    }
    this.#loop.callSoon(this.#accept, socket);
  };

  /** A loop callback (asyncio makes the protocol in the loop too, so the factory sees the loop). */
  readonly #accept = (socket: Socket): void => {
    if (socket.destroyed || this.#servers === null) {
      socket.destroy();
      return;
    }
    let protocol: Protocol;
    try {
      protocol = this.#factory();
      if (typeof protocol !== "object" || protocol === null) {
        throw new TypeError(`Expected the protocol factory to return a protocol object, got ${String(protocol)}`);
      }
    } catch (err) {
      socket.destroy();
      this.#loop.callExceptionHandler({
        message: "Error on transport creation for incoming connection",
        exception: err,
        server: this,
      });
      return;
    }
    if (typeof socket.setNoDelay === "function" && socket.remotePort !== undefined) socket.setNoDelay(true);
    const transport = new Transport(this.#loop, socket, protocol, this.#extraOf(socket), this);
    socket.off("error", ignoreError);
    this.#transports.add(transport);
    transport[kStart](null);
  };
}
