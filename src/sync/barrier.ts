/**
 * `Barrier`: `parties` tasks wait until all of them have arrived (asyncio.Barrier, 3.11+).
 *
 * Built on a `Condition`, as asyncio's is, so it inherits its cancellation and fairness rules. A
 * cycle goes filling -> draining (the last arrival releases everybody) -> filling again once every
 * released task has left. Tasks that arrive while the barrier drains or resets wait for the next
 * cycle; `reset()` breaks the current cycle (its waiters get `BrokenBarrierError`) and lets the
 * barrier be used again; `abort()` breaks it for good.
 */
import { inspect } from "node:util";
import { Condition } from "./condition.js";
import { BrokenBarrierError } from "../core/errors.js";
import { checkFunction, typeError } from "../core/validate.js";

type BarrierState = "filling" | "draining" | "resetting" | "broken";

/**
 * A barrier for `parties` tasks of one loop (asyncio.Barrier): each `wait()` blocks until
 * `parties` tasks are waiting, then all of them go on together, each with its own arrival index
 * (0 to parties - 1). The barrier can be used for any number of cycles.
 *
 * @example
 * const barrier = new Barrier(3);
 * await taskGroup(async (tg) => {
 *   for (const name of ["a", "b", "c"]) {
 *     tg.createTask(async () => {
 *       await prepare(name);
 *       const index = await barrier.wait(); // nobody passes until all three prepared
 *       if (index === 0) console.log("all prepared");
 *     });
 *   }
 * });
 *
 * Errors: `wait()` throws `BrokenBarrierError("Abort or reset of barrier")` to tasks waiting when
 * the barrier is aborted or reset, and `BrokenBarrierError("Barrier aborted")` to tasks that
 * arrive after `abort()`.
 *
 * Cancellation: a task cancelled in `wait()` leaves the barrier (the count of waiting tasks drops)
 * without breaking it.
 */
export class Barrier {
  readonly #cond = new Condition();
  readonly #parties: number;
  #state: BarrierState = "filling";
  /** Tasks inside `wait()`: arrived and not yet left. */
  #count = 0;

  /** @param parties how many tasks must arrive to release them; `RangeError("parties must be > 0")` below 1. */
  constructor(parties: number) {
    if (typeof parties !== "number" || !Number.isInteger(parties)) {
      throw typeError("parties", "an integer > 0", parties);
    }
    if (parties < 1) throw new RangeError("parties must be > 0");
    this.#parties = parties;
  }

  /**
   * Waits until `parties` tasks are waiting, then resolves to this task's arrival index (0 for the
   * first, parties - 1 for the one that released the others).
   */
  async wait(): Promise<number> {
    const cond = this.#cond;
    await cond.acquire();
    try {
      await this.#block();
      try {
        const index = this.#count++;
        if (index + 1 === this.#parties) this.#release();
        else await this.#waitForRelease();
        return index;
      } finally {
        this.#count--;
        this.#exit();
      }
    } finally {
      cond.release();
    }
  }

  /**
   * Waits at the barrier, then runs `fn(index)` (asyncio's `async with barrier as index:`);
   * resolves or rejects as `fn` does.
   *
   * @example
   * await barrier.run(async (index) => {
   *   if (index === 0) await writeSummary();
   * });
   */
  async run<R>(fn: (index: number) => R | PromiseLike<R>): Promise<R> {
    checkFunction("fn", fn);
    return fn(await this.wait());
  }

  /** Waits while the barrier drains or resets; throws if it is broken. */
  async #block(): Promise<void> {
    await this.#cond.waitFor(() => this.#state !== "draining" && this.#state !== "resetting");
    if (this.#state === "broken") throw new BrokenBarrierError("Barrier aborted");
  }

  /** The last arrival: release everybody. */
  #release(): void {
    this.#state = "draining";
    this.#cond.notifyAll();
  }

  /** Waits for the last arrival; throws if the barrier is reset or aborted meanwhile. */
  async #waitForRelease(): Promise<void> {
    await this.#cond.waitFor(() => this.#state !== "filling");
    if (this.#state === "broken" || this.#state === "resetting") {
      throw new BrokenBarrierError("Abort or reset of barrier");
    }
  }

  /** The last task to leave ends the draining or resetting and lets the next cycle in. */
  #exit(): void {
    if (this.#count === 0) {
      if (this.#state === "resetting" || this.#state === "draining") this.#state = "filling";
      this.#cond.notifyAll();
    }
  }

  /**
   * Puts the barrier back in its initial state; tasks waiting in it get `BrokenBarrierError`
   * ("Abort or reset of barrier"). Also repairs a broken barrier.
   */
  async reset(): Promise<void> {
    await this.#cond.run(() => {
      if (this.#count > 0) {
        if (this.#state !== "resetting") this.#state = "resetting";
      } else {
        this.#state = "filling";
      }
      this.#cond.notifyAll();
    });
  }

  /**
   * Breaks the barrier: tasks waiting in it get `BrokenBarrierError("Abort or reset of barrier")`,
   * later `wait()` calls get `BrokenBarrierError("Barrier aborted")`, until `reset()`.
   */
  async abort(): Promise<void> {
    await this.#cond.run(() => {
      this.#state = "broken";
      this.#cond.notifyAll();
    });
  }

  /** How many tasks must arrive to release them. */
  get parties(): number {
    return this.#parties;
  }

  /** How many tasks are waiting for the current cycle to fill (0 while it drains or resets). */
  get nWaiting(): number {
    return this.#state === "filling" ? this.#count : 0;
  }

  /** Whether the barrier is broken (aborted). */
  get broken(): boolean {
    return this.#state === "broken";
  }

  toString(): string {
    let extra: string = this.#state;
    if (!this.broken) extra += `, waiters:${this.nWaiting}/${this.#parties}`;
    return `<Barrier [${extra}]>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
