/**
 * The call graph of one loop (Python 3.14's asyncio.capture_call_graph and friends): for a task or
 * future, what it awaits now and who awaits it, recursively.
 *
 * JS cannot walk the frames of a suspended async function, so a task's "call stack" is what the
 * loop can see: its coroutine function, and the loop future it is suspended on, described by what
 * that future stands for (a sleep and its deadline, a queue's `get`, a lock, a remote call...).
 *
 * Nothing is recorded on the way for this: everything is read from state the loop keeps anyway.
 * A task's waiter (`_fut_waiter`) says what it awaits; a future's callbacks name the tasks whose
 * wake-up they are; a sleep's future holds its timer; a waiter future of a Queue or a Lock holds
 * its owner in its empty result slot (`kWaitsFor`, one store at the wait point). The outer layers
 * teach the graph what their futures are through symbol-keyed methods (core imports nothing up):
 * - `[kDescribeWait](future)`: on a future subclass (gather's, a remote call's) or on the owner a
 *   waiter points to (a Queue, a Lock), one line saying what the wait is;
 * - `[kCallGraphParts]()`: on a future made of others (gather's children), so each part shows the
 *   combined future, and the task awaiting it, as its awaiters;
 * - `fn[kAwaiterOf]`: on a done callback's function, an object whose `[kAwaiterOf]()` names the
 *   future that waits through it (a TaskGroup's parent task, for each of its tasks).
 */
import { fileURLToPath } from "node:url";
import { RuntimeError } from "./errors.js";
import { currentFrame, runningLoopOrNull } from "./frame.js";
import { functionName, pyStr, safeString } from "./format.js";
import { type Future, isFuture } from "./future.js";
import { TimerHandle } from "./handle.js";
import { kAwaiterOf, kCallGraphParts, kCallbacksOf, kDescribeWait, kFutWaiter, kTaskOf, kTasks, kWaitInfo } from "./symbols.js";
import { Task } from "./task.js";
import { typeError } from "./validate.js";
import type { EventLoop } from "./event-loop.js";

/**
 * One line of a call stack (asyncio's FrameCallGraphEntry, which holds a frame). Innermost
 * first: what the task awaits now, then its coroutine.
 */
export interface FrameCallGraphEntry {
  /** `async worker()` for a task's coroutine; for what it awaits, e.g. `sleep(), due in 98.5 ms`. */
  readonly description: string;
}

/** A future or task, what it awaits now (`callStack`) and who awaits it (asyncio's FutureCallGraph). */
export interface FutureCallGraph {
  readonly future: Future<unknown>;
  readonly callStack: readonly FrameCallGraphEntry[];
  readonly awaitedBy: readonly FutureCallGraph[];
  /** In debug mode, where the future or task was created (the first frame outside multiloop); else null. */
  readonly createdAt: string | null;
}

/** What a future subclass or a waiter's owner implements to say what waiting on it means. */
export interface WaitDescriber {
  [kDescribeWait](future: Future<unknown>): string;
}

/** A future made of others (gather's), so the parts can name it as their awaiter. */
export interface CallGraphComposite {
  [kCallGraphParts](): Iterable<Future<unknown>>;
}

/** What a done callback's function carries (`fn[kAwaiterOf]`) to name the future waiting through it. */
export interface AwaiterSource {
  [kAwaiterOf](): Future<unknown> | null;
}

const ids = new WeakMap<object, number>();
let lastId = 0;

/** @internal a small number naming `fut` in graphs and snapshots (JS has no addresses to show). */
export function futureId(fut: object): number {
  let id = ids.get(fut);
  if (id === undefined) ids.set(fut, (id = ++lastId));
  return id;
}

function hasMethod<K extends symbol>(value: unknown, key: K): value is Record<K, (...args: never[]) => unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null && typeof (value as Record<K, unknown>)[key] === "function";
}

/** `Task(name='x', id=3)` or `Future(id=4)`, as asyncio's graph names them. */
export function futureLabel(fut: Future<unknown>): string {
  return fut instanceof Task ? `Task(name=${pyStr(fut.getName())}, id=${futureId(fut)})` : `Future(id=${futureId(fut)})`;
}

/** The timer behind `sleep`, described by its deadline. */
function describeTimer(timer: TimerHandle, loop: EventLoop): string {
  const left = timer.when() - loop.time();
  return `sleep(), due in ${left > 0 ? left.toFixed(1) : "0.0"} ms`;
}

/** One line saying what waiting on `fut` means. */
export function describeWait(fut: Future<unknown>): string {
  try {
    if (hasMethod(fut, kDescribeWait)) return (fut as unknown as WaitDescriber)[kDescribeWait](fut);
    if (fut instanceof Task) return `await ${futureLabel(fut)}`;
    const info = fut[kWaitInfo]();
    if (info instanceof TimerHandle) return describeTimer(info, fut.getLoop());
    if (hasMethod(info, kDescribeWait)) return (info as unknown as WaitDescriber)[kDescribeWait](fut);
    if (isFuture(info)) return `shield(${describeWait(info)})`;
  } catch (err) {
    // A describer must never make introspection throw (a user's subclass may be odd).
    return `${fut.toString()} (not described: ${safeString(err)})`;
  }
  return fut.done() ? fut.toString() : `${futureLabel(fut)} pending`;
}

/** What the task awaits now, or why it awaits nothing the loop can see. */
function describeTaskWait(task: Task<unknown>): string {
  if (task.done()) return task.cancelled() ? "cancelled" : "finished";
  const waiter = task[kFutWaiter];
  if (waiter !== null) return describeWait(waiter);
  if (currentFrame().task === task) return "running";
  return "not waiting on a loop future (ready to run, or awaiting a Promise or a Node API)";
}

/** The lines of what `fut` awaits, innermost first. */
export function callStackOf(fut: Future<unknown>): FrameCallGraphEntry[] {
  if (!(fut instanceof Task)) return fut.done() ? [] : [{ description: describeWait(fut) }];
  const coro = fut.getCoro();
  const name = typeof coro === "function" ? `async ${functionName(coro)}()` : "<promise>";
  return [{ description: describeTaskWait(fut) }, { description: name }];
}

/**
 * The directories of multiloop's own modules, whose frames a "created at" line skips: the one
 * this file runs from, and, for a build in dist/, the sources its source maps point to.
 */
const ownDirs = ((): string[] => {
  const dir = fileURLToPath(new URL("../", import.meta.url));
  const built = /[\\/]dist[\\/]src[\\/]$/.exec(dir);
  return built === null ? [dir] : [dir, `${dir.slice(0, built.index)}${dir.slice(built.index + 5)}`];
})();

/** In debug mode, the first frame of `fut`'s creation stack outside multiloop and Node. */
export function createdAt(fut: Future<unknown>): string | null {
  const stack = fut.sourceTraceback;
  if (stack === undefined) return null;
  for (const line of stack.split("\n").slice(1)) {
    const frame = line.trim();
    if (!frame.startsWith("at ") || ownDirs.some((dir) => frame.includes(dir)) || frame.includes("node:")) continue;
    return frame.slice(3);
  }
  return null;
}

/**
 * Who awaits what, for every pending future the loop's tasks can reach: each task's waiter is
 * awaited by the task, each part of a combined future (gather's children) by the combined one.
 * Built once per capture, from the loop's task list.
 */
export class AwaiterIndex {
  readonly #parents = new Map<Future<unknown>, Set<Future<unknown>>>();

  constructor(loop: EventLoop) {
    for (const task of loop[kTasks]()) {
      const waiter = task[kFutWaiter];
      if (waiter !== null) this.#link(waiter, task, 0);
    }
  }

  #link(child: Future<unknown>, parent: Future<unknown>, depth: number): void {
    let set = this.#parents.get(child);
    if (set === undefined) this.#parents.set(child, (set = new Set()));
    if (set.has(parent)) return;
    set.add(parent);
    // Depth guard: a combined future that contains itself (through user subclasses) must not loop.
    if (depth > 64) return;
    for (const part of partsOf(child)) this.#link(part, child, depth + 1);
  }

  /** The futures and tasks awaiting `fut`. */
  awaitersOf(fut: Future<unknown>): Set<Future<unknown>> {
    const found = new Set<Future<unknown>>(this.#parents.get(fut));
    for (const cb of fut[kCallbacksOf]()) {
      const task = (cb as { readonly [kTaskOf]?: Task<unknown> | null })[kTaskOf];
      if (task instanceof Task && !task.done()) found.add(task);
      const fn = (cb as { fn?: unknown }).fn;
      const source = typeof fn === "function" ? (fn as { [kAwaiterOf]?: unknown })[kAwaiterOf] : undefined;
      if (hasMethod(source, kAwaiterOf)) {
        const awaiter = (source as unknown as AwaiterSource)[kAwaiterOf]();
        if (awaiter !== null && !awaiter.done()) found.add(awaiter);
      }
    }
    found.delete(fut);
    return found;
  }
}

/** The futures `fut` is made of (gather's children, a shield's inner future). */
export function partsOf(fut: Future<unknown>): Iterable<Future<unknown>> {
  try {
    if (hasMethod(fut, kCallGraphParts)) return (fut as unknown as CallGraphComposite)[kCallGraphParts]();
    const info = fut[kWaitInfo]();
    if (isFuture(info)) return [info];
  } catch {
    // See describeWait.
  }
  return [];
}

function build(fut: Future<unknown>, index: AwaiterIndex, seen: Set<Future<unknown>>): FutureCallGraph {
  seen.add(fut);
  const awaitedBy: FutureCallGraph[] = [];
  for (const parent of index.awaitersOf(fut)) {
    // A cycle (a task awaiting a task that awaits it back) is shown once, not followed for ever.
    if (!seen.has(parent)) awaitedBy.push(build(parent, index, seen));
  }
  seen.delete(fut);
  return { future: fut, callStack: callStackOf(fut), awaitedBy, createdAt: createdAt(fut) };
}

/**
 * The call graph of `future` (default: the current task): what it awaits now and, recursively,
 * who awaits it (asyncio.capture_call_graph). Returns null inside a running loop when no task is
 * running; throws `RuntimeError` outside a running loop without a future.
 *
 * @example
 * const graph = captureCallGraph(task);
 * graph?.callStack[0]?.description; // e.g. "Queue.get() on Queue 'jobs'"
 */
export function captureCallGraph(future?: Future<unknown> | null): FutureCallGraph | null {
  if (future === undefined || future === null) {
    const loop = runningLoopOrNull();
    if (loop === null) {
      throw new RuntimeError(
        "captureCallGraph() is called outside of a running event loop and no future to introspect was provided",
      );
    }
    const task = currentFrame().task;
    if (task === null) return null;
    future = task;
  } else if (!isFuture(future)) {
    throw typeError("future", "a Future or a Task", future);
  }
  return build(future, new AwaiterIndex(future.getLoop()), new Set());
}

/** Renders a graph as asyncio's `format_call_graph` does. */
export function renderCallGraph(graph: FutureCallGraph): string {
  const lines: string[] = [];
  const render = (node: FutureCallGraph, level: number): void => {
    const pad = "    ".repeat(level);
    lines.push(`${pad}* ${futureLabel(node.future)}`);
    if (node.callStack.length > 0) {
      lines.push(`${pad}  + Call stack:`);
      for (const entry of node.callStack) lines.push(`${pad}  |   ${entry.description}`);
    }
    if (node.createdAt !== null) lines.push(`${pad}  + Created at ${node.createdAt}`);
    if (node.awaitedBy.length > 0) {
      lines.push(`${pad}  + Awaited by:`);
      for (const parent of node.awaitedBy) render(parent, level + 1);
    }
  };
  render(graph, 0);
  return lines.join("\n");
}

/**
 * The call graph of `future` (default: the current task) as text (asyncio.format_call_graph);
 * `""` when there is no current task.
 *
 * @example
 * console.error(formatCallGraph(task));
 * // * Task(name='consumer', id=3)
 * //   + Call stack:
 * //   |   Queue.get() on Queue 'jobs'
 * //   |   async consumer()
 * //   + Awaited by:
 * //       * Task(name='main', id=1)
 * //       ...
 */
export function formatCallGraph(future?: Future<unknown> | null): string {
  const graph = captureCallGraph(future);
  return graph === null ? "" : renderCallGraph(graph);
}

/** Prints `formatCallGraph(future)` to stdout (asyncio.print_call_graph); nothing without a current task. */
export function printCallGraph(future?: Future<unknown> | null): void {
  const text = formatCallGraph(future);
  if (text !== "") console.log(text);
}
