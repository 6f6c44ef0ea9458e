/**
 * Helpers the scenario modules share: how many iterations each mode gets, repetitions with warm-up,
 * and forced garbage collection between variants.
 */
import type { BenchContext, Measurement } from "./scenario-types.js";

/** A value per mode: the full run, `--quick`, and the test's tiny mode. */
export interface PerMode<T> {
  readonly full: T;
  readonly quick: T;
  readonly tiny: T;
}

export function pick<T>(ctx: BenchContext, values: PerMode<T>): T {
  if (ctx.tiny) return values.tiny;
  return ctx.quick ? values.quick : values.full;
}

export interface Rounds {
  /** Rounds run and thrown away first, so the JIT has compiled the hot paths. */
  readonly warmup: number;
  /** Rounds kept: each gives one sample per label. */
  readonly reps: number;
}

/** The usual repetition counts; a scenario with expensive rounds picks its own. */
export function defaultRounds(ctx: BenchContext): Rounds {
  return pick(ctx, { full: { warmup: 2, reps: 7 }, quick: { warmup: 1, reps: 3 }, tiny: { warmup: 0, reps: 1 } });
}

/** One side of a comparison: runs once and returns one figure per label it measures. */
export type Variant = () => Promise<Record<string, number>> | Record<string, number>;

const gcFunction = (globalThis as { gc?: () => void }).gc;

/** True when the process runs with `--expose-gc` (the runner starts scenario processes that way). */
export const canForceGc = typeof gcFunction === "function";

/** A full collection now, so the garbage of one variant is not collected on the next one's clock. */
export function forceGc(): void {
  if (gcFunction !== undefined) {
    gcFunction();
    gcFunction();
  }
}

/**
 * Runs every variant once per round, warm-up rounds first. The variants of a round run back to back,
 * in an order that rotates from round to round, so slow drift of a shared machine (other processes
 * on the same cores) spreads over all sides of a ratio instead of landing on one.
 */
export async function rounds(rounds: Rounds, variants: readonly Variant[]): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>();
  const total = rounds.warmup + rounds.reps;
  for (let round = 0; round < total; round++) {
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(k + round) % variants.length] as Variant;
      forceGc();
      const figures = await variant();
      if (round < rounds.warmup) continue;
      for (const [label, value] of Object.entries(figures)) {
        let list = samples.get(label);
        if (list === undefined) samples.set(label, (list = []));
        list.push(value);
      }
    }
  }
  return samples;
}

export interface MeasurementSpec {
  readonly unit: string;
  /** Default true (times and sizes). */
  readonly lowerIsBetter?: boolean;
}

/**
 * Turns the samples of `rounds` into measurements, in the order of `specs` (the order the tables
 * show them). Labels without samples are left out: the runner then reports their targets as not
 * measured.
 */
export function toMeasurements(samples: Map<string, number[]>, specs: Record<string, MeasurementSpec>): Measurement[] {
  const out: Measurement[] = [];
  for (const [label, spec] of Object.entries(specs)) {
    const values = samples.get(label);
    if (values === undefined || values.length === 0) continue;
    out.push({ label, unit: spec.unit, lowerIsBetter: spec.lowerIsBetter ?? true, samples: values });
  }
  return out;
}

/** Milliseconds on the monotonic clock, with sub-microsecond resolution. */
export function now(): number {
  return performance.now();
}

/** Nanoseconds per operation for `ops` operations between two `now()` readings. */
export function nsPerOp(start: number, end: number, ops: number): number {
  return ((end - start) * 1e6) / ops;
}

/** Microseconds per operation. */
export function usPerOp(start: number, end: number, ops: number): number {
  return ((end - start) * 1e3) / ops;
}

/** Operations per second. */
export function opsPerSecond(start: number, end: number, ops: number): number {
  return (ops * 1e3) / (end - start);
}

/** A small deterministic generator (mulberry32), so every variant gets the same "random" delays. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
