/**
 * Compiled by test/package.test.ts in consumer projects (with bullmq installed) against the
 * installed package's types: the multiloop/bullmq subpath, QueueExecutor as the loop's Executor.
 */
import { getRunningLoop, type ConcurrentFuture, type Executor } from "multiloop";
import { JobLostError, QueueExecutor, serveQueue, type QueueServer } from "multiloop/bullmq";

export async function useQueue(img: Uint8Array): Promise<void> {
  const remote = new QueueExecutor({ queue: "images", connection: { host: "127.0.0.1", port: 6379 } });
  const asExecutor: Executor = remote;
  void asExecutor;
  const small: unknown = await getRunningLoop().runInExecutor(remote, { filename: "./resize.js", name: "resize" }, img, 320);
  void small;
  const fut: ConcurrentFuture<Uint8Array> = remote.submit<Uint8Array>({ filename: new URL("file:///srv/resize.js"), name: "resize" }, [img, 320], { jobId: "img-1", attempts: 3 });
  fut.cancel();
  // @ts-expect-error a QueueExecutor takes no unknown options
  remote.submit({ filename: "./resize.js" }, [], { priority: 1 });
  const server: QueueServer = await serveQueue({ queue: "images", connection: { url: "redis://127.0.0.1:6379" }, concurrency: 50, allow: ["./resize.js"] });
  await server.close({ timeout: 10_000 });
  const inTime: boolean = await remote.shutdown();
  void inTime;
  void new JobLostError("lost");
}
