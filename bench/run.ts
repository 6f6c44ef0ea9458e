/**
 * `npm run bench [-- options]`: runs the scenarios, prints the tables on stdout and progress on
 * stderr, writes bench/results/latest.{json,md,svg}; a full run on Node 26 also rewrites the
 * README's benchmark tables (readme-tables.ts).
 *
 *   --quick           the same scenarios with fewer iterations (the whole run stays under 60 s)
 *   --tiny            tiny iteration counts: proves every scenario runs (used by the tests)
 *   --filter <text>   only the scenarios whose id contains <text> (case-insensitive)
 *   --check           exit with status 1 when a target is missed or a scenario fails
 *   --out <dir>       write the results there instead of bench/results
 */
import { resolve } from "node:path";
import { formatNumber, formatRatio } from "./format.js";
import { JUDGED_FROM, type Mode } from "./report.js";
import { updateReadme } from "./readme-tables.js";
import { DEFAULT_OUT_DIR, runBench } from "./runner.js";

interface CliOptions {
  mode: Mode;
  filter: string | null;
  check: boolean;
  outDir: string;
}

const USAGE = "usage: run.js [--quick | --tiny] [--filter <text>] [--check] [--out <dir>]";

function parseArgs(argv: readonly string[]): CliOptions {
  const options: CliOptions = { mode: "full", filter: null, check: false, outDir: DEFAULT_OUT_DIR };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new Error(`${flag} needs a value\n${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    switch (flag) {
      case "--quick":
        options.mode = "quick";
        break;
      case "--tiny":
        options.mode = "tiny";
        break;
      case "--check":
        options.check = true;
        break;
      case "--filter":
        options.filter = inline ?? value(i++, flag);
        break;
      case "--out":
        options.outDir = resolve(inline ?? value(i++, flag));
        break;
      case "--help":
      case "-h":
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  return options;
}

async function main(): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const { report, markdown } = await runBench({
    mode: options.mode,
    filter: options.filter,
    outDir: options.outDir,
    log: (line) => {
      process.stderr.write(`${line}\n`);
    },
  });
  process.stdout.write(markdown);
  // Only a run into the repository's own results may rewrite the repository's README.
  if (options.outDir === DEFAULT_OUT_DIR) process.stderr.write(`${await updateReadme(report)}\n`);
  const s = report.summary;
  if (s.scenarios === 0) {
    process.stderr.write(`no scenario matches --filter ${options.filter ?? ""}\n`);
    return 2;
  }
  process.stderr.write(
    `targets: ${s.passed} met, ${s.failed} missed, ${s.notMeasured} not measured, ${s.notJudged} not judged on this Node (judged on ${JUDGED_FROM} and later); scenario errors: ${s.errors}\n`,
  );
  if (options.check && (s.failed > 0 || s.errors > 0)) {
    for (const t of report.targets.filter((x) => x.verdict === "fail")) {
      const value = t.kind === "ratio" ? formatRatio(t.value) : `${formatNumber(t.value)} ${t.unit ?? ""}`;
      const bound = t.max !== undefined ? `≤ ${formatNumber(t.max)}` : `≥ ${formatNumber(t.min)}`;
      process.stderr.write(`MISSED ${t.scenario}: ${t.subject} = ${value.trim()}, target ${bound} (${t.source})\n`);
    }
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
