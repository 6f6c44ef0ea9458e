/**
 * `TaskGroup` / `taskGroup`: structured concurrency (asyncio.TaskGroup, 3.11+).
 *
 * The block waits for every task it created. The first child that fails with anything but a
 * cancellation cancels the other children and the block itself (the parent task), so whatever the
 * block awaits is interrupted. On exit the failures are thrown: one error as is, several as an
 * `AggregateError` (JS has no ExceptionGroup; asyncio wraps even a single error).
 */
import { inspect } from "node:util";
import { CancelledError, RuntimeError } from "../core/errors.js";
import type { EventLoop } from "../core/event-loop.js";
import type { Future } from "../core/future.js";
import { getRunningLoop } from "../core/policy.js";
import { cancellationOf, type Coroutine, type Task, type TaskOptions } from "../core/task.js";
import { kAwaiterOf, kDescribeWait, kMarkRetrieved, kWaitsFor } from "../core/symbols.js";
import { currentTask } from "../core/tasks.js";
import { checkFunction } from "../core/validate.js";

/**
 * A group of tasks whose lifetime is bound to a block of code; use it through `taskGroup()`.
 *
 * @example
 * await taskGroup(async (tg) => {
 *   tg.createTask(() => fetchUser(1));
 *   tg.createTask(() => fetchUser(2));
 * }); // both finished here; if one failed, the other was cancelled and the error is thrown
 */
export class TaskGroup {
  #entered = false;
  #exiting = false;
  #aborting = false;
  #loop: EventLoop | null = null;
  #parentTask: Task<unknown> | null = null;
  #parentCancelRequested = false;
  readonly #tasks = new Set<Task<unknown>>();
  #errors: unknown[] = [];
  #onCompleted: Future<boolean> | null = null;
  #cancelOnEnter = false;

  /** Starts `coro` as a task of this group (on the group's loop). */
  constructor() {
    // The call graph shows the parent task as the awaiter of every task of the group (asyncio's
    // TaskGroup adds it to each task's awaited_by); it finds the group through the done callback.
    (this.#onTaskDone as unknown as Record<symbol, unknown>)[kAwaiterOf] = this;
  }

  /** @internal the task that runs the group's block (for the call graph). */
  [kAwaiterOf](): Task<unknown> | null {
    return this.#parentTask;
  }

  /** @internal what the parent task waits for at the end of the block (for the call graph). */
  [kDescribeWait](): string {
    return `TaskGroup end of block, ${this.#tasks.size} tasks left`;
  }

  createTask<T>(coro: Coroutine<T>, options?: TaskOptions): Task<T> {
    if (!this.#entered) throw new RuntimeError(`TaskGroup ${this.toString()} has not been entered`);
    if (this.#exiting && this.#tasks.size === 0) throw new RuntimeError(`TaskGroup ${this.toString()} is finished`);
    if (this.#aborting) throw new RuntimeError(`TaskGroup ${this.toString()} is shutting down`);
    const task = (this.#loop as EventLoop).createTask(coro, options);
    this.#tasks.add(task);
    task.addDoneCallback(this.#onTaskDone);
    return task;
  }

  /**
   * Cancels the group: its unfinished tasks and its block, which then ends without an error
   * (asyncio 3.15). Before the block starts it cancels the group on entry; after the end it does
   * nothing.
   */
  cancel(): void {
    if (!this.#entered) {
      this.#cancelOnEnter = true;
      return;
    }
    if (this.#exiting && this.#tasks.size === 0) return;
    if (!this.#aborting) {
      this.#abort();
      const parent = this.#parentTask;
      if (parent !== null && !this.#parentCancelRequested) {
        this.#parentCancelRequested = true;
        parent.cancel();
      }
    }
  }

  /** @internal */
  enter(): void {
    if (this.#entered) throw new RuntimeError(`TaskGroup ${this.toString()} has already been entered`);
    this.#loop ??= getRunningLoop();
    this.#parentTask = currentTask(this.#loop);
    if (this.#parentTask === null) {
      throw new RuntimeError(`TaskGroup ${this.toString()} cannot determine the parent task`, {
        hint: "Use taskGroup() from code running in a task (run(), createTask()).",
      });
    }
    this.#entered = true;
    if (this.#cancelOnEnter) this.cancel();
  }

  /** @internal waits for the group's tasks; throws what the block must throw. */
  async exit(threw: boolean, exc: unknown): Promise<void> {
    this.#exiting = true;
    // A CancelledError, or the AbortError of a Node API stopped through the parent's signal.
    const excCancellation = threw ? cancellationOf(exc) : null;
    let propagateCancellation: CancelledError | null = excCancellation;
    if (threw && !this.#aborting) this.#abort();

    let pendingCancellation: CancelledError | null = null;
    while (this.#tasks.size > 0) {
      if (this.#onCompleted === null) {
        this.#onCompleted = (this.#loop as EventLoop).createFuture<boolean>();
        this.#onCompleted[kWaitsFor](this);
      }
      try {
        await this.#onCompleted;
      } catch (err) {
        if (!(err instanceof CancelledError)) throw err;
        pendingCancellation = err;
        if (!this.#aborting) {
          // The parent task is being cancelled from outside while children still run.
          propagateCancellation = err;
          this.#abort();
        }
      }
      this.#onCompleted = null;
    }

    const parent = this.#parentTask as Task<unknown>;
    if (this.#parentCancelRequested) {
      // We cancelled the parent ourselves: take that cancel back.
      if (parent.uncancel() === 0) propagateCancellation = null;
      else propagateCancellation ??= pendingCancellation;
    }
    const errors = this.#errors;
    this.#errors = [];
    this.#parentTask = null;
    if (propagateCancellation !== null && errors.length === 0) throw propagateCancellation;
    if (threw && excCancellation === null) errors.push(exc);
    if (errors.length > 0) {
      // Cancelled from outside too: uncancel + cancel keeps the parent's cancel count stable.
      if (parent.cancelling() > 0) {
        parent.uncancel();
        parent.cancel();
      }
      if (errors.length === 1) throw errors[0];
      throw new AggregateError(errors, `unhandled errors in a TaskGroup (${errors.length} sub-exceptions)`);
    }
  }

  #abort(): void {
    this.#aborting = true;
    for (const task of this.#tasks) if (!task.done()) task.cancel();
  }

  readonly #onTaskDone = (task: Task<unknown>): void => {
    this.#tasks.delete(task);
    const onCompleted = this.#onCompleted;
    if (onCompleted !== null && this.#tasks.size === 0 && !onCompleted.done()) onCompleted.setResult(true);
    if (task.cancelled()) return;
    // Boxed: a child may fail with null (exception() would return null as for no error).
    const box = task[kMarkRetrieved]();
    if (box === undefined) return;
    const exc = box.error;
    this.#errors.push(exc);
    const parent = this.#parentTask;
    if (parent === null || parent.done()) {
      (this.#loop as EventLoop).callExceptionHandler({
        message: `Task ${task.toString()} has errored out but its parent task ${String(parent)} is already completed`,
        exception: exc,
        task,
      });
      return;
    }
    if (!this.#aborting && !this.#parentCancelRequested) {
      // Interrupt whatever the block awaits now; exit() takes this cancel back.
      this.#abort();
      this.#parentCancelRequested = true;
      parent.cancel();
    }
  };

  toString(): string {
    const info = [""];
    if (this.#tasks.size > 0) info.push(`tasks=${this.#tasks.size}`);
    if (this.#errors.length > 0) info.push(`errors=${this.#errors.length}`);
    if (this.#aborting) info.push("cancelling");
    else if (this.#entered) info.push("entered");
    return `<TaskGroup${info.join(" ")}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Runs `body(tg)` as a task group block (asyncio's `async with TaskGroup() as tg`); see `TaskGroup`.
 * Must run inside a task.
 */
export async function taskGroup<T>(body: (tg: TaskGroup) => Promise<T>): Promise<T> {
  checkFunction("body", body);
  const tg = new TaskGroup();
  tg.enter();
  let result: T | undefined;
  let threw = false;
  let exc: unknown;
  try {
    result = await body(tg);
  } catch (err) {
    threw = true;
    exc = err;
  }
  await tg.exit(threw, exc);
  // A block that ended by a cancel the group took back (its own) gives no result.
  return result as T;
}
