/**
 * The step handshake: after a callback that woke a task, the runner lets microtasks run until
 * that task's step ends (it suspends on a loop future or settles) before the next callback runs.
 * That is what gives asyncio's order (a task's step runs to its next await before the next
 * callback) on top of promises, whose continuations run in microtasks.
 *
 * A task awaiting something the loop cannot see (a plain Promise, a Node API) never signals the
 * end of its step: after `ticks` microtask ticks the runner gives up on it and goes on.
 */
import { kResumes, kStalledAt } from "./future-callbacks.js";
import { kTaskOf } from "./symbols.js";
import type { Runnable } from "./handle.js";
// A type only: the handshake waits for a task (the model's circle, see scripts/check-layers.ts).
import type { Task } from "./task.js";

export class StepHandshake {
  /** The task whose step is open, if any. */
  task: Task<unknown> | null = null;
  /** A step is open: the runner waits (in microtask ticks) before its next callback. */
  open = false;
  /** How many ticks the runner waits at most for this step. */
  ticks = 16;
  /** The open step is a later wake-up of a fan-in whose handshake already ran out (see Wakeup). */
  #fanIn = false;

  /** `task`'s step starts; `ticks` 0 means `defaultTicks`, other values mark a fan-in's later wake-up. */
  begin(task: Task<unknown>, ticks: number, defaultTicks: number): void {
    this.task = task;
    this.open = true;
    this.#fanIn = ticks !== 0;
    this.ticks = ticks === 0 ? defaultTicks : ticks;
  }

  /** `task` suspended on a loop future or settled. */
  end(task: Task<unknown>): void {
    if (this.task === task) {
      this.open = false;
      this.task = null;
    }
  }

  /**
   * A fan-in (Promise.all over many futures) wakes its task once per future. When the next
   * callback is another wake-up of the same fan-in, it runs first and the handshake follows the
   * last one: no other callback runs in between, so the order asyncio gives is kept, and 10,000
   * replies in one batch cost one handshake instead of 10,000.
   */
  deferredTo(next: Runnable | undefined): boolean {
    return this.#fanIn && next !== undefined && next[kTaskOf] === this.task;
  }

  /** The ticks ran out: the task awaits something the loop cannot see; go on without it. */
  giveUp(): void {
    const stalled = this.task;
    if (stalled !== null) stalled[kStalledAt] = stalled[kResumes];
    this.open = false;
    this.task = null;
  }
}
