/**
 * Number formatting for the tables and the chart: three significant digits, thousands separators,
 * and k/M suffixes for large throughputs, so columns stay narrow and comparable.
 */

export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const abs = Math.abs(value);
  if (abs >= 1_000_000) return `${trim(value / 1e6, 3)} M`;
  if (abs >= 100_000) return `${trim(value / 1e3, 3)} k`;
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs === 0) return "0";
  return trim(value, 3);
}

/** `value` with `digits` significant digits, without trailing zeros. */
function trim(value: number, digits: number): string {
  const abs = Math.abs(value);
  if (abs >= 10 ** digits) return Math.round(value).toLocaleString("en-US");
  return String(Number(value.toPrecision(digits)));
}

export function formatRatio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return `${trim(value, 3)}×`;
}

export function formatRange(min: number | null | undefined, max: number | null | undefined): string {
  if (min === null || min === undefined || max === null || max === undefined) return "—";
  if (!Number.isFinite(min) || !Number.isFinite(max)) return "—";
  return `${formatNumber(min)}–${formatNumber(max)}`;
}

/** Markdown table cells must not contain a bare pipe or a newline. */
export function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}
