/**
 * CPython's Lib/test/test_asyncio/test_tasks.py, ported: BaseTaskTests, SetMethodsTest, the
 * subclass tests, BaseCurrentLoopTests, GenericTaskTests, the gather tests and SleepTests.
 * Milliseconds, camelCase, functions instead of coroutine objects; CPython's fake-clock loop is a
 * real loop with short delays, so orders are checked, never durations. `runBriefly(loop)` stands
 * for `test_utils.run_briefly`. Left out: eager tasks (not in multiloop), `get_stack`/tracebacks and
 * `__context__` chaining, the C/Python introspection hooks (`_register_task`, `_enter_task`),
 * refcount and `__del__` tests, non-string cancel messages (a TypeError here), and what the README
 * lists as a difference (a task whose function returns a future adopts it; pending tasks are
 * reported at close, not when collected).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CancelledError,
  ContextVar,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  InvalidStateError,
  NoRunningLoopError,
  RuntimeError,
  Task,
  TimeoutError,
  asCompleted,
  copyContext,
  createTask,
  currentTask,
  ensureFuture,
  gather,
  getRunningLoop,
  newEventLoop,
  setEventLoop,
  shield,
  sleep,
  wait,
  type Context,
  type ContextMarker,
  type EventLoop,
  type ExceptionContext,
} from "multiloop";
import { captureExceptions, caught, collectGarbage, runBriefly, thenable, thrown } from "./helpers.js";

let loop: EventLoop;
beforeEach(() => {
  loop = newEventLoop();
});
afterEach(() => {
  if (!loop.isRunning()) loop.close();
});

/**
 * `for await` over `asCompleted` yields the futures themselves, though TypeScript types them as
 * their results (see the README): this says what they are.
 */
const asFuture = <T>(f: T | Future<T>): Future<T> => f as Future<T>;

/** Runs the loop until `aw` is done, which must end it cancelled. */
async function expectCancelled(aw: Future<unknown>): Promise<void> {
  expect(await caught(loop.runUntilComplete(aw))).toBeInstanceOf(CancelledError);
}

const newTask = <T>(fn: () => T | PromiseLike<T>, name = "TestTask"): Task<T> => loop.createTask(fn, { name });

describe("CPython test_tasks.py BaseTaskTests: tasks, repr, cancellation", () => {
  it("test_task_cancel_message_getter", async () => {
    const t = newTask(async () => {});
    t.cancel("my message");
    const err = await caught(loop.runUntilComplete(t));
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as Error).message).toBe("my message");
  });

  it("test_other_loop_future", async () => {
    const other = newEventLoop();
    try {
      const fut = other.createFuture();
      const err = await caught(loop.runUntilComplete(async () => fut));
      expect(err).toBeInstanceOf(RuntimeError);
      expect((err as Error).message).toMatch(/^Task .* got Future .* attached/u);
    } finally {
      other.close();
    }
  });

  it("test_task_awaits_on_itself", async () => {
    const task: Task<void> = ensureFuture(
      async () => {
        await task;
      },
      { loop },
    ) as Task<void>;
    const err = await caught(loop.runUntilComplete(task));
    expect((err as Error).message).toMatch(/Task cannot await on itself/u);
  });

  it("test_task_class", async () => {
    const t = new Task(async () => "ok", { loop });
    await loop.runUntilComplete(t);
    expect(t.done()).toBe(true);
    expect(t.result()).toBe("ok");
    expect(t.getLoop()).toBe(loop);
  });

  it("test_ensure_future_coroutine", async () => {
    const notmuch = async (): Promise<string> => "ok";
    const t = ensureFuture(notmuch, { loop });
    expect(t.getLoop()).toBe(loop);
    await loop.runUntilComplete(t);
    expect(t.result()).toBe("ok");

    setEventLoop(null);
    expect((thrown(() => ensureFuture(notmuch)) as Error).message).toMatch(/no current event loop/u);

    const inside = await loop.runUntilComplete(async () => ({ t: ensureFuture(notmuch) }));
    expect(inside.t.getLoop()).toBe(loop);
    await loop.runUntilComplete(inside.t);
    expect(inside.t.result()).toBe("ok");

    setEventLoop(loop);
    try {
      const global = ensureFuture(notmuch);
      expect(global.getLoop()).toBe(loop);
      expect(await loop.runUntilComplete(global)).toBe("ok");
    } finally {
      setEventLoop(null);
    }
  });

  it("test_ensure_future_future / test_ensure_future_error_msg", async () => {
    const orig = loop.createFuture<string>();
    orig.setResult("ko");
    const f = ensureFuture(orig);
    expect(await loop.runUntilComplete(f)).toBe("ko");
    expect(f).toBe(orig);
    const other = newEventLoop();
    const err = thrown(() => ensureFuture(orig, { loop: other }));
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe("The future belongs to a different loop than the one specified as the loop argument");
    other.close();
    expect(ensureFuture(orig, { loop })).toBe(orig);
  });

  it("test_ensure_future_task", async () => {
    const orig = newTask(async () => "ok");
    const t = ensureFuture(orig);
    expect(await loop.runUntilComplete(t)).toBe("ok");
    expect(t).toBe(orig);
    const other = newEventLoop();
    expect(thrown(() => ensureFuture(orig, { loop: other }))).toBeInstanceOf(RangeError);
    other.close();
  });

  it("test_ensure_future_awaitable / test_ensure_future_task_awaitable", async () => {
    const fut = ensureFuture(thenable("ok"), { loop });
    expect(fut).toBeInstanceOf(Task);
    expect(await loop.runUntilComplete(fut)).toBe("ok");
  });

  it("test_ensure_future_neither", () => {
    expect(thrown(() => ensureFuture("ok" as never, { loop }))).toBeInstanceOf(TypeError);
  });

  it("test_task_repr", async () => {
    loop.setDebug(false);
    async function notmuch(): Promise<string> {
      return "abc";
    }
    function Dummy(): void {}
    const t = newTask(notmuch);
    t.addDoneCallback(Dummy);
    expect(String(t)).toBe("<Task pending name='TestTask' coro=<notmuch()> cb=[Dummy()]>");
    t.cancel(); // does not take effect at once
    expect(String(t)).toBe("<Task cancelling name='TestTask' coro=<notmuch()> cb=[Dummy()]>");
    await expectCancelled(t);
    expect(String(t)).toBe("<Task cancelled name='TestTask' coro=<notmuch()>>");
    const finished = newTask(notmuch);
    await loop.runUntilComplete(finished);
    expect(String(finished)).toBe("<Task finished name='TestTask' coro=<notmuch()> result='abc'>");
  });

  it("test_task_repr_autogenerated", async () => {
    const t1 = loop.createTask(async () => 123);
    const t2 = loop.createTask(async () => 123);
    expect(String(t1)).not.toBe(String(t2));
    const n1 = Number(/^<Task pending name='Task-(\d+)'/u.exec(String(t1))?.[1]);
    const n2 = Number(/^<Task pending name='Task-(\d+)'/u.exec(String(t2))?.[1]);
    expect(n1).toBeLessThan(n2);
    await loop.runUntilComplete(gather(t1, t2));
  });

  it("test_task_set_name_pylong / test_task_repr_name_not_str", async () => {
    const t = loop.createTask(async () => 123, { name: 987654321 as unknown as string });
    expect(t.getName()).toBe("987654321");
    t.setName(123456789 as unknown as string);
    expect(t.getName()).toBe("123456789");
    await loop.runUntilComplete(t);
  });

  it("test_task_repr_wait_for", async () => {
    const fut = loop.createFuture();
    const task = newTask(async () => fut);
    await runBriefly(loop);
    expect(String(task)).toContain(` wait_for=${String(fut)}>`);
    expect(String(fut)).toBe("<Future pending cb=[Task.task_wakeup()]>");
    fut.setResult(null);
    await loop.runUntilComplete(task);
  });

  it("test_task_basics", async () => {
    const inner1 = async (): Promise<number> => 42;
    const inner2 = async (): Promise<number> => 1000;
    expect(await loop.runUntilComplete(async () => (await inner1()) + (await inner2()))).toBe(1042);
  });

  it("test_cancelling", async () => {
    const t = newTask(() => sleep(10_000));
    expect(t.cancelling()).toBe(0);
    expect(String(t)).not.toContain(" cancelling ");
    expect(t.cancel()).toBe(true);
    expect(t.cancelling()).toBe(1);
    expect(String(t)).toContain(" cancelling ");
    // A second request also counts (asyncio dropped the "already cancelling" early return).
    expect(t.cancel()).toBe(true);
    await expectCancelled(t);
  });

  it("test_uncancel_basic", async () => {
    const t = newTask(async () => {
      try {
        await sleep(10_000);
      } catch {
        currentTask()?.uncancel();
        await sleep(10_000);
      }
    });
    await loop.runUntilComplete(() => sleep(10));
    expect(t.cancel()).toBe(true);
    expect(String(t)).toContain(" cancelling ");
    expect(t.cancelling()).toBe(1);
    expect(t.cancelled()).toBe(false);
    await loop.runUntilComplete(() => sleep(10));
    expect(String(t)).not.toContain(" cancelling ");
    expect(t.cancelling()).toBe(0);
    expect(t.cancelled()).toBe(false);
    expect(t.cancel()).toBe(true);
    expect(t.cancelling()).toBe(1);
    await expectCancelled(t);
    expect(t.cancelled()).toBe(true);
    t.uncancel();
    expect(t.cancelled()).toBe(true);
    expect(t.done()).toBe(true);
  });

  it("test_uncancel_structured_blocks", async () => {
    async function makeRequestWithTimeout(sleepMs: number, timeoutMs: number): Promise<[boolean, boolean, boolean]> {
      const task = currentTask() as Task<unknown>;
      let timedOut = false;
      let structuredBlockFinished = false;
      const handle = getRunningLoop().callLater(timeoutMs, () => {
        timedOut = true;
        task.cancel();
      });
      try {
        try {
          await sleep(sleepMs);
          structuredBlockFinished = true;
        } catch (err) {
          if (timedOut && task.uncancel() === 0 && err instanceof CancelledError) throw new TimeoutError();
          throw err;
        } finally {
          handle.cancel();
        }
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        expect(timedOut).toBe(true);
      }
      const outerCodeReached = true;
      await sleep(0);
      return [timedOut, structuredBlockFinished, outerCodeReached];
    }
    const t1 = newTask(() => makeRequestWithTimeout(10_000, 20));
    expect(await loop.runUntilComplete(t1)).toEqual([true, false, true]);
    expect(t1.cancelling()).toBe(0);
    const t2 = newTask(() => makeRequestWithTimeout(0, 10_000));
    expect(await loop.runUntilComplete(t2)).toEqual([false, true, true]);
    expect(t2.cancelling()).toBe(0);
  });

  it("test_uncancel_resets_must_cancel", async () => {
    const fut = loop.createFuture<null>();
    const task = newTask(async () => {
      await fut;
      return 42;
    });
    await loop.runUntilComplete(() => sleep(0));
    fut.setResult(null); // the task is runnable: the cancel cannot reach a waiter
    task.cancel();
    expect(task.cancelling()).toBe(1);
    task.uncancel();
    expect(task.cancelling()).toBe(0);
    expect(await loop.runUntilComplete(task)).toBe(42);
  });

  it("test_cancel", async () => {
    const t = newTask(async () => {
      await sleep(10_000);
      return 12;
    });
    loop.callSoon(() => t.cancel());
    await expectCancelled(t);
    expect(t.done()).toBe(true);
    expect(t.cancelled()).toBe(true);
    expect(t.cancel()).toBe(false);
  });

  for (const [args, expected] of [
    [[], ""],
    [[undefined], ""],
    [["my message"], "my message"],
  ] as const) {
    for (const read of ["result", "exception"] as const) {
      it(`test_cancel_with_message_then_future_${read} (cancel(${args.map(String).join()}))`, async () => {
        const task = newTask(async () => {
          const inner = newTask(() => sleep(10_000));
          await sleep(0);
          inner.cancel(...(args as unknown as [string?]));
          await wait([inner]);
          inner[read]();
        });
        const err = await caught(loop.runUntilComplete(task));
        expect(err).toBeInstanceOf(CancelledError);
        expect((err as Error).message).toBe(expected);
      });
    }
  }

  it("test_cancellation_exception_context (the inner task's message reaches the awaiter)", async () => {
    const fut = loop.createFuture<null>();
    const task = newTask(async () => {
      const inner = newTask(async () => {
        fut.setResult(null);
        await sleep(10_000);
      });
      await fut;
      getRunningLoop().callSoon((m: string) => inner.cancel(m), "msg");
      try {
        await inner;
      } catch (ex) {
        throw new Error("cancelled", { cause: ex });
      }
    });
    const err = (await caught(loop.runUntilComplete(task))) as Error;
    expect(err.message).toBe("cancelled");
    expect(err.cause).toBeInstanceOf(CancelledError);
    expect((err.cause as Error).message).toBe("msg");
  });

  it("test_cancel_with_message_before_starting_task", async () => {
    const task = newTask(async () => {
      const inner = newTask(() => sleep(10_000));
      inner.cancel("my message");
      await wait([inner]);
      inner.exception();
    });
    const err = await caught(loop.runUntilComplete(task));
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as Error).message).toBe("my message");
  });

  it("test_cancel_yield", async () => {
    const t = newTask(async () => {
      await sleep(0);
      await sleep(0);
      return 12;
    });
    await runBriefly(loop);
    t.cancel();
    await expectCancelled(t);
    expect(t.cancelled()).toBe(true);
    expect(t.cancel()).toBe(false);
  });

  it("test_cancel_inner_future", async () => {
    const f = loop.createFuture();
    const t = newTask(async () => {
      await f;
      return 12;
    });
    await runBriefly(loop);
    f.cancel();
    await expectCancelled(t);
    expect(f.cancelled()).toBe(true);
    expect(t.cancelled()).toBe(true);
  });

  it("test_cancel_both_task_and_inner_future", async () => {
    const f = loop.createFuture();
    const t = newTask(async () => {
      await f;
      return 12;
    });
    await runBriefly(loop);
    f.cancel();
    t.cancel();
    await expectCancelled(t);
    expect(t.done()).toBe(true);
    expect(f.cancelled()).toBe(true);
    expect(t.cancelled()).toBe(true);
  });

  it("test_cancel_task_catching", async () => {
    const fut1 = loop.createFuture<null>();
    const fut2 = loop.createFuture<null>();
    const t = newTask(async () => {
      await fut1;
      try {
        await fut2;
      } catch (err) {
        if (err instanceof CancelledError) return 42;
        throw err;
      }
      return 0;
    });
    await runBriefly(loop);
    fut1.setResult(null);
    await runBriefly(loop);
    t.cancel();
    expect(fut2.cancelled()).toBe(true);
    expect(await loop.runUntilComplete(t)).toBe(42);
    expect(t.cancelled()).toBe(false);
  });

  it("test_cancel_task_ignoring", async () => {
    const [fut1, fut2, fut3] = [loop.createFuture<null>(), loop.createFuture<null>(), loop.createFuture<number>()];
    const t = newTask(async () => {
      await fut1;
      try {
        await fut2;
      } catch {
        // ignored
      }
      return await fut3;
    });
    await runBriefly(loop);
    fut1.setResult(null);
    await runBriefly(loop);
    t.cancel();
    expect(fut2.cancelled()).toBe(true);
    await runBriefly(loop);
    fut3.setResult(42);
    expect(await loop.runUntilComplete(t)).toBe(42);
    expect(fut3.cancelled()).toBe(false);
    expect(t.cancelled()).toBe(false);
  });

  it("test_cancel_current_task", async () => {
    const t: Task<number> = newTask(async () => {
      t.cancel();
      await sleep(100_000); // cancelled at once
      return 12;
    });
    expect(t.cancelled()).toBe(false);
    await expectCancelled(t);
    expect(t.cancelled()).toBe(true);
    expect(t.cancel()).toBe(false);
  });

  it("test_cancel_at_end", async () => {
    const t: Task<number> = newTask(async () => {
      t.cancel();
      return 12;
    });
    await expectCancelled(t);
    expect(t.cancelled()).toBe(true);
    expect(t.cancel()).toBe(false);
  });

  it("test_cancel_awaited_task", async () => {
    const fut = loop.createFuture();
    let nested: Task<void> | null = null;
    const task: Task<void> = newTask(async () => {
      nested = newTask(async () => {
        await fut;
      });
      await sleep(0);
      task.cancel();
      await nested;
    });
    expect(await caught(loop.runUntilComplete(task))).toBeInstanceOf(CancelledError);
    expect(task.cancelled()).toBe(true);
    expect((nested as unknown as Task<void>).cancelled()).toBe(true);
    expect(fut.cancelled()).toBe(true);
  });

  it("test_stop_while_run_in_complete", async () => {
    let x = 0;
    const t = newTask(async () => {
      while (x < 10) {
        await sleep(1);
        x++;
        if (x === 2) getRunningLoop().stop();
      }
    });
    const err = await caught(loop.runUntilComplete(t));
    expect((err as Error).message).toBe("Event loop stopped before Future completed.");
    expect(t.done()).toBe(false);
    expect(x).toBe(2);
    t.cancel();
    await expectCancelled(t);
  });

  it("test_task_cancel_sleeping_task", async () => {
    const result = await loop.runUntilComplete(async () => {
      const sleeper = newTask(() => sleep(5_000_000));
      getRunningLoop().callLater(10, () => sleeper.cancel());
      try {
        await sleeper;
        return "slept in";
      } catch {
        return "cancelled";
      }
    });
    expect(result).toBe("cancelled");
  });

  it("test_task_cancel_waiter_future", async () => {
    const fut = loop.createFuture();
    const task = newTask(async () => {
      await fut;
    });
    await runBriefly(loop);
    expect(String(task)).toContain("wait_for=<Future pending");
    task.cancel();
    await runBriefly(loop);
    expect(await caught(loop.runUntilComplete(task))).toBeInstanceOf(CancelledError);
    expect(String(task)).not.toContain("wait_for");
    expect(fut.cancelled()).toBe(true);
  });

  it("test_task_set_methods", async () => {
    const task = newTask(async () => "ko");
    expect((thrown(() => task.setResult()) as Error).message).toMatch(/not support setResult/u);
    expect((thrown(() => task.setException()) as Error).message).toMatch(/not support setException/u);
    expect(await loop.runUntilComplete(task)).toBe("ko");
  });

  it("test_step_result_future", async () => {
    class Fut<T> extends Future<T> {
      cbAdded = false;
      override addDoneCallback(cb: (future: this) => unknown, context?: ContextMarker): void {
        this.cbAdded = true;
        super.addDoneCallback(cb, context);
      }
    }
    const fut = new Fut<object>({ loop });
    let result: unknown = null;
    const t = newTask(async () => {
      result = await fut;
    });
    await runBriefly(loop);
    expect(fut.cbAdded).toBe(true);
    const res = {};
    fut.setResult(res);
    await runBriefly(loop);
    expect(result).toBe(res);
    expect(t.done()).toBe(true);
    expect(t.result()).toBe(undefined);
  });

  it("test_baseexception_during_cancel (an error thrown while handling the cancel ends the task with it)", async () => {
    const baseExc = new Error("SystemExit");
    const task = newTask(async () => {
      try {
        await sleep(10_000);
      } catch (err) {
        if (err instanceof CancelledError) throw baseExc;
        throw err;
      }
    });
    await runBriefly(loop);
    task.cancel();
    expect(task.done()).toBe(false);
    expect(await caught(loop.runUntilComplete(task))).toBe(baseExc);
    expect(task.cancelled()).toBe(false);
    expect(task.exception()).toBe(baseExc);
  });

  it("test_coroutine_non_gen_function", async () => {
    expect(await loop.runUntilComplete(async () => "test")).toBe("test");
  });

  it("test_current_task", async () => {
    expect(currentTask(loop)).toBe(null);
    const task: Task<void> = newTask(async () => {
      expect(currentTask()).toBe(task);
      expect(currentTask(undefined)).toBe(task);
    });
    await loop.runUntilComplete(task);
    expect(currentTask(loop)).toBe(null);
  });

  it("test_current_task_with_interleaving_tasks", async () => {
    const fut1 = loop.createFuture<boolean>();
    const fut2 = loop.createFuture<boolean>();
    const seen: boolean[] = [];
    const task1: Task<void> = newTask(async () => {
      seen.push(currentTask() === task1);
      await fut1;
      seen.push(currentTask() === task1);
      fut2.setResult(true);
    });
    const task2: Task<void> = newTask(async () => {
      seen.push(currentTask() === task2);
      fut1.setResult(true);
      await fut2;
      seen.push(currentTask() === task2);
    });
    await loop.runUntilComplete(() => wait([task1, task2]));
    expect(seen).toEqual([true, true, true, true]);
    expect(currentTask(loop)).toBe(null);
  });

  it("test_yield_future_passes_cancel", async () => {
    let proof = 0;
    const waiter = loop.createFuture();
    const inner = async (): Promise<void> => {
      try {
        await waiter;
      } catch (err) {
        proof += 1;
        throw err;
      }
      expect.fail("got past sleep() in inner()");
    };
    const f = ensureFuture(
      async () => {
        try {
          await inner();
          proof += 10;
        } catch {
          proof += 100;
        }
      },
      { loop },
    );
    await runBriefly(loop);
    f.cancel();
    await loop.runUntilComplete(f);
    expect(proof).toBe(101);
    expect(waiter.cancelled()).toBe(true);
  });

  it("test_yield_wait_does_not_shield_cancel", async () => {
    let proof = 0;
    const waiter = loop.createFuture();
    const f = ensureFuture(
      async () => {
        await wait([createTask(async () => {
          await waiter;
          proof += 1;
        })]);
        proof += 100;
      },
      { loop },
    );
    await runBriefly(loop);
    f.cancel();
    expect(await caught(loop.runUntilComplete(f))).toBeInstanceOf(CancelledError);
    waiter.setResult(null);
    await runBriefly(loop);
    expect(proof).toBe(1);
  });

  it("test_tb_logger_not_called_after_cancel", { timeout: 15_000 }, async () => {
    const seen = captureExceptions(loop);
    await loop.runUntilComplete(async () => {
      ((): void => {
        const task = newTask(async () => {
          throw new TypeError("cancelled after failing");
        });
        // The control: a task that fails and is left alone must be reported.
        newTask(async () => {
          throw new TypeError("control");
        });
        void sleep(0).then(() => task.cancel());
      })();
      await sleep(5);
      await collectGarbage(() => seen.length > 0);
    });
    expect(seen.map((c) => (c.exception as Error).message)).toEqual(["control"]);
  });

  it("test_tb_logger_not_called_after_cancel (debug mode: the close-time report)", async () => {
    loop.setDebug(true);
    const seen = captureExceptions(loop);
    await loop.runUntilComplete(async () => {
      const task = newTask(async () => {
        throw new TypeError("cancelled after failing");
      });
      await sleep(5);
      expect(task.cancel()).toBe(false);
    });
    loop.close();
    expect(seen).toEqual([]);
  });

  it("test_task_source_traceback", async () => {
    loop.setDebug(true);
    const task = newTask(async () => {});
    expect(task.sourceTraceback).toMatch(/cpython-tasks\.test\.[jt]s/u);
    await loop.runUntilComplete(task);
  });

  it("test_cancel_gather_1", async () => {
    const fut = loop.createFuture<number>();
    const { gatherTask } = await loop.runUntilComplete(async () => ({
      gatherTask: ensureFuture(gather(async () => fut)),
    }));
    let cancelResult: boolean | null = null;
    fut.addDoneCallback(() => {
      cancelResult = gatherTask.cancel();
    });
    fut.setResult(42);
    await loop.runUntilComplete(gatherTask);
    // Python issue #26923: asyncio.gather drops cancellation.
    expect(cancelResult).toBe(false);
    expect(gatherTask.cancelled()).toBe(false);
    expect(gatherTask.result()).toEqual([42]);
  });

  for (const [args, expected] of [
    [[], ""],
    [["my message"], "my message"],
  ] as const) {
    it(`test_cancel_gather_2 (cancel(${args.join()}))`, async () => {
      const err = await caught(
        loop.runUntilComplete(async () => {
          const qwe = newTask(async () => {
            for (let time = 0; time <= 1000; time += 5) await gather([() => sleep(5)], { returnExceptions: true });
          });
          await sleep(20);
          qwe.cancel(...(args as unknown as [string?]));
          await qwe;
        }),
      );
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe(expected);
    });
  }

  it("test_exception_traceback", async () => {
    await loop.runUntilComplete(async () => {
      const task = newTask(async () => {
        throw new RangeError("1 / 0");
      });
      await sleep(0);
      expect((task.exception() as Error).stack).toMatch(/RangeError: 1 \/ 0/u);
    });
  });

  it("test_create_task_with_noncoroutine", () => {
    for (let i = 0; i < 2; i++) expect(thrown(() => newTask(123 as never))).toBeInstanceOf(TypeError);
  });

  it("test_create_task_with_async_function / test_create_task_with_asynclike_function", async () => {
    for (let i = 0; i < 2; i++) {
      const task = newTask(async () => {});
      expect(task).toBeInstanceOf(Task);
      await loop.runUntilComplete(task);
      const like = newTask(() => thenable(42));
      expect(await loop.runUntilComplete(like)).toBe(42);
    }
  });

  it("test_bare_create_task / test_bare_create_named_task", async () => {
    await loop.runUntilComplete(async () => {
      const task = createTask(async () => 1);
      expect(task).toBeInstanceOf(Task);
      expect(await task).toBe(1);
      const named = createTask(async () => {}, { name: "No-op" });
      expect(named.getName()).toBe("No-op");
      await named;
    });
  });

  it("test_get_coro / test_get_context", async () => {
    async function coroutineFunction(): Promise<void> {}
    const context = copyContext();
    const task = loop.createTask(coroutineFunction, { context });
    await loop.runUntilComplete(task);
    expect(task.getCoro()).toBe(coroutineFunction);
    expect(task.getContext()).toBe(context);
  });
});

describe("CPython test_tasks.py BaseTaskTests: wait", () => {
  it("test_wait", async () => {
    const a = newTask(() => sleep(10));
    const b = newTask(() => sleep(15));
    const foo = async (): Promise<number> => {
      const [done, pending] = await wait([b, a]);
      expect(done).toEqual(new Set([a, b]));
      expect(pending).toEqual(new Set());
      return 42;
    };
    expect(await loop.runUntilComplete(foo)).toBe(42);
    // Again: done already, a different path.
    expect(await loop.runUntilComplete(foo)).toBe(42);
  });

  it("test_wait_duplicate_coroutines", async () => {
    const c = loop.createTask(async () => "test");
    const [done, pending] = await loop.runUntilComplete(() => wait([c, c, loop.createTask(async () => "spam")]));
    expect(pending.size).toBe(0);
    expect(new Set([...done].map((f) => f.result()))).toEqual(new Set(["test", "spam"]));
  });

  it("test_wait_errors / test_wait_invalid_args", async () => {
    expect(await caught(loop.runUntilComplete(() => wait(new Set<Future<unknown>>())))).toBeInstanceOf(RangeError);
    const t = newTask(() => sleep(10_000));
    expect(await caught(loop.runUntilComplete(() => wait([t], { returnWhen: -1 as never })))).toBeInstanceOf(RangeError);
    const fut = loop.createFuture();
    expect(await caught(loop.runUntilComplete(() => wait(fut as never)))).toBeInstanceOf(TypeError);
    expect(await caught(loop.runUntilComplete(() => wait([async () => {}] as never)))).toBeInstanceOf(TypeError);
    t.cancel();
    fut.cancel();
  });

  it("test_wait_first_completed", async () => {
    const a = newTask(() => sleep(10_000));
    const b = newTask(() => sleep(10));
    const [done, pending] = await loop.runUntilComplete(() => wait([b, a], { returnWhen: FIRST_COMPLETED }));
    expect(done).toEqual(new Set([b]));
    expect(pending).toEqual(new Set([a]));
    expect(a.done()).toBe(false);
    expect(b.result()).toBe(undefined);
    a.cancel();
    await loop.runUntilComplete(() => wait([a, b]));
  });

  it("test_wait_really_done", async () => {
    const a = newTask(() => sleep(0));
    const b = newTask(async () => {
      await sleep(0);
      await sleep(0);
    });
    const [done] = await loop.runUntilComplete(() => wait([b, a], { returnWhen: FIRST_COMPLETED }));
    expect(done).toEqual(new Set([a, b]));
  });

  it("test_wait_first_exception", async () => {
    const a = newTask(() => sleep(10_000));
    const b = newTask(async () => {
      throw new RangeError("err");
    });
    const [done, pending] = await loop.runUntilComplete(() => wait([b, a], { returnWhen: FIRST_EXCEPTION }));
    expect(done).toEqual(new Set([b]));
    expect(pending).toEqual(new Set([a]));
    a.cancel();
    await loop.runUntilComplete(() => wait([a, b]));
    b.exception();
  });

  it("test_wait_first_exception_in_wait", async () => {
    const a = newTask(() => sleep(10_000));
    const b = newTask(async () => {
      await sleep(5);
      throw new RangeError("err");
    });
    const [done, pending] = await loop.runUntilComplete(() => wait([b, a], { returnWhen: FIRST_EXCEPTION }));
    expect(done).toEqual(new Set([b]));
    expect(pending).toEqual(new Set([a]));
    a.cancel();
    await loop.runUntilComplete(() => wait([a, b]));
    b.exception();
  });

  it("test_wait_with_exception", async () => {
    const a = newTask(() => sleep(5));
    const b = newTask(async () => {
      await sleep(10);
      throw new RangeError("really");
    });
    const foo = async (): Promise<void> => {
      const [done, pending] = await wait([b, a]);
      expect(done.size).toBe(2);
      expect(pending.size).toBe(0);
      expect([...done].filter((f) => f.exception() !== null)).toHaveLength(1);
    };
    await loop.runUntilComplete(foo);
    await loop.runUntilComplete(foo);
  });

  it("test_wait_with_timeout / test_wait_concurrent_complete", async () => {
    const a = newTask(() => sleep(1));
    const b = newTask(() => sleep(10_000));
    const [done, pending] = await loop.runUntilComplete(() => wait([b, a], { timeout: 200 }));
    expect(done).toEqual(new Set([a]));
    expect(pending).toEqual(new Set([b]));
    b.cancel();
    await loop.runUntilComplete(() => wait([a, b]));
  });

  it("test_wait_with_iterator_of_tasks / test_wait_generator", async () => {
    const a = newTask(() => sleep(5));
    const b = newTask(() => sleep(10));
    const [done, pending] = await loop.runUntilComplete(() => wait([b, a][Symbol.iterator]()));
    expect(done).toEqual(new Set([a, b]));
    expect(pending.size).toBe(0);
    await loop.runUntilComplete(async () => {
      function* tasks(): Generator<Task<number>> {
        for (let i = 0; i < 10; i++) yield newTask(async () => i);
      }
      const [d, p] = await wait(tasks(), { returnWhen: "ALL_COMPLETED" });
      expect(d.size).toBe(10);
      expect(p.size).toBe(0);
    });
  });
});

describe("CPython test_tasks.py BaseTaskTests: asCompleted", () => {
  const iterators = {
    tryIterator: async <T>(aws: Iterable<Future<T> | Promise<T>>): Promise<T[]> => {
      const values: T[] = [];
      for (const f of asCompleted(aws)) values.push(await f);
      return values;
    },
    tryAsyncIterator: async <T>(aws: Iterable<Future<T> | Promise<T>>): Promise<T[]> => {
      const values: T[] = [];
      for await (const f of asCompleted(aws)) values.push(await f);
      return values;
    },
  };

  for (const [method, run] of Object.entries(iterators)) {
    it(`test_as_completed (${method})`, async () => {
      const res = await loop.runUntilComplete(() =>
        run([newTask(() => sleep(1, "b")), newTask(() => sleep(60, "c")), newTask(() => sleep(1, "a"))]),
      );
      expect(res.slice(0, 2).sort()).toEqual(["a", "b"]);
      expect(res[2]).toBe("c");
    });

    it(`test_as_completed_duplicate_coroutines (${method})`, async () => {
      const result = await loop.runUntilComplete(async () => {
        const c = Promise.resolve("ham");
        return run([c, c, Promise.resolve("spam")]);
      });
      expect(new Set(result)).toEqual(new Set(["ham", "spam"]));
      expect(result).toHaveLength(2);
    });
  }

  it("test_as_completed_same_tasks_in_as_out", async () => {
    const out = await loop.runUntilComplete(async () => {
      const taskB = createTask(async () => "b");
      const taskD = createTask(async () => "d");
      const ins = [Promise.resolve("a"), taskB, Promise.resolve("c"), taskD];
      const seen = new Set<unknown>();
      for await (const aw of asCompleted(ins)) seen.add(aw);
      return { ins, seen, taskB, taskD };
    });
    expect([...out.ins].filter((x) => out.seen.has(x))).toEqual([out.taskB, out.taskD]);
  });

  it("test_as_completed_with_timeout", async () => {
    for (const style of ["iterator", "async iterator"]) {
      const a = loop.createTask(() => sleep(1, "a"));
      const b = loop.createTask(() => sleep(10_000, "b"));
      const res = await loop.runUntilComplete(async () => {
        const values: unknown[] = [];
        if (style === "iterator") {
          for (const f of asCompleted([a, b], { timeout: 100 })) {
            try {
              values.push([1, await f]);
            } catch (exc) {
              values.push([2, exc]);
            }
          }
        } else {
          try {
            for await (const f of asCompleted([a, b], { timeout: 100 })) values.push([1, await asFuture(f)]);
          } catch (exc) {
            values.push([2, exc]);
          }
        }
        return values;
      });
      expect(res).toHaveLength(2);
      expect(res[0]).toEqual([1, "a"]);
      expect((res[1] as unknown[])[0]).toBe(2);
      expect((res[1] as unknown[])[1]).toBeInstanceOf(TimeoutError);
      b.cancel();
      await loop.runUntilComplete(() => wait([a, b]));
    }
  });

  it("test_as_completed_with_unused_timeout", async () => {
    await loop.runUntilComplete(async () => {
      for (const f of asCompleted([createTask(() => sleep(1, "a"))], { timeout: 1000 })) expect(await f).toBe("a");
      for await (const f of asCompleted([createTask(() => sleep(1, "a"))], { timeout: 1000 })) expect(await asFuture(f)).toBe("a");
    });
  });

  it("test_as_completed_resume_iterator", async () => {
    const results = await loop.runUntilComplete(async () => {
      const collected: number[] = [];
      const iterator = asCompleted([0, 1, 2, 3].map((i) => createTask(async () => i)));
      let iterations = 0;
      for await (const f of iterator) {
        collected.push(await f);
        if (++iterations === 2) break;
      }
      expect(collected).toHaveLength(2);
      for await (const f of iterator) collected.push(await asFuture(f));
      return collected;
    });
    expect(results.sort()).toEqual([0, 1, 2, 3]);
  });

  it("test_as_completed_reverse_wait", async () => {
    await loop.runUntilComplete(async () => {
      const a = createTask(() => sleep(5, "a"));
      const b = createTask(() => sleep(100, "b"));
      const futs = [...asCompleted(new Set([a, b]))];
      expect(futs).toHaveLength(2);
      // The first awaited gets the first to finish, although it was made second.
      const [first, second] = futs as [Promise<string>, Promise<string>];
      expect(await second).toBe("a");
      expect(await first).toBe("b");
    });
  });

  it("test_as_completed_concurrent", async () => {
    for (const style of ["iterator", "async iterator"]) {
      await loop.runUntilComplete(async () => {
        const fs = new Set<Task<string>>([createTask(() => sleep(5, "a")), createTask(() => sleep(5, "b"))]);
        const futs: PromiseLike<string>[] = [];
        if (style === "iterator") futs.push(...asCompleted(fs));
        else for await (const f of asCompleted(fs)) futs.push(asFuture(f));
        expect(futs).toHaveLength(2);
        const [done] = await wait(futs.map((f) => ensureFuture(f)));
        expect(new Set([...done].map((f) => f.result()))).toEqual(new Set(["a", "b"]));
      });
    }
  });

  it("test_as_completed_coroutine_without_loop", () => {
    setEventLoop(null);
    expect((thrown(() => [...asCompleted([Promise.resolve(42)])]) as Error).message).toMatch(/no current event loop/u);
  });

  it("test_as_completed_coroutine_use_running_loop", async () => {
    await loop.runUntilComplete(async () => {
      const futs = [...asCompleted([(async () => 42)()])];
      expect(futs).toHaveLength(1);
      expect(await futs[0]).toBe(42);
    });
  });

  it("test_as_completed_invalid_args", async () => {
    const fut = loop.createFuture();
    expect(thrown(() => asCompleted(fut as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => asCompleted((async () => {})() as never))).toBeInstanceOf(TypeError);
    fut.cancel();
  });
});

describe("CPython test_tasks.py BaseTaskTests: sleep and shield", () => {
  it("test_sleep", async () => {
    const t = newTask(async () => {
      await sleep(5);
      return await sleep(5, "yeah");
    });
    await loop.runUntilComplete(t);
    expect(t.result()).toBe("yeah");
  });

  it("test_sleep_when_delay_is_nan", async () => {
    const t = newTask(() => sleep(Number.NaN));
    expect(await caught(loop.runUntilComplete(t))).toBeInstanceOf(RangeError);
  });

  it("test_sleep_cancel (cancelling the sleeping task cancels the sleep's timer)", async () => {
    let fut: Future<string> | null = null;
    const t = newTask(() => (fut = sleep(10_000, "yeah")));
    await runBriefly(loop);
    t.cancel();
    await runBriefly(loop);
    expect((fut as unknown as Future<string>).cancelled()).toBe(true);
    // Nothing is left to keep the loop busy: a cancelled timer left the heap.
    await expectCancelled(t);
  });

  it("test_shield_result", async () => {
    const inner = loop.createFuture<number>();
    const outer = shield(inner);
    inner.setResult(42);
    expect(await loop.runUntilComplete(outer)).toBe(42);
  });

  it("test_shield_exception", async () => {
    const inner = loop.createFuture();
    const outer = shield(inner);
    await runBriefly(loop);
    const exc = new RuntimeError("expected");
    inner.setException(exc);
    await runBriefly(loop);
    expect(outer.exception()).toBe(exc);
  });

  it("test_shield_cancel_inner", async () => {
    const inner = loop.createFuture();
    const outer = shield(inner);
    await runBriefly(loop);
    inner.cancel();
    await runBriefly(loop);
    expect(outer.cancelled()).toBe(true);
  });

  it("test_shield_cancel_outer", async () => {
    const inner = loop.createFuture();
    const outer = shield(inner);
    await runBriefly(loop);
    outer.cancel();
    await runBriefly(loop);
    expect(outer.cancelled()).toBe(true);
    expect(String(outer)).toBe("<Future cancelled>");
    inner.cancel();
  });

  it("test_shield_cancel_outer_result", async () => {
    const seen = captureExceptions(loop);
    const inner = loop.createFuture<number>();
    const outer = shield(inner);
    await runBriefly(loop);
    outer.cancel();
    await runBriefly(loop);
    inner.setResult(1);
    await runBriefly(loop);
    expect(seen).toEqual([]);
  });

  it("test_shield_cancel_outer_exception", async () => {
    const seen = captureExceptions(loop);
    const inner = loop.createFuture();
    const outer = shield(inner);
    await runBriefly(loop);
    outer.cancel();
    await runBriefly(loop);
    const exc = new Error("foo");
    inner.setException(exc);
    await runBriefly(loop);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual({ message: "Error exception in shielded future", exception: exc, future: inner });
    // Reported, so not reported again as never retrieved.
    expect(inner.hasUnretrievedException()).toBe(false);
  });

  it("test_shield_duplicate_log_once", async () => {
    const seen = captureExceptions(loop);
    const inner = loop.createFuture();
    let outer = shield(inner);
    await runBriefly(loop);
    outer.cancel();
    await runBriefly(loop);
    outer = shield(inner);
    await runBriefly(loop);
    outer.cancel();
    await runBriefly(loop);
    inner.setException(new Error("foo"));
    await runBriefly(loop);
    expect(seen.map((c: ExceptionContext) => c.message)).toEqual(["Error exception in shielded future"]);
  });

  it("test_shield_shortcut", async () => {
    const fut = loop.createFuture<number>();
    fut.setResult(42);
    expect(shield(fut)).toBe(fut);
    expect(await loop.runUntilComplete(shield(fut))).toBe(42);
  });

  it("test_shield_effect", async () => {
    let proof = 0;
    const waiter = loop.createFuture();
    const f = ensureFuture(
      async () => {
        await shield(async () => {
          await waiter;
          proof += 1;
        });
        proof += 100;
      },
      { loop },
    );
    await runBriefly(loop);
    f.cancel();
    expect(await caught(loop.runUntilComplete(f))).toBeInstanceOf(CancelledError);
    waiter.setResult(null);
    await runBriefly(loop);
    expect(proof).toBe(1);
  });

  it("test_shield_gather", async () => {
    const [child1, child2] = [loop.createFuture<number>(), loop.createFuture<number>()];
    setEventLoop(loop);
    const parent = gather(child1, child2);
    setEventLoop(null);
    const outer = shield(parent);
    await runBriefly(loop);
    outer.cancel();
    await runBriefly(loop);
    expect(outer.cancelled()).toBe(true);
    child1.setResult(1);
    child2.setResult(2);
    await runBriefly(loop);
    expect(parent.result()).toEqual([1, 2]);
  });

  it("test_gather_shield", async () => {
    const [child1, child2] = [loop.createFuture<number>(), loop.createFuture<number>()];
    const inner1 = shield(child1);
    const inner2 = shield(child2);
    const parent = gather(inner1, inner2);
    await runBriefly(loop);
    parent.cancel();
    // Cancels inner1 and inner2, not child1 and child2.
    await runBriefly(loop);
    expect(parent.exception()).toBeInstanceOf(CancelledError);
    expect(inner1.cancelled()).toBe(true);
    expect(inner2.cancelled()).toBe(true);
    child1.setResult(1);
    child2.setResult(2);
    await runBriefly(loop);
  });

  it("test_shield_coroutine_without_loop / use_running_loop / use_global_loop", async () => {
    setEventLoop(null);
    expect((thrown(() => shield(async () => 42)) as Error).message).toMatch(/no current event loop/u);
    const { outer } = await loop.runUntilComplete(async () => ({ outer: shield(async () => 42) }));
    expect(outer.getLoop()).toBe(loop);
    expect(await loop.runUntilComplete(outer)).toBe(42);
    setEventLoop(loop);
    try {
      const global = shield(async () => 42);
      expect(global.getLoop()).toBe(loop);
      expect(await loop.runUntilComplete(global)).toBe(42);
    } finally {
      setEventLoop(null);
    }
  });
});

describe("CPython test_tasks.py BaseTaskTests: context", () => {
  it("test_context_1", async () => {
    const cvar = new ContextVar("cvar", { default: "nope" });
    await loop.runUntilComplete(async () => {
      expect(cvar.get()).toBe("nope");
      const subtask = createTask(async () => {
        await sleep(1);
        expect(cvar.get()).toBe("nope");
        cvar.set("something else");
      });
      cvar.set("yes");
      expect(cvar.get()).toBe("yes");
      await subtask;
      expect(cvar.get()).toBe("yes");
    });
  });

  it("test_context_2", async () => {
    const cvar = new ContextVar("cvar", { default: "nope" });
    await loop.runUntilComplete(async () => {
      const futOnDone = (): void => {
        // This change must not pollute the context of the main task.
        cvar.set("something else");
      };
      expect(cvar.get()).toBe("nope");
      for (let j = 0; j < 2; j++) {
        const fut = getRunningLoop().createFuture<null>();
        fut.addDoneCallback(futOnDone);
        cvar.set(`yes${j}`);
        getRunningLoop().callSoon(() => fut.setResult(null));
        await fut;
        expect(cvar.get()).toBe(`yes${j}`);
        for (let i = 0; i < 3; i++) {
          cvar.set(`yes${i}-${j}`);
          await sleep(1);
          expect(cvar.get()).toBe(`yes${i}-${j}`);
        }
      }
    });
    expect(cvar.get()).toBe("nope");
  });

  it("test_context_3", async () => {
    const cvar = new ContextVar("cvar", { default: -1 });
    await loop.runUntilComplete(async () => {
      const sub = async (num: number): Promise<void> => {
        for (let i = 0; i < 10; i++) {
          cvar.set(num + i);
          await sleep(Math.random() * 5);
          expect(cvar.get()).toBe(num + i);
        }
      };
      await gather(Array.from({ length: 100 }, () => () => sub(Math.floor(Math.random() * 11))));
    });
    expect(cvar.get()).toBe(-1);
  });

  for (const [label, make] of [
    ["test_context_4 (new Task)", (fn: () => Promise<void>, context: Context) => new Task(fn, { loop, context })],
    ["test_context_5 (createTask)", (fn: () => Promise<void>, context: Context) => createTask(fn, { context })],
    ["test_context_6 (loop.createTask)", (fn: () => Promise<void>, context: Context) => loop.createTask(fn, { context })],
  ] as const) {
    it(label, async () => {
      const cvar = new ContextVar<number>("cvar");
      const ret = await loop.runUntilComplete(async () => {
        const out: Array<number | undefined> = [];
        const ctx = copyContext();
        const coro = (val: number) => async (): Promise<void> => {
          await sleep(0);
          cvar.set(val);
        };
        out.push(ctx.get(cvar));
        await make(coro(1), ctx);
        out.push(ctx.get(cvar));
        await make(coro(2), ctx);
        out.push(ctx.get(cvar));
        return out;
      });
      expect(ret).toEqual([undefined, 1, 2]);
    });
  }
});

describe("CPython test_tasks.py subclass tests and SetMethodsTest", () => {
  it("test_subclasses_ctask_cfuture (a task subscribes through the subclass's addDoneCallback)", async () => {
    class CountingFuture<T> extends Future<T> {
      calls = 0;
      override addDoneCallback(cb: (future: this) => unknown, context?: ContextMarker): void {
        this.calls++;
        super.addDoneCallback(cb, context);
      }
    }
    class CountingTask<T> extends Task<T> {
      calls = 0;
      override addDoneCallback(cb: (future: this) => unknown, context?: ContextMarker): void {
        this.calls++;
        super.addDoneCallback(cb, context);
      }
    }
    const fut = new CountingFuture<string>({ loop });
    const task = new CountingTask(
      async () => {
        getRunningLoop().callSoon(() => fut.setResult("spam"));
        return await fut;
      },
      { loop },
    );
    expect(await loop.runUntilComplete(task)).toBe("spam");
    expect(task.calls).toBe(1);
    expect(fut.calls).toBe(1);
  });

  it("test_set_result_causes_invalid_state", async () => {
    const seen = captureExceptions(loop);
    const task = newTask(async () => {
      await sleep(10);
      return 10;
    });
    Future.prototype.setResult.call(task, "spam");
    expect(await loop.runUntilComplete(task)).toBe("spam");
    expect(seen).toHaveLength(1);
    expect(seen[0]?.exception).toBeInstanceOf(InvalidStateError);
    expect((seen[0]?.exception as Error).message).toMatch(/step\(\): already done/u);
  });

  it("test_set_exception_causes_invalid_state", async () => {
    class MyExc extends Error {}
    const seen = captureExceptions(loop);
    const task = newTask(async () => {
      await sleep(10);
      return 10;
    });
    Future.prototype.setException.call(task, new MyExc());
    expect(await caught(loop.runUntilComplete(task))).toBeInstanceOf(MyExc);
    expect(seen).toHaveLength(1);
    expect((seen[0]?.exception as Error).message).toMatch(/step\(\): already done/u);
  });

  it("test_set_result_causes_invalid_state (after its first step: the coroutine is not resumed)", async () => {
    const seen = captureExceptions(loop);
    const steps: string[] = [];
    const gate = loop.createFuture<void>();
    const task = newTask(async () => {
      steps.push("started");
      await gate;
      steps.push("resumed");
      return 10;
    });
    await runBriefly(loop);
    Future.prototype.setResult.call(task, "spam");
    gate.setResult();
    await runBriefly(loop);
    await runBriefly(loop);
    expect(task.result()).toBe("spam");
    expect(steps).toEqual(["started"]);
    expect(seen.map((c) => (c.exception as Error).message)).toEqual([
      expect.stringMatching(/^__step\(\): already done: <Task finished name='TestTask' .*result='spam'>, None$/u),
    ]);
  });
});

describe("CPython test_tasks.py BaseCurrentLoopTests / GenericTaskTests", () => {
  it("test_current_task_no_running_loop", () => {
    expect(currentTask(loop)).toBe(null);
  });

  it("test_current_task_no_running_loop_implicit", () => {
    expect(thrown(() => currentTask())).toBeInstanceOf(NoRunningLoopError);
  });

  it("test_current_task_with_implicit_loop", async () => {
    const task: Task<void> = new Task(
      async () => {
        expect(currentTask(loop)).toBe(task);
        expect(currentTask()).toBe(task);
      },
      { loop },
    );
    await loop.runUntilComplete(task);
    expect(currentTask(loop)).toBe(null);
  });

  it("test_future_subclass", () => {
    expect(Task.prototype).toBeInstanceOf(Future);
  });
});

describe("CPython test_tasks.py FutureGatherTests / CoroutineGatherTests", () => {
  const runLoop = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await runBriefly(loop);
  };

  for (const wrap of ["futures", "coroutines"] as const) {
    const wrapped = (...futs: Future<unknown>[]): Array<Future<unknown> | (() => Promise<unknown>)> =>
      wrap === "futures" ? futs : futs.map((f) => async () => f);
    const gatherOn = <T>(make: () => Future<T>): Future<T> => {
      setEventLoop(loop);
      try {
        return make();
      } finally {
        setEventLoop(null);
      }
    };

    for (const returnExceptions of [false, true]) {
      it(`test_success / test_result_exception_success (${wrap}, returnExceptions=${returnExceptions})`, async () => {
        const [a, b, c] = [loop.createFuture(), loop.createFuture(), loop.createFuture()];
        const fut = gatherOn(() => gather(wrapped(a, b, c), { returnExceptions }));
        let calls = 0;
        fut.addDoneCallback(() => calls++);
        b.setResult(1);
        a.setResult(2);
        await runLoop();
        expect(calls).toBe(0);
        expect(fut.done()).toBe(false);
        c.setResult(3);
        await runLoop();
        expect(calls).toBe(1);
        expect(fut.result()).toEqual([2, 1, 3]);
      });
    }

    it(`test_one_exception (${wrap})`, async () => {
      const [a, b, c, d, e] = Array.from({ length: 5 }, () => loop.createFuture()) as [
        Future<unknown>,
        Future<unknown>,
        Future<unknown>,
        Future<unknown>,
        Future<unknown>,
      ];
      const fut = gatherOn(() => gather(wrapped(a, b, c, d, e)));
      let calls = 0;
      fut.addDoneCallback(() => calls++);
      const exc = new RangeError("ZeroDivisionError");
      a.setResult(1);
      b.setException(exc);
      await runLoop();
      expect(fut.done()).toBe(true);
      expect(calls).toBe(1);
      expect(fut.exception()).toBe(exc);
      // Does nothing.
      c.setResult(3);
      d.cancel();
      e.setException(new RuntimeError());
      e.exception();
    });

    it(`test_return_exceptions (${wrap})`, async () => {
      const [a, b, c, d] = [loop.createFuture(), loop.createFuture(), loop.createFuture(), loop.createFuture()];
      const fut = gatherOn(() => gather(wrapped(a, b, c, d), { returnExceptions: true }));
      let calls = 0;
      fut.addDoneCallback(() => calls++);
      const exc = new RangeError("ZeroDivisionError");
      const exc2 = new RuntimeError();
      b.setResult(1);
      c.setException(exc);
      a.setResult(3);
      await runLoop();
      expect(fut.done()).toBe(false);
      d.setException(exc2);
      await runLoop();
      expect(fut.done()).toBe(true);
      expect(calls).toBe(1);
      expect(fut.result()).toEqual([3, 1, exc, exc2]);
    });
  }

  it("test_constructor_empty_sequence_without_loop", () => {
    setEventLoop(null);
    expect((thrown(() => gather()) as Error).message).toMatch(/no current event loop/u);
  });

  it("test_constructor_empty_sequence_use_running_loop / use_global_loop", async () => {
    const { fut } = await loop.runUntilComplete(async () => ({ fut: gather() }));
    expect(fut).toBeInstanceOf(Future);
    expect(fut.getLoop()).toBe(loop);
    await runBriefly(loop);
    expect(fut.result()).toEqual([]);
    setEventLoop(loop);
    try {
      const global = gather();
      expect(global.getLoop()).toBe(loop);
      await runBriefly(loop);
      expect(global.result()).toEqual([]);
    } finally {
      setEventLoop(null);
    }
  });

  it("test_constructor_heterogenous_futures / test_constructor_homogenous_futures", async () => {
    const other = newEventLoop();
    try {
      expect(thrown(() => gather(loop.createFuture(), other.createFuture()))).toBeInstanceOf(RangeError);
      const children = [other.createFuture(), other.createFuture(), other.createFuture()];
      const fut = gather(...children);
      expect(fut.getLoop()).toBe(other);
      await runBriefly(other);
      expect(fut.done()).toBe(false);
      for (const c of children) c.cancel();
      await runBriefly(other);
    } finally {
      other.close();
    }
  });

  it("test_one_cancellation", async () => {
    const futs = Array.from({ length: 5 }, () => loop.createFuture());
    const [a, b, c, d, e] = futs as [Future<unknown>, Future<unknown>, Future<unknown>, Future<unknown>, Future<unknown>];
    const fut = gather(a, b, c, d, e);
    let calls = 0;
    fut.addDoneCallback(() => calls++);
    a.setResult(1);
    b.cancel();
    await runLoop();
    expect(fut.done()).toBe(true);
    expect(calls).toBe(1);
    expect(fut.cancelled()).toBe(false);
    expect(fut.exception()).toBeInstanceOf(CancelledError);
    c.setResult(3);
    d.cancel();
    e.setException(new RuntimeError());
    e.exception();
  });

  it("test_result_exception_one_cancellation", async () => {
    const futs = Array.from({ length: 6 }, () => loop.createFuture());
    const [a, b, c, d, e, f] = futs as [Future<unknown>, Future<unknown>, Future<unknown>, Future<unknown>, Future<unknown>, Future<unknown>];
    const fut = gather([a, b, c, d, e, f], { returnExceptions: true });
    let calls = 0;
    fut.addDoneCallback(() => calls++);
    a.setResult(1);
    const zde = new RangeError("ZeroDivisionError");
    b.setException(zde);
    c.cancel();
    await runLoop();
    expect(fut.done()).toBe(false);
    d.setResult(3);
    e.cancel();
    const rte = new RuntimeError();
    f.setException(rte);
    const res = await loop.runUntilComplete(fut);
    expect(res[2]).toBeInstanceOf(CancelledError);
    expect(res[4]).toBeInstanceOf(CancelledError);
    expect([res[0], res[1], res[3], res[5]]).toEqual([1, zde, 3, rte]);
    expect(calls).toBe(1);
  });

  it("test_duplicate_coroutines (the same promise is gathered once)", async () => {
    const fut = await loop.runUntilComplete(async () => {
      const c = (async () => "abc")();
      return { g: gather(c, c, (async () => "def")(), c) };
    });
    await runLoop();
    expect(fut.g.result()).toEqual(["abc", "abc", "def", "abc"]);
  });

  it("test_cancellation_broadcast", async () => {
    let proof = 0;
    const waiter = loop.createFuture();
    const inner = async (): Promise<void> => {
      await waiter;
      proof += 1;
    };
    const child1 = ensureFuture(inner, { loop });
    const child2 = ensureFuture(inner, { loop });
    let gatherer: Future<unknown> | null = null;
    const f = ensureFuture(
      async () => {
        gatherer = gather(child1, child2);
        await gatherer;
        proof += 100;
      },
      { loop },
    );
    await runBriefly(loop);
    expect(f.cancel()).toBe(true);
    expect(await caught(loop.runUntilComplete(f))).toBeInstanceOf(CancelledError);
    expect((gatherer as unknown as Future<unknown>).cancel()).toBe(false);
    expect(waiter.cancelled()).toBe(true);
    expect(child1.cancelled()).toBe(true);
    expect(child2.cancelled()).toBe(true);
    await runBriefly(loop);
    expect(proof).toBe(0);
  });

  it("test_exception_marking", async () => {
    const a = loop.createFuture();
    const b = loop.createFuture();
    const inner = (fut: Future<unknown>) => async (): Promise<void> => {
      await fut;
      throw new RuntimeError("should not be ignored");
    };
    const f = ensureFuture(
      async () => {
        await gather(inner(a), inner(b));
      },
      { loop },
    );
    await runBriefly(loop);
    a.setResult(null);
    await runBriefly(loop);
    b.setResult(null);
    await runBriefly(loop);
    expect(f.exception()).toBeInstanceOf(RuntimeError);
  });

  it("test_issue46672 (a bad argument fails gather without a report)", async () => {
    const seen = captureExceptions(loop);
    await loop.runUntilComplete(async () => {
      const c = (async () => "abc")();
      expect(thrown(() => gather(c, {} as never))).toBeInstanceOf(TypeError);
      await c;
    });
    await runLoop();
    expect(seen).toEqual([]);
  });
});

describe("CPython test_tasks.py SleepTests", () => {
  it("test_sleep_zero", async () => {
    let result = 0;
    const incResult = (num: number): void => {
      result += num;
    };
    await loop.runUntilComplete(async () => {
      getRunningLoop().callSoon(incResult, 1);
      expect(result).toBe(0);
      const num = await sleep(0, 10);
      expect(result).toBe(1);
      incResult(num);
    });
    expect(result).toBe(11);
  });
});
