/**
 * The comlink bridge: `loop.exposeObject(obj)` in one thread, `handle.wrap<T>()` in another gives a
 * typed `Remote<T>` (comlink's mapping, declared in remote-types.ts without comlink's DOM types).
 *
 * Four things comlink 4.4.2 does not do, added here:
 * - calls run as tasks on the exposing loop (so `getRunningLoop()`, `currentTask()`, context
 *   variables and cancellation work inside them), not in a bare 'message' event;
 * - errors cross with multiloop's envelope (class, `cause`, own properties, thread name), through
 *   comlink's "throw" transfer handler, replaced for the whole thread on first use (comlink#594);
 * - a call still pending when the exposing thread dies or its loop closes is rejected with
 *   `ThreadExitError` / "Event loop is closed": the bridge tracks request ids on its own endpoint
 *   and answers them itself when the port closes (comlink alone hangs: comlink#601). While calls
 *   are in flight the root proxy is kept alive, so comlink's finalizer cannot release the endpoint
 *   under them (comlink#692).
 * - a remote proxy reaches only the exposed object's own members and those of its own class
 *   prototypes: comlink alone walks any path, so `api.__proto__.polluted = "x"` set
 *   `({}).polluted` in the exposing thread and `api.constructor.constructor` reached `Function`.
 *   Here every step is checked, and a refused one rejects with `LookupError` naming the path.
 *   Nothing a message holds can throw out of the port handler either.
 * This relies on comlink 4.4.2's wire format (`{id, type: "HANDLER", name: "throw", value}`), which
 * is why the dependency is pinned exactly.
 */
import * as Comlink from "comlink";
import { types } from "node:util";
import { MessageChannel, type MessagePort, type Transferable } from "node:worker_threads";
import { CLOSED, STATE } from "../core/mailbox.js";
import { LookupError, LoopClosedError } from "../core/errors.js";
import { errorRepr } from "../core/format.js";
import { fromEnvelope, isEnvelope, toEnvelope } from "./error-envelope.js";
import { currentThreadName } from "../core/thread-name.js";
import { deathError, learnDeath, type DeathInfo } from "./thread-death.js";
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

/**
 * comlink asks each transfer handler's `canHandle` about every argument and result; its own ask
 * with `in` and a property read, which throw on a revoked proxy (out of a call, or out of the
 * exposing thread's message handler). Guarded, such a value is "raw", and structured clone then
 * refuses it like any other value it cannot copy.
 */
function guardedCanHandle<T>(handler: Comlink.TransferHandler<T, unknown>): (value: unknown) => value is T {
  return (value: unknown): value is T => {
    if (types.isProxy(value)) return false;
    try {
      return handler.canHandle(value);
    } catch {
      return false;
    }
  };
}

function installThrowHandler(): void {
  if (throwHandlerInstalled) return;
  throwHandlerInstalled = true;
  const original = Comlink.transferHandlers.get("throw");
  const proxyHandler = Comlink.transferHandlers.get("proxy");
  if (proxyHandler !== undefined) {
    Comlink.transferHandlers.set("proxy", { ...proxyHandler, canHandle: guardedCanHandle(proxyHandler) });
  }
  if (original === undefined) return;
  const handler: Comlink.TransferHandler<Thrown, unknown> = {
    canHandle: guardedCanHandle(original as Comlink.TransferHandler<Thrown, unknown>),
    serialize: ({ value }) => [toEnvelope(value, currentThreadName()), []],
    deserialize: (serialized) => {
      throw isEnvelope(serialized) ? fromEnvelope(serialized) : serialized;
    },
  };
  Comlink.transferHandlers.set("throw", handler);
}

/** Names no path from another thread may use, at any step. */
const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

/** The real object behind each task view (so a GET answers with the value, not the view). */
const guarded = new WeakMap<object, object>();

function refusal(path: readonly string[], name: string, threadName: string, why: string): LookupError {
  const shown = [...path, name].join(".");
  return new LookupError(
    `Refused the property path '${shown}' of the object exposed on thread '${threadName}': ${why}`,
    {
      hint:
        "A remote proxy reaches only the exposed object's own members and those of its own class " +
        "prototypes; never __proto__, constructor, prototype, nor what Object.prototype or Function.prototype hold.",
    },
  );
}

/**
 * Where `name` is found on `obj`'s prototype chain: "own" (the object or one of its own class
 * prototypes), "base" (Object.prototype or Function.prototype: refused), or "none".
 */
function memberKind(obj: object, name: string): "own" | "base" | "none" {
  for (let o: object | null = obj; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    if (o === Object.prototype || o === Function.prototype) return Object.hasOwn(o, name) ? "base" : "none";
    if (Object.hasOwn(o, name)) return "own";
  }
  return "none";
}

function checkMember(obj: object, name: string, path: readonly string[], threadName: string): void {
  if (FORBIDDEN.has(name)) throw refusal(path, name, threadName, `'${name}' is never reachable from another thread`);
  if (memberKind(obj, name) === "base") {
    throw refusal(path, name, threadName, `'${name}' belongs to Object.prototype or Function.prototype, not to the exposed object`);
  }
}

/**
 * Checks every step of a path a remote proxy sent, on the real exposed object, before comlink
 * walks it (comlink itself reads `.apply` and the like on what it reaches, so the check cannot
 * live in a proxy's traps). Throws LookupError naming the first refused step.
 */
function checkPath(root: object, path: readonly string[], threadName: string): void {
  let obj: unknown = root;
  for (let i = 0; i < path.length; i++) {
    if ((typeof obj !== "object" && typeof obj !== "function") || obj === null) return;
    const name = path[i] as string;
    checkMember(obj, name, path.slice(0, i), threadName);
    if (i < path.length - 1) obj = Reflect.get(obj, name);
  }
}

/**
 * A view of `real` for comlink to walk: every function reached runs as a task on the endpoint's
 * loop, objects reached are viewed the same way. The proxy's own target is an empty object, so no
 * proxy invariant ties what it returns to `real` (a frozen exposed object works).
 */
function taskView(endpoint: ExposingLoop, real: object): object {
  const proxy = new Proxy(Object.create(null) as object, {
    get(_target, prop): unknown {
      if (typeof prop === "symbol") return undefined;
      const value: unknown = Reflect.get(real, prop, real);
      if (typeof value === "function") {
        return (...args: unknown[]): unknown =>
          endpoint.loop.createTask(() => (value as (...a: unknown[]) => unknown).apply(real, args), { name: `comlink:${prop}` });
      }
      if (typeof value === "object" && value !== null) return taskView(endpoint, value);
      return value;
    },
    set(_target, prop, value: unknown): boolean {
      return typeof prop === "string" && Reflect.set(real, prop, value, real);
    },
    has(_target, prop): boolean {
      return typeof prop === "string" && prop in real;
    },
  });
  guarded.set(proxy, real);
  return proxy;
}

/** A comlink reply carrying `error` as a thrown value, in the bridge's envelope. */
function thrownReply(id: unknown, error: unknown, threadName: string): Record<string, unknown> {
  return { id, type: "HANDLER", name: "throw", value: toEnvelope(error, threadName) };
}

/**
 * Serves the loop's exposed object on `port` (loop side of `handle.wrap()`), through comlink's
 * `expose`, behind an endpoint of our own that
 * - answers what comlink must not see: a malformed message, a path that is not a list of names,
 *   a refused path (`checkPath`), a request for a new endpoint (served here, the same way);
 * - catches anything comlink throws while reading a message (nothing may throw out of a port
 *   handler) and answers that call with the error instead;
 * - answers a GET with the object itself, not the view over it, and closes the port after a
 *   RELEASE (comlink closes only real MessagePorts).
 */
export function exposeOnPort(endpoint: ExposingLoop, port: MessagePort): void {
  installThrowHandler();
  const threadName = currentThreadName();
  const exposed = endpoint.exposedObject ?? {};
  const root = taskView(endpoint, exposed);
  const releasing = new Set<unknown>();
  const send = (message: Record<string, unknown>, transfer: readonly Transferable[] = []): void => {
    try {
      port.postMessage(message, transfer);
    } catch (err) {
      try {
        port.postMessage(thrownReply(message["id"], new TypeError(`The result cannot be sent back to the calling thread: ${errorRepr(err)}`), threadName));
      } catch {
        // The port is gone: nobody waits for this answer.
      }
    }
  };
  const ep = {
    postMessage(message: Record<string, unknown>, transfer?: readonly Transferable[]): void {
      const value = message["value"];
      const real = message["type"] === "RAW" && typeof value === "object" && value !== null ? guarded.get(value) : undefined;
      send(real === undefined ? message : { ...message, value: real }, transfer);
      if (releasing.delete(message["id"])) port.close();
    },
    addEventListener(_type: string, listener: (ev: { data: unknown }) => void): void {
      port.on("message", (data: unknown) => {
        if (typeof data !== "object" || data === null) return;
        const message = data as Record<string, unknown>;
        const id = message["id"];
        try {
          const path = message["path"];
          if (path !== undefined && (!Array.isArray(path) || !path.every((p) => typeof p === "string"))) {
            throw new TypeError("Received a comlink message whose path is not a list of property names");
          }
          if (path !== undefined) checkPath(exposed, path, threadName);
          if (message["type"] === "ENDPOINT") {
            const { port1, port2 } = new MessageChannel();
            exposeOnPort(endpoint, port1);
            send({ id, type: "RAW", value: port2 }, [port2]);
            return;
          }
          if (message["type"] === "RELEASE") releasing.add(id);
          listener({ data: message });
        } catch (err) {
          send(thrownReply(id, err, threadName));
        }
      });
    },
    removeEventListener(): void {
      // comlink removes its listener on RELEASE, right before the port is closed here.
    },
  };
  Comlink.expose(root, ep);
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

  /**
   * Ids of SET requests. comlink's SET is an assignment (`api.x = 1`), whose promise nobody can
   * await: a refusal (or a death) would be an unhandled rejection that ends this thread. Their
   * failures become a process warning instead, and the SET resolves to false.
   */
  const sets = new Set<string>();
  const dispatch = (data: WireMessage & { name?: unknown; value?: unknown }): void => {
    let reply: unknown = data;
    if (data.id !== undefined && sets.delete(data.id) && data.type === "HANDLER" && data.name === "throw") {
      const error = isEnvelope(data.value) ? fromEnvelope(data.value) : data.value;
      process.emitWarning(`A property assignment through a comlink proxy of thread '${threadName}' failed: ${errorRepr(error)}`, {
        type: "MultiloopWarning",
        code: "MULTILOOP_REMOTE_SET_FAILED",
      });
      reply = { id: data.id, type: "RAW", value: false };
    }
    for (const listener of listeners) {
      try {
        listener({ data: reply });
      } catch {
        // comlink's listener only hands the reply to the waiting call; nothing may escape here.
      }
    }
  };

  const deliverError = (error: unknown): void => {
    const ids = [...pending];
    pending.clear();
    port.unref();
    if (root !== null) inFlightRoots.delete(root);
    const value = toEnvelope(error, threadName);
    for (const id of ids) dispatch({ id, type: "HANDLER", name: "throw", value });
  };

  type Listener = (ev: { data: unknown }) => void;
  const endpoint = {
    postMessage(message: WireMessage, transfer?: readonly unknown[]): void {
      if (closed) {
        // Answer at once, asynchronously, as if the thread had: a dead or closed loop.
        const id = message.id;
        if (id !== undefined) {
          if (message.type === "SET") sets.add(id);
          pending.add(id);
          queueMicrotask(() => {
            deliverError(closedError());
          });
        }
        return;
      }
      if (message.id !== undefined) {
        if (message.type === "SET") sets.add(message.id);
        if (pending.size === 0) {
          port.ref();
          if (root !== null) inFlightRoots.add(root);
        }
        pending.add(message.id);
      }
      try {
        port.postMessage(message, transfer as never);
      } catch (err) {
        // An argument structured clone refuses: this call fails, as a TypeError naming it.
        const id = message.id;
        if (id === undefined) throw err;
        const path = Array.isArray((message as { path?: unknown }).path) ? (message as { path: unknown[] }).path.join(".") : "";
        const error = new TypeError(
          `Cannot send the arguments of '${path}' to thread '${threadName}' through its comlink proxy: ${errorRepr(err)}. ` +
            "Arguments cross threads by structured clone; pass plain data instead.",
          { cause: err },
        );
        queueMicrotask(() => {
          if (pending.delete(id) && pending.size === 0) {
            port.unref();
            if (root !== null) inFlightRoots.delete(root);
          }
          dispatch({ id, type: "HANDLER", name: "throw", value: toEnvelope(error, threadName) });
        });
      }
    },
    addEventListener(_type: string, listener: Listener): void {
      listeners.add(listener);
    },
    removeEventListener(_type: string, listener: Listener): void {
      listeners.delete(listener);
    },
  };

  const closedError = (): Error =>
    Atomics.load(control, STATE) === CLOSED ? new LoopClosedError() : deathError(threadName, control, null);

  port.on("message", (data: unknown) => {
    if (typeof data !== "object" || data === null) return;
    const id = (data as WireMessage).id;
    if (id !== undefined && pending.delete(id) && pending.size === 0) {
      port.unref();
      if (root !== null) inFlightRoots.delete(root);
    }
    dispatch(data);
  });
  port.on("close", () => {
    closed = true;
    if (pending.size === 0) return;
    if (Atomics.load(control, STATE) === CLOSED) {
      deliverError(new LoopClosedError());
      return;
    }
    // The thread died: wait for its exit code (thread-death.ts).
    void learnDeath(control, deathInfo).then((info) => {
      deliverError(deathError(threadName, control, info));
    });
  });
  port.unref();

  // comlink's Remote<T> and ours describe the same proxy; ours needs no DOM types.
  const remote = Comlink.wrap<T>(endpoint) as unknown as Remote<T>;
  root = remote;
  handle.root = root;
  return remote;
}
