import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import {
  FileNotFoundError,
  OSError,
  PermissionError,
  Process,
  ProcessLookupError,
  StreamReader,
  StreamWriter,
  createSubprocessExec,
  createSubprocessShell,
  gather,
  run,
  sleep,
  type SubprocessOptions,
} from "multiloop";

const T = 20_000;
const node = process.execPath;

describe("createSubprocessExec / createSubprocessShell", () => {
  it("pipes: communicate() feeds stdin and collects stdout and stderr", async () => {
    await run(async () => {
      const proc = await createSubprocessExec(
        node,
        ["-e", "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>{process.stdout.write(s.toUpperCase());process.stderr.write('err:'+s.length);process.exitCode=3})"],
        { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
      );
      expect(proc).toBeInstanceOf(Process);
      expect(proc.pid).toBeGreaterThan(0);
      expect(proc.stdin).toBeInstanceOf(StreamWriter);
      expect(proc.stdout).toBeInstanceOf(StreamReader);
      expect(proc.returncode).toBeNull();
      const [out, err] = await proc.communicate(Buffer.from("hello"));
      expect(String(out)).toBe("HELLO");
      expect(String(err)).toBe("err:5");
      expect(proc.returncode).toBe(3);
      expect(await proc.wait()).toBe(3);
    });
  }, T);

  it("streams that are not piped are null, and communicate() gives null for them", async () => {
    await run(async () => {
      const proc = await createSubprocessExec(node, ["-e", "console.log('out')"], { stdout: "pipe", stderr: "ignore" });
      expect(proc.stdin).toBeNull();
      expect(proc.stderr).toBeNull();
      expect(await proc.communicate()).toEqual([Buffer.from("out\n"), null]);
      expect(proc.returncode).toBe(0);
    });
  }, T);

  it("the shell variant runs /bin/sh -c", async () => {
    await run(async () => {
      const proc = await createSubprocessShell("echo one; echo two 1>&2; exit 7", { stdout: "pipe", stderr: "pipe" });
      const [out, err] = await proc.communicate();
      expect(String(out)).toBe("one\n");
      expect(String(err)).toBe("two\n");
      expect(proc.returncode).toBe(7);
    });
  }, T);

  it("stdout can be read line by line while the child runs; stdin written with drain and closed", async () => {
    await run(async () => {
      const proc = await createSubprocessExec(
        node,
        ["-e", "require('readline').createInterface({input:process.stdin}).on('line',l=>console.log('#'+l))"],
        { stdin: "pipe", stdout: "pipe" },
      );
      const stdin = proc.stdin as StreamWriter;
      const stdout = proc.stdout as StreamReader;
      stdin.write("a\n");
      await stdin.drain();
      expect(String(await stdout.readline())).toBe("#a\n");
      stdin.write("b\nc\n");
      expect(stdin.canWriteEof()).toBe(true);
      stdin.close();
      const lines: string[] = [];
      for await (const line of stdout) lines.push(String(line));
      expect(lines).toEqual(["#b\n", "#c\n"]);
      expect(await proc.wait()).toBe(0);
    });
  }, T);

  it("signals: negative return codes; ProcessLookupError once the child is reaped", async () => {
    await run(async () => {
      const cases: [(p: Process) => void, number][] = [
        [(p) => p.terminate(), -15],
        [(p) => p.kill(), -9],
        [(p) => p.sendSignal("SIGINT"), -2],
        [(p) => p.sendSignal(10), -10],
      ];
      for (const [send, code] of cases) {
        const proc = await createSubprocessExec("sleep", ["30"]);
        send(proc);
        expect(await proc.wait()).toBe(code);
        expect(proc.returncode).toBe(code);
        for (const again of [() => proc.kill(), () => proc.terminate(), () => proc.sendSignal("SIGHUP")]) {
          expect(again).toThrow(ProcessLookupError);
        }
        try {
          proc.kill();
        } catch (err) {
          expect(err).toMatchObject({ code: "ESRCH", errno: -osConstants.errno.ESRCH, syscall: "kill" });
          expect(err).toBeInstanceOf(OSError);
        }
      }
    });
  }, T);

  it("a child that exits at once: its exit is not missed, however late wait() comes", async () => {
    await run(async () => {
      const procs = await gather(Array.from({ length: 8 }, () => () => createSubprocessExec("true")), {});
      await sleep(100);
      for (const p of procs) {
        expect(p.returncode).toBe(0);
        expect(await p.wait()).toBe(0);
      }
      const failing = await createSubprocessShell("exit 5");
      await sleep(50);
      expect(await failing.wait()).toBe(5);
    });
  }, T);

  it("a child that exits without reading its input: communicate() ignores the broken pipe", async () => {
    await run(async () => {
      const proc = await createSubprocessExec(node, ["-e", "process.exit(0)"], { stdin: "pipe", stdout: "pipe" });
      const [out] = await proc.communicate(Buffer.alloc(8 * 1024 * 1024, 1));
      expect(out?.length).toBe(0);
      expect(proc.returncode).toBe(0);
    });
  }, T);

  it("a missing program is FileNotFoundError; a file that is not executable is PermissionError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "multiloop-"));
    try {
      const plain = join(dir, "not-executable");
      writeFileSync(plain, "#!/bin/sh\n");
      chmodSync(plain, 0o644);
      await run(async () => {
        const missing = await createSubprocessExec(join(dir, "nope"), [], { stdout: "pipe" }).catch((e: unknown) => e);
        expect(missing).toBeInstanceOf(FileNotFoundError);
        // Node's fields, as every Node user checks them, on asyncio's class.
        expect(missing).toBeInstanceOf(OSError);
        expect(missing).toMatchObject({ code: "ENOENT", errno: -2, path: join(dir, "nope") });
        expect((missing as FileNotFoundError).syscall).toMatch(/^spawn /u);
        expect(((missing as Error).cause as NodeJS.ErrnoException).code).toBe("ENOENT");
        const denied = await createSubprocessExec(plain).catch((e: unknown) => e);
        expect(denied).toBeInstanceOf(PermissionError);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, T);

  it("checks arguments with asyncio's messages", async () => {
    await run(async () => {
      const bad = (o: Record<string, unknown>): SubprocessOptions => o;
      await expect(createSubprocessExec("true", [], bad({ text: true }))).rejects.toThrow(new RangeError("text must be False"));
      await expect(createSubprocessExec("true", [], bad({ encoding: "utf8" }))).rejects.toThrow("encoding must be None");
      await expect(createSubprocessExec("true", [], bad({ universalNewlines: true }))).rejects.toThrow(
        "universal_newlines must be False",
      );
      await expect(createSubprocessExec("true", [], bad({ bufsize: 4096 }))).rejects.toThrow("bufsize must be 0");
      await expect(createSubprocessExec("true", [], bad({ shell: true }))).rejects.toThrow("shell must be False");
      await expect(createSubprocessShell(["ls"] as unknown as string)).rejects.toThrow(new TypeError("cmd must be a string"));
      await expect(createSubprocessExec(42 as unknown as string)).rejects.toThrow(TypeError);
      await expect(createSubprocessExec("true", "x" as unknown as string[])).rejects.toThrow(TypeError);
      await expect(createSubprocessExec("true", [], bad({ stdout: "piped" }))).rejects.toThrow(TypeError);
      await expect(createSubprocessExec("true", [], bad({ limit: 0 }))).rejects.toThrow(RangeError);
      const proc = await createSubprocessExec("true");
      expect(() => proc.sendSignal("x" as unknown as number)).toThrow();
      await proc.wait();
    });
  }, T);

  it("works from a worker thread's loop, and the worker exits by itself afterwards", async () => {
    const worker = new Worker(new URL("../dist/test/fixtures/subprocess-worker.js", import.meta.url));
    try {
      const [message, code] = await Promise.all([
        new Promise((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
        new Promise<number>((resolve) => worker.once("exit", resolve)),
      ]);
      expect(message).toEqual({ out: "from a worker", code: 0, killed: -9 });
      expect(code).toBe(0);
    } finally {
      await worker.terminate();
    }
  }, T);
});
