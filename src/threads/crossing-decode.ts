/**
 * Values crossing threads, on the receiving side: revives the special values a payload's table
 * lists (crossing-table.ts) at the positions it gives. The payload itself is never searched and
 * never interpreted: plain data, whatever keys it has, stays plain data.
 *
 * Decoding never throws anything but the TypeError of `decodeSpecials`, which names the position
 * that could not be revived; the callers turn it into a rejection of that one call (or a report
 * to the loop's exception handler for a one-way call), so no message can throw out of a port
 * handler.
 */
import { types } from "node:util";
import { errorRepr } from "../core/format.js";
import { reviverOf, defineOwn, segmentText } from "./crossing.js";
import type { Path, Segment } from "./crossing-table.js";

class Undecodable extends Error {}

function isSegment(value: unknown): value is Segment {
  if (typeof value === "string") return true;
  if (typeof value === "number") return Number.isInteger(value) && value >= 0;
  if (!Array.isArray(value)) return false;
  const [index, part] = value as unknown[];
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0) return false;
  return value.length === 1 || (value.length === 2 && (part === 0 || part === 1));
}

function isPath(value: unknown): value is Path {
  return Array.isArray(value) && value.every(isSegment);
}

/** The `index`-th entry of a Map or item of a Set (iteration order, as structured clone keeps). */
function nth<T>(items: Iterable<T>, index: number): T {
  let i = 0;
  for (const item of items) if (i++ === index) return item;
  throw new Undecodable(`there is no entry ${index}`);
}

/** The child of `container` at `segment`, checking the container is of the kind the segment says. */
function childAt(container: unknown, segment: Segment): unknown {
  if (typeof container !== "object" || container === null) throw new Undecodable("the position is inside a primitive");
  if (typeof segment === "number") {
    if (!Array.isArray(container) || segment >= container.length) throw new Undecodable(`there is no item ${segment}`);
    return container[segment];
  }
  if (typeof segment === "string") {
    if (Array.isArray(container) || !Object.hasOwn(container, segment)) throw new Undecodable(`there is no property '${segment}'`);
    return (container as Record<string, unknown>)[segment];
  }
  if (segment.length === 2) {
    if (!types.isMap(container)) throw new Undecodable("the position names a Map entry of something else");
    const [key, value] = nth((container).entries(), segment[0]);
    return segment[1] === 0 ? key : value;
  }
  if (!types.isSet(container)) throw new Undecodable("the position names a Set item of something else");
  return nth((container).values(), segment[0]);
}

/** Puts `value` at `segment` of `container` (a Map or Set is rebuilt in place, keeping its order). */
function setAt(container: object, segment: Segment, value: unknown): void {
  if (typeof segment === "number" || typeof segment === "string") {
    defineOwn(container, segment, value);
    return;
  }
  if (segment.length === 2) {
    const map = container as Map<unknown, unknown>;
    const entries = [...map.entries()];
    const entry = entries[segment[0]] as [unknown, unknown];
    entry[segment[1]] = value;
    map.clear();
    for (const [k, v] of entries) map.set(k, v);
    return;
  }
  const set = container as Set<unknown>;
  const items = [...set.values()];
  items[segment[0]] = value;
  set.clear();
  for (const item of items) set.add(item);
}

/** How a position reads in messages: `where` for the root, or a name per item of a sent tuple. */
export type PositionNames = string | readonly string[];

function positionText(root: unknown, path: Path, names: PositionNames): string {
  let text = typeof names === "string" ? names : "the value";
  let container = root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as Segment;
    if (i === 0 && typeof names !== "string" && typeof segment === "number") text = names[segment] ?? text;
    else text += segmentText(typeof container === "object" ? container : null, segment);
    try {
      container = childAt(container, segment);
    } catch {
      container = undefined;
    }
  }
  return text;
}

/**
 * Revives the special values `table` lists in `root` and returns the root (itself replaced when
 * it was one). Throws a TypeError naming the position, the target and the sender (`from`, as in
 * "from thread 'io-1'") when an entry cannot be revived here.
 */
export function decodeSpecials(root: unknown, table: unknown, target: string, from: string, names: PositionNames): unknown {
  const fail = (position: string, reason: string): TypeError =>
    new TypeError(`Cannot receive ${position} of '${target}' ${from}: ${reason}`);
  if (!Array.isArray(table)) throw fail(typeof names === "string" ? names : "the value", "its table of special positions is malformed");
  let result = root;
  for (const entry of table as unknown[]) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || !Array.isArray(entry[2]) || !(entry[2] as unknown[]).every(isPath)) {
      throw fail(typeof names === "string" ? names : "the value", "its table of special positions is malformed");
    }
    const [kind, data, paths] = entry as [string, unknown, Path[]];
    const first = paths[0] ?? [];
    const revive = reviverOf(kind);
    if (revive === undefined) throw fail(positionText(root, first, names), `this thread has no reviver for a shared '${kind}'`);
    let revived: unknown;
    try {
      revived = revive(data);
    } catch (err) {
      throw fail(positionText(root, first, names), `the shared '${kind}' could not be revived: ${errorRepr(err)}`);
    }
    for (const path of paths) {
      if (path.length === 0) {
        result = revived;
        continue;
      }
      try {
        let container: unknown = root;
        for (let i = 0; i < path.length - 1; i++) container = childAt(container, path[i] as Segment);
        const last = path[path.length - 1] as Segment;
        childAt(container, last);
        setAt(container as object, last, revived);
      } catch (err) {
        const reason = err instanceof Undecodable ? err.message : errorRepr(err);
        throw fail(positionText(root, path, names), `the table of special positions does not match the value (${reason})`);
      }
    }
  }
  return result;
}
