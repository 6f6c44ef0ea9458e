/**
 * The tasks of one loop that are not done yet (what `allTasks()` lists): an intrusive doubly
 * linked list through two symbol-keyed fields of each task, so adding and removing a task costs
 * no hashing (a Set insert and delete per task cost more than the rest of its bookkeeping).
 */
import { kNextTask, kPrevTask } from "./symbols.js";
// A type only: the list links tasks (the model's circle, see scripts/check-layers.ts).
import type { Task } from "./task.js";

export class TaskList {
  #head: Task<unknown> | null = null;

  add(task: Task<unknown>): void {
    const head = this.#head;
    task[kNextTask] = head;
    if (head !== null) head[kPrevTask] = task;
    this.#head = task;
  }

  remove(task: Task<unknown>): void {
    const prev = task[kPrevTask];
    const next = task[kNextTask];
    if (prev !== null) prev[kNextTask] = next;
    else if (this.#head === task) this.#head = next;
    if (next !== null) next[kPrevTask] = prev;
    task[kPrevTask] = null;
    task[kNextTask] = null;
  }

  /** Newest first. */
  *[Symbol.iterator](): Generator<Task<unknown>> {
    for (let task = this.#head; task !== null; task = task[kNextTask]) yield task;
  }
}
