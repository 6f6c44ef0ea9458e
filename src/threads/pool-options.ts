/**
 * The options of `spawnLoopPool`, checked at the boundary, and the restart policy they give: how
 * many restarts a slot gets within a window, and how long it waits before each.
 */
import { availableParallelism } from "node:os";
import { readSpinMicros } from "../core/mailbox-spin.js";
import { checkInteger, checkKnownOptions, checkString, rangeError, typeError } from "../core/validate.js";
import type { SpawnLoopThreadOptions } from "./loop-thread.js";

/** How the pool replaces a thread that died (see `spawnLoopPool`). */
export interface RestartOptions {
  /** Restarts one slot may have within `withinMs`; one more death and the pool gives the slot up. @default 10 */
  maxRestarts?: number;
  /** The window `maxRestarts` counts in, in milliseconds. @default 60_000 */
  withinMs?: number;
  /**
   * The wait before a restart: `min` for the first in the window, doubling with each restart the
   * slot had within `withinMs`, at most `max` (milliseconds). @default [100, 5_000]
   */
  backoffMs?: readonly [min: number, max: number];
}

/** Options of `spawnLoopPool`. */
export interface SpawnLoopPoolOptions extends Pick<SpawnLoopThreadOptions, "resourceLimits" | "env" | "execArgv" | "spin"> {
  /** The module every thread imports and exposes (as `spawnLoopThread`'s `module`). */
  module: string | URL;
  /** The number of threads. @default os.availableParallelism() */
  size?: number;
  /** Threads are named `<name>-0`, `<name>-1`, ... (a replacement keeps its slot's name). @default "pool-<n>" */
  name?: string;
  /** Replace threads that die (the default), or `false` to leave their slot empty. */
  restart?: false | RestartOptions;
}

/** A checked restart policy. */
export interface RestartPolicy {
  readonly maxRestarts: number;
  readonly withinMs: number;
  readonly backoffMin: number;
  readonly backoffMax: number;
}

/** What `spawnLoopPool` works from. */
export interface PoolConfig {
  readonly name: string;
  readonly size: number;
  readonly module: string | URL;
  readonly restart: RestartPolicy | null;
  /** Passed to every `spawnLoopThread` (with the thread's name). */
  readonly threadOptions: SpawnLoopThreadOptions;
}

const POOL_OPTIONS = ["module", "size", "name", "restart", "resourceLimits", "env", "execArgv", "spin"] as const;
const RESTART_OPTIONS = ["maxRestarts", "withinMs", "backoffMs"] as const;

/** The defaults of `restart`. */
export const DEFAULT_RESTART: Readonly<Required<RestartOptions>> = { maxRestarts: 10, withinMs: 60_000, backoffMs: [100, 5_000] };

let poolsMade = 0;

function checkMilliseconds(name: string, value: unknown, allowZero: boolean): asserts value is number {
  if (typeof value !== "number" || Number.isNaN(value)) throw typeError(name, "a number of milliseconds", value);
  if (value < 0 || (!allowZero && value === 0) || !Number.isFinite(value)) {
    throw rangeError(name, `a finite number of milliseconds ${allowZero ? ">= 0" : "> 0"}`, value);
  }
}

function checkRestart(value: unknown): RestartPolicy | null {
  if (value === false) return null;
  if (value === undefined) value = {};
  if (typeof value !== "object" || value === null) throw typeError("options.restart", "false or an object of restart options", value);
  checkKnownOptions("spawnLoopPool()", value, RESTART_OPTIONS, "options.restart");
  const r = value as RestartOptions;
  const maxRestarts = r.maxRestarts ?? DEFAULT_RESTART.maxRestarts;
  checkInteger("options.restart.maxRestarts", maxRestarts, 0);
  const withinMs = r.withinMs ?? DEFAULT_RESTART.withinMs;
  checkMilliseconds("options.restart.withinMs", withinMs, false);
  const backoff: unknown = r.backoffMs ?? DEFAULT_RESTART.backoffMs;
  if (!Array.isArray(backoff) || backoff.length !== 2) {
    throw typeError("options.restart.backoffMs", "a [min, max] pair of milliseconds", backoff);
  }
  const [min, max] = backoff as unknown[];
  checkMilliseconds("options.restart.backoffMs[0]", min, true);
  checkMilliseconds("options.restart.backoffMs[1]", max, true);
  if (max < min) throw rangeError("options.restart.backoffMs", `[min, max] with max >= min (${min})`, backoff);
  return { maxRestarts, withinMs, backoffMin: min, backoffMax: max };
}

/** Checks `spawnLoopPool`'s options (TypeError/RangeError naming the option) and fills in the defaults. */
export function checkPoolOptions(options: unknown): PoolConfig {
  if (typeof options !== "object" || options === null) throw typeError("options", "an options object with `module`", options);
  checkKnownOptions("spawnLoopPool()", options, POOL_OPTIONS);
  const o = options as SpawnLoopPoolOptions;
  if (!(o.module instanceof URL) && typeof o.module !== "string") {
    throw typeError("options.module", "a module to load in every thread (an absolute path, a URL or a package name)", o.module);
  }
  const size = o.size ?? availableParallelism();
  checkInteger("options.size", size, 1);
  let name: string;
  if (o.name === undefined) {
    name = `pool-${++poolsMade}`;
  } else {
    checkString("options.name", o.name);
    if (o.name === "") throw typeError("options.name", "a non-empty string", o.name);
    name = o.name;
  }
  const threadOptions: SpawnLoopThreadOptions = {
    module: o.module,
    ...(o.resourceLimits === undefined ? {} : { resourceLimits: o.resourceLimits }),
    ...(o.env === undefined ? {} : { env: o.env }),
    ...(o.execArgv === undefined ? {} : { execArgv: o.execArgv }),
  };
  // Checked here, so a bad value fails spawnLoopPool() before any thread starts.
  const spin = readSpinMicros("options.spin", o.spin);
  if (spin > 0) threadOptions.spin = { micros: spin };
  return { name, size, module: o.module, restart: checkRestart(o.restart), threadOptions };
}

/** How long a slot waits before its restart, given how many restarts it had within the window. */
export function backoffDelay(policy: RestartPolicy, recentRestarts: number): number {
  if (policy.backoffMin === 0) return 0;
  // 2 ** n overflows to Infinity for a large n; Math.min keeps the cap.
  return Math.min(policy.backoffMax, policy.backoffMin * 2 ** recentRestarts);
}
