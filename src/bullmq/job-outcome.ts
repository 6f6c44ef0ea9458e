/**
 * A job's outcome read from Redis instead of from the queue's event stream. The caller's side
 * learns outcomes from events, and an event can be lost: the stream is trimmed (`maxLenEvents`,
 * 10,000 by default) while the reader is disconnected or behind, or a caller-chosen `jobId` names
 * a job that finished before it was submitted again. What the job's hash says then is the truth.
 */
import type { Job, Queue } from "bullmq";
import { bullmq } from "./load.js";

export type JobOutcome =
  | { state: "completed"; returnvalue: unknown }
  | { state: "failed"; failedReason: string }
  /** Not in Redis: removed (retention, `obliterate`, a flush, an eviction) or never added. */
  | { state: "missing" }
  /** Waiting, delayed, running, or between attempts. */
  | { state: "pending" };

const PENDING: JobOutcome = { state: "pending" };
const MISSING: JobOutcome = { state: "missing" };

/**
 * One read of the job's hash; a second (its state) only for a job that has a `finishedOn`, so a
 * job still waiting or running costs one round trip.
 */
export async function readOutcome(queue: Queue, jobId: string): Promise<JobOutcome> {
  const job: Job | undefined = await bullmq.Job.fromId(queue, jobId);
  if (job === undefined) return MISSING;
  if (job.finishedOn === undefined) return PENDING;
  const state = await job.getState();
  if (state === "completed") return { state, returnvalue: job.returnvalue };
  if (state === "failed") return { state, failedReason: typeof job.failedReason === "string" ? job.failedReason : String(job.failedReason) };
  // Removed between the two reads, or retried again by hand.
  return state === "unknown" ? MISSING : PENDING;
}
