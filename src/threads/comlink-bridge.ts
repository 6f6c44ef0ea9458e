/**
 * The comlink bridge: `loop.exposeObject(obj)` in one thread, `handle.wrap<T>()` in another gives a
 * typed `Remote<T>` (comlink's mapping, declared in remote-types.ts without comlink's DOM types).
 *
 * Three things comlink 4.4.2 does not do, added here:
 * - calls run as tasks on the exposing loop (so `getRunningLoop()`, `currentTask()`, context
 *   variables and cancellation work inside them), not in a bare 'message' event;
 * - errors cross with multiloop's envelope (class, `cause`, own properties, thread name), through
 *   comlink's "throw" transfer handler, replaced for the whole thread on first use (comlink#594);
 * - a call still pending when the exposing thread dies or its loop closes is rejected with
 *   `ThreadExitError` / "Event loop is closed": the bridge tracks request ids on its own endpoint
 *   and answers them itself when the port closes (comlink alone hangs: comlink#601). While calls
 *   are in flight the root proxy is kept alive, so comlink's finalizer cannot release the endpoint
 *   under them (comlink#692).
 * This relies on comlink 4.4.2's wire format (`{id, type: "HANDLER", name: "throw", value}`), which
 * is why the dependency is pinned exactly.
 */
import * as Comlink from "comlink";
import type { MessagePort } from "node:worker_threads";
import { CLOSED, DEAD, EXIT_CODE, STATE } from "../core/mailbox.js";
import { LoopClosedError, ThreadExitError } from "../core/errors.js";
import { fromEnvelope, isEnvelope, toEnvelope } from "./error-envelope.js";
import { currentThreadName } from "../core/thread-name.js";
import type { DeathInfo } from "./channel.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Remote } from "./remote-types.js";

/**
 * What the bridge needs of the exposing loop's endpoint (endpoint.ts satisfies it). Declared here,
 * on the lower side, so the bridge imports neither the endpoint nor the handle, which use it.
 */
export interface ExposingLoop {
  readonly loop: EventLoop;
  readonly exposedObject: object | null;
  addCleanup(fn: () => void): void;
}

/** The handle a proxy was made from: it keeps the comlink root proxy alive (comlink#692). */
export interface ProxyOwner {
  root: object | null;
}

let throwHandlerInstalled = false;

interface Thrown {
  value: unknown;
}

function installThrowHandler(): void {
  if (throwHandlerInstalled) return;
  throwHandlerInstalled = true;
  const original = Comlink.transferHandlers.get("throw");
  if (original === undefined) return;
  const handler: Comlink.TransferHandler<Thrown, unknown> = {
    canHandle: (value: unknown): value is Thrown => original.canHandle(value),
    serialize: ({ value }) => [toEnvelope(value, currentThreadName()), []],
    deserialize: (serialized) => {
      throw isEnvelope(serialized) ? fromEnvelope(serialized) : serialized;
    },
  };
  Comlink.transferHandlers.set("throw", handler);
}

/** Wraps `target` so that every function reached through it runs as a task on the endpoint's loop. */
function taskProxy(endpoint: ExposingLoop, target: object, cache: WeakMap<object, object>): object {
  const cached = cache.get(target);
  if (cached !== undefined) return cached;
  const proxy = new Proxy(target, {
    get(obj, prop, receiver): unknown {
      const value: unknown = Reflect.get(obj, prop, receiver);
      if (typeof value === "function") {
        return (...args: unknown[]): unknown =>
          endpoint.loop.createTask(() => (value as (...a: unknown[]) => unknown).apply(obj, args), {
            name: `comlink:${String(prop)}`,
          });
      }
      if (typeof value === "object" && value !== null) return taskProxy(endpoint, value, cache);
      return value;
    },
  });
  cache.set(target, proxy);
  return proxy;
}

/** Serves the loop's exposed object on `port` (loop side of `handle.wrap()`). */
export function exposeOnPort(endpoint: ExposingLoop, port: MessagePort): void {
  installThrowHandler();
  const obj = endpoint.exposedObject ?? {};
  Comlink.expose(taskProxy(endpoint, obj, new WeakMap()), port);
  // Served ports must not keep the thread alive: the loop does that while it runs.
  port.unref();
  endpoint.addCleanup(() => {
    port.close();
  });
}

interface WireMessage {
  id?: string;
  type?: string;
}

const inFlightRoots = new Set<object>();

/** The caller's side: a comlink proxy over `port` that cannot hang on a dead thread. */
export function wrapPort<T>(
  port: MessagePort,
  threadName: string,
  control: Int32Array,
  deathInfo: Promise<DeathInfo> | null,
  handle: ProxyOwner,
): Remote<T> {
  installThrowHandler();
  const pending = new Set<string>();
  const listeners = new Set<(ev: { data: unknown }) => void>();
  let root: object | null = null;
  let closed = false;

  const deliverError = (error: unknown): void => {
    const ids = [...pending];
    pending.clear();
    port.unref();
    if (root !== null) inFlightRoots.delete(root);
    const value = toEnvelope(error, threadName);
    for (const id of ids) {
      for (const listener of listeners) listener({ data: { id, type: "HANDLER", name: "throw", value } });
    }
  };

  type Listener = (ev: { data: unknown }) => void;
  const endpoint = {
    postMessage(message: WireMessage, transfer?: readonly unknown[]): void {
      if (closed) {
        // Answer at once, asynchronously, as if the thread had: a dead or closed loop.
        const id = message.id;
        if (id !== undefined) {
          pending.add(id);
          queueMicrotask(() => {
            deliverError(closedError());
          });
        }
        return;
      }
      if (message.id !== undefined) {
        if (pending.size === 0) {
          port.ref();
          if (root !== null) inFlightRoots.add(root);
        }
        pending.add(message.id);
      }
      port.postMessage(message, transfer as never);
    },
    addEventListener(_type: string, listener: Listener): void {
      listeners.add(listener);
    },
    removeEventListener(_type: string, listener: Listener): void {
      listeners.delete(listener);
    },
  };

  const closedError = (): Error => {
    const state = Atomics.load(control, STATE);
    if (state === CLOSED) return new LoopClosedError();
    return new ThreadExitError(threadName, state === DEAD ? Atomics.load(control, EXIT_CODE) : null);
  };

  port.on("message", (data: WireMessage) => {
    if (data.id !== undefined && pending.delete(data.id) && pending.size === 0) {
      port.unref();
      if (root !== null) inFlightRoots.delete(root);
    }
    for (const listener of listeners) listener({ data });
  });
  port.on("close", () => {
    closed = true;
    if (pending.size === 0) return;
    if (Atomics.load(control, STATE) === CLOSED || deathInfo === null) {
      deliverError(closedError());
      return;
    }
    void deathInfo.then((info) => {
      deliverError(new ThreadExitError(threadName, info.exitCode, info.cause === undefined ? {} : { cause: info.cause }));
    });
  });
  port.unref();

  // comlink's Remote<T> and ours describe the same proxy; ours needs no DOM types.
  const remote = Comlink.wrap<T>(endpoint) as unknown as Remote<T>;
  root = remote;
  handle.root = root;
  return remote;
}
