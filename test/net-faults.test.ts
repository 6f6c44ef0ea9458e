import type { AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import {
  ConnectionError,
  ConnectionRefusedError,
  GaiError,
  getRunningLoop,
  openConnection,
  run,
  startServer,
} from "multiloop";

describe("faults", () => {
  it("each fault is a typed error at the awaiting call; the worker that saw them all exits by itself", async () => {
    const worker = new Worker(new URL("../dist/test/fixtures/net-faults-worker.js", import.meta.url));
    try {
      const [message, exitCode] = await Promise.all([
        new Promise<{ results: Record<string, string>; stray: string[] }>((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
        new Promise<number>((resolve) => worker.once("exit", resolve)),
      ]);
      const r = message.results;
      expect(r["refused"]).toBe("ConnectionRefusedError:ERR_LOOP_CONNECTION_REFUSED");
      expect(r["refusedProtocol"]).toBe("ConnectionRefusedError:ERR_LOOP_CONNECTION_REFUSED");
      expect(r["dns"]).toBe("GaiError:ERR_LOOP_GAI");
      // Depending on timing the kernel reports the reset on read or on write.
      expect(["ConnectionResetError:ERR_LOOP_CONNECTION_RESET", "BrokenPipeError:ERR_LOOP_BROKEN_PIPE"]).toContain(r["reset"]);
      expect(r["afterServerClose"]).toBe("still served\n");
      expect(r["eofAfterCloseClients"]).toBe("0");
      expect(r["overrun"]).toBe("LimitOverrunError:ERR_LOOP_LIMIT_OVERRUN");
      expect(r["readlineOverrun"]).toBe("RangeError:");
      expect(r["timeout"]).toBe("TimeoutError:ERR_LOOP_TIMEOUT");
      expect(r["missingProgram"]).toBe("FileNotFoundError:ERR_LOOP_FILE_NOT_FOUND");
      expect(message.stray).toEqual([]);
      expect(exitCode).toBe(0);
    } finally {
      await worker.terminate();
    }
  }, 30_000);

  it("refused and unresolvable connections on the main thread: instanceof works, Node's error is the cause", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const probe = await loop.createServer(() => ({}), "127.0.0.1", 0);
      const port = (probe.sockets[0]?.address() as AddressInfo).port;
      probe.close();
      await probe.waitClosed();
      const refused = await openConnection("127.0.0.1", port).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConnectionRefusedError);
      expect(refused).toBeInstanceOf(ConnectionError);
      expect((refused as ConnectionRefusedError).errno).toBe("ECONNREFUSED");
      expect((refused as ConnectionRefusedError).syscall).toBe("connect");
      expect(((refused as Error).cause as { code: string }).code).toBe("ECONNREFUSED");
      const dns = await openConnection("no-such-host.invalid", 80).catch((e: unknown) => e);
      expect(dns).toBeInstanceOf(GaiError);
    });
  }, 30_000);

  it("binding a port in use is an OSError with asyncio's message", async () => {
    await run(async () => {
      const server = await startServer(() => {}, "127.0.0.1", 0);
      try {
        const port = (server.sockets[0]?.address() as AddressInfo).port;
        const err = await startServer(() => {}, "127.0.0.1", port).catch((e: unknown) => e);
        expect((err as { errno: string }).errno).toBe("EADDRINUSE");
        expect((err as Error).message).toBe(
          `error while attempting to bind on address ('127.0.0.1', ${port}): address already in use`,
        );
      } finally {
        server.close();
        await server.waitClosed();
      }
    });
  }, 15_000);
});
