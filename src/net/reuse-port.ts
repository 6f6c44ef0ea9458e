/**
 * `reusePort` (SO_REUSEPORT): several listening sockets, in any threads of the process, bound to
 * one port; the kernel spreads incoming connections over them. What each Node does with
 * `net.Server.listen({ reusePort: true })`, checked on Linux:
 * - 20 (and 22 before 22.12, 23.0): ignores the option without a word, so the first listener
 *   binds as usual and every other one fails with EADDRINUSE;
 * - 22.12+, 23.1+, 24, 26: honours it (libuv's UV_TCP_REUSEPORT), on Linux 3.9+, FreeBSD 12+,
 *   DragonFlyBSD 3.6+, Solaris 11.4 and AIX 7.2.5+; elsewhere listen fails with ENOTSUP.
 * A silently ignored option would turn into a confusing EADDRINUSE on the second thread, so on a
 * Node that lacks it `createServer`/`startServer` refuse it up front, naming the version.
 */
import { RuntimeError } from "../core/errors.js";

/** Whether Node `version` ("22.12.0", no "v") honours `reusePort` on `net.Server.listen`. */
export function nodeHasReusePort(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major === 22) return minor >= 12;
  if (major === 23) return minor >= 1;
  return major > 23;
}

/** Throws the error that explains why this Node cannot share a port between listeners. */
export function checkReusePort(version: string = process.versions.node): void {
  if (nodeHasReusePort(version)) return;
  throw new RuntimeError(
    `\`reusePort\` needs Node >= 22.12 (or >= 23.1); this is Node v${version}, whose net.Server.listen ignores it, ` +
      "so a second listener on the same port would fail with EADDRINUSE",
    {
      code: "ERR_LOOP_REUSEPORT_UNSUPPORTED",
      hint:
        "Upgrade Node to 22.12 or later, or accept connections on one thread and hand the requests to loop " +
        "threads (spawnLoopPool, then pool.call from the server's handler).",
    },
  );
}
