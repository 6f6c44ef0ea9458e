/**
 * A wake-up word in shared memory, and the watcher through which one thread waits on it.
 *
 * Two Int32 slots of a SharedArrayBuffer: `seq`, bumped by whoever may have made a condition true
 * (an item committed, room freed, a lock released, a queue closed); and `watchers`, how many
 * watchers in all threads are waiting on `seq`, so a signaller skips the bump and the notify when
 * nobody waits (the common case in a busy pipeline).
 *
 * No lost wake-ups (a Dekker pattern, sound because Atomics are sequentially consistent): a watcher
 * increments `watchers`, reads `seq`, then looks at the shared state; a signaller changes the shared
 * state, then reads `watchers`. At least one sees the other's write: either the watcher sees the new
 * state, or the signaller sees the watcher and bumps `seq`, so the watcher's
 * `Atomics.waitAsync(seq, snapshot)` returns at once or resolves.
 *
 * Waiting uses `Atomics.waitAsync` only, never a blocking wait. A pending waitAsync does not keep a
 * thread alive (nodejs/node#44729); a running event loop keeps its own thread alive, so a task
 * waiting here on a running loop is never abandoned by a thread exit. A waitAsync cannot be
 * cancelled: a watcher whose waiters all went away stays armed until the next signal, which costs
 * that signaller one extra notify and holds nothing alive.
 */

/** `Atomics.waitAsync` (Node >= 16; typed only in TypeScript's ES2024 lib, which we do not load). */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
export const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync.bind(Atomics);

/** What a watcher serves: the waiting tasks of one thread. */
export interface SignalClient {
  /** Whether this thread still needs to hear about changes. */
  needsSignal(): boolean;
  /** Wakes the local waiters that the shared state can satisfy now. Must not throw. */
  wakeReady(): void;
  /**
   * With a `stallMs` watcher: called when `stallMs` went by without any signal while this thread
   * waited (nothing moved anywhere). Must not throw.
   */
  stalled?(): void;
}

/** Signaller side: bump `seq` and wake its watchers, only when someone watches. */
export function signalWatchers(i32: Int32Array, seq: number, watchers: number): void {
  if (Atomics.load(i32, watchers) !== 0) {
    Atomics.add(i32, seq, 1);
    Atomics.notify(i32, seq);
  }
}

/** Signaller side, unconditionally (closing, passing a turn): every watcher looks again. */
export function signalAll(i32: Int32Array, seq: number): void {
  Atomics.add(i32, seq, 1);
  Atomics.notify(i32, seq);
}

/**
 * One thread's watcher on one wake-up word. At most one waitAsync is pending per watcher, whatever
 * the number of local waiting tasks; `service()` is called whenever local waiters arrive or leave.
 */
export class SignalWatcher {
  readonly #i32: Int32Array;
  readonly #seq: number;
  readonly #watchers: number;
  readonly #client: SignalClient;
  readonly #stallMs: number | undefined;
  #armed = false;
  #running = false;
  #again = false;

  constructor(i32: Int32Array, seq: number, watchers: number, client: SignalClient, stallMs?: number) {
    this.#i32 = i32;
    this.#seq = seq;
    this.#watchers = watchers;
    this.#client = client;
    this.#stallMs = stallMs;
  }

  /** Wakes what can be woken now; if waiters remain, makes sure a waitAsync will call again. */
  service(): void {
    // An armed watcher is called back by the next signal; meanwhile nothing to do.
    if (this.#armed) return;
    // wakeReady() may lead back here (a pass-on); finish the current pass, then look again.
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    const i32 = this.#i32;
    const client = this.#client;
    try {
      do {
        this.#again = false;
        if (!client.needsSignal()) continue;
        // Announce first, then snapshot, then look (see the module comment).
        Atomics.add(i32, this.#watchers, 1);
        const seen = Atomics.load(i32, this.#seq);
        client.wakeReady();
        if (!client.needsSignal()) {
          Atomics.sub(i32, this.#watchers, 1);
          continue;
        }
        const result = waitAsync(i32, this.#seq, seen, this.#stallMs);
        if (!result.async) {
          // `seq` moved while we looked: look again.
          Atomics.sub(i32, this.#watchers, 1);
          this.#again = true;
          continue;
        }
        this.#armed = true;
        void result.value.then(this.#onSignal);
        return;
      } while (this.#again);
    } finally {
      this.#running = false;
    }
  }

  readonly #onSignal = (outcome: string): void => {
    this.#armed = false;
    Atomics.sub(this.#i32, this.#watchers, 1);
    if (outcome === "timed-out") this.#client.stalled?.();
    this.service();
  };
}
