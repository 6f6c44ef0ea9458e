/**
 * How the suites that need a system program find it (test/system-programs.ts): a missing one is
 * named with the command that installs it, and Debian's redis-server can be fetched without root.
 */
import { describe, expect, it } from "vitest";
import { REDIS_SERVER, installed, missingError } from "./system-programs.js";

describe("system programs", () => {
  it("finds commands on PATH and absolute paths, and only executables", () => {
    expect(installed({ command: process.execPath, install: "" })).toBe(true);
    expect(installed({ command: "sh", install: "" })).toBe(true);
    expect(installed({ command: "no-such-program-for-multiloop", install: "" })).toBe(false);
    expect(installed({ command: "/no/such/dir/redis-server", install: "" })).toBe(false);
    // A relative path is not looked up on PATH (nor resolved from wherever vitest runs).
    expect(installed({ command: "./sh", install: "" })).toBe(false);
  });

  it("a missing program's error names it and how to install it", () => {
    const message = missingError(REDIS_SERVER).message;
    expect(message).toContain(`${REDIS_SERVER.command} is not installed and could not be fetched`);
    expect(message).toContain("sudo apt-get install redis-server");
  });
});
