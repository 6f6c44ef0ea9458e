/**
 * CPython's Lib/test/test_asyncio/test_events.py and test_base_events.py, ported where they are
 * about the loop itself (sockets, pipes, signals, subprocesses and selectors have their own suites
 * here): EventLoopTestsMixin's callback tests, HandleTests, TimerTests, PolicyTests,
 * GetEventLoopTestsMixin, and BaseEventLoopTests' scheduling, exception-handler and task-factory
 * tests. Left out: handle reprs with `at file:line` (JS functions carry no source position), the
 * thread checks of debug mode (JS threads share no loop object), `_run_once`/`_scheduled`
 * internals, and KeyboardInterrupt/SystemExit, which JS does not have.
 */
import { Worker } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  DefaultEventLoopPolicy,
  EventLoop,
  EventLoopPolicy,
  Handle,
  LoopClosedError,
  NoCurrentLoopError,
  RuntimeError,
  Task,
  TimerHandle,
  getEventLoop,
  getEventLoopPolicy,
  getRunningLoop,
  newEventLoop,
  setEventLoop,
  setEventLoopPolicy,
  sleep,
  type Coroutine,
  type ExceptionContext,
} from "multiloop";
import { captureExceptions, caught, fixture, runBriefly, thrown } from "./helpers.js";

let loop: EventLoop;
beforeEach(() => {
  loop = newEventLoop();
});
afterEach(() => {
  loop.close();
  setEventLoopPolicy(null);
});

/** CPython's callback of these tests: records its argument, stops the loop at the second call. */
function recordTwo(): [string[], (arg: string) => void] {
  const results: string[] = [];
  return [
    results,
    (arg: string): void => {
      results.push(arg);
      if (results.length >= 2) loop.stop();
    },
  ];
}

/** Starts the threadsafe-caller fixture; it calls `callback("hello")` into `loop` once told to. */
function startCaller(target: EventLoop): { flags: Int32Array; worker: Worker; exited: Promise<void> } {
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const shared = target.handle.share();
  const worker = new Worker(fixture("threadsafe-caller"), {
    workerData: { handle: shared.data, flags },
    transferList: shared.transferList,
  });
  const exited = new Promise<void>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("exit", () => resolve());
  });
  return { flags, worker, exited };
}

/** Lets the caller go, and blocks this thread until it says it has called (the loop is not running here). */
function letCallerCallAndWait(flags: Int32Array): void {
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  expect(Atomics.wait(flags, 0, 0, 10_000)).not.toBe("timed-out");
}

describe("CPython test_events.py EventLoopTestsMixin", () => {
  it("test_run_until_complete_nesting", async () => {
    const err = await caught(
      loop.runUntilComplete(async () => {
        await loop.runUntilComplete(() => sleep(0));
      }),
    );
    expect((err as Error).message).toBe("This event loop is already running");
  });

  it("test_run_until_complete", async () => {
    expect(await loop.runUntilComplete(() => sleep(10, "slept"))).toBe("slept");
  });

  it("test_run_until_complete_stopped", async () => {
    const err = await caught(
      loop.runUntilComplete(async () => {
        getRunningLoop().stop();
        await sleep(100);
      }),
    );
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe("Event loop stopped before Future completed.");
  });

  it("test_call_later", async () => {
    const results: string[] = [];
    loop.callLater(10, (arg: string) => {
      results.push(arg);
      loop.stop();
    }, "hello world");
    await loop.runForever();
    expect(results).toEqual(["hello world"]);
  });

  it("test_call_soon", async () => {
    const results: [string, string][] = [];
    loop.callSoon((a: string, b: string) => {
      results.push([a, b]);
      loop.stop();
    }, "hello", "world");
    await loop.runForever();
    expect(results).toEqual([["hello", "world"]]);
  });

  it("test_call_soon_threadsafe", { timeout: 20_000 }, async () => {
    const [results, callback] = recordTwo();
    loop.expose("callback", callback);
    const { flags, exited } = startCaller(loop);
    // The other thread's call happens before this thread's callSoon, so it runs first.
    letCallerCallAndWait(flags);
    loop.callSoon(callback, "world");
    await loop.runForever();
    await exited;
    expect(results).toEqual(["hello", "world"]);
  });

  it("test_call_soon_threadsafe (on a running loop: a call taken in late still runs before callbacks queued after it)", { timeout: 20_000 }, async () => {
    const [results, callback] = recordTwo();
    loop.expose("callback", callback);
    const { flags, exited } = startCaller(loop);
    // A busy callback: the other thread calls while it runs, then the callback queues its own.
    loop.callSoon(() => {
      letCallerCallAndWait(flags);
      loop.callSoon(callback, "world");
    });
    await loop.runForever();
    await exited;
    expect(results).toEqual(["hello", "world"]);
  });

  it("test_call_soon_threadsafe_same_thread", async () => {
    const [results, callback] = recordTwo();
    loop.callSoonThreadsafe(callback, "hello");
    loop.callSoon(callback, "world");
    await loop.runForever();
    expect(results).toEqual(["hello", "world"]);
  });
});

describe("CPython test_events.py HandleTests / TimerTests", () => {
  function noop(): void {}

  it("test_handle", () => {
    const h = loop.callSoon(noop);
    expect(h).toBeInstanceOf(Handle);
    expect(h.cancelled()).toBe(false);
    h.cancel();
    expect(h.cancelled()).toBe(true);
  });

  it("test_callback_with_exception (debug mode: the report says where the callback was scheduled)", async () => {
    loop.setDebug(true);
    const seen = captureExceptions(loop);
    const h = loop.callSoon(function callback() {
      throw new RangeError("ValueError");
    });
    await runBriefly(loop);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toEqual({
      message: expect.stringMatching(/^Exception in callback callback\(\)/u) as unknown,
      exception: expect.any(RangeError) as unknown,
      handle: h,
      sourceTraceback: h.sourceTraceback,
    });
    expect(h.sourceTraceback).toMatch(/cpython-events\.test\.[jt]s/u);
  });

  it("test_handle_source_traceback", () => {
    loop.setDebug(true);
    for (const h of [
      loop.callSoon(noop),
      loop.callSoonThreadsafe(noop),
      loop.callLater(0, noop),
      loop.callAt(loop.time(), noop),
    ]) {
      // The frame that scheduled it is this test, right under the loop's own frames.
      expect(h.sourceTraceback).toMatch(/Handle created at\n(.|\n)*cpython-events\.test\.[jt]s/u);
    }
  });

  it("test_when / test_timer", () => {
    const when = loop.time() + 100;
    const h = loop.callAt(when, (a: number, b: number, c: number) => [a, b, c], 1, 2, 3);
    expect(h).toBeInstanceOf(TimerHandle);
    expect(h.when()).toBe(when);
    expect(h.cancelled()).toBe(false);
    h.cancel();
    expect(h.cancelled()).toBe(true);
  });
});

describe("CPython test_events.py PolicyTests / GetEventLoopTestsMixin", () => {
  /** The DeprecationWarnings `fn` causes (Node emits them on the next tick). */
  async function warningsOf(fn: () => void): Promise<Error[]> {
    const seen: Error[] = [];
    const onWarning = (w: Error): void => {
      if (w.name === "DeprecationWarning") seen.push(w);
    };
    process.on("warning", onWarning);
    try {
      fn();
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    return seen;
  }

  it("test_event_loop_policy", () => {
    const policy = new EventLoopPolicy();
    expect(thrown(() => policy.getEventLoop())).toBeInstanceOf(TypeError);
    expect(thrown(() => policy.setEventLoop(null))).toBeInstanceOf(TypeError);
    expect(thrown(() => policy.newEventLoop())).toBeInstanceOf(TypeError);
  });

  it("test_get_event_loop / test_get_event_loop_calls_set_event_loop (a warning each time a policy creates one)", async () => {
    for (let round = 0; round < 2; round++) {
      let setWith: EventLoop | null | undefined;
      const policy = new (class extends DefaultEventLoopPolicy {
        override setEventLoop(l: EventLoop | null): void {
          setWith = l;
          super.setEventLoop(l);
        }
      })();
      let made: EventLoop | null = null;
      const warnings = await warningsOf(() => {
        made = policy.getEventLoop();
      });
      expect(warnings.map((w) => (w as { code?: string }).code)).toEqual(["MULTILOOP_IMPLICIT_LOOP"]);
      expect(made).toBeInstanceOf(EventLoop);
      expect(setWith).toBe(made);
      expect(await warningsOf(() => expect(policy.getEventLoop()).toBe(made))).toEqual([]);
      (made as unknown as EventLoop).close();
    }
  });

  it("test_get_event_loop_after_set_none", () => {
    const policy = new DefaultEventLoopPolicy();
    policy.setEventLoop(null);
    expect(thrown(() => policy.getEventLoop())).toBeInstanceOf(NoCurrentLoopError);
  });

  it("test_new_event_loop / test_set_event_loop", () => {
    const policy = new DefaultEventLoopPolicy();
    const oldLoop = policy.newEventLoop();
    expect(oldLoop).toBeInstanceOf(EventLoop);
    policy.setEventLoop(oldLoop);
    expect(thrown(() => policy.setEventLoop({} as never))).toBeInstanceOf(TypeError);
    const l = policy.newEventLoop();
    policy.setEventLoop(l);
    expect(policy.getEventLoop()).toBe(l);
    expect(policy.getEventLoop()).not.toBe(oldLoop);
    l.close();
    oldLoop.close();
  });

  it("test_get_event_loop_policy / test_set_event_loop_policy", () => {
    const policy = getEventLoopPolicy();
    expect(policy).toBeInstanceOf(EventLoopPolicy);
    expect(getEventLoopPolicy()).toBe(policy);
    expect(thrown(() => setEventLoopPolicy({} as never))).toBeInstanceOf(TypeError);
    const fresh = new DefaultEventLoopPolicy();
    setEventLoopPolicy(fresh);
    expect(getEventLoopPolicy()).toBe(fresh);
    expect(fresh).not.toBe(policy);
  });

  it("test_get_event_loop_returns_running_loop", async () => {
    class TestError extends Error {}
    class Policy extends DefaultEventLoopPolicy {
      override getEventLoop(): EventLoop {
        throw new TestError();
      }
    }
    setEventLoopPolicy(new Policy());
    expect(thrown(() => getEventLoop())).toBeInstanceOf(TestError);
    setEventLoop(null);
    expect(thrown(() => getEventLoop())).toBeInstanceOf(TestError);
    expect((thrown(() => getRunningLoop()) as Error).message).toMatch(/no running/u);
    await loop.runUntilComplete(async () => {
      expect(getEventLoop()).toBe(loop);
      expect(getRunningLoop()).toBe(loop);
    });
    setEventLoop(loop);
    expect(thrown(() => getEventLoop())).toBeInstanceOf(TestError);
    expect((thrown(() => getRunningLoop()) as Error).message).toMatch(/no running/u);
  });

  it("test_get_event_loop_returns_running_loop2", async () => {
    setEventLoopPolicy(new DefaultEventLoopPolicy());
    let loop2: EventLoop | null = null;
    const warnings = await warningsOf(() => {
      loop2 = getEventLoop();
    });
    expect(warnings).toHaveLength(1);
    setEventLoop(null);
    expect((thrown(() => getEventLoop()) as Error).message).toMatch(/no current/u);
    expect((thrown(() => getRunningLoop()) as Error).message).toMatch(/no running/u);
    await loop.runUntilComplete(async () => {
      expect(getEventLoop()).toBe(loop);
      expect(getRunningLoop()).toBe(loop);
    });
    setEventLoop(loop);
    expect(getEventLoop()).toBe(loop);
    setEventLoop(null);
    expect((thrown(() => getEventLoop()) as Error).message).toMatch(/no current/u);
    (loop2 as unknown as EventLoop).close();
  });
});

describe("CPython test_base_events.py BaseEventLoopTests", () => {
  function cb(): void {}

  it("test_call_soon / test_call_soon_non_callable", () => {
    const h = loop.callSoon(cb);
    expect(h).toBeInstanceOf(Handle);
    loop.setDebug(true);
    expect(thrown(() => loop.callSoon(1 as never))).toBeInstanceOf(TypeError);
  });

  it("test_call_later", () => {
    const h = loop.callLater(10_000, cb);
    expect(h).toBeInstanceOf(TimerHandle);
    expect(thrown(() => loop.callLater(null as never, cb))).toBeInstanceOf(TypeError);
    h.cancel();
  });

  it("test_call_later_negative_delays", async () => {
    const calls: string[] = [];
    const push = (arg: string): void => {
      calls.push(arg);
    };
    loop.callLater(-1, push, "a");
    loop.callLater(-2, push, "b");
    await runBriefly(loop);
    expect(calls).toEqual(["b", "a"]);
  });

  it("test_time_and_call_at", async () => {
    const when = loop.time() + 10;
    loop.callAt(when, () => loop.stop());
    await loop.runForever();
    expect(loop.time()).toBeGreaterThanOrEqual(when);
    expect(thrown(() => loop.callAt(null as never, cb))).toBeInstanceOf(TypeError);
  });

  it("test_set_debug", () => {
    loop.setDebug(true);
    expect(loop.getDebug()).toBe(true);
    loop.setDebug(false);
    expect(loop.getDebug()).toBe(false);
  });

  it("test__run_once_schedule_handle (a due timer's callback schedules into the next iteration)", async () => {
    let processed = false;
    let handle: Handle | null = null;
    const ran: string[] = [];
    loop.callLater(-1, () => {
      processed = true;
      handle = loop.callSoon(() => ran.push("scheduled"));
    });
    loop.callSoon(() => loop.callSoon(() => ran.push("later")));
    await runBriefly(loop);
    expect(processed).toBe(true);
    expect(handle).toBeInstanceOf(Handle);
    expect(ran).toEqual(["later", "scheduled"]);
  });

  it("test_run_until_complete_type_error / test_run_until_complete_loop", async () => {
    expect(await caught(loop.runUntilComplete("blah" as never))).toBeInstanceOf(TypeError);
    const other = newEventLoop();
    try {
      expect(await caught(other.runUntilComplete(loop.createFuture()))).toBeInstanceOf(RangeError);
    } finally {
      other.close();
    }
  });

  it("test_default_exc_handler_callback", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      for (const schedule of [
        (fn: () => void) => loop.callSoon(fn),
        (fn: () => void) => loop.callLater(1, fn),
      ]) {
        errors.mockClear();
        const fut = loop.createFuture<boolean>();
        schedule(function zeroError() {
          fut.setResult(true);
          throw new RangeError("division by zero");
        });
        fut.addDoneCallback(() => loop.stop());
        await loop.runForever();
        expect(String(errors.mock.calls.at(-1)?.[0])).toMatch(/^Exception in callback zeroError(.|\n)*RangeError: division by zero/u);
      }
    } finally {
      errors.mockRestore();
    }
  });

  it("test_set_exc_handler_invalid", () => {
    expect(thrown(() => loop.setExceptionHandler("spam" as never))).toBeInstanceOf(TypeError);
  });

  it("test_set_exc_handler_custom", async () => {
    loop.setDebug(true);
    expect(loop.getExceptionHandler()).toBe(null);
    const calls: [EventLoop, ExceptionContext][] = [];
    const handler = (l: EventLoop, context: ExceptionContext): void => {
      calls.push([l, context]);
    };
    loop.setExceptionHandler(handler);
    expect(loop.getExceptionHandler()).toBe(handler);
    function zeroError(): void {
      throw new RangeError("division by zero");
    }
    const handle = loop.callSoon(zeroError);
    await runBriefly(loop);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[0]).toBe(loop);
    expect(calls[0]?.[1]).toEqual({
      exception: expect.any(RangeError) as unknown,
      message: expect.stringMatching(/Exception in callback.*zeroError/u) as unknown,
      handle,
      sourceTraceback: handle.sourceTraceback,
    });

    loop.setExceptionHandler(null);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      loop.callSoon(zeroError);
      await runBriefly(loop);
      const printed = String(errors.mock.calls.at(-1)?.[0]);
      expect(printed).toMatch(/^Exception in callback zeroError\(\)/u);
      // The default handler prints where the callback was scheduled.
      expect(printed).toMatch(/sourceTraceback: Object created at \(most recent call first\):\n\s+at /u);
      expect(printed).toMatch(/RangeError: division by zero/u);
    } finally {
      errors.mockRestore();
    }
    expect(calls).toHaveLength(1);
  });

  it("test_set_exc_handler_custom (a report made inside a debug-mode callback prints 'Handle created at')", async () => {
    loop.setDebug(true);
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      loop.callSoon(function reporter() {
        loop.callExceptionHandler({ message: "something went wrong" });
      });
      await runBriefly(loop);
      const printed = String(errors.mock.calls.at(-1)?.[0]);
      expect(printed).toMatch(/^something went wrong\nhandleTraceback: Handle created at \(most recent call first\):\n\s+at /u);
      expect(printed).toMatch(/cpython-events\.test\.[jt]s/u);
      // Outside a callback, and outside debug mode, there is nothing to add.
      errors.mockClear();
      loop.callExceptionHandler({ message: "outside" });
      expect(String(errors.mock.calls[0]?.[0])).toBe("outside");
    } finally {
      errors.mockRestore();
    }
  });

  it("test_set_exc_handler_broken", async () => {
    loop.setExceptionHandler(() => {
      throw new Error("spam");
    });
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      loop.callSoon(() => {
        throw new RangeError("division by zero");
      });
      await runBriefly(loop);
      expect(String(errors.mock.calls.at(-1)?.[0])).toMatch(/^Unhandled error in exception handler/u);
    } finally {
      errors.mockRestore();
    }
  });

  it("test_default_exc_handler_broken", async () => {
    let context: ExceptionContext | null = null;
    class Loop extends EventLoop {
      override defaultExceptionHandler(ctx: ExceptionContext): void {
        context = ctx;
        throw new RangeError("spam");
      }
    }
    const broken = new Loop();
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      broken.callSoon(() => {
        throw new RangeError("division by zero");
      });
      await runBriefly(broken);
      expect(String(errors.mock.calls.at(-1)?.[0])).toMatch(/^Exception in default exception handler/u);

      broken.setExceptionHandler(() => {
        throw new RangeError("ham");
      });
      context = null;
      broken.callSoon(() => {
        throw new TypeError("zero");
      });
      await runBriefly(broken);
      expect(String(errors.mock.calls.at(-1)?.[0])).toMatch(
        /^Exception in default exception.*while handling.*in custom/u,
      );
      // The original context went to the default handler.
      const original = (context as unknown as ExceptionContext)["context"] as ExceptionContext;
      expect(original.exception).toBeInstanceOf(TypeError);
    } finally {
      errors.mockRestore();
      broken.close();
    }
  });

  it("test_set_task_factory_invalid / test_set_task_factory", async () => {
    expect(thrown(() => loop.setTaskFactory(1 as never))).toBeInstanceOf(TypeError);
    expect(loop.getTaskFactory()).toBe(null);
    class MyTask<T> extends Task<T> {}
    const factory = (l: EventLoop, coro: Coroutine<unknown>): Task<unknown> => new MyTask(coro, { loop: l });
    loop.setTaskFactory(factory);
    expect(loop.getTaskFactory()).toBe(factory);
    const task = loop.createTask(async () => {});
    expect(task).toBeInstanceOf(MyTask);
    await loop.runUntilComplete(task);
    loop.setTaskFactory(null);
    expect(loop.getTaskFactory()).toBe(null);
    const plain = loop.createTask(async () => {});
    expect(plain).toBeInstanceOf(Task);
    expect(plain).not.toBeInstanceOf(MyTask);
    await loop.runUntilComplete(plain);
  });

  it("test_create_task_error_closes_coro (a closed loop refuses, and the function never starts)", () => {
    const closed = newEventLoop();
    closed.close();
    let started = false;
    expect(
      thrown(() =>
        closed.createTask(async () => {
          started = true;
        }),
      ),
    ).toBeInstanceOf(LoopClosedError);
    expect(started).toBe(false);
  });

  it("test_create_named_task_with_default_factory / test_create_named_task_with_custom_factory", async () => {
    const task = loop.createTask(async () => {}, { name: "test_task" });
    expect(task.getName()).toBe("test_task");
    await loop.runUntilComplete(task);
    loop.setTaskFactory((l, coro, options) => new Task(coro, { loop: l, ...options }));
    const custom = loop.createTask(async () => {}, { name: "test_task" });
    expect(custom.getName()).toBe("test_task");
    await loop.runUntilComplete(custom);
  });

  it("test_run_once (loop.callSoon(loop.stop); loop.runForever())", async () => {
    let count = 0;
    loop.callSoon(() => count++);
    loop.callSoon(() => loop.stop());
    await loop.runForever();
    expect(count).toBe(1);
  });

  it("test_run_forever_pre_stopped", async () => {
    const ran: string[] = [];
    loop.callSoon(() => ran.push("first"));
    loop.stop();
    await loop.runForever();
    // One iteration, then it stops.
    expect(ran).toEqual(["first"]);
    expect(loop.isRunning()).toBe(false);
  });
});
