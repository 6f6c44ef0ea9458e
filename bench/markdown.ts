/**
 * The tables of `bench/results/latest.md` (also printed on stdout): one section per group, one
 * table of figures and one of ratios per scenario, targets marked where they apply, the CPython
 * asyncio figure in a peer column next to the multiloop figure it corresponds to.
 */
import { cell, formatNumber, formatRange, formatRatio } from "./format.js";
import { machineLine } from "./machine.js";
import { JUDGED_FROM, TARGET_NODE, type FigureRecord, type PeerRecord, type RatioRecord, type Report, type ScenarioRecord, type TargetRecord, type Verdict } from "./report.js";
import type { Target } from "./scenario-types.js";

const MARK: Record<Verdict, string> = { pass: "✓", fail: "✗ MISSED", "not measured": "– not measured", "not judged": "– not judged" };

/** The verdict mark; one not judged on this Node says which Node it is set for, and how it did here. */
function mark(verdict: Verdict, target: { node?: number }, met: boolean | null): string {
  if (verdict !== "not judged") return MARK[verdict];
  return `– set for Node ${target.node ?? TARGET_NODE}, not judged here${met === null ? "" : met ? " (met)" : " (missed)"}`;
}

function bound(target: { max?: number; min?: number }, ratio: boolean): string {
  const f = ratio ? formatRatio : formatNumber;
  const parts: string[] = [];
  if (target.min !== undefined) parts.push(`≥ ${f(target.min)}`);
  if (target.max !== undefined) parts.push(`≤ ${f(target.max)}`);
  return parts.join(", ");
}

function targetCell(target: Target | TargetRecord, verdict: Verdict, met: boolean | null, ratio: boolean): string {
  return `${bound(target, ratio)} ${mark(verdict, target, met)}`;
}

function table(header: readonly string[], align: readonly ("l" | "r")[], rows: readonly (readonly string[])[]): string {
  const lines = [
    `| ${header.map(cell).join(" | ")} |`,
    `|${align.map((a) => (a === "r" ? "---:" : "---")).join("|")}|`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ];
  return lines.join("\n");
}

function figureTable(s: ScenarioRecord, report: Report): string {
  const targets = report.targets.filter((t) => t.scenario === s.id && t.kind === "figure");
  const peersFor = (f: FigureRecord): PeerRecord | undefined => report.peers.find((p) => p.peerOf === `${s.id}:${f.label}`);
  const withTargets = targets.length > 0;
  const withPeers = s.measurements.some((f) => peersFor(f) !== undefined);
  const header = ["measurement", "median", "min–max", "unit", ...(withTargets ? ["target"] : []), ...(withPeers ? ["CPython asyncio"] : [])];
  const align: ("l" | "r")[] = ["l", "r", "r", "l", ...(withTargets ? ["l" as const] : []), ...(withPeers ? ["r" as const] : [])];
  const rows = s.measurements.map((f) => {
    const t = targets.find((x) => x.subject === f.label);
    const peer = peersFor(f);
    return [
      f.label,
      formatNumber(f.median),
      formatRange(f.min, f.max),
      f.unit,
      ...(withTargets ? [t === undefined ? "" : targetCell(t, t.verdict, t.met, false)] : []),
      ...(withPeers ? [peer === undefined ? "" : formatNumber(peer.peerMedian)] : []),
    ];
  });
  // Figure targets whose figure is missing still get a row, so nothing silently disappears.
  for (const t of targets) {
    if (s.measurements.some((f) => f.label === t.subject)) continue;
    rows.push([t.subject, "—", "—", "", targetCell(t, t.verdict, t.met, false), ...(withPeers ? [""] : [])]);
  }
  return table(header, align, rows);
}

function ratioTable(ratios: readonly RatioRecord[]): string {
  const withTargets = ratios.some((r) => r.target !== null);
  const rows = ratios.map((r) => [
    `${r.numerator} / ${r.denominator}`,
    formatRatio(r.value),
    r.spread === null ? "—" : `${formatRatio(r.spread.min)}–${formatRatio(r.spread.max)}`,
    ...(withTargets ? [r.target === null ? "" : targetCell(r.target, r.verdict ?? "not measured", r.met, true)] : []),
  ]);
  return table(["ratio (same run)", "value", "per-round range", ...(withTargets ? ["target"] : [])], ["l", "r", "r", ...(withTargets ? ["l" as const] : [])], rows);
}

function scenarioSection(s: ScenarioRecord, report: Report): string {
  const parts = [`### ${s.title} (\`${s.id}\`)`];
  if (s.error !== undefined) parts.push(`**Error:** ${cell(s.error.split("\n")[0] ?? s.error)}`);
  if (s.measurements.length > 0 || report.targets.some((t) => t.scenario === s.id && t.kind === "figure")) {
    parts.push(figureTable(s, report));
  }
  const ratios = report.ratios.filter((r) => r.scenario === s.id);
  if (ratios.length > 0) parts.push(ratioTable(ratios));
  if (s.notes.length > 0) parts.push(s.notes.map((n) => `- ${n}`).join("\n"));
  return parts.join("\n\n");
}

export function targetsSection(report: Report): string {
  const rows = report.targets.map((t) => [
    t.scenario,
    t.subject,
    t.kind === "ratio" ? formatRatio(t.value) : `${formatNumber(t.value)}${t.unit === null ? "" : ` ${t.unit}`}`,
    bound(t, t.kind === "ratio"),
    t.source,
    mark(t.verdict, t, t.met),
  ]);
  return ["## Targets", table(["scenario", "figure", "median", "target", "set by", "verdict"], ["l", "l", "r", "l", "l", "l"], rows)].join("\n\n");
}

export function peersSection(report: Report): string | null {
  if (report.peers.length === 0) return null;
  const rows = report.peers.map((p) => [
    p.peerOf.slice(0, p.peerOf.indexOf(":")),
    p.peerOf.slice(p.peerOf.indexOf(":") + 1),
    p.unit,
    formatNumber(p.multiloopMedian),
    formatNumber(p.peerMedian),
    formatRatio(p.multiloopSpeedup),
  ]);
  return [
    "## multiloop and CPython asyncio",
    "Speed-up > 1× means multiloop is faster. Both measured in this run, on this machine.",
    table(["scenario", "figure", "unit", "multiloop", "CPython asyncio", "multiloop speed-up"], ["l", "l", "l", "r", "r", "r"], rows),
  ].join("\n\n");
}

export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const s = report.summary;
  const head = [
    "# multiloop benchmark",
    `${machineLine(m)}. ${report.date}, mode \`${report.mode}\`${report.filter === null ? "" : `, filter \`${report.filter}\``}, ` +
      `load average ${m.loadAverageAtStart.toFixed(2)} at the start, ${(report.durationMs / 1000).toFixed(0)} s in all.`,
    "Each figure is the median, with min–max, over the repetitions after warm-up; every ratio divides figures " +
      "taken in the same run (the per-round range divides the figures of each round). " +
      "✓ target met, ✗ target missed, – not measured (a feature this build does not have, or a peer that is absent), " +
      `– not judged: the targets are set for Node ${TARGET_NODE} and judged on Node ${JUDGED_FROM} and later; an older Node shows them, marked met or missed.`,
    `**Targets: ${s.passed} met, ${s.failed} missed, ${s.notMeasured} not measured${s.notJudged > 0 ? `, ${s.notJudged} not judged on this Node` : ""} (of ${s.targets}).**` +
      (s.errors > 0 ? ` **${s.errors} scenario(s) failed.**` : ""),
  ];
  const groups: string[] = [];
  for (const sc of report.scenarios) if (!groups.includes(sc.group)) groups.push(sc.group);
  const sections = groups.map((g) =>
    [`## ${g}`, ...report.scenarios.filter((sc) => sc.group === g).map((sc) => scenarioSection(sc, report))].join("\n\n"),
  );
  const peers = peersSection(report);
  return `${[...head, ...(report.targets.length > 0 ? [targetsSection(report)] : []), ...sections, ...(peers === null ? [] : [peers])].join("\n\n")}\n`;
}
