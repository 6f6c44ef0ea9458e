/**
 * Property test (issue 4 §4): random sequences of put / get / putNowait / getNowait / cancel /
 * close on a ThreadQueue shared by the main loop and a loop thread, checked step by step against a
 * plain array model with asyncio.Queue's rules.
 *
 * Blocking operations run as tasks on the main loop (their wake-ups may come from the other thread
 * through shared memory); the `*Nowait`, state and close operations run in either thread. After
 * each step, the operations the model says must have finished are awaited and their outcomes
 * compared, and those it says still wait must still be pending.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as SyncTasks from "./fixtures/thread-sync-tasks.js";
import { ThreadQueue, TimeoutError, createTask, run, sleep, spawnLoopThread, waitFor, type LoopThread, type Task } from "multiloop";
import { fixture } from "./helpers.js";

type Where = "main" | "remote";
type Command =
  | { op: "putNowait"; where: Where }
  | { op: "getNowait"; where: Where }
  | { op: "put" }
  | { op: "get" }
  | { op: "cancel"; index: number }
  | { op: "close"; where: Where }
  | { op: "check"; where: Where };

type Outcome = { value: unknown } | { error: string };

interface Pending {
  kind: "get" | "put";
  value: number;
  task: Task<unknown>;
}

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant("putNowait" as const), where: fc.constantFrom<Where>("main", "remote") }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("getNowait" as const), where: fc.constantFrom<Where>("main", "remote") }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("put" as const) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("get" as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("cancel" as const), index: fc.nat(10) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("close" as const), where: fc.constantFrom<Where>("main", "remote") }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("check" as const), where: fc.constantFrom<Where>("main", "remote") }) },
);

async function outcomeOf(task: Task<unknown>): Promise<Outcome> {
  try {
    return { value: await task };
  } catch (err) {
    return { error: (err as Error).name };
  }
}

/**
 * The outcome of an operation the model says has finished. A liveness guard, not a timing check:
 * an operation that never finishes fails this step (and lets fast-check shrink) instead of
 * hanging the whole property until vitest's timeout.
 */
async function finished(task: Task<unknown>): Promise<Outcome | "still waiting"> {
  try {
    return await waitFor(() => outcomeOf(task), 3_000);
  } catch (err) {
    if (err instanceof TimeoutError) return "still waiting";
    throw err;
  }
}

function sync(fn: () => unknown): Outcome {
  try {
    return { value: fn() };
  } catch (err) {
    return { error: (err as Error).name };
  }
}

function fromRemote(r: { ok: boolean; value?: unknown; error?: string }): Outcome {
  return r.ok ? { value: r.value } : { error: r.error as string };
}

describe("ThreadQueue against a model", () => {
  let remote: LoopThread<typeof SyncTasks>;
  beforeAll(async () => {
    remote = await spawnLoopThread<typeof SyncTasks>({ name: "tq-model", module: fixture("thread-sync-tasks") });
  }, 30_000);
  afterAll(async () => {
    await remote.stop();
  }, 30_000);

  it("random put/get/cancel/close sequences across two threads behave like the model", { timeout: 240_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1, 2, 3), fc.array(command, { minLength: 5, maxLength: 40, size: "max" }), async (maxsize, commands) => {
        await run(async () => {
          const queue = new ThreadQueue<number>({ maxsize });
          // The model.
          const items: number[] = [];
          let closed = false;
          const pending: Pending[] = [];
          let next = 1;
          const hasRoom = (): boolean => maxsize === 0 || items.length < maxsize;

          /** What the model says finished after the last step: pending operations that can proceed. */
          const settle = (): Array<[Task<unknown>, Outcome]> => {
            const finished: Array<[Task<unknown>, Outcome]> = [];
            for (let progress = true; progress; ) {
              progress = false;
              for (let i = 0; i < pending.length; i++) {
                const op = pending[i] as Pending;
                // Waiters are served oldest first: only the oldest of a kind may proceed.
                if (pending.slice(0, i).some((p) => p.kind === op.kind)) continue;
                let outcome: Outcome | null = null;
                if (op.kind === "get" && items.length > 0) outcome = { value: items.shift() };
                else if (op.kind === "get" && closed) outcome = { error: "QueueShutDown" };
                else if (op.kind === "put" && closed) outcome = { error: "QueueShutDown" };
                else if (op.kind === "put" && hasRoom()) {
                  items.push(op.value);
                  outcome = { value: undefined };
                }
                if (outcome === null) continue;
                pending.splice(i, 1);
                finished.push([op.task, outcome]);
                progress = true;
                break;
              }
            }
            return finished;
          };

          for (const cmd of commands) {
            let expected: Outcome | null = null;
            let actual: Outcome | null = null;
            switch (cmd.op) {
              case "putNowait": {
                const value = next++;
                if (closed) expected = { error: "QueueShutDown" };
                else if (!hasRoom()) expected = { error: "QueueFull" };
                else {
                  items.push(value);
                  expected = { value: undefined };
                }
                actual =
                  cmd.where === "main"
                    ? sync(() => queue.putNowait(value))
                    : fromRemote(await remote.call("remotePutNowait", queue, value));
                break;
              }
              case "getNowait": {
                if (items.length > 0) expected = { value: items.shift() };
                else expected = { error: closed ? "QueueShutDown" : "QueueEmpty" };
                actual = cmd.where === "main" ? sync(() => queue.getNowait()) : fromRemote(await remote.call("remoteGetNowait", queue));
                break;
              }
              case "put": {
                const value = next++;
                pending.push({ kind: "put", value, task: createTask(() => queue.put(value)) });
                break;
              }
              case "get":
                pending.push({ kind: "get", value: 0, task: createTask(() => queue.get()) });
                break;
              case "cancel": {
                if (pending.length === 0) break;
                const [op] = pending.splice(cmd.index % pending.length, 1) as [Pending];
                op.task.cancel();
                expect(await outcomeOf(op.task)).toEqual({ error: "CancelledError" });
                break;
              }
              case "close":
                closed = true;
                if (cmd.where === "main") queue.close();
                else await remote.call("remoteClose", queue);
                break;
              case "check": {
                const state =
                  cmd.where === "main"
                    ? { qsize: queue.qsize(), empty: queue.empty(), full: queue.full(), closed: queue.closed }
                    : await remote.call("remoteState", queue);
                expect(state).toEqual({
                  qsize: items.length,
                  empty: items.length === 0,
                  full: maxsize > 0 && items.length >= maxsize,
                  closed,
                });
                break;
              }
            }
            if (expected !== null) expect(actual).toEqual(expected);
            for (const [task, outcome] of settle()) expect(await finished(task)).toEqual(outcome);
            // Give a wrong early completion a chance to show.
            await sleep(0);
            for (const op of pending) expect(op.task.done()).toBe(false);
            expect(queue.qsize()).toBe(items.length);
          }

          // Wind down: close, and every waiter must end as the model says.
          closed = true;
          queue.close();
          for (const [task, outcome] of settle()) expect(await finished(task)).toEqual(outcome);
          expect(pending).toEqual([]);
          const rest: number[] = [];
          for await (const item of queue) rest.push(item);
          expect(rest).toEqual(items);
        });
      }),
      { numRuns: 100 },
    );
  });
});
