/**
 * Feature detection for the parts of multiloop that are written in parallel with the benchmark
 * (synchronisation, threads, executor). Scenarios look the exports up by their API.md names and
 * describe them with the small interfaces below, so this file compiles against a build that does
 * not have them yet, and a scenario reports "not available in this build" instead of failing.
 */
import * as ml from "multiloop";

const exported = ml as unknown as Record<string, unknown>;

/** The export `name` when this build has it (a class or a function), else null. */
export function feature<T>(name: string): T | null {
  const value = exported[name];
  return typeof value === "function" ? (value as T) : null;
}

/** The note a scenario adds for each API it could not measure. */
export function notAvailable(name: string, what: string): string {
  return `multiloop.${name} is not available in this build: ${what} not measured.`;
}

// ---- Synchronisation and queues (API.md "Synchronisation and queues")

export interface QueueLike<T> {
  put(item: T): Promise<unknown>;
  get(): Promise<T>;
  putNowait(item: T): void;
  getNowait(): T;
  qsize(): number;
}

/** `new Queue({ maxsize })` as ThreadQueue takes it; asyncio's positional `Queue(maxsize)` also tried. */
export type QueueClass = new (options?: unknown) => QueueLike<unknown>;

export interface LockLike {
  acquire(): Promise<unknown>;
  release(): void;
  locked(): boolean;
}

export type LockClass = new () => LockLike;

// ---- Other threads (API.md "Other threads")

export interface ConcurrentFutureLike<T> extends PromiseLike<T> {
  cancel(): boolean;
  done(): boolean;
}

export interface LoopHandleLike {
  readonly threadName: string;
  callSoonThreadsafe(target: string, ...args: unknown[]): void;
  runCoroutineThreadsafe<T>(target: string, ...args: unknown[]): ConcurrentFutureLike<T>;
}

export interface LoopThreadLike {
  readonly handle: LoopHandleLike;
  readonly threadName: string;
  call<T>(target: string, ...args: unknown[]): Promise<T>;
  stop(): Promise<void>;
  readonly exited: Promise<number>;
}

export type SpawnLoopThread = (options: { name?: string; module?: string | URL; spin?: { micros: number } }) => Promise<LoopThreadLike>;

export interface ExecutorLike {
  submit(fn: unknown, args: unknown[], options: { signal: AbortSignal }): Promise<unknown>;
  shutdown(options?: { wait?: boolean; timeout?: number }): Promise<boolean>;
}

export type PoolExecutorClass = new (options: {
  filename?: string;
  minThreads?: number;
  maxThreads?: number;
  idleTimeout?: number;
}) => ExecutorLike;

export interface ThreadQueueLike<T> {
  put(item: T): Promise<unknown>;
  get(): Promise<T>;
  putNowait(item: T): void;
  getNowait(): T;
  qsize(): number;
  close(): void;
}

export type ThreadQueueClass = new (options?: { maxsize?: number }) => ThreadQueueLike<unknown>;
