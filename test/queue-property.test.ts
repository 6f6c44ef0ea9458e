/**
 * Property test: random sequences of put/get/join/taskDone/cancel/shutdown on `Queue`,
 * `LifoQueue` and `PriorityQueue`, run on a real loop and compared, step by step, with a plain
 * model of asyncio's queue.
 *
 * The driver is the run() task. After each command it lets the loop settle (until nothing changes
 * for a few iterations), then compares every task's outcome, the queue's size and `full()` with
 * the model. In the model a waiter is served when the loop settles, in FIFO order; that is what
 * asyncio does whenever commands do not race. One command races on purpose: a nowait put/get or a
 * taskDone() that wakes a waiter, then a cancel of some waiting task in the same step, before the
 * woken task ran; asyncio then passes the wake-up on, so the model simply drops the cancelled
 * task before it serves anyone.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  LifoQueue,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  createTask,
  run,
  sleep,
  type Task,
} from "multiloop";

type Kind = "fifo" | "lifo" | "priority";

type Command =
  | { op: "putNowait"; value: number }
  | { op: "getNowait" }
  | { op: "taskDone" }
  | { op: "put"; value: number }
  | { op: "get" }
  | { op: "join" }
  | { op: "cancel"; pick: number }
  | { op: "wakeThenCancel"; wake: "putNowait" | "getNowait" | "taskDone"; value: number; pick: number }
  | { op: "shutdown"; immediate: boolean };

/** What a task or a synchronous call ended with, in a form both sides produce. */
type Outcome = { pending: true } | { value: number | undefined } | { error: string };

const PENDING: Outcome = { pending: true };

function errorName(err: unknown): string {
  if (err instanceof QueueShutDown) return "QueueShutDown";
  if (err instanceof QueueFull) return "QueueFull";
  if (err instanceof QueueEmpty) return "QueueEmpty";
  if (err instanceof CancelledError) return "CancelledError";
  if (err instanceof RangeError) return "RangeError";
  return `unexpected ${String(err)}`;
}

function syncOutcome(fn: () => unknown): Outcome {
  try {
    return { value: fn() as number | undefined };
  } catch (err) {
    return { error: errorName(err) };
  }
}

function taskOutcome(task: Task<unknown>): Outcome {
  if (!task.done()) return PENDING;
  if (task.cancelled()) return { error: "CancelledError" };
  const exc = task.exception();
  if (exc !== null) return { error: errorName(exc) };
  return { value: task.result() as number | undefined };
}

/** asyncio's queue, with waiters served only when the loop settles. */
class Model {
  readonly #kind: Kind;
  readonly #maxsize: number;
  items: number[] = [];
  getters: number[] = [];
  putters: Array<{ id: number; value: number }> = [];
  joiners: number[] = [];
  unfinished = 0;
  shutdown = false;
  readonly outcomes = new Map<number, Outcome>();

  constructor(kind: Kind, maxsize: number) {
    this.#kind = kind;
    this.#maxsize = maxsize;
  }

  full(): boolean {
    return this.#maxsize > 0 && this.items.length >= this.#maxsize;
  }

  #take(): number {
    if (this.#kind === "fifo") return this.items.shift() as number;
    if (this.#kind === "lifo") return this.items.pop() as number;
    let best = 0;
    for (let i = 1; i < this.items.length; i++) if ((this.items[i] as number) < (this.items[best] as number)) best = i;
    return this.items.splice(best, 1)[0] as number;
  }

  putNowait(value: number): number | undefined {
    if (this.shutdown) throw new QueueShutDown();
    if (this.full()) throw new QueueFull();
    this.items.push(value);
    this.unfinished++;
    return undefined;
  }

  getNowait(): number {
    if (this.items.length === 0) throw this.shutdown ? new QueueShutDown() : new QueueEmpty();
    return this.#take();
  }

  taskDone(): undefined {
    if (this.unfinished <= 0) throw new RangeError("task_done() called too many times");
    this.unfinished--;
    return undefined;
  }

  /** A new task's first step: put/get/join take effect when it runs, in creation order. */
  startPut(id: number, value: number): void {
    if (this.shutdown) this.outcomes.set(id, { error: "QueueShutDown" });
    else if (this.full()) {
      this.putters.push({ id, value });
      this.outcomes.set(id, PENDING);
    } else {
      this.putNowait(value);
      this.outcomes.set(id, { value: undefined });
    }
  }

  startGet(id: number): void {
    if (this.items.length > 0) this.outcomes.set(id, { value: this.#take() });
    else if (this.shutdown) this.outcomes.set(id, { error: "QueueShutDown" });
    else {
      this.getters.push(id);
      this.outcomes.set(id, PENDING);
    }
  }

  startJoin(id: number): void {
    if (this.unfinished === 0) this.outcomes.set(id, { value: undefined });
    else {
      this.joiners.push(id);
      this.outcomes.set(id, PENDING);
    }
  }

  pendingIds(): number[] {
    return [...this.outcomes].filter(([, o]) => "pending" in o).map(([id]) => id).sort((a, b) => a - b);
  }

  cancel(id: number): void {
    this.getters = this.getters.filter((g) => g !== id);
    this.putters = this.putters.filter((p) => p.id !== id);
    this.joiners = this.joiners.filter((j) => j !== id);
    this.outcomes.set(id, { error: "CancelledError" });
  }

  doShutdown(immediate: boolean): void {
    this.shutdown = true;
    if (immediate) {
      this.unfinished = Math.max(0, this.unfinished - this.items.length);
      this.items = [];
    }
    for (const p of this.putters) this.outcomes.set(p.id, { error: "QueueShutDown" });
    this.putters = [];
  }

  /** What the loop does until it is idle: joiners see a zero count, then waiters are served FIFO. */
  settle(): void {
    if (this.unfinished === 0) {
      for (const j of this.joiners) this.outcomes.set(j, { value: undefined });
      this.joiners = [];
    }
    for (let changed = true; changed; ) {
      changed = false;
      while (this.items.length > 0 && this.getters.length > 0) {
        this.outcomes.set(this.getters.shift() as number, { value: this.#take() });
        changed = true;
      }
      while (!this.full() && this.putters.length > 0) {
        const p = this.putters.shift() as { id: number; value: number };
        this.items.push(p.value);
        this.unfinished++;
        this.outcomes.set(p.id, { value: undefined });
        changed = true;
      }
    }
    if (this.shutdown) {
      for (const g of this.getters) this.outcomes.set(g, { error: "QueueShutDown" });
      this.getters = [];
    }
  }
}

// Weighted so that sequences keep tasks waiting (and so racing) for long, and rarely shut down early.
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("putNowait" as const), value: fc.integer({ min: 0, max: 9 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("getNowait" as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("taskDone" as const) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("put" as const), value: fc.integer({ min: 0, max: 9 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("get" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("join" as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("cancel" as const), pick: fc.nat(20) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("wakeThenCancel" as const),
      wake: fc.constantFrom("putNowait" as const, "getNowait" as const, "taskDone" as const),
      value: fc.integer({ min: 0, max: 9 }),
      pick: fc.nat(20),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("shutdown" as const), immediate: fc.boolean() }) },
);

/** Runs the loop until tasks and queue stop changing for a few iterations in a row. */
async function settle(tasks: ReadonlyMap<number, Task<unknown>>, queue: Queue<number>): Promise<void> {
  const signature = (): string => `${[...tasks.values()].filter((t) => t.done()).length}/${queue.qsize()}`;
  let last = signature();
  let quiet = 0;
  for (let i = 0; i < 100 && quiet < 3; i++) {
    await sleep(0);
    const now = signature();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

async function check(kind: Kind, maxsize: number, commands: readonly Command[]): Promise<void> {
  await run(async () => {
    const queue =
      kind === "fifo"
        ? new Queue<number>({ maxsize })
        : kind === "lifo"
          ? new LifoQueue<number>({ maxsize })
          : new PriorityQueue<number>({ maxsize });
    const model = new Model(kind, maxsize);
    const tasks = new Map<number, Task<unknown>>();
    let nextId = 0;

    const compare = (step: string): void => {
      for (const [id, task] of tasks) {
        expect(taskOutcome(task), `${step}: task ${id}`).toEqual(model.outcomes.get(id));
      }
      expect(queue.qsize(), `${step}: qsize`).toBe(model.items.length);
      expect(queue.full(), `${step}: full`).toBe(model.full());
      expect(queue.empty(), `${step}: empty`).toBe(model.items.length === 0);
    };

    const cancelPick = (pick: number, pending: readonly number[]): void => {
      if (pending.length === 0) return;
      const id = pending[pick % pending.length] as number;
      (tasks.get(id) as Task<unknown>).cancel();
      model.cancel(id);
    };

    for (const [n, cmd] of commands.entries()) {
      const step = `#${n} ${JSON.stringify(cmd)}`;
      switch (cmd.op) {
        case "putNowait":
          expect(syncOutcome(() => queue.putNowait(cmd.value)), step).toEqual(syncOutcome(() => model.putNowait(cmd.value)));
          break;
        case "getNowait":
          expect(syncOutcome(() => queue.getNowait()), step).toEqual(syncOutcome(() => model.getNowait()));
          break;
        case "taskDone":
          expect(syncOutcome(() => queue.taskDone()), step).toEqual(syncOutcome(() => model.taskDone()));
          break;
        case "put": {
          const id = nextId++;
          tasks.set(id, createTask(() => queue.put(cmd.value)));
          model.startPut(id, cmd.value);
          break;
        }
        case "get": {
          const id = nextId++;
          tasks.set(id, createTask(() => queue.get()));
          model.startGet(id);
          break;
        }
        case "join": {
          const id = nextId++;
          tasks.set(id, createTask(() => queue.join()));
          model.startJoin(id);
          break;
        }
        case "cancel":
          cancelPick(cmd.pick, model.pendingIds());
          break;
        case "wakeThenCancel": {
          const pending = model.pendingIds();
          const real = queue;
          const wake = {
            putNowait: [() => real.putNowait(cmd.value), () => model.putNowait(cmd.value)],
            getNowait: [() => real.getNowait(), () => model.getNowait()],
            taskDone: [() => real.taskDone(), () => model.taskDone()],
          }[cmd.wake] as [() => unknown, () => unknown];
          expect(syncOutcome(wake[0]), step).toEqual(syncOutcome(wake[1]));
          // Same step: the woken task has not run yet.
          cancelPick(cmd.pick, pending);
          break;
        }
        case "shutdown":
          queue.shutdown(cmd.immediate);
          model.doShutdown(cmd.immediate);
          break;
      }
      await settle(tasks, queue);
      model.settle();
      compare(step);
    }

    // Nothing hangs: after an immediate shutdown and a cancel of whatever still waits (joiners of
    // items taken but never marked done), every task is done.
    queue.shutdown(true);
    model.doShutdown(true);
    await settle(tasks, queue);
    model.settle();
    compare("final shutdown");
    for (const id of model.pendingIds()) {
      (tasks.get(id) as Task<unknown>).cancel();
      model.cancel(id);
    }
    await settle(tasks, queue);
    compare("final cancel");
    for (const task of tasks.values()) expect(task.done()).toBe(true);
  });
}

describe("Queue against a model (property)", () => {
  it("random put/get/join/taskDone/cancel/shutdown sequences behave as asyncio's queue", { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Kind>("fifo", "lifo", "priority"),
        fc.integer({ min: 0, max: 3 }),
        fc.array(commandArb, { minLength: 1, maxLength: 60, size: "max" }),
        async (kind, maxsize, commands) => {
          await check(kind, maxsize, commands);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("fixed cases: a waiter woken and cancelled in the same step passes its wake-up on", async () => {
    // The shrunk counterexamples the property finds when a cancelled getter or putter keeps its
    // wake-up (checked by breaking Queue on purpose): kept as plain regression cases.
    await check("fifo", 1, [
      { op: "putNowait", value: 0 },
      { op: "put", value: 1 },
      { op: "put", value: 2 },
      { op: "wakeThenCancel", wake: "getNowait", value: 0, pick: 0 },
      { op: "join" },
    ]);
    await check("fifo", 0, [{ op: "get" }, { op: "get" }, { op: "wakeThenCancel", wake: "putNowait", value: 5, pick: 0 }]);
    await run(async () => {
      const q = new Queue<number>();
      const g0 = createTask(() => q.get());
      const g1 = createTask(() => q.get());
      await sleep(0);
      q.putNowait(5);
      g0.cancel();
      for (let i = 0; i < 3; i++) await sleep(0);
      expect(g0.cancelled()).toBe(true);
      expect(g1.result()).toBe(5);
    });
  });
});
