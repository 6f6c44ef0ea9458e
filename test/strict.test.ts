import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const probe = fileURLToPath(new URL("../dist/test/fixtures/strict-probe.js", import.meta.url));

interface Seen {
  warnings: { name: string; code: string | undefined; message: string }[];
  steps: string[];
}

/** Runs one probe scenario in a fresh `node` process (fresh env, fresh policy state). */
function probeIn(
  scenario: string,
  env: Record<string, string | undefined> = {},
  execArgv: string[] = [],
): Promise<{ seen: Seen; stderr: string; code: number }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [...execArgv, probe, scenario], { env: childEnv, timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      const line = stdout.trim().split("\n").at(-1) ?? "";
      try {
        resolve({ seen: line === "" ? { warnings: [], steps: [] } : (JSON.parse(line) as Seen), stderr, code });
      } catch (parseError) {
        reject(new Error(`bad probe output: ${stdout}\n${stderr}`, { cause: parseError }));
      }
    });
    child.stdin?.end();
  });
}

// NoCurrentLoopError is the RuntimeError subclass for this case (the probe checks instanceof).
const NO_LOOP_MAIN =
  "throws NoCurrentLoopError ERR_LOOP_NO_CURRENT_LOOP RuntimeError There is no current event loop in thread 'MainThread'.";

describe("strict mode (Python 3.14 loop lookup)", () => {
  it("by default getEventLoop() creates a loop on the main thread and warns once (DeprecationWarning, with a code)", async () => {
    const { seen, stderr, code } = await probeIn("default", { MULTILOOP_STRICT: undefined });
    expect(code).toBe(0);
    expect(seen.steps).toEqual(["isStrict: false", "getEventLoop: EventLoop", "same loop again: true"]);
    expect(seen.warnings).toEqual([
      { name: "DeprecationWarning", code: "MULTILOOP_IMPLICIT_LOOP", message: "There is no current event loop" },
    ]);
    // Node prints it too, with the code, and the advice in the detail.
    expect(stderr).toContain("[MULTILOOP_IMPLICIT_LOOP] DeprecationWarning: There is no current event loop");
    expect(stderr).toContain("run(main)");
  }, 20_000);

  it("test_get_event_loop_returns_running_loop2: every implicit creation warns, also under a new policy (asyncio 3.12)", async () => {
    const { seen } = await probeIn("fresh-policy", { MULTILOOP_STRICT: undefined });
    expect(seen.steps).toEqual(["getEventLoop: EventLoop", "getEventLoop after new policy: true"]);
    expect(seen.warnings.map((w) => w.code)).toEqual(["MULTILOOP_IMPLICIT_LOOP", "MULTILOOP_IMPLICIT_LOOP"]);
  }, 20_000);

  it("MULTILOOP_STRICT=1: getEventLoop() throws 3.14's error and never warns", async () => {
    const { seen } = await probeIn("strict", { MULTILOOP_STRICT: "1" });
    expect(seen.steps).toEqual(["isStrict: true", `getEventLoop: ${NO_LOOP_MAIN}`, `again: ${NO_LOOP_MAIN}`]);
    expect(seen.warnings).toEqual([]);
  }, 20_000);

  it("MULTILOOP_STRICT=0 and empty mean off", async () => {
    for (const value of ["0", ""]) {
      const { seen } = await probeIn("default", { MULTILOOP_STRICT: value });
      expect(seen.steps[0]).toBe("isStrict: false");
      expect(seen.warnings.length).toBe(1);
    }
  }, 30_000);

  it("setStrict() switches at run time and checks its argument", async () => {
    const { seen } = await probeIn("set-strict", { MULTILOOP_STRICT: undefined });
    expect(seen.steps).toEqual([
      "setStrict(true): undefined",
      "isStrict: true",
      `getEventLoop: ${NO_LOOP_MAIN}`,
      "setStrict(false): undefined",
      "getEventLoop: EventLoop",
      expect.stringMatching(/^setStrict\('yes'\): throws TypeError +- Expected `on` to be a boolean, got `"yes"` \(string\)$/u),
    ]);
    expect(seen.warnings.map((w) => w.code)).toEqual(["MULTILOOP_IMPLICIT_LOOP"]);
  }, 20_000);

  it("strict mode keeps the migration paths working: run(), the running loop, setEventLoop()", async () => {
    const { seen } = await probeIn("strict-ok", { MULTILOOP_STRICT: undefined });
    expect(seen.steps).toEqual([
      "inside run: getEventLoop is the running loop: true",
      `after run: ${NO_LOOP_MAIN}`,
      "after setEventLoop: true",
      "policy: true",
    ]);
    expect(seen.warnings).toEqual([]);
  }, 20_000);

  it("worker threads never auto-create and never warn, strict or not", async () => {
    for (const strict of [undefined, "1"]) {
      const { seen } = await probeIn("main-then-worker", { MULTILOOP_STRICT: strict });
      // Node >= 22.20 names the thread after the Worker's `name`; Node 20 knows only its id.
      expect(seen.steps[1]).toMatch(
        /^in worker: getEventLoop: throws NoCurrentLoopError ERR_LOOP_NO_CURRENT_LOOP RuntimeError There is no current event loop in thread '(probe|Worker-\d+)'\.$/u,
      );
      // Only the main thread's implicit creation warns, and only when not strict.
      expect(seen.warnings.length).toBe(strict === undefined ? 1 : 0);
    }
  }, 30_000);

  it("it is a real DeprecationWarning: --throw-deprecation turns it into an uncaught exception", async () => {
    const { code, stderr } = await probeIn("default", { MULTILOOP_STRICT: undefined }, ["--throw-deprecation"]);
    // Node throws deprecations from process.emitWarning on the next tick, not at the call site.
    expect(code).toBe(1);
    expect(stderr).toContain("DeprecationWarning: There is no current event loop");
    expect(stderr).toContain("code: 'MULTILOOP_IMPLICIT_LOOP'");
  }, 20_000);
});
