/**
 * Summaries of a measurement's samples: the median (robust against one noisy repetition, which a
 * mean is not) and the min-max spread, so a reader sees how much the figure moved.
 */

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** How many samples the summary is made of. */
  readonly n: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  // Even counts take the mean of the two middle values, as statistics textbooks (and Python) do.
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}
