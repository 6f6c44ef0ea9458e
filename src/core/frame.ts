/**
 * Where the running loop, the current task and the current context live.
 *
 * Two layers, for speed:
 * - `state.sync` is set by the loop while it runs a callback or a task's step synchronously. Code
 *   called from there reads it with one property load; no AsyncLocalStorage work per callback.
 * - `als` carries the same frame across awaits: a task's coroutine is started inside `als.run(frame)`,
 *   so its continuations (after awaiting a loop future, a plain Promise or a Node API) still find
 *   their task, loop and context. Code the loop did not start has no store and sees no loop.
 *
 * The loop clears `state.sync` before it yields to microtasks, so continuations always fall back to
 * the AsyncLocalStorage frame.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Context, ContextData } from "./context.js";
import type { EventLoop } from "./event-loop.js";
import type { Task } from "./task.js";

export interface Frame {
  readonly loop: EventLoop | null;
  readonly task: Task<unknown> | null;
  /** The context object, once something needed one; until then `data` is the snapshot to use. */
  ctx: Context | null;
  data: ContextData;
}

export const EMPTY_DATA: ContextData = new Map();

export const als = new AsyncLocalStorage<Frame>();

export const state: {
  /** The frame of the callback or task step the loop is running synchronously right now. */
  sync: Frame | null;
  /** The loop running in this thread (at most one at a time), whatever the async context. */
  runningLoop: EventLoop | null;
} = { sync: null, runningLoop: null };

/** The frame of code outside any loop: the thread's own context. */
export const baseFrame: Frame = { loop: null, task: null, ctx: null, data: EMPTY_DATA };

export function currentFrame(): Frame {
  return state.sync ?? als.getStore() ?? baseFrame;
}

/** The loop that runs the current code, if it is running; null elsewhere. */
export function runningLoopOrNull(): EventLoop | null {
  const loop = currentFrame().loop;
  return loop !== null && loop === state.runningLoop ? loop : null;
}

/**
 * `getEventLoop()`, reached through a slot the policy module fills in, so that futures (which need
 * a default loop) do not import the policy, which imports the loop, which imports futures.
 */
let eventLoopLookup: (() => EventLoop) | null = null;

export function setEventLoopLookup(lookup: () => EventLoop): void {
  eventLoopLookup = lookup;
}

export function lookupEventLoop(): EventLoop {
  if (eventLoopLookup === null) throw new Error("multiloop: the event loop policy module was not loaded");
  return eventLoopLookup();
}
