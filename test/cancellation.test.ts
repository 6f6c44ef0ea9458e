/**
 * Task cancellation: asyncio-semantics.md items 86-95, plus the JS adaptations of issue 2 section 4
 * ("cancellation is delivered by cancelling the loop future the task awaits now", `Task.signal`,
 * plain Promises, a cancel pending at return).
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  type Task,
  createTask,
  currentTask,
  getRunningLoop,
  run,
  sleep,
  taskGroup,
  timeout,
} from "multiloop";
import { caught } from "./helpers.js";

describe("cancellation (semantics items 86-95)", () => {
  it("86: cancel() returns false when done; otherwise counts the request, cancels the awaited future and keeps it as the waiter", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const finished = createTask(async () => 1);
      await finished;
      expect(finished.cancel()).toBe(false);
      expect(finished.cancelling()).toBe(0);

      const fut = loop.createFuture<void>();
      const task = createTask(async () => {
        await fut;
      });
      await sleep(0);
      expect(task.cancel("m")).toBe(true);
      expect(task.cancelling()).toBe(1);
      // The future the task awaits is what got cancelled, with the message.
      expect(fut.cancelled()).toBe(true);
      expect(String(task)).toContain("wait_for=<Future cancelled>");
      const err = await caught(task);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("m");

      // Not waiting on anything (the cancel comes from the running step itself): delivered at the next step.
      const self = createTask(async () => {
        const me = currentTask() as Task;
        expect(me.cancel("self")).toBe(true);
        expect(me.cancelling()).toBe(1);
        await sleep(0);
        return "not reached";
      });
      const selfErr = await caught(self);
      expect((selfErr as Error).message).toBe("self");
    });
  });

  it("87: cancel() does not mark the task cancelled at once: cancelled() stays false until CancelledError escapes", async () => {
    await run(async () => {
      const steps: string[] = [];
      const task = createTask(async () => {
        try {
          await sleep(1_000_000);
        } catch (err) {
          steps.push("caught");
          await sleep(0);
          steps.push("cleanup done");
          throw err;
        }
      });
      await sleep(0);
      task.cancel();
      expect(task.cancelled()).toBe(false);
      expect(task.done()).toBe(false);
      await sleep(0);
      expect(steps).toEqual(["caught"]);
      expect(task.cancelled()).toBe(false);
      await caught(task);
      expect(steps).toEqual(["caught", "cleanup done"]);
      expect(task.cancelled()).toBe(true);
    });
  });

  it("88: a repeated cancel() returns true again and increments cancelling(); the first message wins", async () => {
    await run(async () => {
      let seen: unknown = null;
      const task = createTask(async () => {
        try {
          await sleep(1_000_000);
        } catch (err) {
          seen = err;
          throw err;
        }
      });
      await sleep(0);
      expect(task.cancel("msg1")).toBe(true);
      expect(task.cancelling()).toBe(1);
      expect(task.cancel("msg2")).toBe(true);
      expect(task.cancelling()).toBe(2);
      const err = await caught(task);
      expect(seen).toBeInstanceOf(CancelledError);
      expect((seen as Error).message).toBe("msg1");
      expect((err as Error).message).toBe("msg1");

      // Before the first step there is no waiter to take the first message: each request stores its
      // own, and the step throws the last one in (CPython's _must_cancel / _cancel_message).
      const early = createTask(async () => {});
      early.cancel("first");
      early.cancel("second");
      expect(early.cancelling()).toBe(2);
      expect(((await caught(early)) as Error).message).toBe("second");
    });
  });

  it("89: CancelledError lands at the awaited future, at the next suspension when cancelled while running, and a task returning with a cancel pending ends cancelled", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      // Suspended: at the await of the cancelled waiter.
      const suspended = createTask(async () => {
        try {
          await loop.createFuture();
        } catch (err) {
          order.push(`suspended: ${(err as Error).name}`);
          throw err;
        }
      });
      // Cancelled while running: the next awaited future is cancelled the moment it is awaited.
      const running = createTask(async () => {
        (currentTask() as Task).cancel("while running");
        order.push("running: still running after cancel()");
        const fut = loop.createFuture<number>();
        loop.callSoon(() => {
          order.push(`running: the awaited future is cancelled=${fut.cancelled()}`);
        });
        try {
          await fut;
        } catch (err) {
          order.push(`running: ${(err as Error).message}`);
          throw err;
        }
      });
      // Returns before suspending again: still ends cancelled (test_cancel_at_end).
      const atEnd = createTask(async () => {
        (currentTask() as Task).cancel("at end");
        return "value";
      });
      await sleep(0);
      suspended.cancel();
      const errs = await Promise.all([caught(suspended), caught(running), caught(atEnd)]);
      expect(errs.map((e) => e instanceof CancelledError)).toEqual([true, true, true]);
      expect(atEnd.cancelled()).toBe(true);
      expect((errs[2] as Error).message).toBe("at end");
      // "running" is woken in the iteration after its await; "suspended" only once main cancels it.
      expect(order).toEqual([
        "running: still running after cancel()",
        "running: the awaited future is cancelled=true",
        "running: while running",
        "suspended: CancelledError",
      ]);
    });
  });

  it("90: a coroutine that throws CancelledError itself (no cancel() call) marks the task cancelled", async () => {
    await run(async () => {
      const manual = new CancelledError("manual");
      const task = createTask(async () => {
        await sleep(0);
        throw manual;
      });
      const err = await caught(task);
      expect(task.cancelled()).toBe(true);
      expect(task.cancelling()).toBe(0);
      expect(err).toBe(manual);
      expect((err as Error).message).toBe("manual");
    });
  });

  it("91: a coroutine may catch CancelledError and return: the task finishes with that value, cancelling() stays until uncancel()", async () => {
    await run(async () => {
      const task = createTask(async () => {
        try {
          await sleep(1_000_000);
          return "slept";
        } catch (err) {
          if (!(err instanceof CancelledError)) throw err;
          return "ignored the cancel";
        }
      });
      await sleep(0);
      task.cancel();
      expect(await task).toBe("ignored the cancel");
      expect(task.cancelled()).toBe(false);
      expect(task.cancelling()).toBe(1);
      expect(task.uncancel()).toBe(0);

      // The task goes on and its later awaits are not cancelled.
      const goesOn = createTask(async () => {
        try {
          await sleep(1_000_000);
        } catch {
          (currentTask() as Task).uncancel();
        }
        await sleep(0);
        return "carried on";
      });
      await sleep(0);
      goesOn.cancel();
      expect(await goesOn).toBe("carried on");
    });
  });

  it("92: cancelling a task that awaits another task cancels the inner one; if the inner one swallows it, the outer gets its value", async () => {
    await run(async () => {
      const inner = createTask(async () => {
        await sleep(1_000_000);
      });
      const outer = createTask(async () => inner);
      await sleep(0);
      await sleep(0);
      expect(outer.cancel("outer")).toBe(true);
      const err = await caught(outer);
      expect(inner.cancelled()).toBe(true);
      expect(outer.cancelled()).toBe(true);
      expect((err as Error).message).toBe("outer");

      const swallowing = createTask(async () => {
        try {
          await sleep(1_000_000);
        } catch {
          return "inner value";
        }
        return "inner slept";
      });
      const after: string[] = [];
      const parent = createTask(async () => {
        const v = await swallowing;
        after.push(v);
        await sleep(0);
        after.push("parent carried on");
        return v;
      });
      await sleep(0);
      await sleep(0);
      parent.cancel();
      expect(await parent).toBe("inner value");
      expect(parent.cancelled()).toBe(false);
      expect(after).toEqual(["inner value", "parent carried on"]);

      // test_cancel_inner_future: cancelling the awaited future (not the task) cancels the task.
      const loop = getRunningLoop();
      const f = loop.createFuture<void>();
      const t = createTask(async () => {
        await f;
        return 12;
      });
      await sleep(0);
      f.cancel();
      expect(await caught(t)).toBeInstanceOf(CancelledError);
      expect([f.cancelled(), t.cancelled()]).toEqual([true, true]);

      // test_cancel_both_task_and_inner_future.
      const f2 = loop.createFuture<void>();
      const t2 = createTask(async () => {
        await f2;
        return 12;
      });
      await sleep(0);
      f2.cancel();
      t2.cancel();
      expect(await caught(t2)).toBeInstanceOf(CancelledError);
      expect([t2.done(), f2.cancelled(), t2.cancelled()]).toEqual([true, true, true]);
    });
  });

  it("93: uncancel() decrements cancelling() (never below 0) and at 0 drops a cancel still pending", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<void>();
      const task = createTask(async () => {
        await fut;
        await sleep(0);
        return 42;
      });
      await sleep(0); // the task waits for fut
      fut.setResult(); // the task is runnable: the cancel below cannot reach fut any more
      task.cancel();
      expect(task.cancelling()).toBe(1);
      expect(task.uncancel()).toBe(0);
      expect(task.uncancel()).toBe(0);
      expect(await task).toBe(42);

      // With two requests, one uncancel() leaves the cancel in force.
      const fut2 = loop.createFuture<void>();
      const task2 = createTask(async () => {
        await fut2;
        await sleep(0);
        return 42;
      });
      await sleep(0);
      fut2.setResult();
      task2.cancel();
      task2.cancel();
      expect(task2.uncancel()).toBe(1);
      expect(await caught(task2)).toBeInstanceOf(CancelledError);
    });
  });

  it("95: awaiting a cancelled task raises CancelledError with the original message (also result() and exception())", async () => {
    await run(async () => {
      const task = createTask(async () => sleep(1_000_000));
      await sleep(0);
      task.cancel("original");
      for (let i = 0; i < 2; i++) {
        const err = await caught(task);
        expect(err).toBeInstanceOf(CancelledError);
        expect((err as Error).message).toBe("original");
      }
      for (const read of [() => task.result(), () => task.exception()]) {
        try {
          read();
          expect.fail("expected CancelledError");
        } catch (err) {
          expect(err).toBeInstanceOf(CancelledError);
          expect((err as Error).message).toBe("original");
        }
      }
    });
  });
});

describe("cancellation: JS adaptations (issue 2 section 4)", () => {
  it("Task.signal is aborted, with a CancelledError reason, when cancel() is requested", async () => {
    await run(async () => {
      const task = createTask(async () => sleep(1_000_000));
      const signal = task.signal;
      expect(signal).toBeInstanceOf(AbortSignal);
      expect(signal.aborted).toBe(false);
      expect(task.signal).toBe(signal);
      const events: string[] = [];
      signal.addEventListener("abort", () => events.push("abort"));
      await sleep(0);
      task.cancel("stop");
      expect(signal.aborted).toBe(true);
      expect(events).toEqual(["abort"]);
      expect(signal.reason).toBeInstanceOf(CancelledError);
      expect((signal.reason as Error).message).toBe("stop");
      task.cancel("again");
      expect(events).toEqual(["abort"]);
      await caught(task);

      // Read for the first time after the cancel: already aborted.
      const late = createTask(async () => sleep(1_000_000));
      await sleep(0);
      late.cancel("late");
      expect(late.signal.aborted).toBe(true);
      expect((late.signal.reason as Error).message).toBe("late");
      await caught(late);

      // A finished task's signal is never aborted.
      const ok = createTask(async () => 1);
      await ok;
      expect(ok.signal.aborted).toBe(false);
    });
  });

  it("the signal reaches Node APIs the loop cannot cancel; the AbortError it causes ends the task cancelled", async () => {
    const { setTimeout: nodeSleep } = await import("node:timers/promises");
    await run(async () => {
      const seen: unknown[] = [];
      const task = createTask(async () => {
        const signal = (currentTask() as Task).signal;
        try {
          await nodeSleep(1_000_000, undefined, { signal });
        } catch (err) {
          seen.push(err);
          throw err;
        }
      });
      await sleep(0);
      task.cancel("stop");
      const err = await caught(task);
      // Node rejects with its own AbortError whose cause is the task's CancelledError (the
      // signal's reason). Escaping the task, it is the cancellation: the task ends cancelled.
      expect((seen[0] as Error).name).toBe("AbortError");
      expect((seen[0] as Error).cause).toBe(task.signal.reason);
      expect(task.cancelled()).toBe(true);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("stop");

      // An AbortError that no cancellation caused is an ordinary error.
      const own = createTask(async () => {
        await nodeSleep(1_000_000, undefined, { signal: AbortSignal.abort("user reason") });
      });
      const ownErr = await caught(own);
      expect((ownErr as Error).name).toBe("AbortError");
      expect(own.cancelled()).toBe(false);
    });
  }, 10_000);

  it("after uncancel() brings cancelling() back to 0 (a timeout handled), task.signal is a fresh, usable signal", async () => {
    const { setTimeout: nodeSleep } = await import("node:timers/promises");
    await run(async () => {
      const task = createTask(async () => {
        const me = currentTask() as Task;
        const first = me.signal;
        const err = await caught(timeout(1, async () => nodeSleep(1_000_000, undefined, { signal: me.signal })));
        // The in-flight operation was aborted; the task itself goes on, not cancelled.
        const second = me.signal;
        await nodeSleep(1, undefined, { signal: second });
        return [(err as Error).constructor.name, first.aborted, second === first, second.aborted, me.cancelling()];
      });
      expect(await task).toEqual(["TimeoutError", true, false, false, 0]);
    });
  }, 10_000);

  it("a taskGroup child cancelled through its signal counts as cancelled, not as a second failure", async () => {
    const { setTimeout: nodeSleep } = await import("node:timers/promises");
    await run(async () => {
      const boom = new Error("boom");
      let sibling: Task | null = null;
      const err = await caught(
        taskGroup(async (tg) => {
          sibling = tg.createTask(async () => nodeSleep(1_000_000, undefined, { signal: (currentTask() as Task).signal }));
          tg.createTask(async () => {
            await sleep(0);
            throw boom;
          });
        }),
      );
      expect(err).toBe(boom);
      expect((sibling as unknown as Task).cancelled()).toBe(true);
    });
  }, 10_000);

  it("cancelling() and uncancel(): counts of cancel requests, shown in the repr as 'cancelling'", async () => {
    await run(async () => {
      const task = createTask(async () => {
        for (;;) {
          try {
            await sleep(1_000_000);
          } catch (err) {
            if ((currentTask() as Task).uncancel() > 0) throw err;
          }
        }
      });
      await sleep(0);
      expect(task.cancelling()).toBe(0);
      expect(String(task)).not.toContain("cancelling");
      task.cancel();
      expect(task.cancelling()).toBe(1);
      expect(String(task)).toContain(" cancelling");
      await sleep(0);
      await sleep(0);
      expect(task.done()).toBe(false);
      expect(task.cancelling()).toBe(0);
      task.cancel();
      task.cancel();
      await caught(task);
      expect(task.cancelled()).toBe(true);
    });
  });

  it("a cancel requested while the task awaits a plain Promise lands at its next loop-future await", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      let resolvePlain: (v: string) => void = () => {};
      const plain = new Promise<string>((resolve) => {
        resolvePlain = resolve;
      });
      const task = createTask(async () => {
        const v = await plain;
        order.push(`plain promise resolved: ${v}`);
        await Promise.resolve();
        order.push("still running");
        try {
          await loop.createFuture();
        } catch (err) {
          order.push(`cancelled at the loop future: ${(err as Error).message}`);
          throw err;
        }
      });
      await sleep(0);
      task.cancel("later");
      expect(task.done()).toBe(false);
      resolvePlain("ok");
      await caught(task);
      expect(order).toEqual([
        "plain promise resolved: ok",
        "still running",
        "cancelled at the loop future: later",
      ]);
      expect(task.cancelled()).toBe(true);
    });
  });

  it("a task awaiting another task propagates cancellation to it, through any depth", async () => {
    await run(async () => {
      const leaf = createTask(async () => sleep(1_000_000));
      const middle = createTask(async () => leaf);
      const top = createTask(async () => middle);
      await sleep(0);
      await sleep(0);
      top.cancel("from the top");
      const err = await caught(top);
      expect((err as Error).message).toBe("from the top");
      expect([leaf.cancelled(), middle.cancelled(), top.cancelled()]).toEqual([true, true, true]);
      expect(leaf.cancelling()).toBe(1);
    });
  });

  it("a task that returns with a cancel pending ends cancelled, even after awaiting a plain Promise", async () => {
    await run(async () => {
      let resolvePlain: () => void = () => {};
      const plain = new Promise<void>((resolve) => {
        resolvePlain = resolve;
      });
      const task = createTask(async () => {
        await plain;
        return "returned";
      });
      await sleep(0);
      task.cancel("pending at return");
      resolvePlain();
      const err = await caught(task);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("pending at return");
      expect(task.cancelled()).toBe(true);
    });
  });

  it("a task that throws another error while a cancel is pending ends with that error", async () => {
    await run(async () => {
      const boom = new Error("boom");
      const task = createTask(async () => {
        (currentTask() as Task).cancel();
        throw boom;
      });
      expect(await caught(task)).toBe(boom);
      expect(task.cancelled()).toBe(false);
    });
  });
});

describe("cancellation: callbacks and Promise combinators on loop futures inside a task", () => {
  it("fut.catch(cb) / fut.then(cb) inside a task is not an await: a later cancel still reaches the task, not that future", { timeout: 10_000 }, async () => {
    await run(async () => {
      const loop = getRunningLoop();
      let resolvePlain: () => void = () => {};
      const plain = new Promise<void>((resolve) => {
        resolvePlain = resolve;
      });
      const child = createTask(async () => sleep(1_000_000));
      const watched = loop.createFuture<number>();
      const order: string[] = [];
      const parent = createTask(async () => {
        child.catch(() => {}); // keep the child's error from being reported; not an await
        void watched.then((v) => order.push(`watched: ${v}`));
        await plain;
        order.push("after the plain promise");
        await sleep(0);
        order.push("not reached");
      });
      await sleep(0);
      parent.cancel("parent only");
      expect(child.cancelling()).toBe(0);
      expect(watched.cancelled()).toBe(false);
      watched.setResult(1);
      resolvePlain();
      const err = await caught(parent);
      expect(err).toBeInstanceOf(CancelledError);
      expect((err as Error).message).toBe("parent only");
      expect([...order].sort()).toEqual(["after the plain promise", "watched: 1"]);
      expect(child.done()).toBe(false);
      child.cancel();
    });
  });

  it("await Promise.race([...futures]) inside a task: after it settles, a cancel goes to the task, not to the losing future", { timeout: 10_000 }, async () => {
    await run(async () => {
      let resolvePlain: () => void = () => {};
      const plain = new Promise<void>((resolve) => {
        resolvePlain = resolve;
      });
      const winner = createTask(async () => {
        await sleep(0);
        return "winner";
      });
      const loser = createTask(async () => {
        await sleep(1_000_000);
        return "loser";
      });
      const steps: string[] = [];
      const parent = createTask(async () => {
        steps.push(await Promise.race([winner, loser]));
        await plain;
        await sleep(0);
        steps.push("not reached");
      });
      await winner;
      await sleep(0);
      expect(steps).toEqual(["winner"]);
      parent.cancel("for the parent");
      expect(loser.cancelling()).toBe(0);
      resolvePlain();
      const err = await caught(parent);
      expect((err as Error).message).toBe("for the parent");
      expect(loser.done()).toBe(false);
      loser.cancel();
    });
  });

  it("a settled Promise.race leaves a stale registration whose wake-up does not eat a pending cancel", { timeout: 10_000 }, async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const f1 = loop.createFuture<string>();
      const f2 = loop.createFuture<string>();
      let resolvePlain: () => void = () => {};
      const plain = new Promise<void>((resolve) => {
        resolvePlain = resolve;
      });
      const steps: string[] = [];
      const parent = createTask(async () => {
        steps.push(await Promise.race([f1, f2]));
        await plain;
        steps.push("after plain");
        try {
          await sleep(0);
          steps.push("sleep finished: the cancel was lost");
        } catch (err) {
          steps.push(`cancelled: ${(err as Error).message}`);
          throw err;
        }
      });
      await sleep(0);
      f1.setResult("first");
      await sleep(0);
      await sleep(0);
      expect(steps).toEqual(["first"]);
      parent.cancel("pending");
      f2.setResult("second"); // the race's other registration wakes up now
      await sleep(0);
      await sleep(0);
      resolvePlain();
      await caught(parent);
      expect(steps).toEqual(["first", "after plain", "cancelled: pending"]);
      expect(f2.cancelled()).toBe(false);
    });
  });
});

describe("cancellation: awaiting what fut.then(cb) / fut.catch(cb) return", () => {
  it("await fut.catch(h) works like awaiting a plain Promise: the value arrives, a cancel lands at the next loop await", { timeout: 10_000 }, async () => {
    await run(async () => {
      const failing = createTask(async () => {
        await sleep(0);
        throw new Error("boom");
      });
      expect(await failing.catch((e: unknown) => `handled ${(e as Error).message}`)).toBe("handled boom");
      expect(await sleep(0, 2).then((v) => v * 21)).toBe(42);

      const inner = createTask(async () => sleep(1_000_000));
      const steps: string[] = [];
      const parent = createTask(async () => {
        const r = await inner.catch(() => "inner failed");
        steps.push(`inner settled: ${r}`);
        await sleep(0);
        steps.push("not reached");
      });
      await sleep(0);
      await sleep(0);
      parent.cancel("parent");
      // The parent does not await the inner task itself (it awaits a derived Promise), so the
      // cancel does not reach the inner task; the parent gets it at its next loop-future await.
      expect(inner.cancelling()).toBe(0);
      inner.cancel("inner");
      const err = await caught(parent);
      expect((err as Error).message).toBe("parent");
      expect(steps).toEqual(["inner settled: inner failed"]);
    });
  });
});
