/**
 * Node's observability conventions (issue 12 §3): `tracingChannel("multiloop:call")` in the caller's
 * thread, the channels the README documents, and `NODE_DEBUG=multiloop` (util.debuglog).
 */
import diagnosticsChannel from "node:diagnostics_channel";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancelledError, RemoteError, getRunningLoop, run, sleep, spawnLoopThread, type LoopThread } from "multiloop";
import type * as Tasks from "./fixtures/thread-tasks.js";
import { caught, fixture } from "./helpers.js";

const T = 30_000;

interface Seen {
  event: string;
  target: string;
  threadName: string;
  args: unknown[];
  result?: unknown;
  error?: unknown;
}

describe("tracingChannel('multiloop:call')", () => {
  let io: LoopThread<typeof Tasks>;
  beforeAll(async () => {
    io = await spawnLoopThread<typeof Tasks>({ name: "traced", module: fixture("thread-tasks") });
  }, T);
  afterAll(async () => {
    await io.stop();
  }, T);

  it("publishes start, end, asyncStart, asyncEnd (and error) in the caller's thread, with target and thread name", { timeout: T }, async () => {
    const tracing = diagnosticsChannel.tracingChannel<unknown, Seen>("multiloop:call");
    const seen: Seen[] = [];
    const record = (event: string) => (ctx: Seen): void => {
      seen.push({ ...ctx, event, args: [...ctx.args] });
    };
    const handlers = {
      start: record("start"),
      end: record("end"),
      asyncStart: record("asyncStart"),
      asyncEnd: record("asyncEnd"),
      error: record("error"),
    };
    tracing.subscribe(handlers);
    try {
      expect(await io.call("add", 2, 3)).toBe(5);
      expect(seen.map((s) => s.event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
      expect(seen[0]).toMatchObject({ target: "add", threadName: "traced", args: [2, 3] });
      expect(seen[2]).toMatchObject({ result: 5 });
      seen.length = 0;
      expect(await caught(io.call("failLater", "type"))).toBeInstanceOf(TypeError);
      expect(seen.map((s) => s.event)).toEqual(["start", "end", "error", "asyncStart", "asyncEnd"]);
      expect(seen[2]?.error).toBeInstanceOf(TypeError);
      seen.length = 0;
      // A cancelled call ends with a CancelledError; the untyped name gets a RemoteError.
      await run(async () => {
        const cf = io.handle.runCoroutineThreadsafe("waitForCancel");
        await sleep(1);
        cf.cancel();
      });
      expect(seen.map((s) => s.event)).toEqual(["start", "end", "error", "asyncStart", "asyncEnd"]);
      expect(seen[2]?.error).toBeInstanceOf(CancelledError);
      seen.length = 0;
      const untyped: LoopThread = io;
      expect(await caught(untyped.call("noSuchTarget"))).toBeInstanceOf(RemoteError);
      expect(seen[2]).toMatchObject({ event: "error", target: "noSuchTarget" });
    } finally {
      tracing.unsubscribe(handlers);
    }
    // Nobody listening: nothing is recorded.
    seen.length = 0;
    expect(await io.call("add", 1, 1)).toBe(2);
    expect(seen).toEqual([]);
  });

  it("the loop's start and stop, and calls received, are published as documented", { timeout: T }, async () => {
    const events: string[] = [];
    const onStart = (m: unknown): void => {
      events.push(`start:${typeof (m as { loop?: unknown }).loop}`);
    };
    const onStop = (): void => {
      events.push("stop");
    };
    const calls: unknown[] = [];
    const onCall = (m: unknown): void => {
      calls.push(m);
    };
    diagnosticsChannel.subscribe("multiloop:loop:start", onStart);
    diagnosticsChannel.subscribe("multiloop:loop:stop", onStop);
    diagnosticsChannel.subscribe("multiloop:thread:call", onCall);
    try {
      await run(async () => {
        const loop = getRunningLoop();
        loop.expose("double", (x: number) => x * 2);
        expect(await loop.handle.runCoroutineThreadsafe("double", 4)).toBe(8);
      });
    } finally {
      diagnosticsChannel.unsubscribe("multiloop:loop:start", onStart);
      diagnosticsChannel.unsubscribe("multiloop:loop:stop", onStop);
      diagnosticsChannel.unsubscribe("multiloop:thread:call", onCall);
    }
    // run() runs the loop for main, then again to shut down: start and stop alternate.
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events).toEqual(events.map((_, i) => (i % 2 === 0 ? "start:object" : "stop")));
    expect(calls).toEqual([{ threadName: "MainThread", target: "double" }]);
  });
});

describe("NODE_DEBUG=multiloop", () => {
  it("logs loop start/stop/close, thread spawn/exit, slow callbacks and unretrieved errors to stderr", { timeout: T }, async () => {
    const probe = fixture("debuglog-probe").pathname;
    const { stderr } = await promisify(execFile)(process.execPath, ["--expose-gc", probe], {
      env: { ...process.env, NODE_DEBUG: "multiloop", MULTILOOP_DEBUG: "" },
      timeout: 25_000,
    });
    const lines = stderr.split("\n").filter((l) => l.startsWith("MULTILOOP "));
    const text = lines.join("\n");
    expect(text).toMatch(/thread 'MainThread': <EventLoop running=true .*> started running/u);
    expect(text).toMatch(/thread 'MainThread': slow callback: executing .* took \d+\.\d{3} ms/u);
    expect(text).toMatch(/thread 'MainThread': <EventLoop .*> stopped/u);
    expect(text).toMatch(/thread 'MainThread': close <EventLoop/u);
    expect(text).toMatch(/spawning loop thread probe-thread/u);
    expect(text).toMatch(/thread 'probe-thread': <EventLoop running=true .*> started running/u);
    expect(text).toMatch(/loop thread 'probe-thread' exited with code 0/u);
    expect(text).toMatch(/Task exception was never retrieved/u);
    // Without NODE_DEBUG, none of it.
    const quiet = await promisify(execFile)(process.execPath, ["--expose-gc", probe], {
      env: { ...process.env, NODE_DEBUG: "", MULTILOOP_DEBUG: "" },
      timeout: 25_000,
    });
    expect(quiet.stderr).not.toMatch(/^MULTILOOP /mu);
  });
});
