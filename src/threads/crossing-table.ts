/**
 * The table of special positions that travels beside a payload (crossing.ts writes it,
 * crossing-decode.ts reads it), and how positions are named in error messages.
 *
 * Why a table beside the payload, not a marker inside it: a marker key in the data (the old
 * `__multiloop_shared__`) can be forged by plain data, and a forged one made the receiving thread
 * throw inside its port handler. The table is built only by the encoder, from objects it
 * recognised by class, so nothing the data says can make the receiver revive anything. It is
 * also where later kinds of special values go (streams as arguments, say): one entry per value,
 * each with its kind, its data and every position it sits at.
 */
import type { Transferable } from "node:worker_threads";

/**
 * One step from a container to a child: an array index (number), an own property key (string),
 * a Map entry `[index, 0]` (its key) or `[index, 1]` (its value), a Set item `[index]`. Entries
 * and items are numbered in iteration order, which structured clone keeps.
 */
export type Segment = number | string | [entry: number, part: 0 | 1] | [item: number];

/** Where a special value sits in the payload: the segments from the root (empty: the root). */
export type Path = Segment[];

/** A special value: its kind (a registered name), the data to revive it from, where it sits. */
export type SpecialEntry = [kind: string, data: unknown, paths: Path[]];

/** The table of one payload; 0 when the payload has no special value (the common case). */
export type SpecialTable = SpecialEntry[] | 0;

/** What `share()` returns: data for `from()`, and what must be transferred with it. */
export interface SharedData {
  data: unknown;
  transferList: Transferable[];
}

/** Implemented by classes whose instances may cross threads. */
export interface Shareable {
  share(): SharedData;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/u;

/** `.key` for identifier-like keys, `["key"]` otherwise. */
export function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** How a Map key is shown inside `.get(...)`: its text for primitives, `<object>` otherwise. */
export function mapKeyText(key: unknown): string {
  if (typeof key === "object" || typeof key === "function") return key === null ? "null" : "<object>";
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a primitive here
  return typeof key === "symbol" ? key.toString() : String(key);
}
