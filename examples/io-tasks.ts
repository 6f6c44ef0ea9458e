/**
 * Functions exposed on the demo's loop threads (spawnLoopThread's `module`).
 */
import { currentThreadName, getRunningLoop, sleep } from "multiloop";

/**
 * A class of the application's own. A thread that registers it (`registerErrorClass`) receives it
 * as itself; one that does not gets a `RemoteError` with `remoteName` "PaymentDeclined".
 */
export class PaymentDeclined extends Error {
  override name = "PaymentDeclined";
}

/** Fails inside a task, with a cause and details, so the demo can show what crosses. */
export async function chargeCard(orderId: string, amount: number): Promise<never> {
  await sleep(5);
  const err = new PaymentDeclined(`card declined for order ${orderId}`, { cause: new Error("insufficient funds") });
  Object.assign(err, { orderId, amount, code: "E_DECLINED" });
  throw err;
}

/** Allocates until the thread's resourceLimits end it. */
export function buildHugeReport(): void {
  const rows: number[][] = [];
  for (;;) rows.push(new Array<number>(50_000).fill(rows.length));
}

/** Waits for a long time (a call still pending when its thread dies). */
export async function slowQuery(): Promise<string> {
  await sleep(60_000);
  return "never";
}

const received: string[] = [];

/** One-way notification (callSoonThreadsafe): remembered, answered by `report`. */
export function notify(event: string): void {
  received.push(event);
}

/** A unit of the service's work: parse, "query", answer. */
export async function handleRequest(id: number, payload: string): Promise<{ id: number; words: number; by: string }> {
  await sleep(1 + (id % 3));
  return { id, words: payload.split(/\s+/u).length, by: currentThreadName() };
}

export function report(): { thread: string; notifications: number; loopRunning: boolean } {
  return { thread: currentThreadName(), notifications: received.length, loopRunning: getRunningLoop().isRunning() };
}
