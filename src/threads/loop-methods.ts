/**
 * The thread methods of `EventLoop` (`handle`, `expose`, `exposeObject`). The loop core does not
 * import the thread layer (one thread's loop can be read without knowing threads exist), so this
 * module declares them on the `EventLoop` type (declaration merging) and `installThreadMethods`
 * puts them on its prototype; the public entry (src/index.ts) calls it once, and re-exports
 * `ThreadLoopMethods` so the built `index.d.ts` loads this augmentation.
 */
import type { EventLoop } from "../core/event-loop.js";
import { checkFunction, checkString, typeError } from "../core/validate.js";
import { endpointOf } from "./endpoint.js";
import type { LoopHandle } from "./loop-handle.js";

declare module "../core/event-loop.js" {
  interface EventLoop {
    /** A reference to this loop that other threads can use (see `LoopHandle`). */
    readonly handle: LoopHandle;
    /** Names `fn` so other threads can call it with `handle.callSoonThreadsafe/runCoroutineThreadsafe`. */
    expose(name: string, fn: (...args: never[]) => unknown): void;
    /** The object remote threads reach with `handle.wrap<T>()` (comlink). */
    exposeObject(obj: object): void;
  }
}

/** The thread methods of `EventLoop` (the names this module adds). */
export type ThreadLoopMethods = Pick<EventLoop, "handle" | "expose" | "exposeObject">;

/**
 * Adds the thread methods to `EventLoop`. The loop core must not import the thread layer (so it
 * can be read without knowing threads exist); index.ts calls this once instead.
 */
export function installThreadMethods(proto: EventLoop): void {
  Object.defineProperty(proto, "handle", {
    configurable: true,
    get(this: EventLoop): LoopHandle {
      return endpointOf(this).localHandle;
    },
  });
  Object.defineProperty(proto, "expose", {
    configurable: true,
    writable: true,
    value(this: EventLoop, name: string, fn: (...args: never[]) => unknown): void {
      checkString("name", name);
      checkFunction("fn", fn);
      endpointOf(this).exposed.set(name, fn);
    },
  });
  Object.defineProperty(proto, "exposeObject", {
    configurable: true,
    writable: true,
    value(this: EventLoop, obj: object): void {
      if (typeof obj !== "object" || obj === null) throw typeError("obj", "an object", obj);
      endpointOf(this).exposedObject = obj;
    },
  });
}
