/** A loop thread's module, as a consumer writes it: its exports are what the thread exposes. */
import { sleep, type ThreadQueue } from "multiloop";

export const version = "1.0";

export function add(a: number, b: number): number {
  return a + b;
}

export async function drain(queue: ThreadQueue<string>): Promise<string[]> {
  const seen: string[] = [];
  for await (const item of queue) seen.push(item);
  await sleep(0);
  return seen;
}
