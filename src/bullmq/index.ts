/**
 * multiloop/bullmq: multiloop's executor on a BullMQ queue in Redis, and the loops that serve its
 * jobs in other processes and on other machines. BullMQ is an optional peer dependency: this
 * entry loads it (and throws an error naming the package when it is missing); `import "multiloop"`
 * never does.
 */
import "./load.js";

export { QueueExecutor } from "./queue-executor.js";
export type { QueueExecutorOptions, QueueFunction, QueueSubmitOptions } from "./queue-executor.js";
export { serveQueue } from "./serve-queue.js";
export type { QueueServer, QueueServerCloseOptions, QueueWorkerOptions, ServeQueueOptions } from "./serve-queue.js";
export type { QueueOptions } from "./options.js";
export { JobLostError, JobRefusedError } from "../core/errors.js";
