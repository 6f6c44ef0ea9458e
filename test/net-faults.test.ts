import type { AddressInfo } from "node:net";
import { constants as osConstants } from "node:os";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import {
  ConnectionError,
  ConnectionRefusedError,
  ConnectionResetError,
  GaiError,
  OSError,
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
      expect(r["refused"]).toBe("ConnectionRefusedError:ECONNREFUSED");
      expect(r["refusedProtocol"]).toBe("ConnectionRefusedError:ECONNREFUSED");
      expect(r["dns"]).toBe("GaiError:ENOTFOUND");
      // Depending on timing the kernel reports the reset on read or on write.
      expect(["ConnectionResetError:ECONNRESET", "BrokenPipeError:EPIPE"]).toContain(r["reset"]);
      expect(r["afterServerClose"]).toBe("still served\n");
      expect(r["eofAfterCloseClients"]).toBe("0");
      expect(r["overrun"]).toBe("LimitOverrunError:ERR_LOOP_LIMIT_OVERRUN");
      expect(r["readlineOverrun"]).toBe("RangeError:");
      expect(r["timeout"]).toBe("TimeoutError:ERR_LOOP_TIMEOUT");
      expect(r["missingProgram"]).toBe("FileNotFoundError:ENOENT");
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
      expect(refused).toBeInstanceOf(OSError);
      // Node's fields, as on the Node error (its `cause`): code, numeric errno, syscall, address, port.
      const cause = (refused as Error).cause as NodeJS.ErrnoException & { address: string; port: number };
      expect(cause.code).toBe("ECONNREFUSED");
      expect(refused).toMatchObject({
        name: "ConnectionRefusedError",
        code: "ECONNREFUSED",
        errno: cause.errno,
        syscall: "connect",
        address: "127.0.0.1",
        port,
      });
      expect((refused as OSError).errno).toBe(-osConstants.errno.ECONNREFUSED);
      const dns = await openConnection("no-such-host.invalid", 80).catch((e: unknown) => e);
      expect(dns).toBeInstanceOf(GaiError);
      expect(dns).toMatchObject({ syscall: "getaddrinfo", hostname: "no-such-host.invalid" });
      expect(["ENOTFOUND", "EAI_AGAIN"]).toContain((dns as GaiError).code);
      expect(typeof (dns as GaiError).errno).toBe("number");
    });
  }, 30_000);

  it("OS errors made without a Node error carry the code their class stands for, as Node would", () => {
    const reset = new ConnectionResetError("Connection lost");
    expect(reset).toBeInstanceOf(ConnectionError);
    expect(reset).toBeInstanceOf(OSError);
    expect({ ...reset }).toEqual({ code: "ECONNRESET", errno: -osConstants.errno.ECONNRESET });
    expect(new OSError("odd", { code: "EBUSY", syscall: "rmdir", path: "/x" })).toMatchObject({
      code: "EBUSY",
      errno: -osConstants.errno.EBUSY,
      syscall: "rmdir",
      path: "/x",
    });
    // A base OSError without a system code keeps the package's code, and no errno.
    expect({ ...new OSError("no code") }).toEqual({ code: "ERR_LOOP_OS" });
  });

  it("binding a port in use is an OSError with asyncio's message", async () => {
    await run(async () => {
      const server = await startServer(() => {}, "127.0.0.1", 0);
      try {
        const port = (server.sockets[0]?.address() as AddressInfo).port;
        const err = await startServer(() => {}, "127.0.0.1", port).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OSError);
        expect(err).toMatchObject({ code: "EADDRINUSE", errno: -osConstants.errno.EADDRINUSE, syscall: "listen", port });
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
