/**
 * The CPython asyncio peer: runs bench/asyncio/main.py with the machine's `python3` (or the one
 * named by MULTILOOP_BENCH_PYTHON) and reports its figures, each tied with `peerOf` to the multiloop
 * figure it corresponds to, so the tables show them side by side. Without a Python the scenarios
 * say so in a note and the run goes on.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { pick } from "../measure.js";
import type { BenchContext, Measurement, Scenario, ScenarioResult } from "../scenario-types.js";

const SCRIPT = fileURLToPath(new URL("../../../bench/asyncio/main.py", import.meta.url));

function python(): string {
  return process.env["MULTILOOP_BENCH_PYTHON"] ?? "python3";
}

interface PeerSpec {
  readonly unit: string;
  readonly lowerIsBetter: boolean;
  /** "<scenario id>:<label>" of the multiloop figure. */
  readonly peerOf: string;
}

const time = (unit: string, peerOf: string): PeerSpec => ({ unit, lowerIsBetter: true, peerOf });
const rate = (unit: string, peerOf: string): PeerSpec => ({ unit, lowerIsBetter: false, peerOf });

/** Labels printed by the Python side, in table order, with the multiloop figure each matches. */
const PEERS: Record<string, Record<string, PeerSpec>> = {
  single: {
    "asyncio call_soon drain": time("ns/callback", "single.callSoon:multiloop callSoon drain"),
    "asyncio call_soon schedule": time("ns/callback", "single.callSoon:multiloop callSoon schedule"),
    "asyncio call_later total": time("ns/timer", "single.callLater:multiloop callLater total"),
    "asyncio call_later schedule": time("ns/timer", "single.callLater:multiloop callLater schedule"),
    "asyncio create_task + gather": time("us/task", "single.gather:multiloop createTask + gather"),
    "asyncio sleep(0) ping-pong": time("us/switch", "single.sleep0:multiloop sleep(0) ping-pong"),
    "asyncio Future hand-off": time("us/hand-off", "single.handoff:multiloop Future hand-off"),
  },
  sync: {
    "asyncio Queue, unbounded": time("ns/item", "sync.queue:multiloop Queue, unbounded"),
    "asyncio Queue, maxsize 1": time("ns/item", "sync.queue:multiloop Queue, maxsize 1"),
    "asyncio Lock acquire + release": time("ns/op", "sync.lock:multiloop Lock acquire + release"),
  },
  threads: {
    "asyncio run_coroutine_threadsafe": time("us/round trip", "threads.roundtrip:multiloop runCoroutineThreadsafe"),
    "asyncio run_coroutine_threadsafe, in flight": rate("calls/s", "threads.inflight:multiloop runCoroutineThreadsafe"),
    "asyncio call_soon_threadsafe": rate("calls/s", "threads.oneway:multiloop callSoonThreadsafe"),
  },
};

interface PythonOutput {
  python: string;
  implementation: string;
  samples: Record<string, number[]>;
  notes: string[];
}

function parseOutput(stdout: string): PythonOutput {
  const data = JSON.parse(stdout) as Partial<PythonOutput>;
  if (typeof data.python !== "string" || typeof data.samples !== "object" || data.samples === null) {
    throw new Error(`unexpected output from ${SCRIPT}: ${stdout.slice(0, 200)}`);
  }
  return { python: data.python, implementation: data.implementation ?? "?", samples: data.samples, notes: data.notes ?? [] };
}

type PythonRun = { ok: true; output: PythonOutput } | { ok: false; missing: boolean; message: string };

function runPython(group: string, mode: string, timeoutMs: number): Promise<PythonRun> {
  return new Promise((resolve) => {
    execFile(python(), [SCRIPT, group, mode], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) {
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        const detail = missing ? `${python()} was not found` : `${err.message.split("\n")[0] ?? ""} ${stderr.trim().split("\n").slice(-3).join(" ")}`;
        resolve({ ok: false, missing, message: detail });
        return;
      }
      try {
        resolve({ ok: true, output: parseOutput(stdout) });
      } catch (parseError) {
        resolve({ ok: false, missing: false, message: (parseError as Error).message });
      }
    });
  });
}

function peerScenario(group: string, title: string): Scenario {
  return {
    id: `asyncio.${group}`,
    group: "CPython asyncio (peer)",
    title,
    async run(ctx: BenchContext): Promise<ScenarioResult> {
      const mode = ctx.tiny ? "tiny" : ctx.quick ? "quick" : "full";
      const result = await runPython(group, mode, pick(ctx, { full: 600_000, quick: 60_000, tiny: 60_000 }));
      if (!result.ok) {
        // A missing interpreter is expected on some machines: say so and go on. A Python that is
        // there but fails is a bug in the peer scripts: fail the scenario so it gets fixed.
        if (result.missing) {
          return { measurements: [], notes: [`CPython asyncio peer skipped: ${result.message} (set MULTILOOP_BENCH_PYTHON to use another).`] };
        }
        throw new Error(`the CPython asyncio peer failed: ${result.message}`);
      }
      const { output } = result;
      const measurements: Measurement[] = [];
      for (const [label, spec] of Object.entries(PEERS[group] ?? {})) {
        const samples = output.samples[label];
        if (samples === undefined) continue;
        measurements.push({ label, unit: spec.unit, lowerIsBetter: spec.lowerIsBetter, samples, peerOf: spec.peerOf });
      }
      return {
        measurements,
        notes: [`${output.implementation} ${output.python}, bench/asyncio/${group}.py.`, ...output.notes],
      };
    },
  };
}

export const scenarios: Scenario[] = [
  peerScenario("single", "asyncio: call_soon, call_later, create_task + gather, sleep(0), Future hand-off"),
  peerScenario("sync", "asyncio: Queue put/get, Lock"),
  peerScenario("threads", "asyncio: run_coroutine_threadsafe, call_soon_threadsafe"),
];
