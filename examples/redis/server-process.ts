/**
 * Starts a throw-away `redis-server` on 127.0.0.1 and a free port (no persistence), for the demo,
 * the tests and the benchmark. Uses multiloop's own subprocess support.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import { createSubprocessExec, sleep, type Process } from "multiloop";

/** A running redis-server; `stop()` ends it and waits for its exit. */
export interface RedisServer {
  readonly port: number;
  readonly process: Process;
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the kernel picks it; redis-server binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const ARGS = (port: number): string[] => [
  "--port",
  String(port),
  "--bind",
  "127.0.0.1",
  "--save",
  "",
  "--appendonly",
  "no",
  "--enable-debug-command",
  "yes",
];

function binary(): string {
  return process.env["MULTILOOP_REDIS_SERVER"] ?? "redis-server";
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Starts `redis-server` (from PATH, or `MULTILOOP_REDIS_SERVER`) and waits until it accepts
 * connections. Needs a running loop. `DEBUG` is enabled so tests can ask for every RESP3 type.
 */
export async function startRedisServer(options: { timeoutMs?: number } = {}): Promise<RedisServer> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const proc = await createSubprocessExec(binary(), ARGS(port), { stdout: "ignore", stderr: "pipe" });
    let stderr = "";
    void proc.stderr?.read().then((b) => (stderr = String(b)), () => undefined);
    while (proc.returncode === null && Date.now() < deadline) {
      if (await accepts(port)) {
        return {
          port,
          process: proc,
          async stop() {
            if (proc.returncode === null) proc.terminate();
            await proc.wait();
          },
        };
      }
      await sleep(20);
    }
    if (proc.returncode === null) {
      proc.kill();
      await proc.wait();
      throw new Error(`redis-server did not accept connections on port ${port} in time`);
    }
    await proc.wait();
    // The port was taken between freePort() and the bind: try another one.
    if (attempt >= 3 || Date.now() >= deadline) {
      throw new Error(`redis-server exited with ${proc.returncode}: ${stderr.trim()}`);
    }
  }
}

/** A redis-server started without a loop (`spawnRedisServer`). */
export interface PlainRedisServer {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * `startRedisServer` for code outside any loop (test set-up, benchmarks): plain
 * node:child_process, so the server may outlive the loops that use it.
 */
export async function spawnRedisServer(options: { timeoutMs?: number } = {}): Promise<PlainRedisServer> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (let attempt = 0; attempt < 4 && Date.now() < deadline; attempt++) {
    const port = await freePort();
    const child = spawn(binary(), ARGS(port), { stdio: "ignore" });
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.once("error", () => resolve());
    });
    let gone = false;
    void exited.then(() => (gone = true));
    while (!gone && Date.now() < deadline) {
      if (await accepts(port)) {
        return {
          port,
          async stop() {
            if (!gone) child.kill("SIGTERM");
            await exited;
          },
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!gone) {
      child.kill("SIGKILL");
      await exited;
      break;
    }
    // Exited at once: most likely the port was taken meanwhile, or the binary is missing.
    if (child.pid === undefined) break;
  }
  throw new Error(`could not start ${binary()} (is the Debian package redis-server installed?)`);
}
