/**
 * Where the loop writes: errors and warnings in asyncio's format to stderr (`console.error` /
 * `console.warn`, never stdout), debug chatter to `util.debuglog('multiloop')` (NODE_DEBUG=multiloop),
 * and structured events to `diagnostics_channel` for tools.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { debuglog } from "node:util";

export const channels = {
  /** `{ loop }` when a loop starts running. */
  loopStart: diagnosticsChannel.channel("multiloop:loop:start"),
  /** `{ loop }` when a loop stops running. */
  loopStop: diagnosticsChannel.channel("multiloop:loop:stop"),
  /** `{ loop, handle, task, duration }` for a callback or task step slower than `slowCallbackDuration`. */
  slowCallback: diagnosticsChannel.channel("multiloop:slow-callback"),
  /** `{ loop, context }` for every call of the exception handler. */
  exception: diagnosticsChannel.channel("multiloop:exception"),
  /** `{ threadName, target, kind }` for every cross-thread call a loop receives. */
  threadCall: diagnosticsChannel.channel("multiloop:thread:call"),
};

export const debug = debuglog("multiloop");

export const logger = {
  error(message: string): void {
    console.error(message);
  },
  warning(message: string): void {
    console.warn(message);
  },
};
