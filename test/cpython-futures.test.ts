/**
 * CPython's Lib/test/test_asyncio/test_futures.py, ported: BaseFutureTests (run for Future and for
 * a subclass, as CPython runs them for its C future, a C subclass and the Python future) and
 * BaseFutureDoneCallbackTests. Milliseconds, camelCase; a stopped loop plus `runBriefly` stands for
 * `test_utils.run_briefly`. Left out: what has no JS counterpart (`__iter__`/`yield from`,
 * StopIteration, `_copy_future_state`/`wrap_future` of concurrent futures, refcounts and `__del__`,
 * uninitialised objects, `_log_traceback`'s setter).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CancelledError,
  Future,
  InvalidStateError,
  NoCurrentLoopError,
  RuntimeError,
  isFuture,
  newEventLoop,
  setEventLoop,
  type EventLoop,
  type ExceptionContext,
} from "multiloop";
import { captureExceptions, caught, collectGarbage, runBriefly, thrown } from "./helpers.js";

class SubFuture<T = unknown> extends Future<T> {}

const classes = [
  ["Future", Future],
  ["a Future subclass", SubFuture],
] as const;

let loop: EventLoop;
beforeEach(() => {
  loop = newEventLoop();
});
afterEach(() => {
  loop.close();
});

describe.each(classes)("CPython test_futures.py BaseFutureTests (%s)", (_label, Cls) => {
  const newFuture = <T = unknown>(): Future<T> => new Cls<T>({ loop });

  it("test_isfuture", () => {
    expect(isFuture(Cls)).toBe(false);
    expect(isFuture(1)).toBe(false);
    expect(isFuture({ then() {} })).toBe(false);
    const f = newFuture();
    expect(isFuture(f)).toBe(true);
    f.cancel();
  });

  it("test_initial_state", () => {
    const f = newFuture();
    expect(f.cancelled()).toBe(false);
    expect(f.done()).toBe(false);
    f.cancel();
    expect(f.cancelled()).toBe(true);
  });

  it("test_constructor_without_loop", () => {
    // setEventLoop(null) also ends the main thread's implicit loop, as after asyncio.run().
    setEventLoop(null);
    const err = thrown(() => new Cls());
    expect(err).toBeInstanceOf(NoCurrentLoopError);
    expect((err as Error).message).toMatch(/There is no current event loop/u);
  });

  it("test_constructor_use_running_loop", async () => {
    // Boxed: a task whose function returns a future adopts it (a Promise rule, see the README).
    const { f } = await loop.runUntilComplete(async () => ({ f: new Cls() }));
    expect(f.getLoop()).toBe(loop);
    f.cancel();
  });

  it("test_constructor_use_global_loop", () => {
    setEventLoop(loop);
    try {
      expect(new Cls().getLoop()).toBe(loop);
    } finally {
      setEventLoop(null);
    }
  });

  it("test_constructor_positional", () => {
    expect(thrown(() => new Cls(42 as never))).toBeInstanceOf(TypeError);
  });

  it("test_future_cancel_message_getter", async () => {
    const f = newFuture();
    f.cancel("my message");
    const err = await caught(loop.runUntilComplete(f));
    expect(err).toBeInstanceOf(CancelledError);
    expect((err as Error).message).toBe("my message");
  });

  it("test_cancel", () => {
    const f = newFuture();
    expect(f.cancel()).toBe(true);
    expect(f.cancelled()).toBe(true);
    expect(f.done()).toBe(true);
    expect(thrown(() => f.result())).toBeInstanceOf(CancelledError);
    expect(thrown(() => f.exception())).toBeInstanceOf(CancelledError);
    expect(thrown(() => f.setResult(null))).toBeInstanceOf(InvalidStateError);
    expect(thrown(() => f.setException(null))).toBeInstanceOf(InvalidStateError);
    expect(f.cancel()).toBe(false);
  });

  it("test_result", () => {
    const f = newFuture<number | null>();
    expect(thrown(() => f.result())).toBeInstanceOf(InvalidStateError);
    f.setResult(42);
    expect(f.cancelled()).toBe(false);
    expect(f.done()).toBe(true);
    expect(f.result()).toBe(42);
    expect(f.exception()).toBe(null);
    expect(thrown(() => f.setResult(null))).toBeInstanceOf(InvalidStateError);
    expect(thrown(() => f.setException(null))).toBeInstanceOf(InvalidStateError);
    expect(f.cancel()).toBe(false);
  });

  it("test_exception", () => {
    const exc = new RuntimeError();
    const f = newFuture<null>();
    expect(thrown(() => f.exception())).toBeInstanceOf(InvalidStateError);
    f.setException(exc);
    expect(f.cancelled()).toBe(false);
    expect(f.done()).toBe(true);
    expect(thrown(() => f.result())).toBe(exc);
    expect(f.exception()).toBe(exc);
    expect(thrown(() => f.setResult(null))).toBeInstanceOf(InvalidStateError);
    expect(thrown(() => f.setException(null))).toBeInstanceOf(InvalidStateError);
    expect(f.cancel()).toBe(false);
  });

  it("test_exception_class", () => {
    const f = newFuture();
    f.setException(RuntimeError);
    expect(f.exception()).toBeInstanceOf(RuntimeError);
  });

  it("test_yield_from_twice (awaiting a future twice gives its result twice)", async () => {
    const f = newFuture<number>();
    const seen: unknown[] = [];
    const task = loop.createTask(async () => {
      seen.push("A");
      seen.push(["B", await f]);
      seen.push(["C", await f]);
    });
    await runBriefly(loop);
    expect(seen).toEqual(["A"]);
    f.setResult(42);
    await loop.runUntilComplete(task);
    expect(seen).toEqual(["A", ["B", 42], ["C", 42]]);
  });

  it("test_future_repr", () => {
    // The repr says "Future" for subclasses too (asyncio prints the class name).
    const name = "Future";
    const pending = newFuture();
    expect(String(pending)).toBe(`<${name} pending>`);
    pending.cancel();
    const cancelled = newFuture();
    cancelled.cancel();
    expect(String(cancelled)).toBe(`<${name} cancelled>`);
    const result = newFuture<number>();
    result.setResult(4);
    expect(String(result)).toBe(`<${name} finished result=4>`);
    const exc = new RuntimeError();
    const failed = newFuture();
    failed.setException(exc);
    expect(String(failed)).toBe(`<${name} finished exception=RuntimeError()>`);
    expect(failed.exception()).toBe(exc);

    function fakefunc(): void {}
    function firstCb(): void {}
    function lastCb(): void {}
    const one = newFuture();
    one.addDoneCallback(fakefunc);
    expect(String(one)).toBe(`<${name} pending cb=[fakefunc()]>`);
    one.cancel();
    expect(String(one)).toBe(`<${name} cancelled>`);
    const two = newFuture();
    two.addDoneCallback(firstCb);
    two.addDoneCallback(lastCb);
    expect(String(two)).toBe(`<${name} pending cb=[firstCb(), lastCb()]>`);
    two.cancel();
    const many = newFuture();
    many.addDoneCallback(firstCb);
    for (let i = 0; i < 8; i++) many.addDoneCallback(fakefunc);
    many.addDoneCallback(lastCb);
    expect(String(many)).toBe(`<${name} pending cb=[firstCb(), <8 more>, lastCb()]>`);
    many.cancel();
    expect(String(many)).toBe(`<${name} cancelled>`);
  });

  it("test_future_source_traceback", () => {
    loop.setDebug(true);
    const f = newFuture();
    expect(f.sourceTraceback).toMatch(/cpython-futures\.test\.[jt]s/u);
    f.cancel();
  });

  // The tb_logger tests: whether "exception was never retrieved" is reported when the future is
  // garbage-collected. Each runs a control future that must be reported in the same collections,
  // so that nothing reported for the others means something.
  async function collectedReports(make: () => void): Promise<ExceptionContext[]> {
    const seen = captureExceptions(loop);
    await loop.runUntilComplete(async () => {
      make();
      newFuture().setException(new Error("control"));
      await collectGarbage(() => seen.some((c) => (c.exception as Error | undefined)?.message === "control"));
    });
    expect(seen.some((c) => (c.exception as Error | undefined)?.message === "control")).toBe(true);
    return seen.filter((c) => (c.exception as Error | undefined)?.message !== "control");
  }

  it("test_tb_logger_abandoned", { timeout: 15_000 }, async () => {
    expect(
      await collectedReports(() => {
        newFuture();
      }),
    ).toEqual([]);
  });

  it("test_tb_logger_not_called_after_cancel", { timeout: 15_000 }, async () => {
    expect(
      await collectedReports(() => {
        const fut = newFuture();
        fut.setException(new Error("cancelled after failing"));
        fut.cancel();
      }),
    ).toEqual([]);
  });

  it("test_tb_logger_not_called_after_cancel (debug mode: the close-time report)", () => {
    loop.setDebug(true);
    const seen = captureExceptions(loop);
    const fut = newFuture();
    fut.setException(new Error("cancelled after failing"));
    expect(fut.cancel()).toBe(false);
    const control = newFuture();
    control.setException(new Error("control"));
    loop.close();
    expect(seen.map((c) => [c.message, (c.exception as Error).message])).toEqual([
      [`${Cls === Future ? "Future" : "SubFuture"} exception was never retrieved`, "control"],
    ]);
  });

  it("test_tb_logger_result_unretrieved", { timeout: 15_000 }, async () => {
    expect(
      await collectedReports(() => {
        newFuture().setResult(42);
      }),
    ).toEqual([]);
  });

  it("test_tb_logger_result_retrieved", { timeout: 15_000 }, async () => {
    expect(
      await collectedReports(() => {
        const fut = newFuture<number>();
        fut.setResult(42);
        fut.result();
      }),
    ).toEqual([]);
  });

  it("test_tb_logger_exception_unretrieved", { timeout: 15_000 }, async () => {
    const reports = await collectedReports(() => {
      newFuture().setException(new RuntimeError("boom"));
    });
    expect(reports.map((c) => (c.exception as Error).message)).toEqual(["boom"]);
    expect(reports[0]?.message).toMatch(/^(Sub)?Future exception was never retrieved$/u);
  });

  it("test_tb_logger_exception_retrieved", { timeout: 15_000 }, async () => {
    expect(
      await collectedReports(() => {
        const fut = newFuture();
        fut.setException(new RuntimeError("boom"));
        fut.exception();
      }),
    ).toEqual([]);
  });

  it("test_tb_logger_exception_result_retrieved", { timeout: 15_000 }, async () => {
    expect(
      await collectedReports(() => {
        const fut = newFuture();
        fut.setException(new RuntimeError("boom"));
        expect(thrown(() => fut.result())).toBeInstanceOf(RuntimeError);
      }),
    ).toEqual([]);
  });

  it("test_future_exception_never_retrieved_debug (reported at close, in debug mode)", () => {
    loop.setDebug(true);
    const seen = captureExceptions(loop);
    const exc = new Error("MemoryError");
    newFuture().setException(exc);
    loop.close();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.message).toMatch(/^(Sub)?Future exception was never retrieved$/u);
    expect(seen[0]?.exception).toBe(exc);
  });
});

describe.each(classes)("CPython test_futures.py BaseFutureDoneCallbackTests (%s)", (_label, Cls) => {
  const newFuture = <T = unknown>(): Future<T> => new Cls<T>({ loop });
  const makeCallback = (bag: unknown[], thing: unknown) =>
    function bagAppender(): void {
      bag.push(thing);
    };

  it("test_callbacks_remove_first_callback", async () => {
    const bag: unknown[] = [];
    const f = newFuture<string>();
    const [cb1, cb2, cb3] = [makeCallback(bag, 42), makeCallback(bag, 17), makeCallback(bag, 100)];
    f.addDoneCallback(cb1);
    f.addDoneCallback(cb2);
    f.addDoneCallback(cb3);
    f.removeDoneCallback(cb1);
    f.removeDoneCallback(cb1);
    expect(bag).toEqual([]);
    f.setResult("foo");
    await runBriefly(loop);
    expect(bag).toEqual([17, 100]);
    expect(f.result()).toBe("foo");
  });

  it("test_callbacks_remove_first_and_second_callback", async () => {
    const bag: unknown[] = [];
    const f = newFuture<string>();
    const [cb1, cb2, cb3] = [makeCallback(bag, 42), makeCallback(bag, 17), makeCallback(bag, 100)];
    f.addDoneCallback(cb1);
    f.addDoneCallback(cb2);
    f.addDoneCallback(cb3);
    f.removeDoneCallback(cb1);
    f.removeDoneCallback(cb2);
    f.removeDoneCallback(cb1);
    f.setResult("foo");
    await runBriefly(loop);
    expect(bag).toEqual([100]);
  });

  it("test_callbacks_remove_third_callback", async () => {
    const bag: unknown[] = [];
    const f = newFuture<string>();
    const [cb1, cb2, cb3] = [makeCallback(bag, 42), makeCallback(bag, 17), makeCallback(bag, 100)];
    f.addDoneCallback(cb1);
    f.addDoneCallback(cb2);
    f.addDoneCallback(cb3);
    f.removeDoneCallback(cb3);
    f.removeDoneCallback(cb3);
    f.setResult("foo");
    await runBriefly(loop);
    expect(bag).toEqual([42, 17]);
  });

  it("test_callbacks_invoked_on_set_result", async () => {
    const bag: unknown[] = [];
    const f = newFuture<string>();
    f.addDoneCallback(makeCallback(bag, 42));
    f.addDoneCallback(makeCallback(bag, 17));
    expect(bag).toEqual([]);
    f.setResult("foo");
    await runBriefly(loop);
    expect(bag).toEqual([42, 17]);
    expect(f.result()).toBe("foo");
  });

  it("test_callbacks_invoked_on_set_exception", async () => {
    const bag: unknown[] = [];
    const f = newFuture();
    f.addDoneCallback(makeCallback(bag, 100));
    const exc = new RuntimeError();
    f.setException(exc);
    await runBriefly(loop);
    expect(bag).toEqual([100]);
    expect(f.exception()).toBe(exc);
  });

  it("test_remove_done_callback", async () => {
    const bag: unknown[] = [];
    const f = newFuture<string>();
    const [cb1, cb2, cb3] = [makeCallback(bag, 1), makeCallback(bag, 2), makeCallback(bag, 3)];
    f.addDoneCallback(cb1);
    f.addDoneCallback(cb2);
    expect(f.removeDoneCallback(cb2)).toBe(1);
    expect(f.removeDoneCallback(cb3)).toBe(0);
    f.addDoneCallback(cb2);
    for (let i = 0; i < 5; i++) f.addDoneCallback(cb1);
    expect(f.removeDoneCallback(cb1)).toBe(6);
    expect(bag).toEqual([]);
    f.setResult("foo");
    await runBriefly(loop);
    expect(bag).toEqual([2]);
    expect(f.result()).toBe("foo");
  });

  it("test_schedule_callbacks_list_mutation_1 (a callback that removes the others still lets them run)", async () => {
    const ran: string[] = [];
    const fut = newFuture<number>();
    function str(): void {
      ran.push("str");
    }
    fut.addDoneCallback((f) => {
      f.removeDoneCallback(str);
      ran.push("mut");
    });
    fut.addDoneCallback(str);
    fut.addDoneCallback(str);
    fut.setResult(1);
    await runBriefly(loop);
    // Scheduled at completion: removing them afterwards changes nothing (asyncio's order too).
    expect(ran).toEqual(["mut", "str", "str"]);
  });
});
