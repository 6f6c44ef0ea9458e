/**
 * CPython's Lib/test/test_asyncio/test_runners.py (3.12+), ported: RunTests and RunnerTests.
 * `asyncio.run(coro)` is `run(fn)`; a custom policy stands for CPython's TestPolicy. Left out: the
 * KeyboardInterrupt/SIGINT tests and test_asyncio_run_without_uncancel, which needs one (Runner
 * installs no SIGINT handler here, see the README), the
 * "coroutine was never awaited" warning, and `asyncio.EventLoop`'s platform classes.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ContextVar,
  DefaultEventLoopPolicy,
  RuntimeError,
  Runner,
  copyContext,
  createTask,
  getEventLoop,
  getEventLoopPolicy,
  getRunningLoop,
  newEventLoop,
  run,
  setEventLoopPolicy,
  sleep,
  type EventLoop,
  type ExceptionContext,
} from "multiloop";
import { caught, thenable, thrown } from "./helpers.js";

/** CPython's TestPolicy: counts set_event_loop calls and the loops it made. */
class TestPolicy extends DefaultEventLoopPolicy {
  setCalls = 0;
  readonly made: EventLoop[] = [];
  override newEventLoop(): EventLoop {
    const loop = super.newEventLoop();
    this.made.push(loop);
    return loop;
  }
  override setEventLoop(loop: EventLoop | null): void {
    this.setCalls++;
    super.setEventLoop(loop);
  }
}

let policy: TestPolicy;
beforeEach(() => {
  policy = new TestPolicy();
  setEventLoopPolicy(policy);
});
afterEach(() => {
  // BaseTest.tearDown: every loop the runner made is closed.
  for (const loop of policy.made) expect(loop.isClosed()).toBe(true);
  setEventLoopPolicy(null);
});

describe("CPython test_runners.py RunTests", () => {
  it("test_asyncio_run_return", async () => {
    expect(
      await run(async () => {
        await sleep(0);
        return 42;
      }),
    ).toBe(42);
  });

  it("test_asyncio_run_raises", async () => {
    const err = await caught(
      run(async () => {
        await sleep(0);
        throw new RangeError("spam");
      }),
    );
    expect((err as Error).message).toBe("spam");
  });

  it("test_asyncio_run_only_coro", async () => {
    for (const o of [1, null, Promise.resolve(1)]) expect(await caught(run(o as never))).toBeInstanceOf(TypeError);
  });

  it("test_asyncio_run_debug", async () => {
    const main = (expected: boolean) => async (): Promise<void> => {
      expect(getEventLoop().getDebug()).toBe(expected);
    };
    await run(main(false));
    await run(main(true), { debug: true });
    await run(main(false), { debug: false });
  });

  it("test_asyncio_run_from_running_loop", async () => {
    const err = await caught(
      run(async () => {
        await run(async () => {});
      }),
    );
    expect((err as Error).message).toMatch(/cannot be called from a running/u);
  });

  it("test_asyncio_run_cancels_hanging_tasks", async () => {
    let loTask: ReturnType<typeof createTask> | null = null;
    expect(
      await run(async () => {
        loTask = createTask(() => sleep(100));
        return 123;
      }),
    ).toBe(123);
    expect((loTask as unknown as { done(): boolean }).done()).toBe(true);
  });

  it("test_asyncio_run_reports_hanging_tasks_errors", async () => {
    const seen: ExceptionContext[] = [];
    let loTask: ReturnType<typeof createTask> | null = null;
    expect(
      await run(async () => {
        getRunningLoop().setExceptionHandler((_l, ctx) => seen.push(ctx));
        loTask = createTask(async () => {
          try {
            await sleep(100);
          } catch {
            throw new RangeError("1 / 0");
          }
        });
        return 123;
      }),
    ).toBe(123);
    expect((loTask as unknown as { done(): boolean }).done()).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.message).toMatch(/run.*shutdown/u);
    expect(seen[0]?.task).toBe(loTask);
    expect(seen[0]?.exception).toBeInstanceOf(RangeError);
  });

  it("test_asyncio_run_closes_gens_after_hanging_tasks_errors", async () => {
    class FancyExit extends Error {}
    let spinner: AsyncGenerator<number> | null = null;
    let finalised = false;
    let lazyboy: ReturnType<typeof createTask> | null = null;
    async function* fidget(): AsyncGenerator<number> {
      try {
        for (;;) {
          yield 1;
          await sleep(1000);
        }
      } finally {
        finalised = true;
      }
    }
    const err = await caught(
      run(async () => {
        getRunningLoop().setExceptionHandler(() => {});
        lazyboy = createTask(async () => {
          spinner = getRunningLoop().trackAsyncGen(fidget());
          try {
            for await (const _ of spinner) void _;
          } catch {
            throw new RangeError("1 / 0");
          }
        });
        await sleep(0);
        throw new FancyExit();
      }),
    );
    expect(err).toBeInstanceOf(FancyExit);
    expect((lazyboy as unknown as { done(): boolean }).done()).toBe(true);
    expect(spinner).not.toBe(null);
    expect(finalised).toBe(true);
  });

  it("test_asyncio_run_set_event_loop", async () => {
    await run(async () => {
      await sleep(0);
      return 42;
    });
    expect(policy.setCalls).toBeGreaterThan(0);
  });

  it("test_asyncio_run_loop_factory", async () => {
    const loop = newEventLoop();
    let calls = 0;
    const factory = (...args: unknown[]): EventLoop => {
      calls++;
      expect(args).toEqual([]);
      return loop;
    };
    await run(
      async () => {
        expect(getRunningLoop()).toBe(loop);
      },
      { loopFactory: factory },
    );
    expect(calls).toBe(1);
    expect(loop.isClosed()).toBe(true);
    // The factory's loop is never made the thread's loop.
    expect(policy.setCalls).toBe(0);
  });

  it("test_asyncio_run_loop_factory: unknown or bad options are a TypeError", async () => {
    const err = await caught(run(async () => {}, { loop_factory: () => newEventLoop() } as never));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe("run() got an unknown option `options.loop_factory`; it takes `debug`, `loopFactory`");
    expect(await caught(run(async () => {}, { loopFactory: 5 } as never))).toBeInstanceOf(TypeError);
    expect(await caught(run(async () => {}, { loopFactory: () => ({}) } as never))).toBeInstanceOf(TypeError);
    expect(thrown(() => new Runner({ debgu: true } as never))).toBeInstanceOf(TypeError);
  });
});

describe("CPython test_runners.py RunnerTests", () => {
  it("test_non_debug / test_debug", async () => {
    for (const debug of [false, true]) {
      await using runner = new Runner({ debug });
      expect(runner.getLoop().getDebug()).toBe(debug);
    }
  });

  it("test_custom_factory", async () => {
    const loop = newEventLoop();
    {
      await using runner = new Runner({ loopFactory: () => loop });
      expect(runner.getLoop()).toBe(loop);
    }
    expect(loop.isClosed()).toBe(true);
  });

  it("test_run", async () => {
    let loop: EventLoop;
    let runner: Runner;
    {
      await using r = new Runner();
      runner = r;
      expect(
        await r.run(async () => {
          await sleep(0);
          return "done";
        }),
      ).toBe("done");
      loop = r.getLoop();
    }
    expect((thrown(() => runner.getLoop()) as Error).message).toBe("Runner is closed");
    expect(loop.isClosed()).toBe(true);
  });

  it("test_run_non_coro", async () => {
    await using runner = new Runner();
    expect(await caught(runner.run(123 as never))).toBeInstanceOf(TypeError);
  });

  it("test_run_future", async () => {
    await using runner = new Runner();
    const fut = runner.getLoop().createFuture<string>();
    fut.setResult("done");
    expect(await runner.run(fut)).toBe("done");
  });

  it("test_run_awaitable", async () => {
    await using runner = new Runner();
    expect(await runner.run(thenable("done"))).toBe("done");
  });

  it("test_explicit_close / test_double_close", async () => {
    const runner = new Runner();
    const loop = runner.getLoop();
    await runner.close();
    expect((thrown(() => runner.getLoop()) as Error).message).toBe("Runner is closed");
    expect(loop.isClosed()).toBe(true);
    await runner.close(); // a no-op
    expect(loop.isClosed()).toBe(true);
  });

  it("test_second_with_block_raises", async () => {
    const ret: number[] = [];
    const runner = new Runner();
    await runner.run(async () => {
      ret.push(1);
    });
    await runner.close();
    const err = await caught(
      runner.run(async () => {
        ret.push(2);
      }),
    );
    expect((err as Error).message).toBe("Runner is closed");
    expect(ret).toEqual([1]);
  });

  it("test_run_keeps_context", async () => {
    const cvar = new ContextVar("cvar", { default: -1 });
    const f = (val: number) => async (): Promise<number> => {
      const old = cvar.get();
      await sleep(0);
      cvar.set(val);
      return old;
    };
    await using runner = new Runner();
    expect(await runner.run(f(1))).toBe(-1);
    expect(await runner.run(f(2))).toBe(1);
    expect((await runner.run(async () => copyContext())).get(cvar)).toBe(2);
  });

  it("test_recursive_run", async () => {
    await using runner = new Runner();
    const err = await caught(
      runner.run(async () => {
        await runner.run(async () => {});
      }),
    );
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe("Runner.run() cannot be called from a running event loop");
  });

  it("test_set_event_loop_called_once", async () => {
    const runner = new Runner();
    await runner.run(async () => {});
    await runner.run(async () => {});
    // Set once however many runs (close() unsets it afterwards).
    expect(policy.setCalls).toBe(1);
    await runner.close();
    expect(getEventLoopPolicy()).toBe(policy);
  });

  it("test_no_repr_is_call_on_the_task_result", async () => {
    let reprCount = 0;
    class MyResult {
      toString(): string {
        reprCount++;
        return "MyResult";
      }
    }
    await using runner = new Runner();
    const result = await runner.run(async () => new MyResult());
    expect(result).toBeInstanceOf(MyResult);
    expect(reprCount).toBe(0);
  });
});
