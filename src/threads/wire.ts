/**
 * The wire format between a handle's channel (the caller's side, channel.ts) and the loop's
 * endpoint (endpoint.ts). Both sides import only this file to agree on it.
 */
import type { MessagePort } from "node:worker_threads";
import type { SpecialTable } from "./crossing-table.js";

// Operations, sender -> loop. A message is one flat array of operations, each an op code followed
// by its fields (OP_FIELDS says how many): one array to clone and revive per batch, not one per
// call. A sender names each target once (OP_DEFINE) and then refers to it by number.
export const OP_CALL = 0; // target id, args, context entries | 0, special table | 0
export const OP_RUN = 1; // call id, target id, args, context entries | 0, special table | 0
export const OP_CANCEL = 2; // call id, message
export const OP_STOP = 3;
export const OP_ATTACH = 4; // port, reply word (see Channel)
export const OP_DETACH = 5;
export const OP_WRAP = 6; // port
export const OP_DEFINE = 7; // target id, target name
export const OP_FROM = 8; // the sender's thread id, once per channel (for snapshotThreads' cross-thread edges)
// A stream (stream-wire.ts has its own protocol, on the port this op brings).
export const OP_STREAM = 9; // target id, args, context entries | 0, special table | 0, port, credit block
export const OP_FIELDS = [5, 6, 3, 1, 3, 1, 2, 3, 2, 7];

/** A batch goes out once it holds this many operations, so the receiver can start on it. */
export const MAX_OPS_PER_MESSAGE = 512;

// The special table (crossing-table.ts) of an OP_CALL / OP_RUN lists the special values (shared
// handles, queues, locks) in the tuple [args, context entries]; that of a reply, in the result.

// Replies, loop -> sender: flat quadruples [call id, kind, payload, special table | 0, ...].
export const REPLY_FIELDS = 4;
export const R_OK = 0;
export const R_ERROR = 1;
export const R_CANCELLED = 2;

export type ContextEntries = Array<[string, unknown]> | 0;
export type Op =
  | [typeof OP_CALL, number, unknown[], ContextEntries, SpecialTable]
  | [typeof OP_RUN, number, number, unknown[], ContextEntries, SpecialTable]
  | [typeof OP_CANCEL, number, string]
  | [typeof OP_STOP]
  | [typeof OP_ATTACH, MessagePort, Int32Array]
  | [typeof OP_DETACH]
  | [typeof OP_WRAP, MessagePort]
  | [typeof OP_DEFINE, number, string]
  | [typeof OP_FROM, number]
  | [typeof OP_STREAM, number, unknown[], ContextEntries, SpecialTable, MessagePort, Int32Array];
export type ReplyKind = typeof R_OK | typeof R_ERROR | typeof R_CANCELLED;
