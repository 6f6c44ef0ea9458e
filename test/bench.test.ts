/**
 * The benchmark runs every scenario once with tiny counts, through the same command line as
 * `npm run bench` (the built dist/bench/run.js), and writes a report of the documented shape.
 * No timing is asserted: figures on a shared machine say nothing about correctness.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildReport, nodeMajor, type Report } from "../bench/report.js";
import { renderMarkdown } from "../bench/markdown.js";
import { renderSvg } from "../bench/svg.js";
import { describeMachine } from "../bench/machine.js";
import { END, START, refusal, updateReadme } from "../bench/readme-tables.js";

const RUN = fileURLToPath(new URL("../dist/bench/run.js", import.meta.url));
const SCENARIO_DIR = fileURLToPath(new URL("../dist/bench/scenarios/", import.meta.url));

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}

function runBench(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--expose-gc", RUN, ...args], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

let out = "";

beforeAll(async () => {
  if (!existsSync(RUN)) throw new Error(`${RUN} is missing: build first (npm run build)`);
  out = await mkdtemp(join(tmpdir(), "multiloop-bench-"));
});

afterAll(async () => {
  if (out !== "") await rm(out, { recursive: true, force: true });
});

describe("npm run bench -- --tiny", () => {
  let exit: Exit;
  let report: Report;

  beforeAll(async () => {
    exit = await runBench(["--tiny", "--out", out]);
    report = JSON.parse(await readFile(join(out, "latest.json"), "utf8")) as Report;
  }, 300_000);

  it("exits 0, prints the tables on stdout and a progress line per scenario on stderr", () => {
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stdout).toContain("# multiloop benchmark");
    for (const s of report.scenarios) expect(exit.stderr).toContain(`${s.id}: `);
  });

  it("runs every scenario of every module in dist/bench/scenarios, without errors", async () => {
    const modules = (await readdir(SCENARIO_DIR)).filter((f) => f.endsWith(".js"));
    expect(new Set(report.scenarios.map((s) => s.module))).toEqual(new Set(modules));
    for (const id of ["single.callSoon", "single.callLater", "single.gather", "single.sleep0", "single.handoff", "threads.encode", "memory.soak", "introspection.snapshot"]) {
      expect(report.scenarios.map((s) => s.id)).toContain(id);
    }
    for (const prefix of ["sync.", "threads.", "memory.", "asyncio.", "service."]) {
      expect(report.scenarios.some((s) => s.id.startsWith(prefix))).toBe(true);
    }
    const errors = report.scenarios.filter((s) => s.status !== "ok").map((s) => `${s.id}: ${s.error ?? ""}`);
    expect(errors).toEqual([]);
    expect(report.summary.errors).toBe(0);
  });

  it("records the machine and the runtime", () => {
    expect(report.schema).toBe(1);
    expect(report.mode).toBe("tiny");
    expect(report.machine.node).toBe(process.version);
    expect(report.machine.v8).toBe(process.versions.v8);
    expect(report.machine.cpuCount).toBeGreaterThan(0);
    expect(typeof report.machine.cpuModel).toBe("string");
    expect(Number.isNaN(Date.parse(report.date))).toBe(false);
  });

  it("gives every figure its samples, median and min-max, in a unit", () => {
    const figures = report.scenarios.flatMap((s) => s.measurements);
    expect(figures.length).toBeGreaterThan(20);
    for (const f of figures) {
      expect(typeof f.label).toBe("string");
      expect(f.unit).not.toBe("");
      expect(f.samples.length).toBeGreaterThan(0);
      expect(f.n).toBe(f.samples.length);
      expect(f.min).toBeLessThanOrEqual(f.median);
      expect(f.median).toBeLessThanOrEqual(f.max);
    }
  });

  it("computes each ratio from figures of the same scenario and checks the targets", () => {
    expect(report.ratios.length).toBeGreaterThan(10);
    for (const r of report.ratios) {
      const s = report.scenarios.find((x) => x.id === r.scenario);
      const num = s?.measurements.find((f) => f.label === r.numerator);
      const den = s?.measurements.find((f) => f.label === r.denominator);
      if (num !== undefined && den !== undefined) expect(r.value).toBeCloseTo(num.median / den.median, 10);
      else expect(r.value).toBeNull();
    }
    const sources = new Set(report.targets.map((t) => t.source));
    expect(sources).toEqual(
      new Set(["issue 2 §7", "issue 3 §8", "issue 4 §5", "issue 6 §7", "issue 11", "issue 14 §2", "issue 14 §3", "issue 15 §3", "issue 16 §1", "issue 17 §5"]),
    );
    for (const t of report.targets) expect(["pass", "fail", "not measured", "not judged"]).toContain(t.verdict);
    const s = report.summary;
    expect(s.passed + s.failed + s.notMeasured + s.notJudged).toBe(s.targets);
    // Targets are set for Node 26 and judged on Node 24 and later; older Nodes mark them only.
    for (const t of report.targets) {
      expect(t.node).toBe(26);
      if (nodeMajor(process.version) < 24) expect(["not judged", "not measured"]).toContain(t.verdict);
      else expect(t.verdict).not.toBe("not judged");
    }
  });

  it("ties the CPython peer's figures to multiloop figures, or says why it is missing", () => {
    const peer = report.scenarios.filter((s) => s.id.startsWith("asyncio."));
    for (const s of peer) {
      if (s.measurements.length === 0) {
        expect(s.notes.join(" ")).toMatch(/skipped/);
        continue;
      }
      for (const f of s.measurements) expect(f.peerOf).toMatch(/^[a-z]+\.[A-Za-z0-9]+:multiloop /);
    }
    for (const p of report.peers) {
      const [scenario, label] = [p.peerOf.slice(0, p.peerOf.indexOf(":")), p.peerOf.slice(p.peerOf.indexOf(":") + 1)];
      const target = report.scenarios.find((s) => s.id === scenario);
      expect(target, p.peerOf).toBeDefined();
      if (p.multiloopMedian !== null) expect(target?.measurements.map((f) => f.label)).toContain(label);
    }
  });

  it("writes the tables and the chart next to the JSON", async () => {
    const md = await readFile(join(out, "latest.md"), "utf8");
    expect(md).toBe(exit.stdout);
    expect(md).toContain("| measurement | median | min–max | unit");
    const svg = await readFile(join(out, "latest.svg"), "utf8");
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("Ratios: ");
  });
});

describe("the bench command line", () => {
  it("--filter runs only the matching scenarios", async () => {
    const dir = join(out, "filtered");
    const exit = await runBench(["--tiny", "--filter", "SINGLE.handoff", "--out", dir]);
    expect(exit.code, exit.stderr).toBe(0);
    const report = JSON.parse(await readFile(join(dir, "latest.json"), "utf8")) as Report;
    expect(report.scenarios.map((s) => s.id)).toEqual(["single.handoff"]);
    expect(report.filter).toBe("SINGLE.handoff");
  }, 60_000);

  it("rejects an unknown option with status 2, and a filter that matches nothing", async () => {
    expect((await runBench(["--fast"])).code).toBe(2);
    expect((await runBench(["--tiny", "--filter", "no-such-scenario", "--out", join(out, "none")])).code).toBe(2);
  }, 60_000);
});

describe("the report", () => {
  const machine = { ...describeMachine(), node: "v26.12.1" };
  const outcome = {
    id: "x.one",
    group: "g",
    title: "t",
    module: "x.js",
    durationMs: 1,
    result: {
      measurements: [
        { label: "multiloop a", unit: "ns/op", lowerIsBetter: true, samples: [10, 30, 20] },
        { label: "base a", unit: "ns/op", lowerIsBetter: true, samples: [5, 10, 10] },
        { label: "multiloop rate", unit: "calls/s", lowerIsBetter: false, samples: [100] },
        { label: "other unit", unit: "us/op", lowerIsBetter: true, samples: [1] },
      ],
      ratios: [
        { numerator: "multiloop a", denominator: "base a", target: { max: 1.5, source: "issue 9" } },
        { numerator: "multiloop a", denominator: "other unit" },
        { numerator: "multiloop missing", denominator: "base a", target: { max: 2, source: "issue 9" } },
        // Set for another Node line: still judged on this one (26 >= 24).
        { numerator: "base a", denominator: "multiloop a", target: { max: 2, source: "issue 9", node: 28 } },
      ],
      targets: [
        { label: "multiloop a", max: 25, source: "issue 9" },
        { label: "multiloop rate", min: 200, source: "issue 9" },
        { label: "multiloop missing", max: 1, source: "issue 9" },
      ],
    },
  };
  const peer = {
    id: "asyncio.x",
    group: "peer",
    title: "p",
    module: "asyncio.js",
    durationMs: 1,
    result: {
      measurements: [{ label: "asyncio a", unit: "ns/op", lowerIsBetter: true, samples: [60], peerOf: "x.one:multiloop a" }],
    },
  };
  const failed = { id: "x.two", group: "g", title: "t2", module: "x.js", durationMs: 1, result: null, error: "Error: boom" };
  const report = buildReport({ mode: "tiny", filter: null, machine, date: new Date(0), durationMs: 3, outcomes: [outcome, peer, failed] });

  it("divides medians, gives the per-round range, and refuses a ratio of two units", () => {
    const [ab, units, missing] = report.ratios;
    expect(ab?.value).toBe(2);
    expect(ab?.spread).toEqual({ min: 2, max: 3 });
    expect(ab?.verdict).toBe("fail");
    expect(units?.value).toBeNull();
    expect(units?.unit).toBe("ns/op / us/op");
    expect(missing?.verdict).toBe("not measured");
  });

  it("marks targets met, missed and not measured, and counts scenario errors", () => {
    const verdicts = Object.fromEntries(report.targets.map((t) => [t.subject, t.verdict]));
    expect(verdicts).toEqual({
      "multiloop a / base a": "fail",
      "multiloop missing / base a": "not measured",
      "base a / multiloop a": "pass",
      "multiloop a": "pass",
      "multiloop rate": "fail",
      "multiloop missing": "not measured",
    });
    expect(report.summary).toEqual({ scenarios: 3, errors: 1, targets: 6, passed: 2, failed: 2, notMeasured: 2, notJudged: 0 });
    expect(report.targets.map((t) => t.node)).toEqual([26, 26, 28, 26, 26, 26]);
  });

  it("on a Node older than 24 marks the targets met or missed without judging them", () => {
    const old = buildReport({
      mode: "tiny",
      filter: null,
      machine: { ...machine, node: "v20.20.2" },
      date: new Date(0),
      durationMs: 3,
      outcomes: [outcome, peer, failed],
    });
    const verdicts = Object.fromEntries(old.targets.map((t) => [t.subject, [t.verdict, t.met]]));
    expect(verdicts).toEqual({
      "multiloop a / base a": ["not judged", false],
      "multiloop missing / base a": ["not measured", null],
      "base a / multiloop a": ["not judged", true],
      "multiloop a": ["not judged", true],
      "multiloop rate": ["not judged", false],
      "multiloop missing": ["not measured", null],
    });
    expect(old.summary).toEqual({ scenarios: 3, errors: 1, targets: 6, passed: 0, failed: 0, notMeasured: 2, notJudged: 4 });
    const md = renderMarkdown(old);
    expect(md).toContain("| multiloop a / base a | 2× | 2×–3× | ≤ 1.5× – set for Node 26, not judged here (missed) |");
    expect(md).toContain("| base a / multiloop a | 0.5× | 0.333×–0.5× | ≤ 2× – set for Node 28, not judged here (met) |");
  });

  it("puts the peer next to the multiloop figure with a speed-up", () => {
    expect(report.peers).toEqual([
      { scenario: "asyncio.x", label: "asyncio a", peerOf: "x.one:multiloop a", unit: "ns/op", peerMedian: 60, multiloopMedian: 20, multiloopSpeedup: 3 },
    ]);
    const md = renderMarkdown(report);
    expect(md).toContain("| multiloop a | 20 | 10–30 | ns/op | ≤ 25 ✓ | 60 |");
    expect(md).toContain("**Error:** Error: boom");
    const svg = renderSvg(report);
    expect(svg).toContain("multiloop speed-up over CPython asyncio");
  });

  it("give the README's tables from a full, unfiltered run on Node 26 only", () => {
    const full = { ...report, mode: "full" as const };
    expect(refusal(full)).toBeNull();
    expect(refusal(report)).toMatch(/tiny/);
    expect(refusal({ ...full, filter: "x" })).toMatch(/filtered/);
    expect(refusal({ ...full, machine: { ...machine, node: "v20.20.2" } })).toMatch(/Node v20\.20\.2, not 26/);
  });

  it("replace what is between the README's markers and nothing else", async () => {
    const dir = await mkdtemp(join(tmpdir(), "multiloop-readme-"));
    try {
      const path = join(dir, "README.md");
      await writeFile(path, `# title\n\nbefore\n\n${START}\n\nold table\n\n${END}\n\nafter\n`);
      expect(await updateReadme(report, path)).toMatch(/left alone/);
      expect(await readFile(path, "utf8")).toContain("old table");
      expect(await updateReadme({ ...report, mode: "full" }, path)).toMatch(/rewritten/);
      const text = await readFile(path, "utf8");
      expect(text).not.toContain("old table");
      expect(text.startsWith(`# title\n\nbefore\n\n${START}\n\n**Latest full run** (Node v26.12.1`)).toBe(true);
      expect(text).toContain("| x.one | multiloop a | 20 ns/op | ≤ 25 | issue 9 | ✓ |");
      expect(text).toContain("**multiloop and CPython asyncio** (same run): Speed-up > 1×");
      expect(text.endsWith(`${END}\n\nafter\n`)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
