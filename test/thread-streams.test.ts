/**
 * Streams across threads (issue 16 §1): server streaming of exposed async generators, client
 * streaming of async iterable arguments, backpressure, and every way a stream ends. Real threads.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  LoopClosedError,
  RemoteError,
  ThreadExitError,
  ThreadQueue,
  ThreadStream,
  createTask,
  getRunningLoop,
  registerErrorClass,
  run,
  sleep,
  spawnLoopThread,
  type LoopThread,
} from "multiloop";
import type * as Streams from "./fixtures/stream-tasks.js";
import { FINALLY, MAX_AHEAD, PRODUCED, STARTED, StreamFailure, TAKEN } from "../dist/test/fixtures/stream-tasks.js";
import { caught, fixture, thrown } from "./helpers.js";

const streams = fixture("stream-tasks");

function counters(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8 * Int32Array.BYTES_PER_ELEMENT));
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until `cond()` holds. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe("streams across threads", () => {
  let t: LoopThread<typeof Streams>;
  beforeAll(async () => {
    registerErrorClass(StreamFailure);
    t = await spawnLoopThread<typeof Streams>({ name: "streams-1", module: streams });
  }, 30_000);
  afterAll(async () => {
    await t.stop();
  }, 30_000);

  it("server streaming: 100,000 items arrive in order, each once", { timeout: 30_000 }, async () => {
    let expected = 0;
    for await (const item of t.stream("count", 100_000)) {
      expect(item).toBe(expected);
      expected++;
    }
    expect(expected).toBe(100_000);
  });

  it("streams a function returning an async iterable, on the thread and on its handle", { timeout: 20_000 }, async () => {
    const got: number[] = [];
    for await (const { i } of t.stream("countFrom", 5, 3)) got.push(i);
    expect(got).toEqual([5, 6, 7]);
    const fromHandle: number[] = [];
    for await (const { i } of t.handle.stream("countFrom", 1, 2)) fromHandle.push(i);
    expect(fromHandle).toEqual([1, 2]);
  });

  it("runs inside a loop too, and on the loop's own handle", { timeout: 20_000 }, async () => {
    const got = await run(async () => {
      const items: number[] = [];
      for await (const item of t.streamWith({ highWaterMark: 3 }, "count", 10)) items.push(item);
      getRunningLoop().expose("local", async function* () {
        yield "a";
        await sleep(1);
        yield "b";
      });
      const local: unknown[] = [];
      for await (const item of getRunningLoop().handle.stream("local")) local.push(item);
      return [items, local];
    });
    expect(got).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], ["a", "b"]]);
  });

  it("backpressure: a slow consumer, the producer is never more than highWaterMark ahead", { timeout: 30_000 }, async () => {
    for (const hwm of [1, 4, 16]) {
      const shared = counters();
      let taken = 0;
      for await (const item of t.streamWith({ highWaterMark: hwm }, "counted", 300, shared)) {
        expect(item).toBe(taken);
        Atomics.store(shared, TAKEN, ++taken);
        if (taken % 10 === 0) await pause(2);
      }
      expect(taken).toBe(300);
      expect(Atomics.load(shared, MAX_AHEAD)).toBeLessThanOrEqual(hwm);
      expect(Atomics.load(shared, MAX_AHEAD)).toBeGreaterThanOrEqual(1);
    }
  });

  it("a consumer that stops reading holds at most highWaterMark items", { timeout: 20_000 }, async () => {
    const shared = counters();
    const stream = t.streamWith({ highWaterMark: 8 }, "forever", shared);
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    Atomics.store(shared, TAKEN, 1);
    await pause(100);
    // One taken, eight ahead of it at most.
    expect(Atomics.load(shared, PRODUCED)).toBeLessThanOrEqual(9);
    await stream.return();
    expect(Atomics.load(shared, FINALLY)).toBe(1);
  });

  it("break runs the producer's finally, and return() settles only after it did", { timeout: 20_000 }, async () => {
    const shared = counters();
    for await (const item of t.stream("forever", shared)) {
      if (item === 3) break;
    }
    // The finally awaits a sleep before it records: break waited for it.
    expect(Atomics.load(shared, FINALLY)).toBe(1);
  });

  it("closing a producer stuck at an await of its own cancels that await", { timeout: 20_000 }, async () => {
    const shared = counters();
    const stream = t.stream("stuck", shared);
    expect(await stream.next()).toEqual({ done: false, value: "first" });
    const pending = stream.next();
    await pause(20);
    expect(await stream.return()).toEqual({ done: true, value: undefined });
    expect(Atomics.load(shared, FINALLY)).toBe(1);
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it("closing a producer that awaits a plain promise lands after it, and its finally still awaits", { timeout: 20_000 }, async () => {
    const shared = counters();
    const stream = t.stream("plainWaits", shared);
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    const pending = stream.next();
    await pause(5);
    expect(await stream.return()).toEqual({ done: true, value: undefined });
    // The finally's `await sleep(5)` was not hit by the close's cancel.
    expect(Atomics.load(shared, FINALLY)).toBe(1);
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it("cancelling the consuming task closes the producer", { timeout: 20_000 }, async () => {
    const shared = counters();
    await run(async () => {
      const consumer = createTask(async () => {
        for await (const _ of t.stream("stuck", shared)) {
          // The second next() waits: the producer sleeps.
        }
      });
      await sleep(50);
      consumer.cancel();
      expect(await caught(consumer)).toBeInstanceOf(CancelledError);
    });
    await until(() => Atomics.load(shared, FINALLY) === 1, "the producer's finally");
  });

  it("the signal closes the producer; next() rejects with its reason", { timeout: 20_000 }, async () => {
    const shared = counters();
    const controller = new AbortController();
    const stream = t.streamWith({ signal: controller.signal }, "forever", shared, 1);
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    const reason = new Error("enough");
    const pending = stream.next();
    controller.abort(reason);
    const err = await caught(pending);
    expect(err).toBe(reason);
    await stream.return();
    expect(Atomics.load(shared, FINALLY)).toBe(1);
    expect(await stream.next()).toEqual({ done: true, value: undefined });

    const already = t.streamWith({ signal: AbortSignal.abort(reason) }, "forever", counters());
    expect(await caught(already.next())).toBe(reason);
  });

  it("an error the producer throws rejects next() after the items before it", { timeout: 20_000 }, async () => {
    const got: number[] = [];
    const err = await caught(async () => {
      for await (const item of t.stream("failsAfter", 3)) got.push(item);
    });
    expect(got).toEqual([0, 1, 2]);
    expect(err).toBeInstanceOf(StreamFailure);
    expect((err as Error).message).toBe("failed after 3");
    expect((err as Error).cause).toBeInstanceOf(RangeError);
  });

  it("an unknown target, a result that is not iterable, an item that cannot cross", { timeout: 20_000 }, async () => {
    const lookup = await caught(t.stream("missing" as "count", 1).next());
    expect(lookup).toBeInstanceOf(RemoteError);
    expect((lookup as RemoteError).remoteName).toBe("LookupError");
    const notIterable = await caught(t.stream("notIterable" as "count", 1).next());
    expect(notIterable).toBeInstanceOf(TypeError);
    expect((notIterable as Error).message).toContain("not an async iterable");
    const got: unknown[] = [];
    const bad = await caught(async () => {
      for await (const item of t.stream("unsendable")) got.push(item);
    });
    expect(got).toEqual([1, 2]);
    expect(bad).toBeInstanceOf(TypeError);
    expect((bad as Error).message).toContain("streamed item 2.fn");
  });

  it("checks its options", { timeout: 20_000 }, () => {
    const hwm = thrown(() => t.streamWith({ highWaterMark: 0 }, "count", 1));
    expect(hwm).toBeInstanceOf(RangeError);
    expect((hwm as Error).message).toContain("options.highWaterMark");
    expect(thrown(() => t.streamWith({ highWaterMark: 1.5 }, "count", 1))).toBeInstanceOf(RangeError);
    expect(thrown(() => t.streamWith({ highWaterMark: "2" as unknown as number }, "count", 1))).toBeInstanceOf(TypeError);
    const unknown = thrown(() => t.streamWith({ highwaterMark: 2 } as never, "count", 1));
    expect(unknown).toBeInstanceOf(TypeError);
    expect((unknown as Error).message).toContain("options.highwaterMark");
    expect(thrown(() => t.streamWith({ signal: "no" as unknown as AbortSignal }, "count", 1))).toBeInstanceOf(TypeError);
    expect(thrown(() => t.streamWith(null as never, "count", 1))).toBeInstanceOf(TypeError);
    expect(thrown(() => t.stream(42 as unknown as "count", 1))).toBeInstanceOf(TypeError);
  });

  it("client streaming: an async iterable argument is pulled from the caller", { timeout: 30_000 }, async () => {
    async function* lines(): AsyncGenerator<string> {
      for (let i = 0; i < 1000; i++) yield `line ${i}`;
    }
    expect(await t.call("ingest", lines())).toBe(1000);
    // A stream received from one thread can be streamed on (and back).
    const got: number[] = [];
    for await (const item of t.stream("doubled", t.stream("count", 5))) got.push(item);
    expect(got).toEqual([0, 2, 4, 6, 8]);
  });

  it("client streaming with backpressure: the caller's iterable is read only as the other side pulls", { timeout: 30_000 }, async () => {
    const shared = counters();
    let maxAhead = 0;
    let finished = false;
    async function* numbers(): AsyncGenerator<number> {
      try {
        for (let i = 0; i < 200; i++) {
          const produced = Atomics.add(shared, PRODUCED, 1) + 1;
          maxAhead = Math.max(maxAhead, produced - Atomics.load(shared, TAKEN));
          yield i;
        }
      } finally {
        finished = true;
      }
    }
    expect(await t.call("ingestSlowly", numbers(), shared, 20)).toBe((199 * 200) / 2);
    expect(maxAhead).toBeLessThanOrEqual(16);
    expect(finished).toBe(true);

    // The other side stops reading: the caller's generator is closed (its finally runs).
    let closed = false;
    let produced = 0;
    async function* endless(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) {
          produced++;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    expect(await t.call("takeSome", endless(), 3)).toEqual([0, 1, 2]);
    await until(() => closed, "the caller's generator to close");
    expect(produced).toBeLessThanOrEqual(3 + 16);
  });

  it("nested async iterables are refused, naming the position; a ThreadQueue still crosses", { timeout: 20_000 }, async () => {
    async function* one(): AsyncGenerator<number> {
      yield 1;
    }
    const err = thrown(() => t.handle.runCoroutineThreadsafe("ingest", { items: one() } as never));
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toContain("the arguments[0].items of 'ingest'");
    expect((err as Error).message).toContain("async iterable");
    const queue = new ThreadQueue<string>();
    queue.putNowait("x");
    queue.close();
    // A ThreadQueue is async iterable but crosses as itself: the remote reads it.
    expect(await t.call("ingest", queue as unknown as AsyncIterable<string>)).toBe(1);
  });

  it("a stream on a stopped thread throws at once", { timeout: 20_000 }, async () => {
    const other = await spawnLoopThread<typeof Streams>({ name: "streams-stopped", module: streams });
    await other.stop();
    expect(thrown(() => other.stream("count", 1))).toBeInstanceOf(LoopClosedError);
  });
});

describe("streams when a thread dies", () => {
  it("the producer's thread dying rejects next() with ThreadExitError", { timeout: 30_000 }, async () => {
    const doomed = await spawnLoopThread<typeof Streams>({ name: "streams-doomed", module: streams });
    const got: number[] = [];
    const err = await caught(async () => {
      for await (const item of doomed.stream("exitsAfter", 3, 7)) got.push(item);
    });
    expect(got).toEqual([0, 1, 2]);
    expect(err).toBeInstanceOf(ThreadExitError);
    expect((err as ThreadExitError).threadName).toBe("streams-doomed");
    expect((err as ThreadExitError).exitCode).toBe(7);
    expect(await doomed.exited).toBe(7);
  });

  it("a producer thread terminated mid-stream rejects next() with ThreadExitError", { timeout: 30_000 }, async () => {
    const doomed = await spawnLoopThread<typeof Streams>({ name: "streams-terminated", module: streams });
    const shared = counters();
    const stream = doomed.stream("forever", shared, 1);
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    await doomed.terminate();
    const err = await caught(async () => {
      for (;;) if ((await stream.next()).done === true) break;
    });
    expect(err).toBeInstanceOf(ThreadExitError);
  });

  it("the consumer's thread dying closes the producer (its finally runs)", { timeout: 30_000 }, async () => {
    const producer = await spawnLoopThread<typeof Streams>({ name: "streams-producer", module: streams });
    const consumer = await spawnLoopThread<typeof Streams>({ name: "streams-consumer", module: streams });
    try {
      const shared = counters();
      const err = await caught(consumer.call("consumeAndExit", producer.handle, shared));
      expect(err).toBeInstanceOf(ThreadExitError);
      expect(Atomics.load(shared, STARTED)).toBe(1);
      await until(() => Atomics.load(shared, FINALLY) === 1, "the producer's finally");
    } finally {
      await producer.stop();
      await consumer.stop();
    }
  });

  it("stopping the producer's thread mid-stream ends next() with CancelledError; the finally ran", { timeout: 30_000 }, async () => {
    const stopping = await spawnLoopThread<typeof Streams>({ name: "streams-stopping", module: streams });
    const shared = counters();
    const stream = stopping.stream("forever", shared, 1);
    expect(await stream.next()).toEqual({ done: false, value: 0 });
    await stopping.stop();
    const err = await caught(async () => {
      for (;;) if ((await stream.next()).done === true) break;
    });
    expect(err).toBeInstanceOf(CancelledError);
    expect(Atomics.load(shared, FINALLY)).toBe(1);
  });

  it("ThreadStream is what stream() returns", { timeout: 20_000 }, async () => {
    const other = await spawnLoopThread<typeof Streams>({ name: "streams-kind", module: streams });
    try {
      const s = other.stream("count", 2);
      expect(s).toBeInstanceOf(ThreadStream);
      expect(String(s)).toContain("streams-kind");
      await s.return();
    } finally {
      await other.stop();
    }
  });
});
