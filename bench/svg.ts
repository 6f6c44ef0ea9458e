/**
 * `bench/results/latest.svg`: horizontal bar charts on a log scale, drawn as plain SVG text (no
 * browser, no chart library). Three panels: the ratios against same-run baselines with their target
 * lines; the absolute-figure targets as "median ÷ limit" (a bar inside the line passes); multiloop's
 * speed-up over CPython asyncio. Bars start at 1× so a reader sees at once which side of parity a
 * figure is on.
 */
import { formatNumber, formatRatio } from "./format.js";
import { machineLine } from "./machine.js";
import type { Report, Verdict } from "./report.js";

const WIDTH = 980;
const LABEL_X = 16;
const PLOT_X = 470;
const PLOT_W = 400;
const ROW_H = 22;
const BAR_H = 14;
const COLORS = { pass: "#2e7d32", fail: "#c62828", none: "#5c7a99", target: "#111", grid: "#ddd", axis: "#888" };

interface Row {
  readonly label: string;
  readonly value: number | null;
  /** Target lines on this row, in the row's own units. */
  readonly lines: readonly { readonly at: number; readonly text: string }[];
  readonly verdict: Verdict | null;
}

interface Panel {
  readonly title: string;
  readonly subtitle: string;
  readonly rows: readonly Row[];
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Powers of ten that cover every value and target of the panel, and 1. */
function domain(rows: readonly Row[]): [number, number] {
  const values = [1];
  for (const r of rows) {
    if (r.value !== null && r.value > 0 && Number.isFinite(r.value)) values.push(r.value);
    for (const l of r.lines) if (l.at > 0) values.push(l.at);
  }
  let lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  let hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  if (lo === hi) hi *= 10;
  if (hi / lo < 100) {
    lo = Math.min(lo, 0.1);
    hi = Math.max(hi, 10);
  }
  return [lo, hi];
}

function drawPanel(panel: Panel, top: number): { svg: string; height: number } {
  const out: string[] = [];
  const [lo, hi] = domain(panel.rows);
  const x = (v: number): number => PLOT_X + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_W;
  out.push(`<text x="${LABEL_X}" y="${top + 16}" font-size="15" font-weight="bold">${esc(panel.title)}</text>`);
  out.push(`<text x="${LABEL_X}" y="${top + 34}" font-size="11" fill="#555">${esc(panel.subtitle)}</text>`);
  const axisY = top + 52;
  const rowsTop = axisY + 8;
  const bottom = rowsTop + panel.rows.length * ROW_H;
  // Grid at every power of ten; 1× drawn darker.
  for (let p = Math.log10(lo); p <= Math.log10(hi) + 1e-9; p++) {
    const v = 10 ** p;
    const gx = x(v).toFixed(1);
    out.push(`<line x1="${gx}" y1="${axisY}" x2="${gx}" y2="${bottom}" stroke="${Math.abs(p) < 1e-9 ? COLORS.axis : COLORS.grid}"/>`);
    out.push(`<text x="${gx}" y="${axisY - 3}" font-size="10" text-anchor="middle" fill="#555">${esc(formatRatio(v))}</text>`);
  }
  panel.rows.forEach((r, i) => {
    const y = rowsTop + i * ROW_H;
    const mid = y + ROW_H / 2;
    out.push(`<text x="${LABEL_X}" y="${mid + 4}" font-size="11">${esc(shorten(r.label, 78))}</text>`);
    if (r.value !== null && r.value > 0 && Number.isFinite(r.value)) {
      const clamped = Math.min(Math.max(r.value, lo), hi);
      const x1 = x(1);
      const x2 = x(clamped);
      const color = r.verdict === "pass" ? COLORS.pass : r.verdict === "fail" ? COLORS.fail : COLORS.none;
      out.push(
        `<rect x="${Math.min(x1, x2).toFixed(1)}" y="${(mid - BAR_H / 2).toFixed(1)}" width="${Math.max(Math.abs(x2 - x1), 1).toFixed(1)}" height="${BAR_H}" fill="${color}" opacity="0.85"/>`,
      );
      out.push(`<text x="${PLOT_X + PLOT_W + 8}" y="${mid + 4}" font-size="11">${esc(formatRatio(r.value))}</text>`);
    } else {
      out.push(`<text x="${PLOT_X + PLOT_W + 8}" y="${mid + 4}" font-size="11" fill="#777">not measured</text>`);
    }
    for (const l of r.lines) {
      if (!(l.at >= lo && l.at <= hi)) continue;
      const lx = x(l.at).toFixed(1);
      out.push(`<line x1="${lx}" y1="${y + 1}" x2="${lx}" y2="${y + ROW_H - 1}" stroke="${COLORS.target}" stroke-width="2" stroke-dasharray="3,2"><title>${esc(l.text)}</title></line>`);
    }
  });
  return { svg: out.join("\n"), height: bottom - top + 18 };
}

function panels(report: Report): Panel[] {
  const arrow = (lowerIsBetter: boolean): string => (lowerIsBetter ? "↓" : "↑");
  const ratioRows: Row[] = report.ratios.map((r) => {
    const lines: { at: number; text: string }[] = [];
    if (r.target?.max !== undefined) lines.push({ at: r.target.max, text: `target ≤ ${formatRatio(r.target.max)} (${r.target.source})` });
    if (r.target?.min !== undefined) lines.push({ at: r.target.min, text: `target ≥ ${formatRatio(r.target.min)} (${r.target.source})` });
    return { label: `${arrow(r.lowerIsBetter)} ${r.numerator} / ${r.denominator}`, value: r.value, lines, verdict: r.verdict };
  });
  const figureRows: Row[] = report.targets
    .filter((t) => t.kind === "figure")
    .map((t) => {
      const limit = t.max ?? t.min ?? NaN;
      const value = t.value === null ? null : t.value / limit;
      const bound = t.max !== undefined ? `≤ ${formatNumber(t.max)}` : `≥ ${formatNumber(t.min)}`;
      return {
        label: `${t.subject} (${bound}${t.unit === null ? "" : ` ${t.unit}`})`,
        value,
        lines: [{ at: 1, text: `${t.source}` }],
        verdict: t.verdict,
      };
    });
  const peerRows: Row[] = report.peers.map((p) => ({
    label: `${p.peerOf.slice(0, p.peerOf.indexOf(":"))} · ${p.peerOf.slice(p.peerOf.indexOf(":") + 1)}`,
    value: p.multiloopSpeedup,
    lines: [],
    verdict: null,
  }));
  const out: Panel[] = [];
  if (ratioRows.length > 0) {
    out.push({
      title: "Ratios: multiloop (or a peer) ÷ its baseline, same run",
      subtitle: "↓ lower is better (times), ↑ higher is better (throughputs). Dashed line: target. Green met, red missed, blue no target.",
      rows: ratioRows,
    });
  }
  if (figureRows.length > 0) {
    out.push({
      title: "Absolute targets: median ÷ limit",
      subtitle: "For a ≤ target the bar must end left of the dashed 1× line; for a ≥ target, right of it.",
      rows: figureRows,
    });
  }
  if (peerRows.length > 0) {
    out.push({
      title: "multiloop speed-up over CPython asyncio (same machine, same run)",
      subtitle: "Right of 1×: multiloop is faster.",
      rows: peerRows,
    });
  }
  return out;
}

export function renderSvg(report: Report): string {
  const parts: string[] = [];
  let y = 12;
  parts.push(`<text x="${LABEL_X}" y="${y + 16}" font-size="18" font-weight="bold">multiloop benchmark</text>`);
  parts.push(
    `<text x="${LABEL_X}" y="${y + 36}" font-size="11" fill="#555">${esc(`${machineLine(report.machine)}; ${report.date}; mode ${report.mode}`)}</text>`,
  );
  const s = report.summary;
  parts.push(
    `<text x="${LABEL_X}" y="${y + 52}" font-size="11" fill="#555">${esc(`Targets: ${s.passed} met, ${s.failed} missed, ${s.notMeasured} not measured${s.notJudged > 0 ? `, ${s.notJudged} not judged on this Node` : ""} (of ${s.targets}).`)}</text>`,
  );
  y += 70;
  for (const panel of panels(report)) {
    const drawn = drawPanel(panel, y);
    parts.push(drawn.svg);
    y += drawn.height + 10;
  }
  const height = Math.ceil(y + 10);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}
