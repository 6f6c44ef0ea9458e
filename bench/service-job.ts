/**
 * The job of the service benchmark (bench/scenarios/service.ts), the same in every variant: about
 * 50 us of CPU (a fixed number of xorshift rounds, calibrated once in the scenario's process and
 * passed to every thread, so each variant does the same work), one 1 ms sleep (the variant's own
 * timer: the loop's `sleep(1)` in loop threads, `setTimeout` elsewhere), then a small object that
 * the server sends as JSON.
 */

/** What one request answers. */
export interface JobResult {
  readonly id: number;
  readonly checksum: number;
  readonly thread: string;
}

/** `rounds` rounds of xorshift32: CPU work the JIT cannot skip (its result is returned). */
export function spin(rounds: number): number {
  let x = 0x9e3779b9;
  for (let i = 0; i < rounds; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}

/** The number of `spin` rounds that takes about `us` microseconds here (median of several tries). */
export function calibrate(us: number): number {
  let rounds = 1_000;
  for (let i = 0; i < 2_000; i++) spin(rounds); // warm the JIT up
  for (let attempt = 0; attempt < 6; attempt++) {
    const times: number[] = [];
    for (let i = 0; i < 41; i++) {
      const start = performance.now();
      spin(rounds);
      times.push((performance.now() - start) * 1_000);
    }
    times.sort((a, b) => a - b);
    const median = times[20] as number;
    rounds = Math.max(1, Math.round((rounds * us) / Math.max(median, 0.01)));
  }
  return rounds;
}
