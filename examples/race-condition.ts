/**
 * A race condition and its fix: the classic lost update.
 *
 * Three tasks each deposit 100 into a shared balance with read-modify-write. Between the read and
 * the write each one awaits something (here `sleep(0)`, standing for a database call); the other
 * tasks run in that gap, read the same old balance, and the last write wins: two deposits are
 * lost. Holding a `Lock` around the read-modify-write makes the tasks take turns.
 *
 * Run it alone with `node dist/examples/race-condition.js`.
 */
import { pathToFileURL } from "node:url";
import { Lock, gather, run, sleep } from "multiloop";

const NAMES = ["alice", "bob", "carol"];
const AMOUNT = 100;

export interface RaceConditionResult {
  /** The balance the three deposits left without a lock (deposits were lost). */
  withoutLock: number;
  /** The balance with the lock (nothing lost). */
  withLock: number;
  /** What three deposits of 100 should give. */
  expected: number;
}

/** Runs both versions on a loop of its own (call it outside any loop) and prints every step. */
export async function main(): Promise<RaceConditionResult> {
  return run(async () => {
    const expected = NAMES.length * AMOUNT;
    console.log(`A race condition: ${NAMES.join(", ")} each deposit ${AMOUNT} into one balance.`);

    console.log("\n1. Without a lock");
    let balance = 0;
    const unsafeDeposit = async (name: string): Promise<void> => {
      const seen = balance;
      console.log(`   ${name} reads the balance: ${seen}`);
      await sleep(0); // e.g. a database round trip: other tasks run here
      balance = seen + AMOUNT;
      console.log(`   ${name} writes ${seen} + ${AMOUNT} = ${balance}`);
    };
    await gather(...NAMES.map((name) => () => unsafeDeposit(name)));
    const withoutLock = balance;
    const lost = (expected - withoutLock) / AMOUNT;
    console.log(`   final balance: ${withoutLock}, expected ${expected}: ${lost} deposit(s) lost`);

    console.log("\n2. With a Lock around the read-modify-write");
    balance = 0;
    const lock = new Lock();
    const safeDeposit = async (name: string): Promise<void> => {
      console.log(`   ${name} asks for the lock${lock.locked() ? " (held: waits its turn)" : ""}`);
      await using _held = await lock.enter();
      const seen = balance;
      console.log(`   ${name} holds the lock, reads the balance: ${seen}`);
      await sleep(0); // the others run here, but wait at lock.enter()
      balance = seen + AMOUNT;
      console.log(`   ${name} writes ${seen} + ${AMOUNT} = ${balance} and releases the lock`);
    };
    await gather(...NAMES.map((name) => () => safeDeposit(name)));
    const withLock = balance;
    console.log(`   final balance: ${withLock}, expected ${expected}: nothing lost`);
    console.log("\n   (lock.run(async () => { ... }) does the same as `await using _ = await lock.enter()`.)");
    return { withoutLock, withLock, expected };
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
