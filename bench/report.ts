/**
 * The report: what `bench/results/latest.json` holds. Built from the scenarios' raw results; every
 * ratio and every target verdict is computed here, from figures of the same run.
 */
import type { Machine } from "./machine.js";
import type { Measurement, RatioSpec, ScenarioResult, Target } from "./scenario-types.js";
import { summarize } from "./stats.js";

export type Mode = "full" | "quick" | "tiny";

/** One measured figure with its summary. */
export interface FigureRecord {
  readonly scenario: string;
  readonly label: string;
  readonly unit: string;
  readonly lowerIsBetter: boolean;
  readonly samples: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
  readonly peerOf?: string;
}

/**
 * "pass"/"fail": measured and checked; "not measured": a figure it needs is missing (a feature this
 * build does not have, a peer that is absent, or a scenario that failed); "not judged": this run's
 * Node is older than `JUDGED_FROM` (the figure is still shown, and marked with `met`).
 */
export type Verdict = "pass" | "fail" | "not measured" | "not judged";

export interface RatioRecord {
  readonly scenario: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly unit: string | null;
  /** median(numerator) / median(denominator); null when either is missing. */
  readonly value: number | null;
  /** Min and max of the round-by-round ratios (the two sides of a round ran back to back). */
  readonly spread: { readonly min: number; readonly max: number } | null;
  readonly lowerIsBetter: boolean;
  readonly target: Target | null;
  /** null when there is no target. */
  readonly verdict: Verdict | null;
  /** Whether the value meets the target, judged or not; null without a value or a target. */
  readonly met: boolean | null;
}

export interface TargetRecord {
  readonly scenario: string;
  readonly kind: "figure" | "ratio";
  /** The figure's label, or "numerator / denominator". */
  readonly subject: string;
  readonly value: number | null;
  readonly unit: string | null;
  readonly source: string;
  readonly max?: number;
  readonly min?: number;
  /** The Node major line it is set for (`TARGET_NODE` unless the target names another). */
  readonly node: number;
  readonly verdict: Verdict;
  /** Whether the value meets the target, judged or not; null without a value. */
  readonly met: boolean | null;
}

/** A peer's figure (CPython asyncio) next to the multiloop figure it corresponds to. */
export interface PeerRecord {
  readonly scenario: string;
  readonly label: string;
  readonly peerOf: string;
  readonly unit: string;
  readonly peerMedian: number;
  readonly multiloopMedian: number | null;
  /** How many times faster multiloop is (> 1: multiloop is faster); null without both figures. */
  readonly multiloopSpeedup: number | null;
}

export interface ScenarioRecord {
  readonly id: string;
  readonly group: string;
  readonly title: string;
  /** The module file it came from, relative to dist/bench/scenarios. */
  readonly module: string;
  readonly status: "ok" | "error";
  readonly error?: string;
  readonly durationMs: number;
  readonly notes: readonly string[];
  readonly measurements: readonly FigureRecord[];
}

export interface Report {
  readonly schema: 1;
  readonly date: string;
  readonly mode: Mode;
  readonly filter: string | null;
  readonly machine: Machine;
  readonly durationMs: number;
  readonly scenarios: readonly ScenarioRecord[];
  readonly ratios: readonly RatioRecord[];
  readonly targets: readonly TargetRecord[];
  readonly peers: readonly PeerRecord[];
  readonly summary: {
    readonly scenarios: number;
    readonly errors: number;
    readonly targets: number;
    readonly passed: number;
    readonly failed: number;
    readonly notMeasured: number;
    /** Targets measured on a Node older than `JUDGED_FROM`: marked, not judged. */
    readonly notJudged: number;
  };
}

/** What the runner hands over per scenario. */
export interface ScenarioOutcome {
  readonly id: string;
  readonly group: string;
  readonly title: string;
  readonly module: string;
  readonly durationMs: number;
  readonly result: ScenarioResult | null;
  readonly error?: string;
}

function figureRecord(scenario: string, m: Measurement): FigureRecord {
  const s = summarize(m.samples);
  return {
    scenario,
    label: m.label,
    unit: m.unit,
    lowerIsBetter: m.lowerIsBetter,
    samples: [...m.samples],
    median: s.median,
    min: s.min,
    max: s.max,
    n: s.n,
    ...(m.peerOf === undefined ? {} : { peerOf: m.peerOf }),
  };
}

/** The major line of a Node version string ("v26.12.1" -> 26). */
export function nodeMajor(version: string): number {
  return Number(/^v?(\d+)/u.exec(version)?.[1] ?? NaN);
}

/**
 * The Node line the targets are set for (issue 14 §1: the active LTS; Node 20 is end of life). A
 * target may name another line in `Target.node`.
 */
export const TARGET_NODE = 26;
/**
 * Runs on this Node line or later judge the targets (and fail `--check` on a miss); older ones
 * measure and mark them but do not judge (`--check` passes there).
 */
export const JUDGED_FROM = 24;

/** Whether `value` meets `target`, whatever Node measured it; null without a value. */
export function meets(value: number | null, target: Target): boolean | null {
  if (value === null || !Number.isFinite(value)) return null;
  if (target.max !== undefined && value > target.max) return false;
  if (target.min !== undefined && value < target.min) return false;
  return true;
}

/** The verdict on `value` against `target`, on Node line `node` (this process's by default). */
export function verdictOf(value: number | null, target: Target, node: number = nodeMajor(process.version)): Verdict {
  const met = meets(value, target);
  if (met === null) return "not measured";
  if (node < JUDGED_FROM) return "not judged";
  return met ? "pass" : "fail";
}

function ratioRecord(scenario: string, spec: RatioSpec, figures: Map<string, FigureRecord>, node: number): RatioRecord {
  const num = figures.get(spec.numerator);
  const den = figures.get(spec.denominator);
  let value: number | null = null;
  let spread: RatioRecord["spread"] = null;
  let unit: string | null = num?.unit ?? den?.unit ?? null;
  if (num !== undefined && den !== undefined && num.n > 0 && den.n > 0) {
    if (num.unit !== den.unit) {
      // A ratio of two different units means nothing; refuse it rather than print a number.
      unit = `${num.unit} / ${den.unit}`;
    } else {
      value = num.median / den.median;
      if (num.samples.length === den.samples.length) {
        const perRound = num.samples.map((v, i) => v / (den.samples[i] as number));
        const s = summarize(perRound);
        if (s.n > 0) spread = { min: s.min, max: s.max };
      }
    }
  }
  const target = spec.target ?? null;
  return {
    scenario,
    numerator: spec.numerator,
    denominator: spec.denominator,
    unit,
    value,
    spread,
    lowerIsBetter: num?.lowerIsBetter ?? den?.lowerIsBetter ?? true,
    target,
    verdict: target === null ? null : verdictOf(value, target, node),
    met: target === null ? null : meets(value, target),
  };
}

function bounds(target: Target): { max?: number; min?: number; node: number } {
  return {
    ...(target.max === undefined ? {} : { max: target.max }),
    ...(target.min === undefined ? {} : { min: target.min }),
    node: target.node ?? TARGET_NODE,
  };
}

/** Builds the report: summaries, ratios, target verdicts and the peer comparison. */
export function buildReport(options: {
  mode: Mode;
  filter: string | null;
  machine: Machine;
  date: Date;
  durationMs: number;
  outcomes: readonly ScenarioOutcome[];
}): Report {
  const scenarios: ScenarioRecord[] = [];
  const ratios: RatioRecord[] = [];
  const targets: TargetRecord[] = [];
  const byKey = new Map<string, FigureRecord>();
  const node = nodeMajor(options.machine.node);

  for (const outcome of options.outcomes) {
    const result = outcome.result;
    const measurements = (result?.measurements ?? []).map((m) => figureRecord(outcome.id, m));
    const figures = new Map(measurements.map((f) => [f.label, f]));
    for (const f of measurements) byKey.set(`${outcome.id}:${f.label}`, f);
    scenarios.push({
      id: outcome.id,
      group: outcome.group,
      title: outcome.title,
      module: outcome.module,
      status: outcome.error === undefined ? "ok" : "error",
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
      durationMs: outcome.durationMs,
      notes: [...(result?.notes ?? [])],
      measurements,
    });
    for (const spec of result?.ratios ?? []) {
      const r = ratioRecord(outcome.id, spec, figures, node);
      ratios.push(r);
      if (r.target !== null) {
        targets.push({
          scenario: outcome.id,
          kind: "ratio",
          subject: `${r.numerator} / ${r.denominator}`,
          value: r.value,
          unit: "×",
          source: r.target.source,
          ...bounds(r.target),
          verdict: r.verdict ?? "not measured",
          met: r.met,
        });
      }
    }
    for (const t of result?.targets ?? []) {
      const f = figures.get(t.label);
      const value = f !== undefined && f.n > 0 ? f.median : null;
      targets.push({
        scenario: outcome.id,
        kind: "figure",
        subject: t.label,
        value,
        unit: f?.unit ?? null,
        source: t.source,
        ...bounds(t),
        verdict: verdictOf(value, t, node),
        met: meets(value, t),
      });
    }
  }

  const peers: PeerRecord[] = [];
  for (const s of scenarios) {
    for (const f of s.measurements) {
      if (f.peerOf === undefined) continue;
      const ml = byKey.get(f.peerOf);
      const comparable = ml !== undefined && ml.unit === f.unit && ml.n > 0 && f.n > 0;
      const speedup = !comparable ? null : f.lowerIsBetter ? f.median / ml.median : ml.median / f.median;
      peers.push({
        scenario: s.id,
        label: f.label,
        peerOf: f.peerOf,
        unit: f.unit,
        peerMedian: f.median,
        multiloopMedian: comparable ? ml.median : null,
        multiloopSpeedup: speedup,
      });
    }
  }

  return {
    schema: 1,
    date: options.date.toISOString(),
    mode: options.mode,
    filter: options.filter,
    machine: options.machine,
    durationMs: options.durationMs,
    scenarios,
    ratios,
    targets,
    peers,
    summary: {
      scenarios: scenarios.length,
      errors: scenarios.filter((s) => s.status === "error").length,
      targets: targets.length,
      passed: targets.filter((t) => t.verdict === "pass").length,
      failed: targets.filter((t) => t.verdict === "fail").length,
      notMeasured: targets.filter((t) => t.verdict === "not measured").length,
      notJudged: targets.filter((t) => t.verdict === "not judged").length,
    },
  };
}
