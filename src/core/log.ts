/**
 * Where the loop writes: errors and warnings in asyncio's format to stderr (`console.error` /
 * `console.warn`, never stdout), debug chatter to `util.debuglog('multiloop')` (NODE_DEBUG=multiloop),
 * and structured events to `diagnostics_channel` for tools. Every channel name and message shape
 * is listed in the README ("Logging and diagnostics").
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { debuglog } from "node:util";
import { currentThreadName } from "./thread-name.js";

export const channels = {
  /** `{ loop }` when a loop starts running. */
  loopStart: diagnosticsChannel.channel("multiloop:loop:start"),
  /** `{ loop }` when a loop stops running. */
  loopStop: diagnosticsChannel.channel("multiloop:loop:stop"),
  /** `{ loop, handle, task, duration, description }` for a callback or task step slower than `slowCallbackDuration`. */
  slowCallback: diagnosticsChannel.channel("multiloop:slow-callback"),
  /** `{ loop, context }` for every call of the exception handler. */
  exception: diagnosticsChannel.channel("multiloop:exception"),
  /** `{ threadName, target }` for every cross-thread call a loop receives, in the receiving thread. */
  threadCall: diagnosticsChannel.channel("multiloop:thread:call"),
};

/** What subscribers of `tracing:multiloop:call:*` receive (the same object for one call's events). */
export interface CallTraceContext {
  /** The exposed function called. */
  target: string;
  /** The thread whose loop runs it. */
  threadName: string;
  /** The arguments, as passed (before they are copied to the other thread). */
  args: unknown[];
  /** The result, set before `asyncStart` when the call succeeded. */
  result?: unknown;
  /** The error (a `CancelledError` for a cancelled call), set before `error`. */
  error?: unknown;
}

/** Cross-thread calls, timed in the caller's thread (see threads/call-tracing.ts). */
export const callTracing = diagnosticsChannel.tracingChannel<unknown, CallTraceContext>("multiloop:call");

/** `NODE_DEBUG=multiloop` lines (Node fixes the set of enabled sections at start-up). */
export const debug = debuglog("multiloop");

/**
 * Whether `NODE_DEBUG=multiloop` is on: then loops also time their callbacks to report slow ones
 * there, as debug mode does. Read once: Node reads NODE_DEBUG once per thread.
 */
export const debugLogEnabled: boolean = debug.enabled;

/** A loop started running: the channel and the debug log. */
export function loopStarted(loop: { toString(): string }): void {
  if (channels.loopStart.hasSubscribers) channels.loopStart.publish({ loop });
  debugThread("%s started running", loop.toString());
}

/** A loop stopped running: the channel and the debug log. */
export function loopStopped(loop: { toString(): string }): void {
  if (channels.loopStop.hasSubscribers) channels.loopStop.publish({ loop });
  debugThread("%s stopped", loop.toString());
}

/** A `NODE_DEBUG=multiloop` line about this thread: `thread 'io-1': <what>`. */
export function debugThread(format: string, ...args: unknown[]): void {
  if (debugLogEnabled) debug(`thread '%s': ${format}`, currentThreadName(), ...args);
}

export const logger = {
  error(message: string): void {
    console.error(message);
  },
  warning(message: string): void {
    console.warn(message);
  },
};
