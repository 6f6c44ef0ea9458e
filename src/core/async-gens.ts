/**
 * The async generators a loop closes at shutdown (asyncio's `shutdown_asyncgens`). JS has no
 * `sys.set_asyncgen_hooks`, so only the generators registered with `loop.trackAsyncGen` are known.
 */
import { inspect } from "node:util";
import { typeError } from "./validate.js";
import { safeGet } from "./format.js";
import type { ExceptionContext } from "./exception-handler.js";

type AnyAsyncGen = AsyncGenerator<unknown, unknown, unknown>;

export class AsyncGenRegistry {
  /** Weak: a generator nobody iterates any more is not kept alive for shutdown's sake. */
  #gens = new Set<WeakRef<AnyAsyncGen>>();
  #shutdownCalled = false;

  track<G extends AnyAsyncGen>(gen: G): G {
    if (
      typeof gen !== "object" ||
      gen === null ||
      typeof safeGet(gen, "return") !== "function" ||
      typeof safeGet(gen, Symbol.asyncIterator) !== "function"
    ) {
      throw typeError("gen", "an async generator", gen);
    }
    if (this.#shutdownCalled) {
      process.emitWarning(
        `asynchronous generator ${inspect(gen)} was scheduled after loop.shutdownAsyncgens() call`,
        { type: "ResourceWarning", code: "MULTILOOP_ASYNCGEN_AFTER_SHUTDOWN" },
      );
    }
    if (this.#gens.size >= 1024) {
      for (const ref of this.#gens) if (ref.deref() === undefined) this.#gens.delete(ref);
    }
    this.#gens.add(new WeakRef(gen));
    return gen;
  }

  /** Closes every registered generator that is still alive; errors go to `report`. */
  async shutdown(report: (context: ExceptionContext) => void): Promise<void> {
    this.#shutdownCalled = true;
    const gens: AnyAsyncGen[] = [];
    for (const ref of this.#gens) {
      const gen = ref.deref();
      if (gen !== undefined) gens.push(gen);
    }
    this.#gens.clear();
    if (gens.length === 0) return;
    const results = await Promise.allSettled(gens.map((gen) => gen.return(undefined)));
    results.forEach((result, i) => {
      if (result.status === "rejected") {
        report({
          message: `an error occurred during closing of asynchronous generator ${inspect(gens[i])}`,
          exception: result.reason,
          asyncgen: gens[i],
        });
      }
    });
  }
}
