/**
 * Type tests for typed calls into a loop thread's module (issue 12 §3), compiled by
 * `npm run typecheck` (never run): `spawnLoopThread<typeof Module>()` gives a `LoopThread<M>`
 * whose `call`/`callWith` and whose handle's `runCoroutineThreadsafe`/`callSoonThreadsafe` check
 * the export's name, its parameters and its awaited result. Each `@ts-expect-error` line is a
 * wrong use that must not compile.
 */
import { expectTypeOf } from "vitest";
import {
  type ConcurrentFuture,
  ContextVar,
  LoopHandle,
  ThreadQueue,
  carryContext,
  runCoroutineThreadsafe,
  spawnLoopThread,
  type LoopThread,
  type Remote,
} from "multiloop";
import type * as Tasks from "./fixtures/thread-tasks.js";
import type * as SyncTasks from "./fixtures/thread-sync-tasks.js";

export async function typedCalls(): Promise<void> {
  const io = await spawnLoopThread<typeof Tasks>({ module: new URL("./fixtures/thread-tasks.js", import.meta.url) });
  expectTypeOf(io).toEqualTypeOf<LoopThread<typeof Tasks>>();

  // Right uses: names, parameters and awaited results come from the module.
  expectTypeOf(io.call("add", 1, 2)).toEqualTypeOf<Promise<number>>();
  expectTypeOf(io.call("threadName")).toEqualTypeOf<Promise<string>>();
  expectTypeOf(io.call("waitForCancel")).toEqualTypeOf<Promise<string>>(); // async: the awaited result
  expectTypeOf(io.call("failLater", "type")).toEqualTypeOf<Promise<never>>();
  expectTypeOf(io.callWith({ timeout: 5 }, "add", 1, 2)).toEqualTypeOf<Promise<number>>();
  expectTypeOf(io.callWith({ signal: AbortSignal.timeout(5) }, "recorded")).toEqualTypeOf<Promise<Array<[number, number]>>>();
  expectTypeOf(io.handle).toEqualTypeOf<LoopHandle<typeof Tasks>>();
  expectTypeOf(io.handle.runCoroutineThreadsafe("add", 1, 2)).toEqualTypeOf<ConcurrentFuture<number>>();
  expectTypeOf(runCoroutineThreadsafe(io.handle, "threadName")).toEqualTypeOf<ConcurrentFuture<string>>();
  io.handle.callSoonThreadsafe("record", 1, 2);
  // A trailing carryContext(...) is allowed after the parameters.
  const requestId = new ContextVar<string>("requestId");
  expectTypeOf(io.call("add", 1, 2, carryContext(requestId))).toEqualTypeOf<Promise<number>>();
  // Shared objects are plain arguments.
  const sync = await spawnLoopThread<typeof SyncTasks>({ module: "x:never-loaded" });
  expectTypeOf(sync.call("makeQueue", ["a"])).toEqualTypeOf<Promise<ThreadQueue>>();
  expectTypeOf(sync.call("getOne", new ThreadQueue<number>())).toEqualTypeOf<Promise<unknown>>();

  // Wrong uses.
  // @ts-expect-error a misspelt name
  void io.call("ad", 1, 2);
  // @ts-expect-error a value export, not a function
  void io.call("requestId");
  // @ts-expect-error a wrong argument type
  void io.call("add", 1, "2");
  // @ts-expect-error a missing argument
  void io.call("add", 1);
  // @ts-expect-error an extra argument
  void io.call("add", 1, 2, 3);
  // @ts-expect-error the result is a number, not a string
  const wrong: string = await io.call("add", 1, 2);
  void wrong;
  // @ts-expect-error callWith checks the same way
  void io.callWith({ timeout: 5 }, "add", "1", 2);
  // @ts-expect-error callWith's options come first
  void io.callWith("add", 1, 2);
  // @ts-expect-error the handle is typed too
  void io.handle.runCoroutineThreadsafe("nope");
  // @ts-expect-error and callSoonThreadsafe
  io.handle.callSoonThreadsafe("record", "1", 2);
  // @ts-expect-error and the top-level form
  void runCoroutineThreadsafe(io.handle, "add", 1);
  // @ts-expect-error carryContext goes last, after all parameters
  void io.call("add", carryContext(requestId), 1, 2);

  // Untyped: any name, unknown results (the default of LoopThread and LoopHandle).
  const untyped: LoopThread = io;
  expectTypeOf(untyped.call("anything", 1, "x")).toEqualTypeOf<Promise<unknown>>();
  const revived = LoopHandle.from({});
  expectTypeOf(revived.runCoroutineThreadsafe("whatever")).toEqualTypeOf<ConcurrentFuture<unknown>>();
  expectTypeOf(LoopHandle.from<typeof Tasks>({}).runCoroutineThreadsafe("add", 1, 2)).toEqualTypeOf<ConcurrentFuture<number>>();

  // handle.wrap<T>(): our own Remote<T>, without comlink's DOM types.
  interface Api {
    ping(n: number): string;
    version: number;
    nested: { deep(): Promise<boolean> };
  }
  const remote = io.wrap<Api>();
  expectTypeOf(remote).toEqualTypeOf<Remote<Api>>();
  expectTypeOf(remote.ping(1)).toEqualTypeOf<Promise<string>>();
  expectTypeOf(remote.version).toEqualTypeOf<Promise<number>>();
  expectTypeOf(remote.nested).toEqualTypeOf<Promise<{ deep: () => Promise<boolean> }>>();
  // @ts-expect-error remote methods keep their parameter types
  void remote.ping("1");
}
