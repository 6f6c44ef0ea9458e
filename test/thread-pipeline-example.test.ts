/**
 * examples/thread-pipeline.ts runs end to end and shows backpressure in its output.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../dist/examples/thread-pipeline.js";

describe("examples/thread-pipeline", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("moves every job through the queue and prints the producers waiting for room", { timeout: 60_000 }, async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(args.join(" "));
    });
    await main();
    const output = lines.join("\n");
    expect(output).toMatch(/queue full \(3\/3\): waiting to put job/);
    expect(output).toMatch(/put job \d\.\d after waiting \d+ ms/);
    for (const p of [1, 2]) for (let n = 1; n <= 6; n++) expect(output).toMatch(new RegExp(`took job ${p}\\.${n},`));
    expect(output.match(/queue closed and drained/g)).toHaveLength(2);
    expect(output).toMatch(/Producers put 12 jobs/);
  });
});
