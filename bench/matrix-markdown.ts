/**
 * `bench/results/matrix.md`: the same benchmark on several Node versions, side by side. Figures
 * are only compared within one run (ratios); across versions the table shows each run's own
 * medians and ratios next to each other, plus how the figure moved (last ÷ first).
 */
import { cell, formatNumber, formatRatio } from "./format.js";
import { machineLine } from "./machine.js";
import { END_OF_LIFE } from "./nodes.js";
import { JUDGED_FROM, TARGET_NODE, nodeMajor, type Report, type Verdict } from "./report.js";

const MARK: Record<Verdict, string> = { pass: "✓", fail: "✗", "not measured": "–", "not judged": "·" };

/** A column's heading: the version, and "end of life" for a line past it. */
function heading(report: Report): string {
  const eol = END_OF_LIFE[nodeMajor(report.machine.node)];
  return `Node ${report.machine.node}${eol === undefined ? "" : ` (end of life ${eol})`}`;
}

/** A not-judged target still shows whether it was met: (✓) or (✗). */
function markOf(verdict: Verdict, met: boolean | null): string {
  return verdict === "not judged" && met !== null ? (met ? "(✓)" : "(✗)") : MARK[verdict];
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${header.map(cell).join(" | ")} |`,
    `|${header.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

function keysInOrder<T>(reports: readonly Report[], keysOf: (r: Report) => T[], key: (t: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const r of reports) for (const t of keysOf(r)) if (!seen.has(key(t))) seen.set(key(t), t);
  return [...seen.values()];
}

export function renderMatrix(reports: readonly Report[]): string {
  const versions = reports.map(heading);
  const first = reports[0];
  const last = reports[reports.length - 1];
  const moved = reports.length > 1 && first !== undefined && last !== undefined ? [`Node ${last.machine.node} ÷ Node ${first.machine.node}`] : [];
  const parts = [
    "# multiloop benchmark: Node versions side by side",
    reports
      .map((r) => `- ${machineLine(r.machine)}; ${r.date}, mode \`${r.mode}\`, load average ${r.machine.loadAverageAtStart.toFixed(2)} at the start.`)
      .join("\n"),
    "Each column is a separate run of `npm run bench` on that Node; ratios are always within one run. " +
      "AsyncLocalStorage is built on async_hooks in Node 20 and on AsyncContextFrame from Node 24, which changes what every await inside a task costs. " +
      `The targets are set for Node ${TARGET_NODE} and judged on Node ${JUDGED_FROM} and later; on older Nodes they are marked (✓) or (✗), not judged.`,
  ];

  const figures = keysInOrder(
    reports,
    (r) => r.scenarios.flatMap((s) => s.measurements.map((f) => ({ scenario: s.id, label: f.label, unit: f.unit }))),
    (f) => `${f.scenario}:${f.label}`,
  );
  const median = (r: Report | undefined, scenario: string, label: string): number | null =>
    r?.scenarios.find((s) => s.id === scenario)?.measurements.find((f) => f.label === label)?.median ?? null;
  const figureRows = figures.map((f) => {
    const values = reports.map((r) => median(r, f.scenario, f.label));
    const a = median(first, f.scenario, f.label);
    const b = median(last, f.scenario, f.label);
    return [
      f.scenario,
      f.label,
      ...values.map((v) => `${formatNumber(v)} ${f.unit}`),
      ...(moved.length > 0 ? [a !== null && b !== null ? formatRatio(b / a) : "—"] : []),
    ];
  });
  parts.push("## Figures (medians)", table(["scenario", "figure", ...versions, ...moved], figureRows));

  const ratios = keysInOrder(reports, (r) => [...r.ratios], (x) => `${x.scenario}:${x.numerator}/${x.denominator}`);
  const ratioRows = ratios.map((x) => [
    x.scenario,
    `${x.numerator} / ${x.denominator}`,
    ...reports.map((r) => {
      const found = r.ratios.find((y) => y.scenario === x.scenario && y.numerator === x.numerator && y.denominator === x.denominator);
      if (found === undefined) return "—";
      return `${formatRatio(found.value)}${found.verdict === null ? "" : ` ${markOf(found.verdict, found.met)}`}`;
    }),
  ]);
  parts.push("## Ratios (within each run; ✓/✗ against the target)", table(["scenario", "ratio", ...versions], ratioRows));

  const targets = keysInOrder(reports, (r) => [...r.targets], (t) => `${t.scenario}:${t.subject}`);
  const targetRows = targets.map((t) => [
    t.scenario,
    `${t.subject} (${t.max !== undefined ? `≤ ${formatNumber(t.max)}` : `≥ ${formatNumber(t.min)}`}, ${t.source})`,
    ...reports.map((r) => {
      const found = r.targets.find((y) => y.scenario === t.scenario && y.subject === t.subject);
      if (found === undefined) return "—";
      const value = found.kind === "ratio" ? formatRatio(found.value) : formatNumber(found.value);
      return `${value} ${markOf(found.verdict, found.met)}`;
    }),
  ]);
  parts.push("## Targets", table(["scenario", "target", ...versions], targetRows));
  return `${parts.join("\n\n")}\n`;
}
