import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Worker threads and a thread pool do not mix well when vitest itself runs
    // tests in worker threads (vitest#8564); separate processes keep each test
    // file's threads, ports and exit codes its own.
    pool: "forks",
    // Most files spend their time waiting on other threads and processes, not computing: two at a
    // time even on two cores (vitest's default there is one, cores - 1) halves the run.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // One loud line per missing system program (redis-server); see test/system-programs.ts.
    globalSetup: ["test/setup/system-programs.ts"],
    setupFiles: ["test/setup/trace-files.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
