/**
 * examples/thread-errors.ts (the first demo of `npm start`) as a newcomer sees it, in a process of
 * its own (its first worker must be 'Worker-1'): the error classes are named as asyncio's
 * RuntimeErrors, registerErrorClass keeps an application class across threads, and no label is cut.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

describe("examples/thread-errors", () => {
  it("says which errors are RuntimeErrors, shows registerErrorClass keeping a class, and cuts no label", { timeout: 60_000 }, async () => {
    const script = new URL("../dist/examples/thread-errors.js", import.meta.url);
    const { stdout } = await promisify(execFile)(process.execPath, [script.pathname], { timeout: 50_000 });
    const lines = stdout.split("\n");
    expect(stdout).toContain(
      "getEventLoop()                   NoCurrentLoopError (a RuntimeError subclass): There is no current event loop in thread 'Worker-1'.",
    );
    expect(stdout).toContain("after run()   NoCurrentLoopError (a RuntimeError subclass): There is no current event loop in thread 'MainThread'.");
    expect(stdout).toMatch(/class +RemoteError \(remoteName PaymentDeclined/u);
    expect(stdout).toMatch(/registered +registerErrorClass\(PaymentDeclined\)/u);
    expect(stdout).toMatch(/class +PaymentDeclined, instanceof PaymentDeclined: true/u);
    expect(stdout).toMatch(/buildHugeReport +ThreadExitError: Thread 'reports' exited/u);
    // Labels are whole ("buildHuge..." was cut once), and each block is aligned on its longest label.
    expect(stdout).not.toMatch(/\w\.\.\. /u);
    const serviceRows = lines.filter((l) => /^ {3}(requests|executor|svc-\d|shutdown) /u.test(l));
    expect(serviceRows).toHaveLength(7);
    expect(new Set(serviceRows.map((l) => l.search(/(?<=\S {2,})\S/u))).size).toBe(1);
  });
});
