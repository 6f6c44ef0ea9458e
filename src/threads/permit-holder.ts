/**
 * What ThreadLock and ThreadSemaphore share on top of `acquire`/`release`: `run(fn)` and the two
 * halves of `await using` (asyncio's `async with`).
 */
import { checkFunction } from "../core/validate.js";
import type { ThreadAcquireOptions } from "./thread-semaphore-core.js";

/** A lock or semaphore across threads: `acquire(options)` and `release()`, plus the ways to hold it. */
export abstract class PermitHolder implements AsyncDisposable {
  abstract acquire(options?: ThreadAcquireOptions): Promise<true>;
  abstract release(): void;

  /** Acquires, runs `fn`, and releases in `finally` (asyncio's `async with`). */
  async run<R>(fn: () => R | PromiseLike<R>): Promise<R> {
    checkFunction("fn", fn);
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /**
   * Acquires (with the options of `acquire`: `timeout`, `signal`) and resolves to the object
   * itself, whose `[Symbol.asyncDispose]` releases it: the entry half of `await using`.
   *
   * @example
   * {
   *   await using _ = await lock.enter({ timeout: 5_000 });
   *   // ... held here, and released when the block ends, even by throwing
   * }
   */
  async enter(options: ThreadAcquireOptions = {}): Promise<this> {
    await this.acquire(options);
    return this;
  }

  /**
   * Releases: the exit half of `await using` (see `enter()`). There is deliberately no synchronous
   * `Symbol.dispose`: as with `Lock`, holding is only done with `await`.
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
