/**
 * Teardown for scenarios that start workers, pools and loop threads: everything registered is
 * stopped in reverse order in `finally`, even when the measurement threw, and every teardown runs
 * even if an earlier one fails (the first error is rethrown afterwards).
 */
export class Cleanup {
  readonly #steps: (() => unknown)[] = [];

  /** Registers a teardown step; returns `value` so a resource can be registered where it is made. */
  add<T>(value: T, stop: (value: T) => unknown): T {
    this.#steps.push(() => stop(value));
    return value;
  }

  async run(): Promise<void> {
    let first: unknown = null;
    let failed = false;
    while (this.#steps.length > 0) {
      const step = this.#steps.pop() as () => unknown;
      try {
        await step();
      } catch (err) {
        if (!failed) first = err;
        failed = true;
      }
    }
    if (failed) throw first;
  }
}

/** Runs `body` with a fresh Cleanup and always runs it afterwards. */
export async function withCleanup<T>(body: (cleanup: Cleanup) => Promise<T>): Promise<T> {
  const cleanup = new Cleanup();
  try {
    return await body(cleanup);
  } finally {
    await cleanup.run();
  }
}
