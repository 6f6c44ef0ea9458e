/**
 * vitest global setup: a redis-server for the suites that need one (test/system-programs.ts). The
 * machine's own when it has one; else Debian's, fetched into node_modules/.cache once
 * (fetch-redis-server.ts) and handed to every test process in MULTILOOP_REDIS_SERVER. If neither
 * works, one loud line says how to install it, and those suites fail (they are never skipped).
 */
import { fileURLToPath } from "node:url";
import { REDIS_SERVER, installed } from "../system-programs.js";
import { fetchRedisServer, fetchedRedisDir } from "./fetch-redis-server.js";

export default function setup(): void {
  if (installed(REDIS_SERVER)) return;
  const dir = fetchedRedisDir(fileURLToPath(new URL("../..", import.meta.url)));
  try {
    process.env["MULTILOOP_REDIS_SERVER"] = fetchRedisServer(dir);
    process.stderr.write(`(${REDIS_SERVER.command} is not installed: the tests use Debian's, fetched into ${dir})\n`);
  } catch (err) {
    const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
    process.stderr.write(
      `*** ${REDIS_SERVER.command} is not installed and could not be fetched (${why}): the tests that need it will fail. Install it with: ${REDIS_SERVER.install}\n`,
    );
  }
}
