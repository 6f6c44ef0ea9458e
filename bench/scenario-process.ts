/**
 * Runs one scenario in a process of its own and sends the result to the runner over IPC.
 *
 * Why a process per scenario: a scenario that retains a million callbacks, or compiles its hot
 * paths for one shape of object, leaves a heap and a JIT state that would tilt the next scenario's
 * figures; the memory scenario needs a heap nobody else touched; and a scenario that leaves a
 * worker running (or hangs) cannot keep the whole run from finishing, since the runner can end
 * this process.
 *
 * Usage (by the runner only): node --expose-gc scenario-process.js <module.js> <scenario id> <mode>
 */
import { checkResult, errorText, loadModule } from "./discover.js";
import type { BenchContext } from "./scenario-types.js";

export type ChildMessage =
  | { readonly type: "result"; readonly result: unknown }
  | { readonly type: "error"; readonly error: string };

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.send === undefined) {
      reject(new Error("scenario-process.js must be started by the benchmark runner (no IPC channel)"));
      return;
    }
    process.send(message, undefined, {}, (err: Error | null) => (err === null ? resolve() : reject(err)));
  });
}

async function main(): Promise<void> {
  const [module, id, mode] = process.argv.slice(2);
  if (module === undefined || id === undefined || (mode !== "full" && mode !== "quick" && mode !== "tiny")) {
    throw new Error("usage: scenario-process.js <module.js> <scenario id> <full|quick|tiny>");
  }
  const ctx: BenchContext = {
    quick: mode === "quick",
    tiny: mode === "tiny",
    progress: (message) => {
      process.stderr.write(`      ${id}: ${message}\n`);
    },
  };
  let message: ChildMessage;
  try {
    const scenario = (await loadModule(module)).find((s) => s.id === id);
    if (scenario === undefined) throw new Error(`${module} has no scenario "${id}"`);
    message = { type: "result", result: checkResult(id, await scenario.run(ctx)) };
  } catch (err) {
    message = { type: "error", error: errorText(err) };
  }
  await send(message);
  // Without the IPC channel nothing of ours keeps the process alive: it exits as soon as the
  // scenario's own resources are gone, and the runner notices when they are not.
  process.disconnect();
}

main().catch((err: unknown) => {
  process.stderr.write(`${errorText(err)}\n`);
  process.exitCode = 1;
  if (process.connected) process.disconnect();
});
