/**
 * Exception handler and debug mode: asyncio-semantics.md items 133-142 and issue 2 §3.
 */
import { execFileSync } from "node:child_process";
import diagnosticsChannel from "node:diagnostics_channel";
import { describe, expect, it, vi } from "vitest";
import {
  ContextVar,
  createTask,
  getRunningLoop,
  newEventLoop,
  run,
  sleep,
  type EventLoop,
  type ExceptionContext,
  type ExceptionHandler,
} from "multiloop";

async function withLoop<T>(fn: (loop: EventLoop) => Promise<T>): Promise<T> {
  const loop = newEventLoop();
  try {
    return await loop.runUntilComplete(() => fn(loop));
  } finally {
    loop.close();
  }
}

describe("exception handler", () => {
  it("133: setExceptionHandler() takes a function or null; the handler gets (loop, context); null restores the default", async () => {
    const loop = newEventLoop();
    expect(() => loop.setExceptionHandler(1 as unknown as ExceptionHandler)).toThrow(TypeError);
    const calls: Array<[EventLoop, ExceptionContext]> = [];
    const handler: ExceptionHandler = (l, ctx) => calls.push([l, ctx]);
    loop.setExceptionHandler(handler);
    expect(loop.getExceptionHandler()).toBe(handler);
    loop.callExceptionHandler({ message: "hello", extra: 1 });
    expect(calls).toEqual([[loop, { message: "hello", extra: 1 }]]);
    loop.setExceptionHandler(null);
    expect(loop.getExceptionHandler()).toBeNull();
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      loop.callExceptionHandler({ message: "to the default" });
      expect(errors).toHaveBeenCalledTimes(1);
    } finally {
      errors.mockRestore();
    }
    loop.close();
  });

  it("135: a custom handler runs in the context of the task it reports", async () => {
    const v = new ContextVar<string>("who", { default: "nobody" });
    const seen: string[] = [];
    await withLoop(async (loop) => {
      loop.setExceptionHandler(() => seen.push(v.get()));
      const task = createTask(async () => {
        v.set("inside the task");
        await sleep(0);
      });
      await task;
      loop.callExceptionHandler({ message: "about a task", task });
    });
    expect(seen).toEqual(["inside the task"]);
  });

  it("136: a handler that throws falls back to the default handler with 'Unhandled error in exception handler'", async () => {
    const loop = newEventLoop();
    loop.setExceptionHandler(() => {
      throw new Error("handler broke");
    });
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      loop.callExceptionHandler({ message: "original" });
      expect(errors).toHaveBeenCalledTimes(1);
      const text = String(errors.mock.calls[0]?.[0]);
      expect(text.split("\n")[0]).toBe("Unhandled error in exception handler");
      expect(text).toMatch(/handler broke/);
      expect(text).toMatch(/context: /);
    } finally {
      errors.mockRestore();
      loop.close();
    }
  });

  it("137: the default handler writes to stderr (never stdout): message first, then the other keys sorted, then the error", () => {
    const loop = newEventLoop();
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const logs = vi.spyOn(console, "log").mockImplementation(() => undefined);
    try {
      loop.defaultExceptionHandler({ message: "Something failed", zeta: 1, alpha: "a", exception: new TypeError("bad") });
      loop.defaultExceptionHandler({ message: "" });
      expect(logs).not.toHaveBeenCalled();
      const lines = String(errors.mock.calls[0]?.[0]).split("\n");
      expect(lines[0]).toBe("Something failed");
      expect(lines[1]).toBe("alpha: a");
      expect(lines[2]).toBe("zeta: 1");
      expect(lines[3]).toMatch(/^TypeError: bad/);
      expect(String(errors.mock.calls[1]?.[0])).toBe("Unhandled exception in event loop");
    } finally {
      errors.mockRestore();
      logs.mockRestore();
      loop.close();
    }
  });
});

describe("debug mode", () => {
  it("138: getDebug/setDebug; run(main, {debug: true}); setDebug validates", async () => {
    const loop = newEventLoop();
    expect(loop.getDebug()).toBe(false);
    loop.setDebug(true);
    expect(loop.getDebug()).toBe(true);
    expect(() => loop.setDebug("yes" as unknown as boolean)).toThrow(TypeError);
    loop.close();
    expect(await run(async () => getRunningLoop().getDebug(), { debug: true })).toBe(true);
  });

  it("138: MULTILOOP_DEBUG=1 turns debug mode on for new loops", { timeout: 20_000 }, () => {
    const script =
      'import("multiloop").then(({ newEventLoop }) => { const l = newEventLoop(); process.stdout.write(String(l.getDebug())); l.close(); })';
    const on = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, MULTILOOP_DEBUG: "1" },
      cwd: process.cwd(),
    }).toString();
    const off = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { ...process.env, MULTILOOP_DEBUG: "" },
      cwd: process.cwd(),
    }).toString();
    expect([on, off]).toEqual(["true", "false"]);
  });

  it("139: a callback or task step slower than slowCallbackDuration is reported, naming it", async () => {
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const published: unknown[] = [];
    const onSlow = (msg: unknown): void => {
      published.push(msg);
    };
    diagnosticsChannel.subscribe("multiloop:slow-callback", onSlow);
    try {
      await withLoop(async (loop) => {
        loop.setDebug(true);
        // Every callback counts as slow at 0 ms: no wall-clock dependence in the test.
        loop.slowCallbackDuration = 0;
        loop.callSoon(function namedCallback() {
          return undefined;
        });
        await createTask(async () => sleep(0), { name: "slow-task" });
      });
      const lines = warnings.mock.calls.map((c) => String(c[0]));
      expect(lines.some((l) => /^Executing <Handle namedCallback\(\)> took \d+\.\d{3} ms$/.test(l))).toBe(true);
      expect(lines.some((l) => /^Executing <Task .*name='slow-task'.*> took \d+\.\d{3} ms$/.test(l))).toBe(true);
      expect(published.length).toBeGreaterThan(0);
    } finally {
      diagnosticsChannel.unsubscribe("multiloop:slow-callback", onSlow);
      warnings.mockRestore();
    }
  });

  it("slowCallbackDuration rejects negative and non-number values", () => {
    const loop = newEventLoop();
    expect(() => {
      loop.slowCallbackDuration = -1;
    }).toThrow(RangeError);
    expect(loop.slowCallbackDuration).toBe(100);
    loop.close();
  });

  it("140: in debug mode handles record where they were created", async () => {
    await withLoop(async (loop) => {
      const plain = loop.callSoon(() => undefined);
      loop.setDebug(true);
      const traced = loop.callSoon(() => undefined);
      expect(plain.sourceTraceback).toBeUndefined();
      expect(traced.sourceTraceback).toMatch(/Handle created at/);
      await sleep(0);
    });
  });

  it("'Task exception was never retrieved' is reported at close in debug mode", async () => {
    const reports: ExceptionContext[] = [];
    const loop = newEventLoop();
    loop.setDebug(true);
    loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
    await loop.runUntilComplete(async () => {
      createTask(async () => {
        throw new Error("nobody looks at me");
      });
      const looked = createTask(async () => {
        throw new Error("somebody looks at me");
      });
      await sleep(0);
      await sleep(0);
      expect(looked.exception()).toBeInstanceOf(Error);
    });
    loop.close();
    expect(reports.map((r) => r.message)).toEqual(["Task exception was never retrieved"]);
    expect((reports[0]?.exception as Error).message).toBe("nobody looks at me");
  });

  it("'Task exception was never retrieved' is reported when the task is garbage-collected", { timeout: 20_000 }, () => {
    const script = `
      import("multiloop").then(async ({ newEventLoop, createTask, sleep }) => {
        const loop = newEventLoop();
        loop.setExceptionHandler((_l, ctx) => process.stdout.write(ctx.message + "\\n"));
        await loop.runUntilComplete(async () => {
          createTask(async () => { throw new Error("lost"); });
          await sleep(0); await sleep(0);
        });
        for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
      });`;
    const out = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { cwd: process.cwd() }).toString();
    expect(out).toContain("Task exception was never retrieved");
  });

  it("'Task was destroyed but it is pending!' is reported when a loop closes with a pending task", async () => {
    const reports: ExceptionContext[] = [];
    const loop = newEventLoop();
    loop.setExceptionHandler((_l, ctx) => reports.push(ctx));
    const task = loop.createTask(async () => sleep(10));
    loop.close();
    expect(reports).toHaveLength(1);
    expect(reports[0]?.message).toBe("Task was destroyed but it is pending!");
    expect(reports[0]?.task).toBe(task);
  });
});
