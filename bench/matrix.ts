/**
 * `npm run bench:matrix [-- run.js options]`: runs the benchmark on Node 20 (end of life,
 * reported), 22, 24 and 26, one after the other (nodes.ts says where each binary comes from), and
 * writes them side by side to bench/results/matrix.md and matrix.json. Options such as --quick or
 * --filter are passed to each run; `--out <dir>` moves the matrix files; `--nodes <list>` (or
 * MULTILOOP_NODES) names the binaries.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { renderMatrix } from "./matrix-markdown.js";
import { matrixNodes, nodeVersion, splitNodeList } from "./nodes.js";
import type { Report } from "./report.js";
import { DEFAULT_OUT_DIR } from "./runner.js";

const RUN = fileURLToPath(new URL("./run.js", import.meta.url));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** One benchmark run on `binary`; its progress goes to our stderr, its tables are not repeated. */
function runOn(binary: string, args: readonly string[], outDir: string): Promise<number> {
  return new Promise((resolvePromise) => {
    const child = execFile(binary, ["--expose-gc", RUN, ...args, "--out", outDir], { maxBuffer: 64 * 1024 * 1024 }, (err) => {
      resolvePromise(err === null ? 0 : typeof err.code === "number" ? err.code : 1);
    });
    child.stderr?.pipe(process.stderr);
  });
}

function splitArgs(argv: readonly string[]): { runArgs: string[]; outDir: string; nodes: string[] } {
  const runArgs: string[] = [];
  let outDir = DEFAULT_OUT_DIR;
  let nodes = splitNodeList(process.env["MULTILOOP_NODES"]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--out" && argv[i + 1] !== undefined) outDir = resolve(argv[++i] as string);
    else if (arg.startsWith("--out=")) outDir = resolve(arg.slice("--out=".length));
    else if (arg === "--nodes" && argv[i + 1] !== undefined) nodes = splitNodeList(argv[++i]);
    else if (arg.startsWith("--nodes=")) nodes = splitNodeList(arg.slice("--nodes=".length));
    else runArgs.push(arg);
  }
  return { runArgs, outDir, nodes };
}

async function main(): Promise<number> {
  const { runArgs, outDir, nodes } = splitArgs(process.argv.slice(2));
  const binaries = (await matrixNodes(nodes, log)).map((n) => n.binary);
  const work = await mkdtemp(join(tmpdir(), "multiloop-matrix-"));
  try {
    const reports: Report[] = [];
    for (const [i, binary] of binaries.entries()) {
      const version = await nodeVersion(binary);
      log(`matrix: === Node ${version} (${binary}) ===`);
      const dir = join(work, String(i));
      const code = await runOn(binary, runArgs, dir);
      // Status 1 only means a target was missed under --check; the report is still complete.
      if (code !== 0 && code !== 1) throw new Error(`the benchmark on Node ${version} failed with status ${code}`);
      reports.push(JSON.parse(await readFile(join(dir, "latest.json"), "utf8")) as Report);
    }
    await mkdir(outDir, { recursive: true });
    const json = { schema: 1, date: new Date().toISOString(), runs: reports };
    await writeFile(join(outDir, "matrix.json"), `${JSON.stringify(json, null, 2)}\n`);
    const md = renderMatrix(reports);
    await writeFile(join(outDir, "matrix.md"), md);
    process.stdout.write(md);
    log(`matrix: wrote ${join(outDir, "matrix.md")} and matrix.json`);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exitCode = 1;
  },
);
