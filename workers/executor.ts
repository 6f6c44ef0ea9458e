/**
 * Entry point of the executor's pool threads (piscina): runs one call of `runInExecutor`/`toThread`.
 * Always answers with a reply object, errors packed in multiloop's envelope, so they keep their
 * class and properties.
 */
import { workerData } from "node:worker_threads";
import { contextFromEntries, currentThreadName, serializeError } from "multiloop";
import type { ExecutorReply, ExecutorTask } from "multiloop";

/** The pool's shared start flags (see ExecutorTask.slot). */
const sharedFlags = (workerData as Record<string, Int32Array> | null)?.["multiloop:executorFlags"] ?? null;

const compiled = new Map<string, (...args: unknown[]) => unknown>();
/** Module namespaces by URL: `await import()` of a cached module still costs ~8 us per call. */
const modules = new Map<string, Record<string, unknown>>();

function compile(source: string): (...args: unknown[]) => unknown {
  let fn = compiled.get(source);
  if (fn === undefined) {
    // Indirect eval: the function is rebuilt in this thread's global scope, with no closure.
    fn = (0, eval)(`(${source})`) as (...args: unknown[]) => unknown;
    compiled.set(source, fn);
  }
  return fn;
}

function explainMissingVariable(err: unknown): unknown {
  if (!(err instanceof ReferenceError)) return err;
  const name = /^(\S+) is not defined$/u.exec(err.message)?.[1];
  if (name === undefined) return err;
  return new ReferenceError(
    `The function given to runInExecutor/toThread uses \`${name}\`, which does not exist in the executor thread ` +
      `'${currentThreadName()}'. Functions are sent by their source text and cannot use variables from outside their ` +
      `own body: pass \`${name}\` as an argument, or export the function from a module and use { filename, name }.`,
    { cause: err },
  );
}

function unsendable(value: unknown): TypeError | null {
  if (typeof value !== "object" && typeof value !== "function" && typeof value !== "symbol") return null;
  if (value === null) return null;
  try {
    structuredClone(value);
    return null;
  } catch (err) {
    return new TypeError(
      `The result of the function run in executor thread '${currentThreadName()}' cannot be sent back: ` +
        `${err instanceof Error ? err.message : String(err)}. Results cross threads by structured clone; return plain data instead.`,
      { cause: err },
    );
  }
}

export default async function runTask(task: ExecutorTask): Promise<ExecutorReply> {
  const flags = task.start ?? sharedFlags;
  const index = task.start === null ? task.slot : 0;
  if (flags !== null && Atomics.compareExchange(flags, index, 0, 1) !== 0) return { ok: false, skipped: true };
  try {
    let fn: (...args: unknown[]) => unknown;
    if (task.source !== null) {
      fn = compile(task.source);
    } else {
      const filename = task.filename as string;
      let mod = modules.get(filename);
      if (mod === undefined) modules.set(filename, (mod = (await import(filename)) as Record<string, unknown>));
      const exported = mod[task.name as string];
      if (typeof exported !== "function") {
        throw new TypeError(`Module ${task.filename} has no exported function named '${task.name}'`);
      }
      fn = exported as (...args: unknown[]) => unknown;
    }
    const call = (): unknown => fn(...task.args);
    const value = await (task.context === null ? call() : contextFromEntries(task.context).run(call));
    // piscina posts the reply itself; a result it cannot clone would end this thread
    // (piscina rethrows the DataCloneError here), so it is checked first.
    const refused = unsendable(value);
    if (refused !== null) return { ok: false, error: serializeError(refused) };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: serializeError(explainMissingVariable(err)) };
  }
}
