/**
 * Loop-thread side of bench/scenarios/thread-queue.ts: exposed on the producer and consumer threads
 * (spawnLoopThread exports every function of this module).
 */
import type { ThreadQueue } from "multiloop";

interface Item {
  id: number;
  name: string;
}

function item(i: number, objects: boolean): number | Item {
  return objects ? { id: i, name: "item" } : i;
}

/** Puts `n` items, one `put` each (batch 1) or `putMany` of `batch`. */
export async function produce(queue: ThreadQueue<unknown>, n: number, batch: number, objects: boolean): Promise<number> {
  if (batch <= 1) {
    for (let i = 0; i < n; i++) await queue.put(item(i, objects));
    return n;
  }
  for (let i = 0; i < n; i += batch) {
    const items: unknown[] = [];
    for (let j = i; j < Math.min(n, i + batch); j++) items.push(item(j, objects));
    await queue.putMany(items);
  }
  return n;
}

/** Takes `n` items, one `get` each (batch 1) or `getMany(batch)`. */
export async function consume(queue: ThreadQueue<unknown>, n: number, batch: number): Promise<number> {
  let got = 0;
  if (batch <= 1) {
    for (; got < n; got++) await queue.get();
    return got;
  }
  while (got < n) got += (await queue.getMany(Math.min(batch, n - got))).length;
  return got;
}
