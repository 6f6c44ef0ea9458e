/**
 * The one Node timer a parked loop sleeps on: it fires at the loop's next deadline (or after a
 * long keep-alive), and while it is armed it keeps the thread alive, which is what lets a loop
 * thread wait for its timers and calls without blocking.
 */

/** Node refuses longer delays (it would fire at once). */
const MAX_NODE_TIMER_DELAY = 2 ** 31 - 1;

export class NodeTimerAlarm {
  #timer: NodeJS.Timeout | null = null;
  #when = NaN;
  readonly #fire: () => void;
  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#when = NaN;
    this.#fire();
  };

  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** The deadline armed now; NaN when none (so `when >= alarm.when` is false). */
  get when(): number {
    return this.#when;
  }

  /** Fires `fire` at `when` on the loop's clock (`now` is its time now); Infinity: keep-alive only. */
  arm(when: number, now: number): void {
    if (this.#timer !== null) {
      if (this.#when === when) return;
      clearTimeout(this.#timer);
    }
    // Node timers have 1 ms granularity and may fire a little early by this clock: the runner
    // then finds the timer not yet due and parks again for the rest.
    const delay = when === Infinity ? MAX_NODE_TIMER_DELAY : Math.min(MAX_NODE_TIMER_DELAY, Math.max(1, Math.ceil(when - now)));
    this.#when = when;
    this.#timer = setTimeout(this.#onTimer, delay);
  }

  clear(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    this.#when = NaN;
  }
}
