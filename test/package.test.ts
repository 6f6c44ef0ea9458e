/**
 * The package as npm ships it (issue 12 §1): a copy of this checkout is packed with `npm pack`
 * (whose `prepack` builds the library and its workers), the tarball is installed into a consumer
 * project outside this one, and that project uses it: `import` and `require()` (Node's
 * require(esm), 20.19+ / 22.12+), loop threads and the executor started from the installed
 * workers, stack traces mapped to the shipped sources by `--enable-source-maps`, and the shipped
 * `.d.ts` compiled strictly (skipLibCheck false, lib es2023, types node) with nodenext, node16 and
 * bundler resolution against the files of test/consumer/.
 */
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const exec = promisify(execFile);
const T = 60_000;

let dir = "";
let files: string[] = [];
let consumer = "";
let installed = "";

/** The environment of a child npm/node: without the npm_* variables of the `npm test` running us. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.toLowerCase().startsWith("npm_")) env[key] = value;
  return { ...env, ...extra };
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await exec("npm", args, { cwd, env: cleanEnv(), maxBuffer: 64 << 20, timeout: 90_000 });
  return stdout;
}

async function node(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return await exec(process.execPath, args, { cwd: consumer, env: cleanEnv(), timeout: 30_000 });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "multiloop-pack-"));
  // A checkout as a clone has it: no dist/ (prepack must build it), the installed node_modules.
  const checkout = join(dir, "checkout");
  cpSync(root, checkout, {
    recursive: true,
    filter: (src) => !/[/\\](node_modules|dist|\.git)$/u.test(src),
  });
  symlinkSync(join(root, "node_modules"), join(checkout, "node_modules"), "dir");
  const packed = JSON.parse(await npm(["pack", "--json", "--pack-destination", dir], checkout)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const [info] = packed;
  if (info === undefined) throw new Error("npm pack printed no package");
  files = info.files.map((f) => f.path).sort();

  consumer = join(dir, "consumer");
  mkdirSync(join(consumer, "node_modules", "@types"), { recursive: true });
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  // The dependencies come from npm's cache (npm ci filled it), the network only if they are missing.
  await npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--no-package-lock", join(dir, info.filename)], consumer);
  installed = join(consumer, "node_modules", "multiloop");
  symlinkSync(join(root, "node_modules", "@types", "node"), join(consumer, "node_modules", "@types", "node"), "dir");
  writeFileSync(join(consumer, "worker.mjs"), "export function add(a, b) { return a + b; }\n");
}, 180_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** What the consumer scripts do with the package: a loop thread and the executor from the installed workers. */
const useIt = `
  const thread = await spawnLoopThread({ name: "consumer-thread", module: new URL("./worker.mjs", import.meta.url) });
  const result = await run(async () => {
    const sum = await thread.call("add", 2, 3);
    const doubled = await toThread((n) => n * 2, sum);
    return { sum, doubled, thread: thread.threadName };
  });
  await thread.stop();
  console.log(JSON.stringify(result));
`;

describe("npm pack", () => {
  it("ships the built library, its workers, the sources the maps name, README and LICENSE; no tests, bench or examples", () => {
    for (const path of files) {
      expect(path).toMatch(/^(LICENSE|README\.md|package\.json|(dist\/)?(src|workers)\/.+)$/u);
    }
    expect(files.filter((p) => /(^|\/)(test|bench|examples|scripts)\//u.test(p))).toEqual([]);
    for (const needed of [
      "LICENSE",
      "README.md",
      "package.json",
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/src/index.js.map",
      "dist/workers/loop-thread.js",
      "dist/workers/executor.js",
      "dist/src/bullmq/index.js",
      "dist/src/bullmq/index.d.ts",
      "dist/src/bullmq/worker-cli.js",
      "src/index.ts",
      "workers/loop-thread.ts",
    ]) {
      expect(files).toContain(needed);
    }
    // Every built module comes with its declarations and its source map.
    for (const js of files.filter((p) => p.endsWith(".js"))) {
      expect(files).toContain(`${js}.map`);
      if (js.startsWith("dist/src/")) expect(files).toContain(js.replace(/\.js$/u, ".d.ts"));
    }
    expect(readFileSync(join(root, "LICENSE"), "utf8")).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} multiloop contributors\n/u);
  });

  it("every source map (code and declarations) names files that are in the package", () => {
    const maps = files.filter((p) => p.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(50);
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(join(installed, map), "utf8")) as { sources: string[] };
      for (const source of sources) expect(existsSync(resolve(dirname(join(installed, map)), source)), `${map} -> ${source}`).toBe(true);
    }
  });
});

describe("the installed package", () => {
  it("works with import: a loop thread and the default executor run from the installed workers", { timeout: T }, async () => {
    writeFileSync(join(consumer, "esm.mjs"), `import { run, spawnLoopThread, toThread } from "multiloop";\n${useIt}`);
    const { stdout } = await node(["esm.mjs"]);
    expect(JSON.parse(stdout)).toEqual({ sum: 5, doubled: 10, thread: "consumer-thread" });
  });

  it("works with require() from CommonJS (require(esm): no top-level await in the library)", { timeout: T }, async () => {
    writeFileSync(
      join(consumer, "cjs.cjs"),
      `const { run, spawnLoopThread, toThread } = require("multiloop");\n` +
        `const { pathToFileURL } = require("node:url");\n` +
        `(async () => {\n${useIt.replace("import.meta.url", "pathToFileURL(__filename)")}\n})();\n`,
    );
    const { stdout } = await node(["cjs.cjs"]);
    expect(JSON.parse(stdout)).toEqual({ sum: 5, doubled: 10, thread: "consumer-thread" });
  });

  it("multiloop/bullmq without bullmq installed: import and require() throw an error naming the package; the bin says so", { timeout: T }, async () => {
    // npm does not install an optional peer dependency: this consumer has no bullmq.
    expect(existsSync(join(consumer, "node_modules", "bullmq"))).toBe(false);
    const probe = (how: string): string =>
      `try { ${how}; console.log("loaded"); } catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message, hint: err.hint })); }`;
    writeFileSync(join(consumer, "peer.mjs"), probe(`await import("multiloop/bullmq")`));
    writeFileSync(join(consumer, "peer.cjs"), probe(`require("multiloop/bullmq")`));
    for (const file of ["peer.mjs", "peer.cjs"]) {
      const { stdout } = await node([file]);
      const err = JSON.parse(stdout) as { code: string; message: string; hint: string };
      expect(err.code).toBe("ERR_LOOP_PEER_MISSING");
      expect(err.message).toContain("'bullmq'");
      expect(err.hint).toContain("npm install bullmq");
    }
    const bin = join(consumer, "node_modules", ".bin", "multiloop-worker");
    expect(readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    const help = await exec(bin, ["--help"], { cwd: consumer, env: cleanEnv(), timeout: 30_000 });
    expect(help.stdout).toContain("Usage: multiloop-worker --queue <name>");
    const failed = await exec(bin, ["--queue", "q", "--allow", "./worker.mjs"], { cwd: consumer, env: cleanEnv(), timeout: 30_000 }).then(
      () => null,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain("multiloop/bullmq needs the package 'bullmq'");
  });

  it("multiloop/bullmq with bullmq installed: the subpath resolves for import and require()", { timeout: T }, async () => {
    for (const dep of ["bullmq", "ioredis"]) symlinkSync(join(root, "node_modules", dep), join(consumer, "node_modules", dep), "dir");
    writeFileSync(
      join(consumer, "bullmq.mjs"),
      `import { QueueExecutor, serveQueue, JobLostError } from "multiloop/bullmq";\nimport { JobLostError as Same } from "multiloop";\n` +
        `console.log(JSON.stringify([typeof QueueExecutor, typeof serveQueue, JobLostError === Same]));\n`,
    );
    writeFileSync(join(consumer, "bullmq.cjs"), `const { QueueExecutor, serveQueue } = require("multiloop/bullmq");\nconsole.log(JSON.stringify([typeof QueueExecutor, typeof serveQueue, true]));\n`);
    for (const file of ["bullmq.mjs", "bullmq.cjs"]) {
      const { stdout } = await node([file]);
      expect(JSON.parse(stdout)).toEqual(["function", "function", true]);
    }
  });

  it("--enable-source-maps points stack traces at real lines of the shipped sources", { timeout: T }, async () => {
    writeFileSync(
      join(consumer, "maps.mjs"),
      `import { getRunningLoop } from "multiloop";\ntry { getRunningLoop(); } catch (err) { console.log(err.stack); }\n`,
    );
    const { stdout } = await node(["--enable-source-maps", "maps.mjs"]);
    const frame = /at getRunningLoop \((.+\.ts):(\d+):\d+\)/u.exec(stdout);
    expect(frame, stdout).not.toBeNull();
    const [, file, line] = frame as unknown as [string, string, string];
    expect(file).toBe(join(installed, "src", "core", "policy.ts"));
    expect(readFileSync(file, "utf8").split("\n")[Number(line) - 1]).toMatch(/NoRunningLoopError/u);
  });

  it("its .d.ts compile in consumers: strict, skipLibCheck false, lib es2023, types node; nodenext, node16, bundler", { timeout: 120_000 }, async () => {
    const sources = readdirSync(join(root, "test", "consumer")).filter((f) => f.endsWith(".ts"));
    for (const file of sources) cpSync(join(root, "test", "consumer", file), join(consumer, file));
    const projects: string[] = [];
    for (const [module, moduleResolution] of [
      ["nodenext", "nodenext"],
      ["node16", "node16"],
      ["esnext", "bundler"],
    ] as const) {
      const name = `tsconfig.${moduleResolution}.json`;
      const compilerOptions = {
        noEmit: true,
        strict: true,
        skipLibCheck: false,
        target: "es2022",
        lib: ["es2023"],
        types: ["node"],
        module,
        moduleResolution,
        tsBuildInfoFile: `./${moduleResolution}.tsbuildinfo`,
      };
      writeFileSync(join(consumer, name), JSON.stringify({ compilerOptions, files: sources }));
      projects.push(name);
    }
    // One `tsc -b` for the three: it shares what it parsed between them.
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const outcome = await exec(process.execPath, [tsc, "-b", ...projects], { cwd: consumer, timeout: 110_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, output: `${err.stdout ?? ""}${err.stderr ?? ""}` }),
    );
    expect(outcome.output).toBe("");
    expect(outcome.code).toBe(0);
  });
});
