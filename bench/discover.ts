/**
 * Finds the scenario modules: every `*.js` in dist/bench/scenarios exports `scenarios: Scenario[]`.
 * Nothing is listed by hand, so a module added later (net.ts) is picked up without editing the
 * runner. A module that fails to load becomes an error entry; the run goes on without it.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Scenario, ScenarioResult } from "./scenario-types.js";

export const SCENARIO_DIR = fileURLToPath(new URL("./scenarios/", import.meta.url));

/** Modules first in this order (the order of the tables), then the rest by name, the peer last. */
const PREFERRED_ORDER = ["single", "sync", "threads", "net", "memory"];
const LAST = ["asyncio"];

export interface ScenarioEntry {
  /** File name inside the scenario directory, e.g. "single.js". */
  readonly module: string;
  readonly id: string;
  readonly group: string;
  readonly title: string;
  /** Extra Node flags for its process (`Scenario.execArgv`). */
  readonly execArgv: readonly string[];
}

export interface ModuleProblem {
  readonly module: string;
  readonly error: string;
}

function rank(base: string): number {
  const i = PREFERRED_ORDER.indexOf(base);
  if (i >= 0) return i;
  return LAST.includes(base) ? PREFERRED_ORDER.length + 1 : PREFERRED_ORDER.length;
}

export async function scenarioModules(dir: string = SCENARIO_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".js"));
  return files.sort((a, b) => {
    const ra = rank(a.slice(0, -3));
    const rb = rank(b.slice(0, -3));
    return ra !== rb ? ra - rb : a.localeCompare(b);
  });
}

export function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
}

function isScenario(value: unknown): value is Scenario {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  const flags = s["execArgv"];
  const flagsOk = flags === undefined || (Array.isArray(flags) && flags.every((f) => typeof f === "string"));
  return typeof s["id"] === "string" && typeof s["group"] === "string" && typeof s["title"] === "string" && typeof s["run"] === "function" && flagsOk;
}

/** Imports one module and returns its scenarios; throws with a readable message when malformed. */
export async function loadModule(module: string, dir: string = SCENARIO_DIR): Promise<Scenario[]> {
  const mod = (await import(pathToFileURL(join(dir, module)).href)) as { scenarios?: unknown };
  const list = mod.scenarios;
  if (!Array.isArray(list)) throw new TypeError(`${module} does not export \`scenarios: Scenario[]\``);
  const scenarios: Scenario[] = [];
  for (const item of list as unknown[]) {
    if (!isScenario(item)) throw new TypeError(`${module} exports a scenario without id, group, title or run(), or with an execArgv that is not a list of strings`);
    scenarios.push(item);
  }
  return scenarios;
}

/** Every scenario of every module, in table order; ids must be unique across modules. */
export async function discoverScenarios(dir: string = SCENARIO_DIR): Promise<{ entries: ScenarioEntry[]; problems: ModuleProblem[] }> {
  const entries: ScenarioEntry[] = [];
  const problems: ModuleProblem[] = [];
  const seen = new Set<string>();
  for (const module of await scenarioModules(dir)) {
    try {
      for (const s of await loadModule(module, dir)) {
        if (seen.has(s.id)) {
          problems.push({ module, error: `duplicate scenario id "${s.id}"` });
          continue;
        }
        seen.add(s.id);
        entries.push({ module, id: s.id, group: s.group, title: s.title, execArgv: s.execArgv ?? [] });
      }
    } catch (err) {
      problems.push({ module, error: errorText(err) });
    }
  }
  return { entries, problems };
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === "number");
}

/**
 * Checks what a scenario returned before the report trusts it: a scenario written later by someone
 * else should fail with a message that says what is wrong, not produce a broken table.
 */
export function checkResult(id: string, value: unknown): ScenarioResult {
  const fail = (what: string): never => {
    throw new TypeError(`scenario ${id} returned ${what}`);
  };
  if (typeof value !== "object" || value === null) return fail("no result object");
  const r = value as Record<string, unknown>;
  if (!Array.isArray(r["measurements"])) return fail("no `measurements` array");
  const labels = new Set<string>();
  for (const m of r["measurements"] as unknown[]) {
    const x = (typeof m === "object" && m !== null ? m : {}) as Record<string, unknown>;
    if (typeof x["label"] !== "string" || typeof x["unit"] !== "string" || typeof x["lowerIsBetter"] !== "boolean") {
      fail("a measurement without label, unit or lowerIsBetter");
    }
    if (!isNumberArray(x["samples"])) fail(`measurement "${String(x["label"])}" without a numeric samples array`);
    if (labels.has(x["label"] as string)) fail(`two measurements labelled "${String(x["label"])}"`);
    labels.add(x["label"] as string);
  }
  for (const key of ["ratios", "targets", "notes"]) {
    if (r[key] !== undefined && !Array.isArray(r[key])) fail(`a \`${key}\` that is not an array`);
  }
  return value as ScenarioResult;
}
