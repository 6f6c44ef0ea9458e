/**
 * Adds the networking methods to `EventLoop` (asyncio has them on the loop).
 *
 * The loop core must not import the outer layers (see STYLE.md), so event-loop.ts knows nothing of
 * sockets: this module augments the `EventLoop` type (declaration merging) and `installNetworking`
 * puts the methods on its prototype. The public entry (src/index.ts) calls it once, and re-exports
 * `NetworkingLoopMethods` so the built `index.d.ts` loads this augmentation.
 */
import type { EventLoop } from "../core/event-loop.js";
import {
  createConnection,
  createServer,
  createUnixConnection,
  createUnixServer,
  type CreateConnectionOptions,
  type CreateServerOptions,
  type CreateUnixServerOptions,
} from "./connection.js";
import type { Protocol } from "./protocol.js";
import type { Server } from "./server.js";
import type { Transport } from "./transport.js";

declare module "../core/event-loop.js" {
  interface EventLoop {
    /**
     * Listens on `host:port` and makes a protocol with `protocolFactory()` for every connection
     * (its callbacks run on this loop). `host` null or "" listens on every interface; port 0 picks
     * a free port (see `server.sockets[0].address()`).
     *
     * @example
     * const server = await loop.createServer(() => new Echo(), "127.0.0.1", 0);
     */
    createServer(
      protocolFactory: () => Protocol,
      host: string | null,
      port: number,
      options?: CreateServerOptions,
    ): Promise<Server>;
    /**
     * Connects to `host:port` and returns `[transport, protocol]` after `connectionMade` ran.
     * Throws `ConnectionRefusedError`, `GaiError` (name not resolved) or another `OSError`.
     *
     * Cancellation: cancelling the awaiting task closes the half-made connection.
     */
    createConnection<P extends Protocol>(
      protocolFactory: () => P,
      host: string,
      port: number,
      options?: CreateConnectionOptions,
    ): Promise<[Transport, P]>;
    /** `createServer` on a Unix socket at `path`. */
    createUnixServer(protocolFactory: () => Protocol, path: string, options?: CreateUnixServerOptions): Promise<Server>;
    /** `createConnection` to the Unix socket at `path`. */
    createUnixConnection<P extends Protocol>(protocolFactory: () => P, path: string): Promise<[Transport, P]>;
  }
}

/** The networking methods of `EventLoop` (the names this module adds). */
export type NetworkingLoopMethods = Pick<EventLoop, "createServer" | "createConnection" | "createUnixServer" | "createUnixConnection">;

let installed = false;

/** Puts the networking methods on `proto` (EventLoop.prototype); idempotent. */
export function installNetworking(proto: EventLoop): void {
  if (installed) return;
  installed = true;
  Object.defineProperties(proto, {
    createServer: { value: createServer, writable: true, configurable: true },
    createConnection: { value: createConnection, writable: true, configurable: true },
    createUnixServer: { value: createUnixServer, writable: true, configurable: true },
    createUnixConnection: { value: createUnixConnection, writable: true, configurable: true },
  });
}
