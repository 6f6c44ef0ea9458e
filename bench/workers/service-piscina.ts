/** Variant (c) of the service benchmark: the job as a piscina task (default export). */
import { setTimeout as sleep } from "node:timers/promises";
import { threadId } from "node:worker_threads";
import { spin, type JobResult } from "../service-job.js";

export default async function job(task: { id: number; rounds: number }): Promise<JobResult> {
  const checksum = spin(task.rounds);
  await sleep(1);
  return { id: task.id, checksum, thread: `piscina-${threadId}` };
}
