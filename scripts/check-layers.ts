/**
 * `npm run check:layers` (run by `npm test`): the tree keeps its layers.
 *
 * Fails when
 * - a folder of src/ imports a folder it may not (the table below: layers only look down);
 * - anything imports src/index.ts from inside src/ (it is the one public entry, on top);
 * - a src/ file is longer than MAX_LINES (one concept per file);
 * - files import each other in a circle of values (what runs at load time), anywhere;
 * - files import each other in a circle through types, except through the model's own types
 *   (MODEL_TYPES) or the circles named in ALLOWED_CYCLES;
 * - workers/, examples/ or bench/ reach into src/ or dist/ instead of importing "multiloop".
 * Type-only imports count like any other for the layers: a layer that needs a type from above is a
 * layer that knows about what is above it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MAX_LINES = 600;

/** What each folder of src/ may import besides itself. Keep in step with README "Layout". */
const MAY_IMPORT: Record<string, readonly string[]> = {
  core: [],
  tasks: ["core"],
  sync: ["core"],
  threads: ["core"],
  net: ["core"],
  executor: ["core", "threads"],
  streams: ["core", "net"],
  subprocess: ["core", "tasks", "net", "streams"],
  // The executor on BullMQ (the multiloop/bullmq entry): a QueueExecutor is an Executor whose
  // futures are the threads layer's ConcurrentFutures and whose values cross as threads encode
  // them; the multiloop-worker bin runs its loop with run() from tasks/.
  bullmq: ["core", "tasks", "threads", "executor"],
};

/**
 * The model itself: files whose types the rest of their folder may name although they import that
 * folder back (a type-only import into one of these closes no circle). In core: the loop runs
 * futures' callbacks and tasks' steps, a task is a future, and every frame carries the running
 * loop, task and context; so each names the others' types, as CPython's events.py, futures.py and
 * tasks.py do. Values still load one way (checked below): context, then futures, tasks, the loop.
 */
const MODEL_TYPES: ReadonlyArray<{ file: string; why: string }> = [
  { file: "src/core/event-loop.ts", why: "futures, tasks and handles are bound to a loop" },
  { file: "src/core/future.ts", why: "the loop and its helpers settle and report futures" },
  { file: "src/core/task.ts", why: "a frame and a wake-up name the task they run" },
  { file: "src/core/context.ts", why: "a frame carries the context its code runs in" },
];

/** Circles of files through types that are a model too, each with why (sorted paths). */
const ALLOWED_CYCLES: ReadonlyArray<{ files: readonly string[]; why: string }> = [
  {
    files: ["src/net/protocol.ts", "src/net/transport.ts"],
    why:
      "a protocol is handed its transport and a transport drives its protocol: the two halves of a " +
      "connection name each other's types (as asyncio's protocols.py and transports.py do); values " +
      "go one way, transport.ts uses protocol.ts",
  },
];

function walk(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(walk(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

interface Import {
  spec: string;
  /** Erased at run time: `import type`, `export type`, every binding `type`, or `declare module`. */
  typeOnly: boolean;
}

function imports(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false);
  const out: Import[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allTypes =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && named !== undefined && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly)));
      out.push({ spec: node.moduleSpecifier.text, typeOnly: allTypes });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause;
      const allTypes = node.isTypeOnly || (named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly));
      out.push({ spec: node.moduleSpecifier.text, typeOnly: allTypes });
    } else if (ts.isModuleDeclaration(node) && ts.isStringLiteral(node.name)) {
      out.push({ spec: node.name.text, typeOnly: true });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg !== undefined && ts.isStringLiteral(arg)) out.push({ spec: arg.text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ spec: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function specifiers(file: string): string[] {
  return imports(file).map((i) => i.spec);
}

/** The .ts file a relative specifier names, or null for a package. */
function resolveLocal(from: string, spec: string): string | null {
  if (!spec.startsWith(".")) return null;
  return resolve(dirname(from), spec.replace(/\.js$/u, ".ts"));
}

const problems: string[] = [];
const rel = (p: string): string => relative(root, p).split(sep).join("/");
const srcDir = join(root, "src");
const srcFiles = walk(srcDir);

function folderOf(file: string): string {
  const parts = relative(srcDir, file).split(sep);
  return parts.length === 1 ? "(top)" : (parts[0] as string);
}

const edges = new Map<string, string[]>();
const valueEdges = new Map<string, string[]>();
const modelFiles = new Set(MODEL_TYPES.map((m) => join(root, m.file)));
for (const file of srcFiles) {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${rel(file)} has ${lines} lines (at most ${MAX_LINES}): split it by concept`);
  const from = folderOf(file);
  if (from !== "(top)" && MAY_IMPORT[from] === undefined) {
    problems.push(`${rel(file)}: folder src/${from}/ is not in scripts/check-layers.ts's table; add it with what it may import`);
  }
  const targets: string[] = [];
  const valueTargets: string[] = [];
  for (const { spec, typeOnly } of imports(file)) {
    const target = resolveLocal(file, spec);
    if (target === null) continue;
    if (!typeOnly || !modelFiles.has(target)) targets.push(target);
    if (!typeOnly) valueTargets.push(target);
    if (target === join(srcDir, "index.ts")) {
      problems.push(`${rel(file)} imports src/index.ts: import the module that defines the name instead`);
      continue;
    }
    const to = folderOf(target);
    if (from === "(top)" || to === from) continue;
    if (!(MAY_IMPORT[from] ?? []).includes(to)) {
      problems.push(`${rel(file)} imports ${rel(target)}: src/${from}/ may import only ${(MAY_IMPORT[from] ?? []).map((f) => `src/${f}/`).join(", ") || "nothing outside itself"}`);
    }
  }
  edges.set(file, targets);
  valueEdges.set(file, valueTargets);
}

/** Circles of files: the strongly connected components of `graph` (Tarjan), sorted paths. */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.map(rel).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return components;
}

// At run time no circle at all: modules load in one order, bottom first.
for (const component of circles(valueEdges)) {
  problems.push(`import circle of values: ${component.join(" -> ")} (break it: a circle of values decides load order by accident)`);
}
// With types: only the circles named in ALLOWED_CYCLES.
for (const component of circles(edges)) {
  const allowed = ALLOWED_CYCLES.some((c) => c.files.length === component.length && c.files.every((f, i) => f === component[i]));
  if (!allowed) problems.push(`import circle: ${component.join(" -> ")} (break it, or name it in ALLOWED_CYCLES with why)`);
}

// Outside src/: users of the package import it by name, like a user would: "multiloop", or a
// subpath its exports map makes public ("multiloop/bullmq").
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> };
const publicSubpaths = new Set(Object.keys(packageJson.exports).map((key) => `multiloop${key.slice(1)}`));
for (const dir of ["workers", "examples", "bench"]) {
  for (const file of walk(join(root, dir))) {
    for (const spec of specifiers(file)) {
      if ((spec.startsWith(".") && /(^|\/)(src|dist)\//u.test(spec)) || (spec.startsWith("multiloop/") && !publicSubpaths.has(spec))) {
        problems.push(`${rel(file)} imports "${spec}": import the public entry "multiloop" (or a subpath its exports map names) instead`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`check:layers: ${problems.length} problem(s)\n- ${problems.join("\n- ")}`);
  process.exitCode = 1;
} else {
  console.log(`check:layers: ${srcFiles.length} files in src/, layers one-way, no circles, none over ${MAX_LINES} lines`);
}
