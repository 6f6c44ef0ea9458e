/**
 * The contract between the benchmark runner (bench/run.ts) and the scenario modules in
 * bench/scenarios/*.ts. A scenario measures multiloop and its baselines in the same run; the runner
 * turns samples into medians (min-max), computes the ratios, checks targets, and writes
 * bench/results/latest.{json,md,svg}.
 */

export interface BenchContext {
  /** `--quick`: the same scenarios with fewer iterations; the whole run stays under 60 s. */
  readonly quick: boolean;
  /** Test mode: tiny iteration counts, only to prove each scenario runs and reports its shape. */
  readonly tiny: boolean;
  /** Writes a progress line to stderr. */
  progress(message: string): void;
}

export interface Measurement {
  /** What was measured, unique within the scenario: "multiloop callSoon drain", "setImmediate". */
  readonly label: string;
  /** "ns/op", "us/op", "ops/s", "req/s", "bytes", ... */
  readonly unit: string;
  /** True for times and sizes, false for throughputs. */
  readonly lowerIsBetter: boolean;
  /** One value per repetition, after warm-up. */
  readonly samples: readonly number[];
  /**
   * Set on a peer's figure (CPython asyncio): the multiloop figure it corresponds to, written
   * "<scenario id>:<label>". The tables show the peer in a column next to that figure.
   */
  readonly peerOf?: string;
}

export interface Target {
  /** The issue or document that sets it, e.g. "issue 3 §8". */
  readonly source: string;
  readonly max?: number;
  readonly min?: number;
  /**
   * The Node major line the target is set for; default `TARGET_NODE` (26, the active LTS: issue
   * 14 §1). Runs on Node `JUDGED_FROM` (24) and later judge it; older ones show and mark it, with
   * the verdict "not judged" (report.ts).
   */
  readonly node?: number;
}

export interface RatioSpec {
  /** Labels of two measurements of the same scenario; ratio = median(numerator) / median(denominator). */
  readonly numerator: string;
  readonly denominator: string;
  readonly target?: Target;
}

export interface AbsoluteTarget extends Target {
  /** Label of the measurement the target applies to (its median, in its unit). */
  readonly label: string;
}

export interface ScenarioResult {
  readonly measurements: readonly Measurement[];
  readonly ratios?: readonly RatioSpec[];
  readonly targets?: readonly AbsoluteTarget[];
  /** Anything a reader needs to know (a peer that was missing, a parameter). */
  readonly notes?: readonly string[];
}

export interface Scenario {
  /** Unique, filterable with `--filter`: "single.callSoon", "threads.roundtrip", "net.echo". */
  readonly id: string;
  /** The table it is shown in: "single thread", "across threads", "memory", "networking", ... */
  readonly group: string;
  readonly title: string;
  /**
   * Node flags for this scenario's process, besides the runner's own and --expose-gc (the soak
   * fixes the young generation's size, so V8 growing it is not read as memory growth).
   */
  readonly execArgv?: readonly string[];
  run(ctx: BenchContext): Promise<ScenarioResult>;
}
