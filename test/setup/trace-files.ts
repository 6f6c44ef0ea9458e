/**
 * With MULTILOOP_TRACE_FILES=1 (set by .ci/run), each test file says on stderr when it starts and
 * when it is done. A test process that dies natively (vitest says only "Worker exited
 * unexpectedly") then leaves a "start" without its "done", and .ci/run names that file.
 */
import { afterAll, beforeAll, expect } from "vitest";

if (process.env["MULTILOOP_TRACE_FILES"] === "1") {
  const file = (): string => expect.getState().testPath ?? "(unknown file)";
  beforeAll(() => {
    process.stderr.write(`[multiloop-trace] start ${file()} pid ${process.pid}\n`);
  });
  afterAll(() => {
    process.stderr.write(`[multiloop-trace] done ${file()} pid ${process.pid}\n`);
  });
}
