/**
 * `snapshotThreads`: what every loop of the process is doing, asked from any thread.
 *
 * How every loop is reached: a process-wide `BroadcastChannel` named "multiloop:snapshot". A
 * thread joins it when its first loop starts running (core/loop-registry.ts calls the hook set
 * here), and the channel is unref'd, so it never keeps a thread alive. A request names a reply
 * channel of its own (`multiloop:snapshot:<uuid>`, so the reports do not reach every thread); each
 * thread answers from its message event with a report of its loops, built synchronously from what
 * the loops keep anyway (core/call-graph.ts). A thread busy in synchronous code cannot run that
 * event: it does not answer.
 *
 * Why a channel rather than a registry in shared memory: a loop in a Worker multiloop did not
 * start (the user's own) joins the same way, with no memory to hand out at start-up. What a
 * channel cannot tell, which threads exist but are silent, the threads say themselves: each
 * report lists the loop threads its thread started and still owns (with their loop's state, read
 * from shared memory) and the thread that started it. The request waits until every thread named
 * so has answered, or for the timeout; the silent ones are listed as not answering. A silent loop
 * in a Worker that multiloop did not start is named by nobody, and so not listed.
 *
 * Cross-thread edges: a task awaiting `runCoroutineThreadsafe` in thread A awaits a follower of a
 * ConcurrentFuture whose id is the slot A's channel gave the call; the loop in thread B knows the
 * task it runs for it by that id and by A's thread id (which each channel sends once, OP_FROM). The
 * two halves are matched here, after the reports are in.
 */
import { randomUUID } from "node:crypto";
import { BroadcastChannel, isMainThread, threadId, workerData } from "node:worker_threads";
import { AwaiterIndex, callStackOf, createdAt, futureId } from "../core/call-graph.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { threadLoops, setFirstLoopHook } from "../core/loop-registry.js";
import { CLOSED, DEAD, Mailbox, PARKED, RUNNING, STATE, loopId } from "../core/mailbox.js";
import { kFutWaiter, kMailbox, kTasks } from "../core/symbols.js";
import { Task } from "../core/task.js";
import { currentThreadName } from "../core/thread-name.js";
import { checkTime, rangeError, readOptions } from "../core/validate.js";
import { Channel } from "./channel.js";
import { followedCall } from "./concurrent-future.js";
import { servedCall } from "./endpoint.js";

/** The `workerData` key through which `spawnLoopThread` tells a thread who started it. */
export const PARENT_THREAD_KEY = "multiloop:parentThreadId";

const CHANNEL_NAME = "multiloop:snapshot";
const REQUEST = "multiloop.snapshot.request";
const DEFAULT_TIMEOUT = 1_000;

/** A loop's state: `idle` is running but parked, waiting for something to do. */
export type LoopStateName = "running" | "idle" | "stopped" | "closed" | "dead";

/** A task in some thread, as the other end of a cross-thread edge. */
export interface TaskRef {
  readonly threadId: number;
  readonly threadName: string;
  readonly taskId: number;
  readonly taskName: string;
}

export interface TaskSnapshot {
  /** The task's number in its thread (as `captureCallGraph` shows it). */
  readonly id: number;
  readonly name: string;
  /** `async worker()`. */
  readonly coroutine: string;
  /** What it awaits now, e.g. `sleep(), due in 98.5 ms` or `resize() in thread "img" (call 0)`. */
  readonly awaiting: string;
  /** In debug mode, where it was created; else null. */
  readonly createdAt: string | null;
  /** Ids of the tasks of the same loop that await it (through gather, TaskGroup, shield...). */
  readonly awaitedBy: readonly number[];
  /** The call into another loop it awaits: that loop's id and the caller's number for the call. */
  readonly remoteCall: { readonly loopId: string; readonly callId: number; readonly target: string; readonly threadName: string } | null;
  /** The task in the other thread that runs `remoteCall`, when that thread answered. */
  readonly servedBy: TaskRef | null;
  /** For a task running another thread's call: the task there that awaits it. */
  readonly awaitedFrom: TaskRef | null;
}

export interface LoopSnapshot {
  /** The loop's id (as its handles know it); null for a loop no other thread ever got a handle of. */
  readonly loopId: string | null;
  readonly state: LoopStateName;
  /** Its tasks that are not done, oldest first. */
  readonly tasks: readonly TaskSnapshot[];
}

export interface ThreadSnapshot {
  readonly threadId: number;
  readonly threadName: string;
  /** The thread that started it with `spawnLoopThread`; null for the main thread and others. */
  readonly parentThreadId: number | null;
  /** False: known (its parent named it) but it did not answer within the timeout (busy in synchronous code?). */
  readonly answered: boolean;
  /** For a thread that did not answer: its loop's state, read from shared memory by its parent; else null. */
  readonly state: LoopStateName | null;
  readonly loops: readonly LoopSnapshot[];
}

export interface ThreadsSnapshot {
  /** When the request went out (ISO 8601). */
  readonly takenAt: string;
  /** Every thread that answered or was named, by thread id. */
  readonly threads: readonly ThreadSnapshot[];
}

export interface SnapshotThreadsOptions {
  /**
   * Milliseconds to wait for the threads to answer; the ones still silent are listed as not answering.
   * @default 1000
   */
  timeout?: number;
}

interface ChildInfo {
  readonly threadId: number;
  readonly threadName: string;
  /** Null for a thread named as the starter of another: its loop's state is not known there. */
  readonly state: LoopStateName | null;
}

/** What a thread sends back. */
interface ThreadReport {
  readonly threadId: number;
  readonly threadName: string;
  readonly parentThreadId: number | null;
  readonly loops: LoopSnapshot[];
  readonly children: ChildInfo[];
}

/** Loop threads this thread started and that have not exited, with their loop's control block. */
const children = new Map<number, { threadName: string; control: Int32Array | null }>();

/** @internal `spawnLoopThread`'s LoopThread: listed until its thread exits. */
export function trackLoopThread(id: number, threadName: string, control: Int32Array | null, exited: Promise<unknown>): void {
  join();
  children.set(id, { threadName, control });
  void exited.then(() => children.delete(id));
}

function parentThreadId(): number | null {
  if (isMainThread) return null;
  const data: unknown = workerData;
  const id = typeof data === "object" && data !== null ? (data as Record<string, unknown>)[PARENT_THREAD_KEY] : undefined;
  return typeof id === "number" ? id : null;
}

function controlState(control: Int32Array | null): LoopStateName {
  if (control === null) return "running";
  const state = Atomics.load(control, STATE);
  return state === RUNNING ? "running" : state === PARKED ? "idle" : state === CLOSED ? "closed" : state === DEAD ? "dead" : "stopped";
}

/** The ids of the tasks that await `fut`, through the futures between them (a gather's). */
function awaitingTasks(fut: Future<unknown>, index: AwaiterIndex, found: Set<number>, seen: Set<Future<unknown>>): void {
  for (const parent of index.awaitersOf(fut)) {
    if (seen.has(parent)) continue;
    seen.add(parent);
    if (parent instanceof Task) found.add(futureId(parent));
    else awaitingTasks(parent, index, found, seen);
  }
}

function taskSnapshot(task: Task<unknown>, index: AwaiterIndex): TaskSnapshot {
  const [awaiting, coroutine] = callStackOf(task);
  const awaitedBy = new Set<number>();
  awaitingTasks(task, index, awaitedBy, new Set([task]));
  const waiter = task[kFutWaiter];
  const call = waiter === null ? null : followedCall(waiter);
  const served = servedCall(task);
  return {
    id: futureId(task),
    name: task.getName(),
    coroutine: coroutine?.description ?? "",
    awaiting: awaiting?.description ?? "",
    createdAt: createdAt(task),
    awaitedBy: [...awaitedBy],
    remoteCall:
      call !== null && call.canceller instanceof Channel
        ? { loopId: loopId(call.canceller.control), callId: call.id, target: call.target, threadName: call.threadName }
        : null,
    servedBy: null,
    // Resolved once the caller's report is in; the raw half travels in a field of its own.
    awaitedFrom: null,
    ...(served === null ? {} : { servesCall: served }),
  };
}

function loopSnapshot(loop: EventLoop): LoopSnapshot {
  const index = new AwaiterIndex(loop);
  const tasks = [...loop[kTasks]()].reverse().map((task) => taskSnapshot(task, index));
  const inbox = loop[kMailbox];
  const state: LoopStateName = loop.isClosed() ? "closed" : loop.isRunning() ? "running" : "stopped";
  return { loopId: inbox instanceof Mailbox ? loopId(inbox.control) : null, state, tasks };
}

function buildReport(): ThreadReport {
  return {
    threadId,
    threadName: currentThreadName(),
    parentThreadId: parentThreadId(),
    loops: threadLoops().map(loopSnapshot),
    children: [...children].map(([id, child]) => ({ threadId: id, threadName: child.threadName, state: controlState(child.control) })),
  };
}

let joined: BroadcastChannel | null = null;

/** Joins the process-wide channel (once per thread). */
function join(): BroadcastChannel {
  if (joined !== null) return joined;
  const channel = new BroadcastChannel(CHANNEL_NAME);
  channel.unref();
  channel.onmessage = (event: unknown): void => {
    answer((event as { data?: unknown }).data);
  };
  return (joined = channel);
}

setFirstLoopHook(() => {
  join();
});

function answer(request: unknown): void {
  if (typeof request !== "object" || request === null) return;
  const { kind, replyTo } = request as { kind?: unknown; replyTo?: unknown };
  if (kind !== REQUEST || typeof replyTo !== "string" || !replyTo.startsWith(`${CHANNEL_NAME}:`)) return;
  const reply = new BroadcastChannel(replyTo);
  try {
    reply.postMessage(buildReport());
  } catch {
    // A report holds strings and numbers only; a thread that cannot build one stays silent.
  } finally {
    reply.close();
  }
}

function isReport(value: unknown): value is ThreadReport {
  return typeof value === "object" && value !== null && typeof (value as ThreadReport).threadId === "number" && Array.isArray((value as ThreadReport).loops);
}

/** The threads the reports name (started by, or the starter of, a thread that answered). */
function named(reports: Map<number, ThreadReport>): Map<number, ChildInfo & { parent: number | null }> {
  const names = new Map<number, ChildInfo & { parent: number | null }>();
  for (const report of reports.values()) {
    for (const child of report.children) names.set(child.threadId, { ...child, parent: report.threadId });
    const parent = report.parentThreadId;
    if (parent !== null && !names.has(parent)) {
      names.set(parent, { threadId: parent, threadName: parent === 0 ? "MainThread" : `Worker-${parent}`, state: null, parent: null });
    }
  }
  return names;
}

/** Matches the callers' and the servers' halves of each cross-thread call. */
function resolveEdges(threads: ThreadSnapshot[]): void {
  type Mutable = { -readonly [K in keyof TaskSnapshot]: TaskSnapshot[K] } & { servesCall?: { fromThreadId: number; callId: number } };
  const servers = new Map<string, { thread: ThreadSnapshot; task: Mutable }>();
  for (const thread of threads) {
    for (const loop of thread.loops) {
      for (const task of loop.tasks as Mutable[]) {
        const served = task.servesCall;
        if (served !== undefined && loop.loopId !== null) servers.set(`${loop.loopId}|${served.fromThreadId}|${served.callId}`, { thread, task });
        delete task.servesCall;
      }
    }
  }
  for (const thread of threads) {
    for (const loop of thread.loops) {
      for (const task of loop.tasks as Mutable[]) {
        const call = task.remoteCall;
        if (call === null) continue;
        const server = servers.get(`${call.loopId}|${thread.threadId}|${call.callId}`);
        if (server === undefined) continue;
        task.servedBy = { threadId: server.thread.threadId, threadName: server.thread.threadName, taskId: server.task.id, taskName: server.task.name };
        server.task.awaitedFrom = { threadId: thread.threadId, threadName: thread.threadName, taskId: task.id, taskName: task.name };
      }
    }
  }
}

function assemble(reports: Map<number, ThreadReport>, takenAt: string): ThreadsSnapshot {
  const threads: ThreadSnapshot[] = [];
  for (const report of reports.values()) {
    threads.push({
      threadId: report.threadId,
      threadName: report.threadName,
      parentThreadId: report.parentThreadId,
      answered: true,
      state: null,
      loops: report.loops,
    });
  }
  for (const [id, info] of named(reports)) {
    if (reports.has(id)) continue;
    threads.push({ threadId: id, threadName: info.threadName, parentThreadId: info.parent, answered: false, state: info.state, loops: [] });
  }
  threads.sort((a, b) => a.threadId - b.threadId);
  resolveEdges(threads);
  return { takenAt, threads };
}

/**
 * A snapshot of every loop multiloop knows in the process, taken from any thread: the main
 * thread's loops, every loop thread and pool thread, and any thread whose loop joined by running;
 * each with its thread's name and id, its state, and its tasks with what they await and who
 * awaits them, across threads too (a task awaiting a call into another thread names the task
 * serving it there, and that task names it back). A thread that does not answer within
 * `timeout` ms (a loop busy in synchronous code) is listed with `answered: false`.
 *
 * Resolves once every thread named by another (its starter, the loop threads it owns) has
 * answered, or after the timeout; it never rejects for a silent thread.
 *
 * @example
 * const snapshot = await snapshotThreads({ timeout: 500 });
 * console.error(formatThreads(snapshot));
 */
export async function snapshotThreads(options: SnapshotThreadsOptions = {}): Promise<ThreadsSnapshot> {
  options = readOptions("options", options);
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  checkTime("options.timeout", timeout);
  if (timeout < 0 || timeout === Infinity) throw rangeError("options.timeout", "a finite number of milliseconds >= 0", timeout);
  const channel = join();
  const takenAt = new Date().toISOString();
  const reports = new Map<number, ThreadReport>([[threadId, buildReport()]]);
  const replyTo = `${CHANNEL_NAME}:${randomUUID()}`;
  const replies = new BroadcastChannel(replyTo);
  return new Promise<ThreadsSnapshot>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      replies.close();
      resolve(assemble(reports, takenAt));
    };
    const complete = (): boolean => [...named(reports).keys()].every((id) => reports.has(id));
    replies.onmessage = (event: unknown): void => {
      const report = (event as { data?: unknown }).data;
      if (!isReport(report)) return;
      reports.set(report.threadId, report);
      if (complete()) finish();
    };
    const timer = setTimeout(finish, timeout);
    channel.postMessage({ kind: REQUEST, replyTo });
    if (complete()) {
      // Nobody is known besides this thread: still give threads that joined by themselves a
      // couple of turns of the event loop to answer, then finish.
      setImmediate(() => {
        setImmediate(finish);
      });
    }
  });
}
