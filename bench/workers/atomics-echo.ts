/**
 * Raw Atomics peer: the floor of a cross-thread round trip. Slot 0 of the shared Int32Array holds a
 * sequence number; the main thread writes an odd one and waits, this thread answers with the next
 * even one. A negative number ends the loop. Both sides block in Atomics.wait, which no event loop
 * can afford; that is why this is a floor and not an option.
 */
import { workerData } from "node:worker_threads";

const { sab } = workerData as { sab: SharedArrayBuffer };
const word = new Int32Array(sab);
let seen = Atomics.load(word, 0);
for (;;) {
  // The timeout only bounds how long a lost wake-up could stall; the value is re-read each time.
  Atomics.wait(word, 0, seen, 1000);
  const value = Atomics.load(word, 0);
  if (value < 0) break;
  if (value % 2 === 1) {
    Atomics.store(word, 0, value + 1);
    Atomics.notify(word, 0);
    seen = value + 1;
  } else {
    seen = value;
  }
}
