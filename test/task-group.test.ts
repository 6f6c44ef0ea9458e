/**
 * taskGroup / TaskGroup: asyncio-semantics.md items 126-132. JS adaptation (API.md): one failure
 * is thrown as is, several as an AggregateError (asyncio always raises an ExceptionGroup).
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  RuntimeError,
  TaskGroup,
  createTask,
  currentTask,
  getRunningLoop,
  run,
  sleep,
  taskGroup,
  type Task,
} from "multiloop";
import { captureExceptions, caught, thrown } from "./helpers.js";

class CustomError extends Error {}

describe("taskGroup (semantics items 126-132)", () => {
  it("126: leaving the block waits for every task the group created", async () => {
    await run(async () => {
      const order: string[] = [];
      const result = await taskGroup(async (tg) => {
        tg.createTask(async () => {
          await sleep(1);
          order.push("slow");
        });
        tg.createTask(async () => {
          await sleep(0);
          order.push("quick");
        });
        order.push("body done");
        return "block result";
      });
      order.push("after the block");
      expect(result).toBe("block result");
      expect(order).toEqual(["body done", "quick", "slow", "after the block"]);
    });
  });

  it("127: a failing child cancels the other children and interrupts the block; one error is thrown as is, several as an AggregateError", async () => {
    await run(async () => {
      const cancelled: string[] = [];
      const boom = new CustomError("boom");
      const err = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            try {
              await sleep(1_000_000);
            } catch (e) {
              cancelled.push("sibling");
              throw e;
            }
          });
          tg.createTask(async () => {
            await sleep(0);
            throw boom;
          });
          try {
            await sleep(1_000_000);
          } catch (e) {
            cancelled.push(`body: ${(e as Error).name}`);
            throw e;
          }
        }),
      );
      expect(err).toBe(boom);
      expect(cancelled.sort()).toEqual(["body: CancelledError", "sibling"]);
      expect((currentTask() as Task).cancelling()).toBe(0);

      // Two children failing in the same iteration: both errors, in failure order.
      const e1 = new CustomError("one");
      const e2 = new TypeError("two");
      const agg = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            throw e1;
          });
          tg.createTask(async () => {
            throw e2;
          });
          await sleep(1_000_000);
        }),
      );
      expect(agg).toBeInstanceOf(AggregateError);
      expect((agg as AggregateError).errors).toEqual([e1, e2]);
      expect((agg as Error).message).toBe("unhandled errors in a TaskGroup (2 sub-exceptions)");
      expect((currentTask() as Task).cancelling()).toBe(0);

      // The block swallows the cancel the group sent it and returns: the child's error still wins.
      const e3 = new CustomError("three");
      const swallowed = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(0);
            throw e3;
          });
          try {
            await sleep(1_000_000);
          } catch {
            return "block swallowed the cancel";
          }
          return "slept";
        }),
      );
      expect(swallowed).toBe(e3);
      expect((currentTask() as Task).cancelling()).toBe(0);
    });
  });

  it("128: an error in the block itself aborts the group: children are cancelled and the error joins the others; cancelling() ends at 0", async () => {
    await run(async () => {
      const bodyErr = new CustomError("body");
      const childCancelled: boolean[] = [];
      const alone = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            try {
              await sleep(1_000_000);
            } catch (e) {
              childCancelled.push(e instanceof CancelledError);
              throw e;
            }
          });
          await sleep(0);
          throw bodyErr;
        }),
      );
      expect(alone).toBe(bodyErr);
      expect(childCancelled).toEqual([true]);

      // test_taskgroup_context_manager_exit_raises: a child error and then a body error.
      const childErr = new CustomError("child");
      const both = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            throw childErr;
          });
          try {
            await sleep(1_000_000);
          } finally {
            // eslint-disable-next-line no-unsafe-finally
            throw bodyErr;
          }
        }),
      );
      expect(both).toBeInstanceOf(AggregateError);
      expect((both as AggregateError).errors).toEqual([childErr, bodyErr]);
      expect((currentTask() as Task).cancelling()).toBe(0);
    });
  });

  it("130: cancelling the parent from outside cancels the children and propagates CancelledError; errors take priority; the cancel count is preserved", async () => {
    await run(async () => {
      let cancelledChildren = 0;
      const runner = createTask(async () =>
        taskGroup(async (tg) => {
          for (let i = 0; i < 5; i++) {
            tg.createTask(async () => {
              try {
                await sleep(1_000_000);
              } catch (e) {
                cancelledChildren++;
                throw e;
              }
            });
          }
        }),
      );
      await sleep(0);
      await sleep(0);
      expect(runner.done()).toBe(false);
      runner.cancel();
      expect(await caught(runner)).toBeInstanceOf(CancelledError);
      expect(runner.cancelled()).toBe(true);
      expect(cancelledChildren).toBe(5);

      // test_error_and_cancel: a child error while the parent is cancelled from outside.
      const started = getRunningLoop().createFuture<void>();
      const steps: string[] = [];
      const inner = createTask(async () => {
        try {
          await taskGroup(async (tg) => {
            tg.createTask(async () => {
              started.setResult();
              await sleep(0);
              throw new CustomError("child");
            });
            await sleep(1_000_000);
            steps.push("not reached: the block's sleep is interrupted");
          });
        } catch (e) {
          steps.push(`caught ${(e as Error).constructor.name}, cancelling=${(currentTask() as Task).cancelling()}`);
        }
        await sleep(1_000_000);
        steps.push("not reached: the outside cancel is still in force");
      });
      await started;
      expect(inner.cancelling()).toBe(0);
      inner.cancel();
      expect(inner.cancelling()).toBe(1);
      expect(await caught(inner)).toBeInstanceOf(CancelledError);
      expect(inner.cancelled()).toBe(true);
      expect(steps).toEqual(["caught CustomError, cancelling=1"]);

      // test_cancelling_level_preserved.
      await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(0);
            throw new CustomError("x");
          });
        }),
      );
      expect((currentTask() as Task).cancelling()).toBe(0);
    });
  });

  it("130: nested groups: cancelling the outer parent cancels both groups' children", async () => {
    await run(async () => {
      const cancelled: string[] = [];
      const forever = (name: string) => async () => {
        try {
          await sleep(1_000_000);
        } catch (e) {
          cancelled.push(name);
          throw e;
        }
      };
      const parent = createTask(async () =>
        taskGroup(async (outer) => {
          outer.createTask(forever("outer child"));
          await taskGroup(async (inner) => {
            inner.createTask(forever("inner child"));
            await sleep(1_000_000);
          });
        }),
      );
      await sleep(0);
      await sleep(0);
      parent.cancel();
      expect(await caught(parent)).toBeInstanceOf(CancelledError);
      expect(cancelled.sort()).toEqual(["inner child", "outer child"]);
    });
  });

  it("131: misuse: not entered, finished, shutting down, entered twice, no parent task; the rejected function never runs", async () => {
    await run(async () => {
      let ran = false;
      const fn = async (): Promise<void> => {
        ran = true;
      };
      const fresh = new TaskGroup();
      const notEntered = thrown(() => fresh.createTask(fn));
      expect(notEntered).toBeInstanceOf(RuntimeError);
      expect((notEntered as Error).message).toBe("TaskGroup <TaskGroup> has not been entered");

      let kept: TaskGroup | null = null;
      await taskGroup(async (tg) => {
        kept = tg;
        const twice = thrown(() => tg.enter());
        expect(twice).toBeInstanceOf(RuntimeError);
        expect((twice as Error).message).toBe("TaskGroup <TaskGroup entered> has already been entered");
      });
      const finished = thrown(() => (kept as unknown as TaskGroup).createTask(fn));
      expect(finished).toBeInstanceOf(RuntimeError);
      expect((finished as Error).message).toMatch(/^TaskGroup <TaskGroup.*> is finished$/u);

      const shuttingDown: unknown[] = [];
      await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            throw new CustomError("abort the group");
          });
          try {
            await sleep(1_000_000);
          } catch (e) {
            shuttingDown.push(thrown(() => tg.createTask(fn)));
            throw e;
          }
        }),
      );
      expect(shuttingDown[0]).toBeInstanceOf(RuntimeError);
      expect((shuttingDown[0] as Error).message).toMatch(/^TaskGroup <TaskGroup .*cancelling> is shutting down$/u);

      const loop = getRunningLoop();
      const noParent = loop.createFuture<unknown>();
      loop.callSoon(() => {
        taskGroup(async () => {}).then(
          () => noParent.setResult("resolved"),
          (e: unknown) => noParent.setResult(e),
        );
      });
      const np = await noParent;
      expect(np).toBeInstanceOf(RuntimeError);
      expect((np as Error).message).toBe("TaskGroup <TaskGroup> cannot determine the parent task");
      await sleep(0);
      expect(ran).toBe(false);
    });
  });

  it("132: a child failing after its parent task finished goes to the exception handler", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const seen = captureExceptions(loop);
      const boom = new CustomError("late");
      const outcome = loop.createFuture<unknown>();
      const parent = createTask(async () => {
        // The block is not awaited, so the parent task finishes while the child still runs.
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(0);
            await sleep(0);
            throw boom;
          });
        }).then(
          () => outcome.setResult("resolved"),
          (e: unknown) => outcome.setResult(e),
        );
      });
      await parent;
      expect(await outcome).toBe(boom);
      const report = seen.find((c) => c.message.includes("has errored out"));
      expect(report?.message).toMatch(
        /^Task <Task .*> has errored out but its parent task <Task finished name='Task-\d+'.*> is already completed$/u,
      );
      expect(report?.exception).toBe(boom);
    });
  });

  it("TaskGroup.cancel() (asyncio 3.15) cancels the children and ends the block without an error", async () => {
    await run(async () => {
      const cancelled: string[] = [];
      const result = await taskGroup(async (tg) => {
        tg.createTask(async () => {
          try {
            await sleep(1_000_000);
          } catch (e) {
            cancelled.push("child");
            throw e;
          }
        });
        await sleep(0);
        tg.cancel();
        await sleep(1_000_000);
        return "not reached";
      });
      expect(result).toBeUndefined();
      expect(cancelled).toEqual(["child"]);
      expect((currentTask() as Task).cancelling()).toBe(0);
    });
  });

  it("the children run in copies of the block's context and can be named", async () => {
    await run(async () => {
      const names = await taskGroup(async (tg) => {
        const a = tg.createTask(async () => (currentTask() as Task).getName(), { name: "alpha" });
        const b = tg.createTask(async () => 2);
        return [a, b] as const;
      });
      expect(names[0].result()).toBe("alpha");
      expect(names[1].result()).toBe(2);
    });
  });

  it("bad input: taskGroup needs a function; createTask checks what it starts", async () => {
    await run(async () => {
      const err = await caught(taskGroup(5 as never));
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/`body`/u);
      await taskGroup(async (tg) => {
        expect(() => tg.createTask(5 as never)).toThrow(/`coro`/u);
        expect(() => tg.createTask(async () => 1, 5 as never)).toThrow(/`options`/u);
      });
    });
  });
});

describe("taskGroup: a child failing with null", () => {
  it("is a failure of the group like any other error", { timeout: 10_000 }, async () => {
    await run(async () => {
      let siblingCancelled = false;
      const err = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            try {
              await sleep(1_000_000);
            } catch (e) {
              siblingCancelled = true;
              throw e;
            }
          });
          tg.createTask(async () => {
            await sleep(0);
            throw null; // eslint-disable-line @typescript-eslint/only-throw-error
          });
          await sleep(1_000_000);
        }),
      );
      expect(err).toBeNull();
      expect(siblingCancelled).toBe(true);
    });
  });
});
