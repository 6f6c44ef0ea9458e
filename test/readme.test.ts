/**
 * A README that cannot rot (issue 12 §4): every ```ts block of README.md is compiled (strict,
 * against the built package, as a consumer project resolves it) and run, each in a process of its
 * own, and where a block shows output (`// prints <text>`) the process must print that line.
 *
 * - A block is one file, `main.ts`, unless its first line names a file (`// main.ts`): then every
 *   line `// <name>.ts` starts the next file of the block (a loop thread's module, say), and the
 *   first file is the one that runs.
 * - What a fragment leaves out (a `fetchPage` it calls, the `urls` it loops over) is declared in its
 *   hidden preamble, test/readme-preambles.ts, keyed by the block's heading and number; a preamble
 *   that matches no block fails the test, so the two cannot drift apart.
 * - Expected output: in each file, the `// prints` lines must appear in its output in that order
 *   (other lines may come between them).
 * - A block that imports "multiloop/bullmq" needs Redis: it runs against a redis-server started
 *   here (REDIS_URL in its environment); without a redis-server (the global setup found or fetched
 *   none, and said why) such blocks are compiled, and the test fails saying what to install.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preambles } from "./readme-preambles.js";
import { spawnRedisServer, type PlainRedisServer } from "../dist/examples/redis/server-process.js";
import { REDIS_SERVER, installed, missingError } from "./system-programs.js";

const root = join(import.meta.dirname, "..");
const exec = promisify(execFile);

interface Block {
  /** `<heading> #<n>`: the n-th ts block under that heading. */
  id: string;
  /** The block's files, in order; the first one runs. */
  files: Array<{ name: string; code: string }>;
  dir: string;
}

/** The ```ts blocks of a markdown text, with the heading each is under. */
export function tsBlocks(markdown: string): Array<{ id: string; code: string }> {
  const blocks: Array<{ id: string; code: string }> = [];
  const counts = new Map<string, number>();
  let heading = "(top)";
  let fence: string[] | null = null;
  for (const line of markdown.split("\n")) {
    if (fence !== null) {
      if (line.startsWith("```")) {
        const n = (counts.get(heading) ?? 0) + 1;
        counts.set(heading, n);
        blocks.push({ id: `${heading} #${n}`, code: fence.join("\n") });
        fence = null;
      } else {
        fence.push(line);
      }
    } else if (line.startsWith("```ts")) {
      fence = [];
    } else if (/^#{1,6} /u.test(line)) {
      heading = line.replace(/^#+ /u, "");
    }
  }
  return blocks;
}

const FILE_MARKER = /^\/\/ ([\w-]+)\.ts\b/u;

/** A block's files: split at `// <name>.ts` lines when the block starts with one. */
export function splitFiles(code: string): Array<{ name: string; code: string }> {
  const lines = code.split("\n");
  if (!FILE_MARKER.test(lines[0] ?? "")) return [{ name: "main", code }];
  const files: Array<{ name: string; lines: string[] }> = [];
  for (const line of lines) {
    const marker = FILE_MARKER.exec(line);
    if (marker !== null) files.push({ name: marker[1] as string, lines: [] });
    (files.at(-1) as { lines: string[] }).lines.push(line);
  }
  return files.map((f) => ({ name: f.name, code: f.lines.join("\n") }));
}

/** The `// prints <text>` lines of a file, in order. */
export function expectedOutput(code: string): string[] {
  const out: string[] = [];
  for (const line of code.split("\n")) {
    const m = /\/\/ prints (.+?)\s*$/u.exec(line);
    if (m !== null) out.push(m[1] as string);
  }
  return out;
}

/** Whether `expected` appears in `lines` in order (as a subsequence). */
function inOrder(lines: string[], expected: string[]): boolean {
  let i = 0;
  for (const line of lines) if (i < expected.length && line === expected[i]) i++;
  return i === expected.length;
}

const readme = readFileSync(join(root, "README.md"), "utf8");
let work = "";
const blocks: Block[] = [];
let compiled: { code: number; output: string } = { code: -1, output: "" };
let redis: PlainRedisServer | null = null;

/** Whether a block needs a Redis server to run. */
const needsRedis = (block: Block): boolean => block.files.some((f) => f.code.includes(`from "multiloop/bullmq"`));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "multiloop-readme-"));
  // A consumer project: "multiloop" is this package (its built dist/, through its exports map).
  mkdirSync(join(work, "node_modules", "@types"), { recursive: true });
  symlinkSync(root, join(work, "node_modules", "multiloop"), "dir");
  symlinkSync(join(root, "node_modules", "@types", "node"), join(work, "node_modules", "@types", "node"), "dir");
  // multiloop/bullmq's peer dependency, as a consumer that uses it has it.
  for (const dep of ["bullmq", "ioredis"]) symlinkSync(join(root, "node_modules", dep), join(work, "node_modules", dep), "dir");
  writeFileSync(join(work, "package.json"), JSON.stringify({ name: "readme-blocks", private: true, type: "module" }));
  const include: string[] = [];
  for (const [i, { id, code }] of tsBlocks(readme).entries()) {
    const dir = `block-${String(i + 1).padStart(2, "0")}`;
    const files = splitFiles(code);
    const preamble = preambles[id] ?? {};
    for (const file of files) {
      mkdirSync(join(work, "src", dir), { recursive: true });
      const before = preamble[file.name] ?? "";
      writeFileSync(join(work, "src", dir, `${file.name}.ts`), `${before}\n${file.code}\n`);
      include.push(`src/${dir}/${file.name}.ts`);
    }
    for (const [name, code] of Object.entries(preamble)) {
      if (files.some((f) => f.name === name)) continue;
      // A file the block uses but does not show (a module it starts a thread with).
      writeFileSync(join(work, "src", dir, `${name}.ts`), code);
      include.push(`src/${dir}/${name}.ts`);
    }
    blocks.push({ id, files, dir });
  }
  const compilerOptions = {
    strict: true,
    target: "es2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    moduleDetection: "force",
    lib: ["es2023"],
    types: ["node"],
    skipLibCheck: false,
    rootDir: "src",
    outDir: "out",
  };
  writeFileSync(join(work, "tsconfig.json"), JSON.stringify({ compilerOptions, files: include }));
  if (blocks.some(needsRedis) && installed(REDIS_SERVER)) redis = await spawnRedisServer();
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  compiled = await exec(process.execPath, [tsc, "-p", work], { cwd: work, timeout: 90_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, output: `${err.stdout ?? ""}${err.stderr ?? ""}` }),
  );
}, 120_000);

afterAll(async () => {
  await redis?.stop();
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe("README.md", () => {
  it("has ts blocks, and every hidden preamble belongs to one of them", () => {
    const ids = tsBlocks(readme).map((b) => b.id);
    expect(ids.length).toBeGreaterThan(10);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Object.keys(preambles).filter((id) => !ids.includes(id))).toEqual([]);
  });

  it("every ts block compiles strictly against the built package", () => {
    // Names the block of each error (src/block-NN/...) so a failure points at the README.
    const named = compiled.output.replace(/src\/(block-\d+)\//gu, (_m, dir: string) => `[${blocks.find((b) => b.dir === dir)?.id ?? dir}] `);
    expect(named).toBe("");
    expect(compiled.code).toBe(0);
  });

  it("every ts block runs, and prints what it says it prints", { timeout: 120_000 }, async () => {
    expect(compiled.code).toBe(0);
    const failures: string[] = [];
    const queue = blocks.filter((b) => !needsRedis(b) || redis !== null);
    if (redis === null && blocks.some(needsRedis)) failures.push(`the README's Redis blocks did not run: ${missingError(REDIS_SERVER).message}`);
    // Two at a time: the machine's two cores, and blocks that start threads of their own.
    await Promise.all(
      [0, 1].map(async () => {
        for (let block = queue.shift(); block !== undefined; block = queue.shift()) {
          const main = join(work, "out", block.dir, `${(block.files[0] as { name: string }).name}.js`);
          try {
            const env = redis === null ? process.env : { ...process.env, REDIS_URL: `redis://127.0.0.1:${redis.port}` };
            const { stdout } = await exec(process.execPath, [main], { cwd: join(work, "out", block.dir), timeout: 30_000, env });
            const lines = stdout.split("\n");
            for (const file of block.files) {
              const expected = expectedOutput(file.code);
              if (!inOrder(lines, expected)) {
                failures.push(`[${block.id}] ${file.name}.ts should print, in order:\n  ${expected.join("\n  ")}\nbut printed:\n  ${lines.join("\n  ")}`);
              }
            }
          } catch (err) {
            const e = err as { message: string; stdout?: string; stderr?: string };
            failures.push(`[${block.id}] failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
          }
        }
      }),
    );
    expect(failures.join("\n\n")).toBe("");
  });
});
