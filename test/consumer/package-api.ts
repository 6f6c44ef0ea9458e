/**
 * Compiled by test/package.test.ts in consumer projects against the installed package's types
 * (strict, skipLibCheck false, lib es2023, types node; nodenext, node16 and bundler resolution):
 * the parts of the API whose types reach furthest (threads, typed calls, comlink's Remote, the
 * executor, OS errors, AbortSignal, await using).
 */
import {
  FileNotFoundError,
  PoolExecutor,
  ThreadLock,
  ThreadQueue,
  createSubprocessExec,
  run,
  spawnLoopThread,
  type LoopThread,
  type PoolStats,
  type Remote,
} from "multiloop";
import type * as Worker from "./worker.js";

export async function usePackage(): Promise<void> {
  const thread: LoopThread<typeof Worker> = await spawnLoopThread<typeof Worker>({
    module: new URL("./worker.js", import.meta.url),
  });
  const sum: number = await thread.call("add", 1, 2);
  const items: string[] = await thread.callWith({ signal: AbortSignal.timeout(1_000), timeout: 500 }, "drain", new ThreadQueue<string>());
  // @ts-expect-error a misspelt name does not compile
  await thread.call("ad", 1, 2);
  // @ts-expect-error nor a wrong argument
  await thread.call("add", "1", 2);
  // @ts-expect-error nor a value export
  await thread.call("version");
  const remote: Remote<{ ping(n: number): string }> = thread.wrap<{ ping(n: number): string }>();
  const pong: string = await remote.ping(sum);
  const pool = new PoolExecutor({ maxThreads: 1 });
  const stats: PoolStats = pool.pool;
  const fromPool: number = await pool.run((n: number) => n + 1, [items.length], { signal: new AbortController().signal });
  await run(async () => {
    const lock = new ThreadLock();
    await using _held = await lock.enter({ timeout: 100 });
    await using queue = new ThreadQueue<number>({ maxsize: 1 });
    await queue.put(fromPool, { signal: AbortSignal.timeout(10) });
    try {
      await createSubprocessExec("no-such-program");
    } catch (err) {
      if (err instanceof FileNotFoundError) {
        const fields: [string, number | undefined, string | undefined] = [err.code, err.errno, err.path];
        void fields;
      }
    }
  });
  void pong;
  void stats.completed;
  await pool.shutdown();
  await thread.stop();
}
