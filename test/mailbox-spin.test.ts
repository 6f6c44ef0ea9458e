/**
 * The opt-in spinning mailbox (issue 14 §3): `loop.setMailboxSpin({ micros })`, and the `spin`
 * option of `spawnLoopThread` and `spawnLoopPool`. Real threads; the tests check behaviour (calls
 * answered, timers and Node callbacks still run, the loop still parks, a dying thread still fails
 * its calls), never how fast.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Runner, ThreadExitError, newEventLoop, spawnLoopPool, spawnLoopThread, type LoopThread } from "multiloop";
import { PARKED, PENDING, STATE } from "../dist/src/core/mailbox.js";
import { caught, fixture, thrown } from "./helpers.js";
import type * as SpinTasks from "./fixtures/spin-tasks.js";

type Tasks = typeof SpinTasks;
const tasks = fixture("spin-tasks");
const T = { timeout: 30_000 };

/** The shared control block of a thread's loop, as every handle copy sees it. */
function controlOf(thread: LoopThread<Tasks>): Int32Array {
  const channel = (thread.handle as unknown as { channel: { control: Int32Array } | null }).channel;
  if (channel === null) throw new Error("expected a handle into another thread");
  return channel.control;
}

async function waitUntilParked(control: Int32Array): Promise<void> {
  for (let i = 0; i < 2_000 && Atomics.load(control, STATE) !== PARKED; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("option checks", () => {
  it("setMailboxSpin takes { micros } or null and names what it got", () => {
    const loop = newEventLoop();
    try {
      loop.setMailboxSpin({ micros: 50 });
      loop.setMailboxSpin({ micros: 0 });
      loop.setMailboxSpin(null);
      const bad: [unknown, ErrorConstructor, RegExp][] = [
        [5, TypeError, /options.*an object \{ micros \} or null.*5/],
        [{}, TypeError, /options\.micros.*undefined/],
        [{ micros: "50" }, TypeError, /options\.micros.*"50"/],
        [{ micros: Number.NaN }, TypeError, /options\.micros.*NaN/],
        [{ micros: -1 }, RangeError, /options\.micros.*from 0 to 1000000.*-1/],
        [{ micros: Infinity }, RangeError, /options\.micros.*Infinity/],
        [{ micros: 5, us: 5 }, TypeError, /unknown option `options\.us`/],
        [new Proxy({ micros: 5 }, {}), TypeError, /options.*an options object/],
        [
          {
            get micros(): number {
              throw new Error("no");
            }
          },
          TypeError,
          /options\.micros.*readable/,
        ],
      ];
      for (const [value, cls, message] of bad) {
        const err = thrown(() => loop.setMailboxSpin(value as { micros: number }));
        expect(err).toBeInstanceOf(cls);
        expect((err as Error).message).toMatch(message);
      }
    } finally {
      loop.close();
    }
  });

  it("spawnLoopThread and spawnLoopPool check `spin` before starting a thread", async () => {
    const r1 = await caught(spawnLoopThread({ module: tasks, spin: { micros: -5 } }));
    expect(r1).toBeInstanceOf(RangeError);
    expect((r1 as Error).message).toMatch(/options\.spin\.micros/);
    const r2 = await caught(async () => spawnLoopPool({ module: tasks, size: 1, spin: { micros: "x" } as unknown as { micros: number } }));
    expect(r2).toBeInstanceOf(TypeError);
    expect((r2 as Error).message).toMatch(/options\.spin\.micros/);
    const r3 = await caught(spawnLoopThread({ module: tasks, spin: 10 as unknown as { micros: number } }));
    expect(r3).toBeInstanceOf(TypeError);
    expect((r3 as Error).message).toMatch(/options\.spin/);
  });
});

describe("two spinning loops", () => {
  let thread: LoopThread<Tasks>;
  let runner: Runner;

  beforeAll(async () => {
    thread = await spawnLoopThread<Tasks>({ name: "spinner", module: tasks, spin: { micros: 200 } });
    runner = new Runner();
    runner.getLoop().setMailboxSpin({ micros: 200 });
  }, 30_000);

  afterAll(async () => {
    await thread.stop();
    await runner.close();
  });

  it("answer round trips and calls in flight", T, async () => {
    const results = await runner.run(async () => {
      const seq: number[] = [];
      for (let i = 0; i < 500; i++) seq.push(await thread.handle.runCoroutineThreadsafe("add", i, 1));
      const together = await Promise.all(Array.from({ length: 500 }, (_, i) => thread.call("add", i, 2)));
      return { seq, together };
    });
    expect(results.seq).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(results.together).toEqual(Array.from({ length: 500 }, (_, i) => i + 2));
  });

  it("both counts a spin polls settle at zero once every call is answered (senders count before they post)", T, async () => {
    await runner.run(async () => {
      for (let i = 0; i < 200; i++) await thread.handle.runCoroutineThreadsafe("add", i, 1);
      await Promise.all(Array.from({ length: 200 }, (_, i) => thread.call("add", i, 2)));
    });
    const channel = (thread.handle as unknown as { channel: { control: Int32Array; replies: Int32Array | null } }).channel;
    expect(channel.replies).not.toBeNull();
    // Every reply message posted was received; every call message posted was received.
    expect(Atomics.load(channel.replies as Int32Array, 0)).toBe(0);
    await waitUntilParked(channel.control);
    expect(Atomics.load(channel.control, PENDING)).toBe(0);
  });

  it("the spinning thread still runs its own timers and lets Node's callbacks run", T, async () => {
    const both = await runner.run(() => Promise.all([thread.call("napOnLoop", 20), thread.call("napOnNode", 20)]));
    expect(both).toEqual(["loop timer fired", "node timer fired"]);
  });

  it("a spinning loop with nothing to do parks", T, async () => {
    const control = controlOf(thread);
    await waitUntilParked(control);
    expect(Atomics.load(control, STATE)).toBe(PARKED);
    // And a call still wakes it.
    expect(await thread.call("add", 2, 2)).toBe(4);
  });
});

describe("a spinning pool and a spinning caller when a thread dies", () => {
  it("pool threads spin and answer; a call into a thread that exits fails with ThreadExitError", T, async () => {
    const pool = await spawnLoopPool<Tasks>({ module: tasks, size: 2, name: "spin-pool", spin: { micros: 100 }, restart: false });
    const runner = new Runner();
    runner.getLoop().setMailboxSpin({ micros: 100 });
    try {
      const sums = await runner.run(() => Promise.all([pool.call("add", 1, 1), pool.broadcast("add", 2, 3)]));
      expect(sums).toEqual([2, [5, 5]]);
      const err = await runner.run(() => caught(pool.thread(0).call("exitNow", 7)));
      expect(err).toBeInstanceOf(ThreadExitError);
    } finally {
      await pool.stop();
      await runner.close();
    }
  });
});
