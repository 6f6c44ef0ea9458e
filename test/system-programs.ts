/**
 * System programs some tests need and a fresh machine may lack (today: redis-server). The global
 * setup (test/setup/system-programs.ts) finds the machine's own or fetches Debian's; the suites
 * that need one run against it, and fail, saying what to install, when there is none: never skipped.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { describe, it } from "vitest";

export interface SystemProgram {
  /** The command as the tests run it. */
  readonly command: string;
  /** How to get it. */
  readonly install: string;
}

export const REDIS_SERVER: SystemProgram = {
  command: process.env["MULTILOOP_REDIS_SERVER"] || "redis-server",
  install: "sudo apt-get install redis-server (or set MULTILOOP_REDIS_SERVER to a redis-server binary)",
};

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `program` can be run: an executable path, or a command found on PATH. */
export function installed(program: SystemProgram): boolean {
  const { command } = program;
  if (command.includes("/")) return isAbsolute(command) && executable(command);
  return (process.env["PATH"] ?? "").split(delimiter).some((dir) => dir !== "" && executable(join(dir, command)));
}

/** The error of a suite whose program is missing: what to install. */
export function missingError(program: SystemProgram): Error {
  return new Error(`${program.command} is not installed and could not be fetched (the run's first lines say why). Install it with: ${program.install}`);
}

/**
 * `describe(title, body)` for a suite that needs `program`; when it is missing, the suite is one
 * failing test saying what to install.
 */
export function describeWith(program: SystemProgram, title: string, body: () => void): void {
  if (installed(program)) {
    describe(title, body);
    return;
  }
  describe(title, () => {
    it(`needs ${program.command}`, () => {
      throw missingError(program);
    });
  });
}
