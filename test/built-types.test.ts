/**
 * The package's built `.d.ts`, as a TypeScript user gets them: a consumer project outside this
 * one (its own tsconfig, "multiloop" resolved through node_modules and the exports map) compiles
 * the files of test/consumer/ strictly.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A consumer project with `files` from test/consumer/ and the given compiler options. */
function consumer(files: string[], options: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "multiloop-consumer-"));
  dirs.push(dir);
  mkdirSync(join(dir, "node_modules", "@types"), { recursive: true });
  symlinkSync(root, join(dir, "node_modules", "multiloop"), "dir");
  symlinkSync(join(root, "node_modules", "@types", "node"), join(dir, "node_modules", "@types", "node"), "dir");
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  for (const file of files) copyFileSync(join(root, "test", "consumer", file), join(dir, file));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { noEmit: true, ...options }, files }));
  return dir;
}

async function compile(dir: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [tsc, "-p", dir], { cwd: dir });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("built types in a consumer project", () => {
  it("EventLoop's thread and networking methods are visible from the built index.d.ts (strict, nodenext)", async () => {
    const dir = consumer(["loop-methods.ts"], {
      strict: true,
      module: "nodenext",
      moduleResolution: "nodenext",
      target: "es2022",
      lib: ["es2023", "esnext.disposable"],
      types: ["node"],
      skipLibCheck: true,
    });
    const { code, output } = await compile(dir);
    expect(output).toBe("");
    expect(code).toBe(0);
  }, 60_000);
});
