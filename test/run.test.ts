import { describe, expect, it } from "vitest";
import { getEventLoop, run, sleep, createTask, gather, RuntimeError } from "multiloop";

describe("run()", () => {
  it("returns main's result and can be called twice", async () => {
    expect(await run(async () => 1)).toBe(1);
    expect(await run(async () => 2)).toBe(2);
  });

  it("ensureFuture + gather of 10 tasks with sleep(ms, result)", async () => {
    const results = await run(async () => gather(...Array.from({ length: 10 }, (_, i) => () => sleep(10 - i, i))));
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("getEventLoop() after run() throws on the main thread", async () => {
    await run(async () => {
      await sleep(0);
      createTask(async () => sleep(1));
    });
    expect(() => getEventLoop()).toThrow(RuntimeError);
    expect(() => getEventLoop()).toThrow("There is no current event loop in thread 'MainThread'.");
  });
});
