/**
 * The synchronisation examples run and show what they claim: the unlocked counter loses updates
 * and the locked one does not; the pipeline processes every job once, never queues more than
 * its maxsize, applies backpressure, and join() returns only after the last job.
 */
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import { main as pipeline } from "../examples/pipeline.js";
import { main as raceCondition } from "../examples/race-condition.js";

describe("synchronisation examples", () => {
  let log: MockInstance<typeof console.log>;
  beforeEach(() => {
    log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  });
  afterEach(() => {
    log.mockRestore();
  });

  it("race-condition: deposits are lost without the lock and all kept with it", async () => {
    const result = await raceCondition();
    expect(result.expected).toBe(300);
    expect(result.withoutLock).toBeLessThan(300);
    expect(result.withLock).toBe(300);
    const printed = log.mock.calls.map((args) => String(args[0])).join("\n");
    expect(printed).toContain("deposit(s) lost");
    expect(printed).toContain("(held: waits its turn)");
  });

  it("pipeline: every job once, queue bounded, backpressure seen, join() after the last job", async () => {
    const result = await pipeline();
    expect([...result.finished].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(result.byWorker.flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(result.maxQueued).toBeLessThanOrEqual(3);
    expect(result.producerWaits).toBeGreaterThan(0);
    expect(result.finishedAtJoin).toBe(8);
    const printed = log.mock.calls.map((args) => String(args[0])).join("\n");
    expect(printed).toContain("the queue is shut down, stopping");
  });
});
