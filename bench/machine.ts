/**
 * What the figures were measured on: the machine and the runtime. Recorded in every report so two
 * reports are never compared blind (and so the matrix can tell Node versions apart).
 */
import * as os from "node:os";

export interface Machine {
  readonly platform: string;
  readonly release: string;
  readonly arch: string;
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly cpuMHz: number | null;
  readonly totalMemoryBytes: number;
  /** 1-minute load average when the run started: other processes on the same cores add noise. */
  readonly loadAverageAtStart: number;
  readonly node: string;
  readonly v8: string;
  readonly uv: string;
  /** The command line flags Node was started with (the runner adds --expose-gc for scenarios). */
  readonly execArgv: readonly string[];
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  const first = cpus[0];
  return {
    platform: os.platform(),
    release: os.release(),
    arch: os.arch(),
    cpuModel: first?.model.trim() ?? "unknown",
    cpuCount: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    cpuMHz: first !== undefined && first.speed > 0 ? first.speed : null,
    totalMemoryBytes: os.totalmem(),
    loadAverageAtStart: os.loadavg()[0] ?? 0,
    node: process.version,
    v8: process.versions.v8,
    uv: process.versions.uv ?? "unknown",
    execArgv: [...process.execArgv],
  };
}

/** One line for humans: "Node v20.20.2 (V8 11.3…), linux x64, 2 × AMD EPYC". */
export function machineLine(m: Machine): string {
  const mhz = m.cpuMHz === null ? "" : ` @ ${m.cpuMHz} MHz`;
  return `Node ${m.node} (V8 ${m.v8}), ${m.platform} ${m.arch}, ${m.cpuCount} × ${m.cpuModel}${mhz}, ${Math.round(m.totalMemoryBytes / 2 ** 30)} GiB RAM`;
}
