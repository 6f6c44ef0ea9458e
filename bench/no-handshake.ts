/**
 * What asyncio's ordering costs (issue 14 §2): the same work on a loop with
 * `stepHandshakeTicks = 0`, so the runner goes on to the next callback without waiting for the
 * task it woke to reach its next await. That is not asyncio's order (callbacks can run in the
 * middle of a task's step), so the figure is labelled as not conforming; it is a floor to compare
 * with, not a mode to use.
 */
import { getRunningLoop } from "multiloop";

export const NOT_CONFORMING = " (NOT asyncio's order: no step handshake)";

/** Inside a running loop: turns its step handshake off when `conforming` is false. */
export function setConforming(conforming: boolean): void {
  if (!conforming) getRunningLoop().stepHandshakeTicks = 0;
}
