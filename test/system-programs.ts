/**
 * System programs some tests need and a fresh machine may lack (today: redis-server). Without one,
 * `npm test` skips exactly the suites that need it, after one loud line naming the program and the
 * command that installs it (test/setup/system-programs.ts prints it); with CI=true those suites
 * fail instead, so CI cannot go green without them.
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

export const SYSTEM_PROGRAMS: readonly SystemProgram[] = [REDIS_SERVER];

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

/** CI=true: every system program is required. */
export function required(): boolean {
  return process.env["CI"] === "true";
}

/** The loud line for a missing program (printed once per run by the global setup). */
export function missingLine(program: SystemProgram): string {
  return `*** SKIPPING the tests that need ${program.command}: it is not installed. Install it with: ${program.install}. (With CI=true they fail instead.)`;
}

/**
 * `describe(title, body)` for a suite that needs `program`: skipped when the program is missing,
 * unless CI=true, where the suite is one failing test saying what to install.
 */
export function describeWith(program: SystemProgram, title: string, body: () => void): void {
  if (installed(program)) {
    describe(title, body);
  } else if (required()) {
    describe(title, () => {
      it(`needs ${program.command}`, () => {
        throw new Error(`${program.command} is required with CI=true but is not installed. Install it with: ${program.install}`);
      });
    });
  } else {
    describe.skip(title, body);
  }
}
