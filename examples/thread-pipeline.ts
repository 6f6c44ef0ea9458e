/**
 * A producer/consumer pipeline across threads: two producer loop threads and two consumer loop
 * threads share one ThreadQueue with a small `maxsize`. The consumers are slower than the
 * producers, so the queue fills up and the producers' `put` waits: backpressure, visible in the
 * output. Every thread reports what it does through a second (unbounded) ThreadQueue that the main
 * thread prints from, so the lines appear in the order things happened, whatever the thread.
 *
 * Run it: `npm run build && node dist/examples/thread-pipeline.js`.
 */
import { pathToFileURL } from "node:url";
import { ThreadQueue, createTask, run, spawnLoopThread } from "multiloop";
import type * as Stages from "./thread-pipeline-stages.js";
import type { Job, LogLine } from "./thread-pipeline-stages.js";

const JOBS_PER_PRODUCER = 6;
const MAXSIZE = 3;
const MS_PER_JOB = 25;

export async function main(): Promise<void> {
  await run(async () => {
    let started = performance.timeOrigin + performance.now();
    const jobs = new ThreadQueue<Job>({ maxsize: MAXSIZE });
    const log = new ThreadQueue<LogLine>();
    const print = (line: LogLine): void => {
      const ms = Math.max(0, Math.round(line.at - started)).toString().padStart(4);
      console.log(`${ms} ms  ${line.thread.padEnd(10)}  ${line.text}`);
    };
    const printer = createTask(async () => {
      for await (const line of log) print(line);
    });

    const stages = new URL("./thread-pipeline-stages.js", import.meta.url);
    const names = ["producer-1", "producer-2", "consumer-1", "consumer-2"];
    const [p1, p2, c1, c2] = await Promise.all(names.map((name) => spawnLoopThread<typeof Stages>({ name, module: stages })));
    if (p1 === undefined || p2 === undefined || c1 === undefined || c2 === undefined) throw new Error("unreachable");
    console.log(
      `Pipeline: ${names.slice(0, 2).join(", ")} -> ThreadQueue(maxsize ${MAXSIZE}) -> ${names.slice(2).join(", ")} ` +
        `(${MS_PER_JOB} ms per job)\n`,
    );
    started = performance.timeOrigin + performance.now();

    // The queues cross to the other threads as plain call arguments.
    const consumed = [c1, c2].map((c) => c.call("consume", jobs, log, MS_PER_JOB));
    const produced = await Promise.all(
      [p1, p2].map((p, i) => p.call("produce", jobs, log, i + 1, JOBS_PER_PRODUCER)),
    );
    // Everything is in: close, and the consumers' `for await` ends once they drained the rest.
    jobs.close();
    const handled = await Promise.all(consumed);
    log.close();
    await printer;

    const waits = produced.reduce((n, r) => n + r.waits, 0);
    console.log(
      `\nProducers put ${produced.reduce((n, r) => n + r.put, 0)} jobs and waited for room ${waits} times ` +
        `(the queue never held more than ${MAXSIZE}); consumers handled ${handled.join(" + ")} jobs.`,
    );
    await Promise.all([p1, p2, c1, c2].map((t) => t.stop()));
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
