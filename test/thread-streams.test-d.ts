/**
 * Type tests for streams across threads (issue 16 §1), compiled by `npm run typecheck` (never
 * run): `stream`/`streamWith` take only names of functions returning an async iterable, check
 * their parameters, and yield the iterable's element type. Each `@ts-expect-error` line is a
 * wrong use that must not compile.
 */
import { expectTypeOf } from "vitest";
import { LoopHandle, spawnLoopThread, type ThreadStream } from "multiloop";
import type * as Streams from "./fixtures/stream-tasks.js";

export async function typedStreams(): Promise<void> {
  const t = await spawnLoopThread<typeof Streams>({ module: new URL("./fixtures/stream-tasks.js", import.meta.url) });

  // An async generator: its yielded type.
  expectTypeOf(t.stream("count", 3)).toEqualTypeOf<ThreadStream<number>>();
  // A function returning an AsyncIterable.
  expectTypeOf(t.stream("countFrom", 1, 2)).toEqualTypeOf<ThreadStream<{ i: number }>>();
  expectTypeOf(t.streamWith({ highWaterMark: 4, signal: AbortSignal.timeout(5) }, "count", 3)).toEqualTypeOf<ThreadStream<number>>();
  expectTypeOf(t.handle.stream("stuck", new Int32Array(8))).toEqualTypeOf<ThreadStream<string>>();
  for await (const item of t.stream("countFrom", 0, 1)) expectTypeOf(item).toEqualTypeOf<{ i: number }>();

  // Client streaming: an async generator is an AsyncIterable<string> argument.
  async function* lines(): AsyncGenerator<string> {
    yield "a";
  }
  expectTypeOf(t.call("ingest", lines())).toEqualTypeOf<Promise<number>>();
  // A stream from one thread is an async iterable argument for another.
  expectTypeOf(t.stream("doubled", t.stream("count", 2))).toEqualTypeOf<ThreadStream<number>>();

  // @ts-expect-error -- not a function returning an async iterable: use call()
  t.stream("notIterable");
  // @ts-expect-error -- not exported
  t.stream("missing");
  // @ts-expect-error -- wrong parameter type
  t.stream("count", "3");
  // @ts-expect-error -- an AsyncIterable<number> is not an AsyncIterable<string>
  void t.call("ingest", t.stream("count", 2));
  // @ts-expect-error -- highWaterMark is a number
  t.streamWith({ highWaterMark: "4" }, "count", 3);

  // An untyped handle streams anything, as unknown.
  const untyped = LoopHandle.from(t.handle.share().data);
  expectTypeOf(untyped.stream("whatever", 1)).toEqualTypeOf<ThreadStream<unknown>>();
  await t.stop();
}
