/**
 * A redis-server for the tests on a machine that has none installed: Debian's own build, fetched
 * with `apt-get download` (no root, nothing installed system-wide) and unpacked with `dpkg-deb`
 * into node_modules/.cache, once. The binary is `redis-check-rdb` of the redis-tools package, which
 * serves when it is called by the name redis-server; its libraries come from the packages fetched
 * with it. The result is a small script that runs it with them: set as MULTILOOP_REDIS_SERVER.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The server and the libraries a bare Debian machine may lack (the rest are in every install). */
const PACKAGES = ["redis-tools", "libjemalloc2", "liblzf1", "libatomic1"];

/** Where the fetched server lives under `projectRoot`. */
export function fetchedRedisDir(projectRoot: string): string {
  return join(projectRoot, "node_modules", ".cache", "multiloop", "redis-server");
}

/** The script that runs the fetched server, if it was fetched before and still answers. */
function ready(script: string): boolean {
  if (!existsSync(script)) return false;
  try {
    return execFileSync(script, ["--version"], { encoding: "utf8", timeout: 10_000 }).startsWith("Redis server");
  } catch {
    return false;
  }
}

/** Fetches (or finds, when fetched before) a redis-server under `dir`; returns the command to run it. Throws what went wrong. */
export function fetchRedisServer(dir: string): string {
  const script = join(dir, "redis-server");
  if (ready(script)) return script;
  rmSync(dir, { recursive: true, force: true });
  const debs = join(dir, "debs");
  const root = join(dir, "root");
  mkdirSync(debs, { recursive: true });
  execFileSync("apt-get", ["download", ...PACKAGES], { cwd: debs, stdio: ["ignore", "ignore", "pipe"], timeout: 120_000 });
  for (const deb of readdirSync(debs)) execFileSync("dpkg-deb", ["-x", join(debs, deb), root], { stdio: ["ignore", "ignore", "pipe"] });
  const binary = join(root, "usr", "bin", "redis-check-rdb");
  if (!existsSync(binary)) throw new Error(`the redis-tools package held no ${binary}`);
  // redis picks its role from the name it is called by.
  mkdirSync(join(dir, "bin"));
  symlinkSync(binary, join(dir, "bin", "redis-server"));
  const libs = ["lib", join("usr", "lib")]
    .map((d) => join(root, d))
    .filter((d) => existsSync(d))
    .flatMap((d) => [d, ...readdirSync(d).filter((name) => name.endsWith("-linux-gnu")).map((name) => join(d, name))]);
  const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  writeFileSync(
    script,
    `#!/bin/sh\nLD_LIBRARY_PATH=${quote(libs.join(":"))}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec ${quote(join(dir, "bin", "redis-server"))} "$@"\n`,
  );
  chmodSync(script, 0o755);
  if (!ready(script)) throw new Error(`the fetched server in ${dir} does not start`);
  return script;
}
