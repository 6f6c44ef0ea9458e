/**
 * How the suites that need a system program find it (test/system-programs.ts): a missing one is
 * named with the command that installs it.
 */
import { describe, expect, it } from "vitest";
import { REDIS_SERVER, installed, missingLine } from "./system-programs.js";

describe("system programs", () => {
  it("finds commands on PATH and absolute paths, and only executables", () => {
    expect(installed({ command: process.execPath, install: "" })).toBe(true);
    expect(installed({ command: "sh", install: "" })).toBe(true);
    expect(installed({ command: "no-such-program-for-multiloop", install: "" })).toBe(false);
    expect(installed({ command: "/no/such/dir/redis-server", install: "" })).toBe(false);
    // A relative path is not looked up on PATH (nor resolved from wherever vitest runs).
    expect(installed({ command: "./sh", install: "" })).toBe(false);
  });

  it("the loud line names the program and how to install it", () => {
    const line = missingLine(REDIS_SERVER);
    expect(line).toMatch(/^\*\*\* SKIPPING the tests that need redis-server: it is not installed\./u);
    expect(line).toContain("sudo apt-get install redis-server");
    expect(line).toContain("CI=true");
  });
});
