/**
 * The README's benchmark tables (targets, and multiloop next to CPython asyncio) come from a full
 * run on the Node line the targets are set for (issue 14 §1): `npm run bench` on Node 26 rewrites
 * the part of README.md between the two markers below; a quick, filtered or other-Node run leaves
 * it alone and says so.
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { machineLine } from "./machine.js";
import { peersSection, targetsSection } from "./markdown.js";
import { TARGET_NODE, nodeMajor, type Report } from "./report.js";

export const README = fileURLToPath(new URL("../../README.md", import.meta.url));
export const START = "<!-- bench-tables:start (written by a full `npm run bench` on Node 26: bench/readme-tables.ts) -->";
export const END = "<!-- bench-tables:end -->";

/** Why `report` may not replace the README's tables, or null when it may. */
export function refusal(report: Report): string | null {
  if (report.mode !== "full") return `a ${report.mode} run`;
  if (report.filter !== null) return "a filtered run";
  if (nodeMajor(report.machine.node) !== TARGET_NODE) return `a run on Node ${report.machine.node}, not ${TARGET_NODE}`;
  return null;
}

/** The text between the markers. */
export function renderReadmeTables(report: Report): string {
  const m = report.machine;
  const s = report.summary;
  const head =
    `**Latest full run** (${machineLine(m)}, load average ${m.loadAverageAtStart.toFixed(1)} at the start; ${report.date}; ` +
    `full details in bench/results/latest.md): ${s.passed} of ${s.targets} targets met, ${s.failed} missed, ${s.notMeasured} not measured. ` +
    "Figures on a shared machine move by 20-50% from run to run; the ratios, taken within one run, move less.";
  const targets = targetsSection(report).replace(/^## Targets\n\n/u, "");
  const peers = peersSection(report)?.replace(/^## multiloop and CPython asyncio\n\n/u, "**multiloop and CPython asyncio** (same run): ");
  return [head, targets, ...(peers === undefined ? [] : [peers])].join("\n\n");
}

/** Replaces the README's tables with `report`'s; returns what it did, for the log. */
export async function updateReadme(report: Report, path: string = README): Promise<string> {
  const why = refusal(report);
  if (why !== null) return `README tables left alone (${why}; they come from a full run on Node ${TARGET_NODE})`;
  const text = await readFile(path, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return `README tables left alone: ${path} has no ${START} ... ${END} markers`;
  await writeFile(path, `${text.slice(0, a + START.length)}\n\n${renderReadmeTables(report)}\n\n${text.slice(b)}`);
  return `README tables rewritten from this run (${path})`;
}
