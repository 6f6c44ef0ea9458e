/**
 * Property suite across two real threads (issue 11): random values, the hostile catalogue
 * (test/hostile-values.ts) among them, sent as arguments, returned as results and thrown, through
 * `call`, `callSoonThreadsafe`, `runCoroutineThreadsafe`, a ThreadQueue and the comlink bridge.
 * Each call settles exactly once within a bounded time, no thread dies, and values structured
 * clone can copy arrive equal to what structured clone makes of them; values it cannot copy are
 * refused at the call site with a TypeError. `MULTILOOP_FUZZ_RUNS` raises the number of runs.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RemoteError, ThreadQueue, spawnLoopThread, type LoopThread } from "multiloop";
import { HOSTILE, fuzzRuns } from "./hostile-values.js";
import { fixture } from "./helpers.js";

interface Bridge {
  echo(value: unknown): Promise<unknown>;
  throwHostile(label: string): Promise<never>;
}

type Sample = { label: string; make: () => unknown };

/** What structured clone makes of `value`, or a marker when it refuses it. */
const REFUSED = Symbol("refused");
function cloned(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return REFUSED;
  }
}

/** Settles `work` within `ms` (a hang is a failure, reported with `what`). */
async function settled<T>(what: string, work: PromiseLike<T>, ms = 10_000): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  let count = 0;
  const outcome = Promise.resolve(work).then(
    (value) => {
      count++;
      return { ok: true as const, value };
    },
    (error: unknown) => {
      count++;
      return { ok: false as const, error };
    },
  );
  const hang = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([outcome, hang]);
  } finally {
    clearTimeout(timer);
    expect(count).toBe(1);
  }
}

/** Equality as structured clone defines it; a huge sparse array is compared by length and keys. */
function expectSame(actual: unknown, expected: unknown): void {
  if (Array.isArray(expected) && expected.length > 100_000) {
    expect(Array.isArray(actual)).toBe(true);
    expect((actual as unknown[]).length).toBe(expected.length);
    expect(Object.keys(actual as object)).toEqual(Object.keys(expected));
    return;
  }
  expect(actual).toEqual(expected);
}

const sample: fc.Arbitrary<Sample> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE).map((h): Sample => ({ label: h.label, make: () => h.make() })) },
  {
    weight: 3,
    arbitrary: fc
      .anything({
        maxDepth: 3,
        withBigInt: true,
        withBoxedValues: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withNullPrototype: true,
        withObjectString: true,
        withTypedArray: true,
        withSparseArray: true,
      })
      .map((v): Sample => ({ label: "random", make: () => structuredClone(v) })),
  },
);

describe("values across two real threads", () => {
  let t: LoopThread;
  let bridge: Bridge;
  beforeAll(async () => {
    t = await spawnLoopThread({ name: "values", module: fixture("hostile-tasks") });
    bridge = t.wrap<Bridge>();
  }, 30_000);
  afterAll(async () => {
    await t.stop();
  }, 30_000);

  it("through call, callSoonThreadsafe, runCoroutineThreadsafe, a ThreadQueue and comlink: settles once, nothing dies, clones arrive equal", { timeout: 120_000 }, async () => {
    const queue = new ThreadQueue<unknown>({ bufferSize: 1 << 22 });
    let oneWay = 0;
    const baseline = await (t.call("recordedValueCount") as Promise<number>);
    await fc.assert(
      fc.asyncProperty(sample, async ({ label, make }) => {
        const expected = cloned(make());
        const canCross = expected !== REFUSED;
        // Arguments: thread.call and runCoroutineThreadsafe (both echo back), comlink.
        const viaCall = await settled(`call echo(${label})`, t.call("echo", make()));
        let viaRun: Awaited<ReturnType<typeof settled>>;
        try {
          viaRun = await settled(`runCoroutineThreadsafe echo(${label})`, t.handle.runCoroutineThreadsafe("echo", make()));
        } catch (err) {
          viaRun = { ok: false, error: err };
        }
        const viaBridge = await settled(`comlink echo(${label})`, bridge.echo(make()));
        for (const [what, outcome] of [["call", viaCall], ["runCoroutineThreadsafe", viaRun], ["comlink", viaBridge]] as const) {
          if (canCross) {
            expect(outcome.ok, `${what} echo(${label})`).toBe(true);
            if (outcome.ok) expectSame(outcome.value, expected);
          } else {
            expect(outcome.ok, `${what} echo(${label}) should refuse`).toBe(false);
            if (!outcome.ok) expect(outcome.error, `${what} echo(${label})`).toBeInstanceOf(TypeError);
          }
        }
        // One way: refused at the call site, or delivered (counted below).
        try {
          t.handle.callSoonThreadsafe("recordValue", make());
          oneWay++;
          expect(canCross, `callSoonThreadsafe(${label}) should refuse`).toBe(true);
        } catch (err) {
          expect(canCross, `callSoonThreadsafe(${label}) should go`).toBe(false);
          expect(err).toBeInstanceOf(TypeError);
        }
        // A ThreadQueue: put here, taken over there and returned.
        let put = false;
        try {
          queue.putNowait(make());
          put = true;
        } catch (err) {
          expect(err, `putNowait(${label})`).toBeInstanceOf(TypeError);
        }
        if (put) {
          const taken = await settled(`takeFrom(${label})`, t.call("takeFrom", queue));
          expect(taken.ok).toBe(true);
          if (taken.ok) expectSame(taken.value, cloned(make()));
        }
        if (label !== "random") {
          // Results and thrown values made over there. A task returning a promise or thenable
          // takes on its outcome (JavaScript's rule for async functions): those are not results.
          const thenable = ["Promise", "rejected thenable", "never-settling thenable"].includes(label);
          const result = thenable ? null : await settled(`makeHostile(${label})`, t.call("makeHostile", label));
          if (result === null) {
            // Nothing to compare.
          } else if (canCross) {
            expect(result.ok, `result ${label}`).toBe(true);
            if (result.ok) expectSame(result.value, expected);
          } else {
            expect(result.ok, `result ${label}`).toBe(false);
            if (!result.ok) expect(result.error).toBeInstanceOf(TypeError);
          }
          for (const thrower of [
            (): PromiseLike<unknown> => t.call("throwHostile", label),
            (): PromiseLike<unknown> => bridge.throwHostile(label),
          ]) {
            const thrown = await settled(`throwHostile(${label})`, thrower());
            expect(thrown.ok).toBe(false);
            if (thrown.ok) continue;
            const error = thrown.error;
            if (expected instanceof Error) expect(error).toBeInstanceOf(Error);
            else if (canCross) expectSame(error, expected);
            else expect(error).toBeInstanceOf(RemoteError);
          }
        }
        return true;
      }),
      { numRuns: fuzzRuns(120) },
    );
    // Every one-way call arrived, once: the thread counted exactly what was sent.
    let counted = await (t.call("recordedValueCount") as Promise<number>);
    for (let i = 0; i < 100 && counted - baseline < oneWay; i++) counted = await (t.call("recordedValueCount") as Promise<number>);
    expect(counted - baseline).toBe(oneWay);
    // The thread is alive and answers.
    expect(await t.call("echo", "still here")).toBe("still here");
    expect(t.handle.isClosed()).toBe(false);
    queue.close();
  });
});
