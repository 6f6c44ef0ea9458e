/**
 * A worker process of the distributed.bullmq scenario: `node queue-worker.js <multiloop|direct>
 * <port> <queue> <concurrency>`. "multiloop" serves the queue with serveQueue (each job a task on
 * this process's loop); "direct" is a plain BullMQ Worker whose processor returns the job's data.
 * Prints "ready" when serving; SIGTERM stops it.
 */
import { Worker } from "bullmq";
import { run } from "multiloop";
import { serveQueue } from "multiloop/bullmq";

const [kind, port, queue, concurrency] = process.argv.slice(2) as [string, string, string, string];
const connection = { host: "127.0.0.1", port: Number(port), maxRetriesPerRequest: null };
const stopped = new Promise<void>((resolve) => process.once("SIGTERM", () => resolve()));

if (kind === "direct") {
  const worker = new Worker(queue, (job) => Promise.resolve(job.data as unknown), { connection, concurrency: Number(concurrency) });
  await worker.waitUntilReady();
  process.stdout.write("ready\n");
  await stopped;
  await worker.close();
} else {
  await run(async () => {
    const server = await serveQueue({
      queue,
      connection,
      concurrency: Number(concurrency),
      allow: ["./queue-jobs.js"],
      baseDir: new URL(".", import.meta.url),
    });
    process.stdout.write("ready\n");
    await stopped;
    await server.close();
  });
}
