/**
 * The comlink bridge (issue 3 §5): typed remote objects whose calls run as tasks on the remote
 * loop, with multiloop's error envelope, and no hang when the thread dies (comlink#601).
 */
import { describe, expect, it } from "vitest";
import { LoopClosedError, RemoteError, ThreadExitError, spawnLoopThread } from "multiloop";
import { fixture } from "./helpers.js";
import type { Api } from "../dist/test/fixtures/comlink-api.js";

const apiModule = fixture("comlink-api");

describe("comlink bridge", () => {
  it("calls run as tasks on the remote loop and return their results", { timeout: 30_000 }, async () => {
    const t = await spawnLoopThread({ name: "api-1", module: apiModule });
    try {
      const api = t.wrap<Api>();
      expect(await api.add(2, 3)).toBe(5);
      expect(await api.increment()).toBe(1);
      expect(await api.increment()).toBe(2);
      expect(await api.counter).toBe(2);
      // comlink types object properties as promises, though calls through them work at run time.
      const nested = (api as unknown as { nested: { double(x: number): Promise<number> } }).nested;
      expect(await nested.double(21)).toBe(42);
      expect(await api.where()).toEqual({ loopRunning: true, inTask: true, thread: "api-1" });
    } finally {
      await t.stop();
    }
  });

  it("errors cross with the envelope: class name, cause and own properties", { timeout: 30_000 }, async () => {
    const t = await spawnLoopThread({ name: "api-2", module: apiModule });
    try {
      const api = t.wrap<Api>();
      const err = await Promise.resolve(api.fail()).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).remoteName).toBe("LimitError");
      expect((err as Error & { limit: number }).limit).toBe(3);
      expect((err as Error).cause).toBeInstanceOf(RangeError);
    } finally {
      await t.stop();
    }
  });

  it("a call pending when the thread dies rejects with ThreadExitError instead of hanging", { timeout: 30_000 }, async () => {
    const t = await spawnLoopThread({ name: "api-3", module: apiModule });
    const api = t.wrap<Api>();
    const hanging = Promise.resolve(api.hang()).then(() => null, (e: unknown) => e);
    await api.add(0, 0);
    void api.die();
    const err = await hanging;
    expect(err).toBeInstanceOf(ThreadExitError);
    expect((err as ThreadExitError).exitCode).toBe(7);
    expect(await t.exited).toBe(7);
  });

  it("a call pending when the loop is stopped rejects instead of hanging", { timeout: 30_000 }, async () => {
    const t = await spawnLoopThread({ name: "api-4", module: apiModule });
    const api = t.wrap<Api>();
    const hanging = Promise.resolve(api.hang()).then(() => null, (e: unknown) => e);
    await api.add(0, 0);
    await t.stop();
    const err = await hanging;
    expect(err instanceof LoopClosedError || err instanceof ThreadExitError || (err as Error).name === "CancelledError").toBe(true);
  });
});
