/**
 * The streams entry points: `openConnection`, `startServer` and their Unix-socket variants
 * (asyncio.open_connection / asyncio.start_server).
 */
import type { EventLoop } from "../core/event-loop.js";
import { getRunningLoop } from "../core/policy.js";
import { checkFunction, readOptions } from "../core/validate.js";
import type { CreateConnectionOptions, CreateServerOptions, CreateUnixServerOptions } from "../net/connection.js";
import type { Server } from "../net/server.js";
import type { Transport } from "../net/transport.js";
import { StreamReaderProtocol, type ClientConnectedCallback } from "./protocol.js";
import { StreamReader, checkLimit } from "./reader.js";
import { StreamWriter } from "./writer.js";

/** Options of `openConnection` / `openUnixConnection`: the reader's limit plus the connection's. */
export interface OpenConnectionOptions extends CreateConnectionOptions {
  /** The reader's buffer limit. @default 65536 */
  limit?: number;
}

/** Options of `startServer`. */
export interface StartServerOptions extends CreateServerOptions {
  /** Each reader's buffer limit. @default 65536 */
  limit?: number;
}

/** Options of `startUnixServer`. */
export interface StartUnixServerOptions extends CreateUnixServerOptions {
  /** Each reader's buffer limit. @default 65536 */
  limit?: number;
}

function splitLimit<T extends { limit?: number }>(options: T): [number, Omit<T, "limit">] {
  const { limit, ...rest } = readOptions("options", options);
  return [checkLimit(limit), rest];
}

async function openWith(
  loop: EventLoop,
  limit: number,
  connect: (factory: () => StreamReaderProtocol) => Promise<[Transport, StreamReaderProtocol]>,
): Promise<[StreamReader, StreamWriter]> {
  const reader = new StreamReader({ limit, loop });
  const protocol = new StreamReaderProtocol(reader, null, loop);
  const [transport] = await connect(() => protocol);
  return [reader, new StreamWriter(transport, protocol, reader, loop)];
}

/**
 * Connects to `host:port` and returns a `[reader, writer]` pair. Errors as
 * `loop.createConnection` (`ConnectionRefusedError`, `GaiError`, ...). Needs a running loop.
 *
 * @example
 * const [reader, writer] = await openConnection("127.0.0.1", port);
 * writer.write("hello\n");
 * console.log(String(await reader.readline()));
 * writer.close();
 * await writer.waitClosed();
 */
export async function openConnection(
  host: string,
  port: number,
  options: OpenConnectionOptions = {},
): Promise<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options);
  return openWith(loop, limit, (factory) => loop.createConnection(factory, host, port, rest));
}

/** `openConnection` over the Unix socket at `path`. */
export async function openUnixConnection(
  path: string,
  options: { limit?: number } = {},
): Promise<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const [limit] = splitLimit(options);
  return openWith(loop, limit, (factory) => loop.createUnixConnection(factory, path));
}

/**
 * Listens on `host:port` and calls `clientConnected(reader, writer)` for every connection. An
 * async callback runs as a task; if it throws, the loop's exception handler gets
 * `Unhandled exception in client_connected_cb` and the connection is closed. Needs a running loop.
 *
 * @example
 * const server = await startServer(async (reader, writer) => {
 *   for await (const line of reader) writer.write(line);
 *   writer.close();
 * }, "127.0.0.1", 0);
 */
export async function startServer(
  clientConnected: ClientConnectedCallback,
  host: string | null,
  port: number,
  options: StartServerOptions = {},
): Promise<Server> {
  checkFunction("clientConnected", clientConnected);
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options);
  const factory = (): StreamReaderProtocol =>
    new StreamReaderProtocol(new StreamReader({ limit, loop }), clientConnected, loop);
  return loop.createServer(factory, host, port, rest);
}

/** `startServer` on the Unix socket at `path`. */
export async function startUnixServer(
  clientConnected: ClientConnectedCallback,
  path: string,
  options: StartUnixServerOptions = {},
): Promise<Server> {
  checkFunction("clientConnected", clientConnected);
  const loop = getRunningLoop();
  const [limit, rest] = splitLimit(options);
  const factory = (): StreamReaderProtocol =>
    new StreamReaderProtocol(new StreamReader({ limit, loop }), clientConnected, loop);
  return loop.createUnixServer(factory, path, rest);
}
