/**
 * vitest global setup: one loud line per missing system program before the run (see
 * test/system-programs.ts); the suites that need it are then skipped, or fail with CI=true.
 */
import { SYSTEM_PROGRAMS, installed, missingLine, required } from "../system-programs.js";

export default function setup(): void {
  for (const program of SYSTEM_PROGRAMS) {
    if (installed(program)) continue;
    if (required()) process.stderr.write(`*** ${program.command} is not installed and CI=true: its tests will fail. Install it with: ${program.install}\n`);
    else process.stderr.write(`${missingLine(program)}\n`);
  }
}
