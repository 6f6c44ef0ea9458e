/**
 * What the caller's and the worker's sides share: the options both take, checked the same way,
 * and the names of the streams they talk through besides the queue itself.
 */
import type { ConnectionOptions } from "bullmq";
import { checkObject, rangeError, typeError } from "../core/validate.js";

/** The Redis connection and the queue, as both sides name them. */
export interface QueueOptions {
  /** The BullMQ queue's name (no `:`, which BullMQ reserves for its keys). */
  queue: string;
  /** BullMQ's connection options (ioredis options, `{ url }`, or a client to duplicate). */
  connection: ConnectionOptions;
  /** BullMQ's key prefix. @default "bull" */
  prefix?: string;
}

export function checkQueueOptions(options: QueueOptions): void {
  const { queue, connection, prefix } = options;
  if (typeof queue !== "string") throw typeError("options.queue", "a queue name (a string)", queue);
  if (queue === "" || queue.includes(":")) throw rangeError("options.queue", "a non-empty queue name without ':'", queue);
  checkObject("options.connection", connection);
  if (connection === undefined) throw typeError("options.connection", "BullMQ connection options ({ host, port } or { url })", connection);
  if (prefix !== undefined && (typeof prefix !== "string" || prefix === "")) throw typeError("options.prefix", "a non-empty string", prefix);
}

/** BullMQ's options for a Queue, Worker or QueueEvents of these options. */
export function baseOptions(options: QueueOptions): { connection: ConnectionOptions; prefix?: string } {
  return options.prefix === undefined ? { connection: options.connection } : { connection: options.connection, prefix: options.prefix };
}

/**
 * The queue whose event stream carries cancellations to the workers (BullMQ custom events): a
 * stream of its own, so workers do not read every job event of the work queue to find them.
 */
export function controlQueue(queue: string): string {
  return `${queue}.multiloop-control`;
}

/** The custom event a caller publishes to cancel a running job. */
export const CANCEL_EVENT = "multiloop:cancel";
/** The custom event a caller publishes to itself to know its event reader is reading. */
export const READY_EVENT = "multiloop:ready";
