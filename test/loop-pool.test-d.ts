/**
 * Type tests for `spawnLoopPool<typeof Module>()` (issue 15 §1), compiled by `npm run typecheck`
 * (never run): the pool's `call`, `callWith` and `broadcast` check names, parameters and results
 * like a `LoopThread<M>`'s, `thread(i)` and `handles` keep `M`, and the events are typed. Each
 * `@ts-expect-error` line is a wrong use that must not compile.
 */
import { expectTypeOf } from "vitest";
import { spawnLoopPool, type LoopHandle, type LoopPool, type LoopThread } from "multiloop";
import type * as PoolTasks from "./fixtures/pool-tasks.js";

export async function typedPool(): Promise<void> {
  const pool = await spawnLoopPool<typeof PoolTasks>({ module: new URL("./fixtures/pool-tasks.js", import.meta.url), size: 2 });
  expectTypeOf(pool).toEqualTypeOf<LoopPool<typeof PoolTasks>>();
  expectTypeOf(pool.call("nap", 5)).toEqualTypeOf<Promise<string>>();
  expectTypeOf(pool.callWith({ timeout: 5, signal: AbortSignal.timeout(10) }, "holding")).toEqualTypeOf<
    Promise<{ waiting: number; cancelled: number }>
  >();
  expectTypeOf(pool.broadcast("listen", 0)).toEqualTypeOf<Promise<number[]>>();
  expectTypeOf(pool.thread(0)).toEqualTypeOf<LoopThread<typeof PoolTasks>>();
  expectTypeOf(pool.handles).toEqualTypeOf<LoopHandle<typeof PoolTasks>[]>();
  expectTypeOf(pool.size).toEqualTypeOf<number>();
  expectTypeOf(pool.inFlight).toEqualTypeOf<number>();
  expectTypeOf(pool.stop({ timeout: 1_000 })).toEqualTypeOf<Promise<void>>();

  pool.on("exit", (threadName, exitCode, cause) => {
    expectTypeOf(threadName).toEqualTypeOf<string>();
    expectTypeOf(exitCode).toEqualTypeOf<number>();
    expectTypeOf(cause).toEqualTypeOf<unknown>();
  });
  pool.on("restart", (threadName, index) => {
    expectTypeOf(threadName).toEqualTypeOf<string>();
    expectTypeOf(index).toEqualTypeOf<number>();
  });
  pool.on("error", (err) => expectTypeOf(err).toEqualTypeOf<Error>());

  // Without the module's type, any name and unknown results.
  const untyped = await spawnLoopPool({ module: "x:never-loaded" });
  expectTypeOf(untyped.call("anything", 1, "two")).toEqualTypeOf<Promise<unknown>>();

  // Wrong uses.
  // @ts-expect-error a misspelt name
  void pool.call("napp", 5);
  // @ts-expect-error a wrong argument type
  void pool.call("nap", "5");
  // @ts-expect-error broadcast checks the same way
  void pool.broadcast("nap");
  // @ts-expect-error callWith takes the options first
  void pool.callWith("nap", 5);
  // @ts-expect-error the result is a string
  const wrong: number = await pool.call("whoAmI");
  void wrong;
  // @ts-expect-error no such event
  pool.on("died", () => undefined);
  // @ts-expect-error `module` is required
  void spawnLoopPool({ size: 2 });
  // @ts-expect-error restart is false or options
  void spawnLoopPool({ module: "m", restart: true });
  await pool.stop();
}
