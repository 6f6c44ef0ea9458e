/**
 * `formatThreads`: a `snapshotThreads` result as a tree, like `pstree` (and Python 3.14's
 * `python -m asyncio pstree`): threads under the thread that started them, each thread's loops,
 * and each loop's tasks under the task that awaits them.
 */
import { pyStr } from "../core/format.js";
import { typeError } from "../core/validate.js";
import type { LoopSnapshot, TaskRef, TaskSnapshot, ThreadSnapshot, ThreadsSnapshot } from "./thread-snapshot.js";

interface Node {
  readonly label: string;
  readonly children: Node[];
}

function render(node: Node, lines: string[], prefix: string, childPrefix: string): void {
  lines.push(prefix + node.label);
  node.children.forEach((child, i) => {
    const last = i === node.children.length - 1;
    render(child, lines, childPrefix + (last ? "└── " : "├── "), childPrefix + (last ? "    " : "│   "));
  });
}

function refLabel(ref: TaskRef): string {
  return `thread ${pyStr(ref.threadName)} [${ref.threadId}] Task(name=${pyStr(ref.taskName)}, id=${ref.taskId})`;
}

function taskLabel(task: TaskSnapshot): string {
  let label = `Task(name=${pyStr(task.name)}, id=${task.id}) ${task.coroutine}: ${task.awaiting}`;
  if (task.servedBy !== null) label += ` -> served by ${refLabel(task.servedBy)}`;
  if (task.awaitedFrom !== null) label += ` <- awaited from ${refLabel(task.awaitedFrom)}`;
  if (task.createdAt !== null) label += ` (created at ${task.createdAt})`;
  return label;
}

/** A loop's tasks as a forest: each under the first task of the loop that awaits it. */
function taskNodes(loop: LoopSnapshot): Node[] {
  const byId = new Map(loop.tasks.map((task) => [task.id, task]));
  const childrenOf = new Map<number, TaskSnapshot[]>();
  const roots: TaskSnapshot[] = [];
  for (const task of loop.tasks) {
    const parent = task.awaitedBy.find((id) => byId.has(id) && id !== task.id);
    if (parent === undefined) roots.push(task);
    else {
      let list = childrenOf.get(parent);
      if (list === undefined) childrenOf.set(parent, (list = []));
      list.push(task);
    }
  }
  const placed = new Set<number>();
  const node = (task: TaskSnapshot): Node => {
    placed.add(task.id);
    const kids = (childrenOf.get(task.id) ?? []).filter((child) => !placed.has(child.id));
    return { label: taskLabel(task), children: kids.map(node) };
  };
  const nodes = roots.map(node);
  // Tasks that only await each other in a circle have no root: list them at the top.
  for (const task of loop.tasks) if (!placed.has(task.id)) nodes.push(node(task));
  return nodes;
}

function loopNode(loop: LoopSnapshot): Node {
  const n = loop.tasks.length;
  // The loop's id is for matching (snapshot.threads[i].loops[j].loopId); the tree shows the state.
  return { label: `loop ${loop.state}, ${n} ${n === 1 ? "task" : "tasks"}`, children: taskNodes(loop) };
}

function threadNode(thread: ThreadSnapshot, childrenOf: Map<number | null, ThreadSnapshot[]>, seen: Set<number>): Node {
  seen.add(thread.threadId);
  let label = `${thread.threadName} [thread ${thread.threadId}]`;
  if (!thread.answered) label += `: not answering (loop ${thread.state ?? "state unknown"}; busy in synchronous code?)`;
  const kids = (childrenOf.get(thread.threadId) ?? []).filter((child) => !seen.has(child.threadId));
  return { label, children: [...thread.loops.map(loopNode), ...kids.map((child) => threadNode(child, childrenOf, seen))] };
}

/**
 * `snapshot` as a tree, like `pstree`: threads under the thread that started them, their loops,
 * and tasks under the task that awaits them; an edge into another thread is shown on both ends
 * (`-> served by ...`, `<- awaited from ...`).
 *
 * @example
 * console.error(formatThreads(await snapshotThreads()));
 */
export function formatThreads(snapshot: ThreadsSnapshot): string {
  if (typeof snapshot !== "object" || snapshot === null || !Array.isArray((snapshot as { threads?: unknown }).threads)) {
    throw typeError("snapshot", "a snapshot from snapshotThreads()", snapshot);
  }
  const threads = snapshot.threads;
  const ids = new Set(threads.map((thread) => thread.threadId));
  const childrenOf = new Map<number | null, ThreadSnapshot[]>();
  for (const thread of threads) {
    // A thread whose parent is not in the snapshot is a root.
    const parent = thread.parentThreadId !== null && ids.has(thread.parentThreadId) ? thread.parentThreadId : null;
    let list = childrenOf.get(parent);
    if (list === undefined) childrenOf.set(parent, (list = []));
    list.push(thread);
  }
  const lines: string[] = [];
  const seen = new Set<number>();
  for (const root of childrenOf.get(null) ?? []) render(threadNode(root, childrenOf, seen), lines, "", "");
  for (const thread of threads) if (!seen.has(thread.threadId)) render(threadNode(thread, childrenOf, seen), lines, "", "");
  return lines.join("\n");
}
