/** Exposed by the loop threads of bench/scenarios/introspection.ts: tasks to be snapshot. */
import { createTask, getRunningLoop, sleep } from "multiloop";

/** Starts `n` tasks on the running loop that wait: a third on a sleep, the others on a future. */
export function startTasks(n: number): number {
  const never = getRunningLoop().createFuture<void>();
  for (let i = 0; i < n; i++) {
    createTask(
      i % 3 === 0 ? async function sleeper() { await sleep(3_600_000); } : async function waiter() { await never; },
      { name: `task-${i}` },
    );
  }
  return n;
}
