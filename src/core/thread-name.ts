/**
 * The name of the current thread, as asyncio's error messages show it: "MainThread" in the main
 * thread; in a worker, the name `spawnLoopThread` gave it, else the name Node knows (Node >= 22.20
 * and >= 24.6 expose `threadName`), else `Worker-<threadId>`.
 */
import * as workerThreads from "node:worker_threads";

/** The `workerData` key through which `spawnLoopThread` names its threads. */
export const THREAD_NAME_KEY = "multiloop:threadName";

let cached: string | null = null;

function nodeThreadName(): string | undefined {
  // `threadName` is missing from Node 20 and from @types/node 20; read it defensively.
  const name = (workerThreads as { threadName?: unknown }).threadName;
  return typeof name === "string" && name !== "" && name !== "WorkerThread" ? name : undefined;
}

export function currentThreadName(): string {
  if (cached !== null) return cached;
  if (workerThreads.isMainThread) return (cached = "MainThread");
  const data: unknown = workerThreads.workerData;
  if (typeof data === "object" && data !== null) {
    const given = (data as Record<string, unknown>)[THREAD_NAME_KEY];
    if (typeof given === "string" && given !== "") return (cached = given);
  }
  return (cached = nodeThreadName() ?? `Worker-${workerThreads.threadId}`);
}
