/**
 * Worker entry: a frame client on this thread's own loop. `workerData` says how to send:
 * "pipelined" (one write per request, all in flight at once), "batch" (every request in one
 * write) or "trickle" (one byte per write). Posts what came back and returns.
 */
import { parentPort, workerData } from "node:worker_threads";
import { gather, getRunningLoop, run, type Future } from "multiloop";
import { FrameClient, reverseHandler } from "./protocol.js";

export type SendMode = "pipelined" | "batch" | "trickle";

export interface ClientJob {
  port: number;
  mode: SendMode;
  count: number;
}

export interface ClientReport {
  mode: SendMode;
  sent: number;
  correct: number;
}

/** The payloads a client sends: varied lengths, including empty and larger than a TCP segment. */
export function payloadsFor(mode: SendMode, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    i % 97 === 3 ? Buffer.alloc(0) : Buffer.from(`${mode}#${i}:${"x".repeat((i * 37) % (i % 50 === 0 ? 70_000 : 300))}`),
  );
}

const job = workerData as ClientJob;
const report = await run(async (): Promise<ClientReport> => {
  const client = await FrameClient.connect(getRunningLoop(), "127.0.0.1", job.port);
  try {
    const payloads = payloadsFor(job.mode, job.count);
    let responses: Buffer[];
    if (job.mode === "trickle") {
      responses = [];
      for (const p of payloads) responses.push(await client.requestTrickle(p));
    } else {
      const futs: Future<Buffer>[] =
        job.mode === "batch" ? client.requestBatch(payloads) : payloads.map((p) => client.request(p));
      responses = await gather(futs);
    }
    const correct = responses.filter((r, i) => r.equals(reverseHandler(payloads[i] as Buffer))).length;
    return { mode: job.mode, sent: payloads.length, correct };
  } finally {
    await client.close();
  }
});
parentPort?.postMessage(report);
