/**
 * Opening connections and servers: the bodies of `loop.createConnection`, `loop.createServer` and
 * their Unix-socket variants (installed on `EventLoop` by install.ts).
 *
 * Every wait on Node (connect, listen, DNS) goes through a loop future, so a task awaiting one of
 * these calls is cancellable there, and a cancelled or failed attempt destroys what it opened.
 */
import { lookup } from "node:dns/promises";
import { lstat, unlink } from "node:fs/promises";
import net from "node:net";
import { ConnectionResetError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { checkFunction, checkObject, checkString, describeValue, typeError } from "../core/validate.js";
import { toError, toOSError } from "./os-error.js";
import { checkReusePort } from "./reuse-port.js";
import type { Protocol } from "./protocol.js";
import { Server, type ExtraInfoOf } from "./server.js";
import { kStart } from "./symbols.js";
import { Transport } from "./transport.js";

/** Options of `loop.createConnection`. */
export interface CreateConnectionOptions {
  /** Bind the local end to this address and port before connecting (asyncio `local_addr`). */
  localAddr?: readonly [host: string, port: number];
  /** Resolve the host to this address family only. @default 0 (either) */
  family?: 0 | 4 | 6;
}

/** Options of `loop.createServer`. */
export interface CreateServerOptions {
  /** The listen backlog. @default 100 */
  backlog?: number;
  /**
   * `SO_REUSEPORT`: several servers, in this thread or in other loop threads of the process, may
   * listen on the same port, and the kernel spreads the connections over them (one listener per
   * thread of a `spawnLoopPool`, say). Needs Node >= 22.12 (or >= 23.1) on Linux 3.9+ or another
   * platform libuv supports it on; on an older Node it throws `RuntimeError`
   * (`ERR_LOOP_REUSEPORT_UNSUPPORTED`) naming the version, instead of Node's silent ignore.
   * @default false
   */
  reusePort?: boolean;
  /** Accept connections at once. With false, call `startServing()` or `serveForever()` later. @default true */
  startServing?: boolean;
}

/** Options of `loop.createUnixServer`. */
export interface CreateUnixServerOptions {
  /** @default 100 */
  backlog?: number;
  /** @default true */
  startServing?: boolean;
}

/** A TCP address as `getExtraInfo("peername" | "sockname")` returns it. */
export interface SocketAddress {
  address: string;
  port: number;
  family: string;
}

function checkPort(name: string, value: unknown): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw typeError(name, "an integer port (0-65535)", value);
  if (value < 0 || value > 65535) {
    throw new RangeError(`Expected \`${name}\` to be an integer port (0-65535), got ${describeValue(value)}`);
  }
}

function checkBacklog(value: unknown): number {
  if (value === undefined) return 100;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw typeError("options.backlog", "an integer >= 0", value);
  }
  return value;
}

function checkBool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw typeError(name, "a boolean", value);
  return value;
}

function checkFactory(value: unknown): asserts value is () => Protocol {
  checkFunction("protocolFactory", value);
}

function makeProtocol<P extends Protocol>(factory: () => P): P {
  const protocol = factory();
  if (typeof protocol !== "object" || protocol === null) {
    throw typeError("the protocol factory's result", "a protocol object", protocol);
  }
  return protocol;
}

const tcpExtra: ExtraInfoOf = (socket) => ({
  peername: { address: socket.remoteAddress, port: socket.remotePort, family: socket.remoteFamily },
  sockname: { address: socket.localAddress, port: socket.localPort, family: socket.localFamily },
});

/**
 * Waits (on a loop future, so the awaiting task can be cancelled) until `socket` connects; on
 * failure or cancellation the socket is destroyed and the typed error thrown.
 */
async function connected(loop: EventLoop, socket: net.Socket): Promise<void> {
  const fut: Future<void> = loop.createFuture<void>();
  const onConnect = (): void => {
    if (!fut.done()) fut.setResult(undefined);
  };
  const onError = (err: Error): void => {
    if (!fut.done()) fut.setException(toOSError(err));
  };
  socket.once("connect", onConnect);
  socket.once("error", onError);
  try {
    await fut;
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    socket.off("connect", onConnect);
    socket.off("error", onError);
  }
}

/** Turns a connected socket into a transport + protocol; resolves after `connectionMade`. */
async function finishConnection<P extends Protocol>(
  loop: EventLoop,
  socket: net.Socket,
  factory: () => P,
  extra: Record<string, unknown>,
): Promise<[Transport, P]> {
  // Between `connect` and the transport taking over, an error must not crash the thread.
  let early: Error | null = null;
  const onEarlyError = (err: Error): void => {
    early ??= toError(err);
  };
  socket.on("error", onEarlyError);
  let protocol: P;
  try {
    if (socket.destroyed) throw early ?? new ConnectionResetError("Connection lost");
    protocol = makeProtocol(factory);
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    socket.off("error", onEarlyError);
  }
  const transport = new Transport(loop, socket, protocol, extra, null);
  const waiter = loop.createFuture<void>();
  transport[kStart](waiter);
  try {
    await waiter;
  } catch (err) {
    transport.close();
    throw err;
  }
  return [transport, protocol];
}

/**
 * `loop.createConnection`: connects to `host:port` over TCP and returns `[transport, protocol]`
 * once `protocol.connectionMade` has run. Failures are typed: `ConnectionRefusedError`,
 * `GaiError` (the name did not resolve), other `OSError`s.
 */
export async function createConnection<P extends Protocol>(
  this: EventLoop,
  protocolFactory: () => P,
  host: string,
  port: number,
  options: CreateConnectionOptions = {},
): Promise<[Transport, P]> {
  checkFactory(protocolFactory);
  checkString("host", host);
  checkPort("port", port);
  checkObject("options", options);
  const connectOptions: net.TcpNetConnectOpts = { host, port, allowHalfOpen: true, noDelay: true };
  if (options.family !== undefined) {
    if (options.family !== 0 && options.family !== 4 && options.family !== 6) {
      throw typeError("options.family", "0, 4 or 6", options.family);
    }
    connectOptions.family = options.family;
  }
  if (options.localAddr !== undefined) {
    const local: unknown = options.localAddr;
    if (!Array.isArray(local) || typeof local[0] !== "string") {
      throw typeError("options.localAddr", "a [host, port] pair", local);
    }
    checkPort("options.localAddr[1]", local[1]);
    connectOptions.localAddress = local[0];
    connectOptions.localPort = local[1];
  }
  const socket = net.connect(connectOptions);
  await connected(this, socket);
  return finishConnection(this, socket, protocolFactory, tcpExtra(socket));
}

/** `loop.createUnixConnection`: as `createConnection`, over the Unix socket at `path`. */
export async function createUnixConnection<P extends Protocol>(
  this: EventLoop,
  protocolFactory: () => P,
  path: string,
): Promise<[Transport, P]> {
  checkFactory(protocolFactory);
  checkString("path", path);
  const socket = net.connect({ path, allowHalfOpen: true });
  await connected(this, socket);
  return finishConnection(this, socket, protocolFactory, { peername: path, sockname: "" });
}

/** Listens with one Node server; the loop future makes the wait cancellable. */
async function listen(loop: EventLoop, srv: net.Server, options: net.ListenOptions, where: string): Promise<void> {
  const fut = loop.createFuture<void>();
  const onListening = (): void => {
    if (!fut.done()) fut.setResult(undefined);
  };
  const onError = (err: Error): void => {
    if (fut.done()) return;
    // "listen EADDRINUSE: address already in use 127.0.0.1:80" -> "address already in use"
    const reason = err.message.replace(/^\w+ [A-Z0-9_]+: /u, "").replace(/ \S*[:/]\S*$/u, "");
    fut.setException(toOSError(err, `error while attempting to bind on address ${where}: ${reason}`));
  };
  srv.once("listening", onListening);
  srv.once("error", onError);
  try {
    srv.listen(options);
    await fut;
  } catch (err) {
    srv.close();
    throw err;
  } finally {
    srv.off("listening", onListening);
    srv.off("error", onError);
  }
}

function reportServerError(loop: EventLoop, srv: net.Server): void {
  // After listening, Node reports accept() failures (EMFILE, ...) on the server; asyncio logs them.
  srv.on("error", (err: Error) => {
    if (loop.isClosed()) return;
    loop.callExceptionHandler({ message: "socket.accept() failed", exception: toOSError(err), socket: srv });
  });
}

/**
 * `loop.createServer`: listens on `host:port` (null or "": every interface; a name: each address
 * it resolves to, one Node server each) and makes a protocol per connection.
 */
export async function createServer(
  this: EventLoop,
  protocolFactory: () => Protocol,
  host: string | null,
  port: number,
  options: CreateServerOptions = {},
): Promise<Server> {
  checkFactory(protocolFactory);
  if (host !== null && host !== undefined && typeof host !== "string") {
    throw typeError("host", "a string or null", host);
  }
  checkPort("port", port);
  checkObject("options", options);
  const backlog = checkBacklog(options.backlog);
  const reusePort = checkBool("options.reusePort", options.reusePort, false);
  if (reusePort) checkReusePort();
  const startServing = checkBool("options.startServing", options.startServing, true);
  let addresses: (string | undefined)[];
  if (host === null || host === undefined || host === "") {
    addresses = [undefined];
  } else if (net.isIP(host) !== 0) {
    addresses = [host];
  } else {
    const fut = this.createFuture<string[]>();
    lookup(host, { all: true }).then(
      (found) => {
        if (!fut.done()) fut.setResult([...new Set(found.map((a) => a.address))]);
      },
      (err: unknown) => {
        if (!fut.done()) fut.setException(toOSError(err));
      },
    );
    addresses = await fut;
  }
  const servers: net.Server[] = [];
  try {
    for (const address of addresses) {
      const srv = net.createServer({ allowHalfOpen: true });
      servers.push(srv);
      const listenOptions: net.ListenOptions & { reusePort?: boolean } = { port, backlog };
      if (address !== undefined) listenOptions.host = address;
      if (reusePort) listenOptions.reusePort = true;
      await listen(this, srv, listenOptions, `(${address === undefined ? "'*'" : `'${address}'`}, ${port})`);
      reportServerError(this, srv);
    }
  } catch (err) {
    for (const srv of servers) srv.close();
    throw err;
  }
  const server = new Server(this, protocolFactory, servers, tcpExtra);
  if (startServing) await server.startServing();
  return server;
}

/**
 * `loop.createUnixServer`: listens on the Unix socket `path`. A stale socket file at `path` is
 * removed first (asyncio does the same); Node removes the file again when the server closes.
 */
export async function createUnixServer(
  this: EventLoop,
  protocolFactory: () => Protocol,
  path: string,
  options: CreateUnixServerOptions = {},
): Promise<Server> {
  checkFactory(protocolFactory);
  checkString("path", path);
  checkObject("options", options);
  const backlog = checkBacklog(options.backlog);
  const startServing = checkBool("options.startServing", options.startServing, true);
  const fut = this.createFuture<void>();
  lstat(path).then(
    async (st) => {
      if (st.isSocket()) await unlink(path);
      if (!fut.done()) fut.setResult(undefined);
    },
    (err: unknown) => {
      // A missing file is the normal case; anything else shows up when listening.
      void err;
      if (!fut.done()) fut.setResult(undefined);
    },
  ).catch((err: unknown) => {
    if (!fut.done()) fut.setException(toOSError(err));
  });
  await fut;
  const srv = net.createServer({ allowHalfOpen: true });
  await listen(this, srv, { path, backlog }, `'${path}'`);
  reportServerError(this, srv);
  const server = new Server(this, protocolFactory, [srv], () => ({ peername: "", sockname: path }));
  if (startServing) await server.startServing();
  return server;
}
