/**
 * The benchmark runner: finds the scenarios, runs each in its own process, builds the report and
 * writes bench/results/latest.{json,md,svg}. `run.ts` is its command line; the test calls it
 * through that command line too, so both take the same path.
 */
import { fork } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { checkResult, discoverScenarios, type ScenarioEntry } from "./discover.js";
import { describeMachine } from "./machine.js";
import { renderMarkdown } from "./markdown.js";
import { buildReport, type Mode, type Report, type ScenarioOutcome } from "./report.js";
import type { ChildMessage } from "./scenario-process.js";
import type { ScenarioResult } from "./scenario-types.js";
import { renderSvg } from "./svg.js";

const CHILD = fileURLToPath(new URL("./scenario-process.js", import.meta.url));

/** Where `npm run bench` writes: bench/results in the repository (this file runs from dist/bench). */
export const DEFAULT_OUT_DIR = fileURLToPath(new URL("../../bench/results/", import.meta.url));

/** How long one scenario may take before its process is ended. */
const SCENARIO_TIMEOUT_MS: Record<Mode, number> = { full: 15 * 60_000, quick: 3 * 60_000, tiny: 2 * 60_000 };

/** After reporting, a scenario's process should exit by itself; past this it left something running. */
const EXIT_GRACE_MS = 5_000;

export interface BenchOptions {
  readonly mode: Mode;
  /** Case-insensitive substring of the scenario ids to run; null runs them all. */
  readonly filter: string | null;
  readonly outDir: string;
  /** Progress lines (the command line sends them to stderr). */
  readonly log: (line: string) => void;
}

export interface BenchRun {
  readonly report: Report;
  readonly markdown: string;
  readonly files: readonly string[];
}

interface ChildOutcome {
  readonly result: ScenarioResult | null;
  readonly error?: string;
}

function isChildMessage(value: unknown): value is ChildMessage {
  return typeof value === "object" && value !== null && ((value as { type?: unknown }).type === "result" || (value as { type?: unknown }).type === "error");
}

/** Node flags for scenario processes: the runner's own, the scenario's, and --expose-gc for forced collections. */
function childExecArgv(extra: readonly string[]): string[] {
  const argv = [...process.execArgv, ...extra];
  if (!argv.includes("--expose-gc")) argv.push("--expose-gc");
  return argv;
}

function runInProcess(entry: ScenarioEntry, mode: Mode): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = fork(CHILD, [entry.module, entry.id, mode], {
      execArgv: childExecArgv(entry.execArgv),
      // The scenario's stdout goes to our stderr: stdout carries only the tables.
      stdio: ["ignore", 2, 2, "ipc"],
      // Structured clone keeps NaN and -0 that JSON would turn into null.
      serialization: "advanced",
    });
    let message: ChildMessage | null = null;
    let timedOut = false;
    let leaked = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const timeoutMs = SCENARIO_TIMEOUT_MS[mode];
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("message", (m: unknown) => {
      if (!isChildMessage(m)) return;
      message = m;
      graceTimer = setTimeout(() => {
        leaked = true;
        child.kill("SIGKILL");
      }, EXIT_GRACE_MS);
    });
    child.on("error", (err) => {
      // fork() itself failed (or a kill did): 'exit' may never come, so settle here.
      clearTimeout(timer);
      clearTimeout(graceTimer);
      resolve({ result: null, error: `could not run the scenario process: ${err.message}` });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      const m = message;
      if (m?.type === "result") {
        let result: ScenarioResult;
        try {
          result = checkResult(entry.id, m.result);
        } catch (err) {
          resolve({ result: null, error: (err as Error).message });
          return;
        }
        resolve(
          leaked
            ? {
                result,
                error: `the scenario's process did not exit within ${EXIT_GRACE_MS / 1000} s after reporting: it left a worker, port or timer running`,
              }
            : { result },
        );
      } else if (m?.type === "error") {
        resolve({ result: null, error: m.error });
      } else if (timedOut) {
        resolve({ result: null, error: `timed out after ${timeoutMs / 1000} s` });
      } else {
        resolve({ result: null, error: `the scenario's process ended without a result (exit code ${code}, signal ${signal})` });
      }
    });
  });
}

function matches(entry: ScenarioEntry, filter: string | null): boolean {
  return filter === null || entry.id.toLowerCase().includes(filter.toLowerCase());
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export async function runBench(options: BenchOptions): Promise<BenchRun> {
  const started = new Date();
  const t0 = performance.now();
  const machine = describeMachine();
  const { entries, problems } = await discoverScenarios();
  const selected = entries.filter((e) => matches(e, options.filter));
  const outcomes: ScenarioOutcome[] = [];

  // A module that cannot be loaded is reported (unless a filter excludes it by name).
  for (const p of problems) {
    const id = `${p.module.replace(/\.js$/, "")} (module)`;
    if (!matches({ module: p.module, id, group: "", title: "", execArgv: [] }, options.filter)) continue;
    options.log(`!! ${p.module}: ${p.error.split("\n")[0] ?? ""}`);
    outcomes.push({ id, group: "errors", title: `module ${p.module}`, module: p.module, durationMs: 0, result: null, error: p.error });
  }

  options.log(`multiloop bench: ${selected.length} scenarios, mode ${options.mode}, Node ${machine.node}`);
  for (const [i, entry] of selected.entries()) {
    const tag = `[${i + 1}/${selected.length}] ${entry.id}`;
    options.log(`${tag}: ${entry.title} ...`);
    const s0 = performance.now();
    const outcome = await runInProcess(entry, options.mode);
    const durationMs = performance.now() - s0;
    const figures = outcome.result?.measurements.length ?? 0;
    const status = outcome.error === undefined ? "" : ` — ERROR: ${outcome.error.split("\n")[0] ?? ""}`;
    options.log(`${tag}: ${figures} figure${figures === 1 ? "" : "s"} in ${seconds(durationMs)}${status}`);
    outcomes.push({
      id: entry.id,
      group: entry.group,
      title: entry.title,
      module: entry.module,
      durationMs,
      result: outcome.result,
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
    });
  }

  const report = buildReport({
    mode: options.mode,
    filter: options.filter,
    machine,
    date: started,
    durationMs: performance.now() - t0,
    outcomes,
  });
  const markdown = renderMarkdown(report);
  await mkdir(options.outDir, { recursive: true });
  const files = [join(options.outDir, "latest.json"), join(options.outDir, "latest.md"), join(options.outDir, "latest.svg")];
  await writeFile(files[0] as string, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(files[1] as string, markdown);
  await writeFile(files[2] as string, renderSvg(report));
  options.log(`multiloop bench: done in ${seconds(report.durationMs)}; wrote ${files.join(", ")}`);
  return { report, markdown, files };
}
