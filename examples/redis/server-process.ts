/**
 * Starts a throw-away `redis-server` on 127.0.0.1 and a free port (no persistence), for the demo,
 * the tests and the benchmark. Uses multiloop's own subprocess support.
 */
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
  const binary = process.env["MULTILOOP_REDIS_SERVER"] ?? "redis-server";
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const proc = await createSubprocessExec(
      binary,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--enable-debug-command", "yes"],
      { stdout: "ignore", stderr: "pipe" },
    );
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
