/**
 * Shared helpers for the tests: real workers, with their messages and exit codes.
 */
import { Worker } from "node:worker_threads";

export const fixture = (name: string): URL => new URL(`../dist/test/fixtures/${name}.js`, import.meta.url);

/** Runs a fixture worker until it exits; returns the messages it posted and its exit code. */
export function runWorker(
  name: string,
  workerData: unknown,
  options: { name?: string } = {},
): Promise<{ messages: unknown[]; exitCode: number; threadId: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fixture(name), { workerData, ...options });
    // threadId reads -1 once the worker has exited.
    const threadId = worker.threadId;
    const messages: unknown[] = [];
    worker.on("message", (m: unknown) => messages.push(m));
    worker.on("error", reject);
    worker.on("exit", (exitCode) => {
      resolve({ messages, exitCode, threadId });
    });
  });
}

/** Collects what the loop's exception handler receives. */
export interface Reported {
  message: string;
  exception?: unknown;
  [k: string]: unknown;
}
