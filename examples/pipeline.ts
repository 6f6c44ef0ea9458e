/**
 * A producer/consumer pipeline over a bounded `Queue`, with `join()`.
 *
 * One producer queues eight jobs into a queue of at most three; three workers take jobs with
 * `for await (const job of queue)`, "work" on each (a sleep of the job's cost) and mark it done
 * with `taskDone()`. The producer waits whenever the queue is full (backpressure), then waits with
 * `join()` until every job was processed, and finally shuts the queue down, which ends the
 * workers' loops.
 *
 * Run it alone with `node dist/examples/pipeline.js`.
 */
import { pathToFileURL } from "node:url";
import { Queue, createTask, gather, run, sleep } from "multiloop";

interface Job {
  id: number;
  /** Milliseconds of simulated work. */
  cost: number;
}

const JOBS: readonly Job[] = [30, 10, 20, 10, 40, 10, 20, 10].map((cost, i) => ({ id: i + 1, cost }));
const MAXSIZE = 3;
const WORKERS = 3;

export interface PipelineResult {
  /** Job ids in the order workers finished them. */
  finished: number[];
  /** Job ids per worker. */
  byWorker: number[][];
  /** The most jobs ever waiting in the queue. */
  maxQueued: number;
  /** How many times the producer found the queue full and had to wait. */
  producerWaits: number;
  /** Jobs finished when join() returned (all of them). */
  finishedAtJoin: number;
}

/** Runs the pipeline on a loop of its own (call it outside any loop) and prints every step. */
export async function main(): Promise<PipelineResult> {
  return run(async () => {
    const queue = new Queue<Job>({ maxsize: MAXSIZE });
    const finished: number[] = [];
    const byWorker: number[][] = Array.from({ length: WORKERS }, () => []);
    let maxQueued = 0;
    let producerWaits = 0;

    console.log(`A pipeline: 1 producer, ${WORKERS} workers, a Queue of at most ${MAXSIZE} jobs.\n`);

    const worker = async (w: number): Promise<void> => {
      for await (const job of queue) {
        console.log(`  worker ${w}: takes job ${job.id} (${job.cost} ms), ${queue.qsize()} left in the queue`);
        try {
          await sleep(job.cost);
          finished.push(job.id);
          byWorker[w - 1]?.push(job.id);
          console.log(`  worker ${w}: finished job ${job.id}`);
        } finally {
          queue.taskDone();
        }
      }
      console.log(`  worker ${w}: the queue is shut down, stopping`);
    };
    const workers = Array.from({ length: WORKERS }, (_, i) => createTask(() => worker(i + 1), { name: `worker-${i + 1}` }));

    for (const job of JOBS) {
      if (queue.full()) {
        producerWaits++;
        console.log(`producer: the queue is full (${queue.qsize()} jobs), waiting to add job ${job.id}`);
      }
      await queue.put(job);
      maxQueued = Math.max(maxQueued, queue.qsize());
      console.log(`producer: queued job ${job.id} (${queue.qsize()} in the queue)`);
    }
    console.log("producer: all jobs queued; join() waits until every one is processed");
    await queue.join();
    const finishedAtJoin = finished.length;
    console.log(`producer: join() returned, ${finishedAtJoin} of ${JOBS.length} jobs done; shutting the queue down`);
    queue.shutdown();
    await gather(...workers);
    console.log(`\nJobs per worker: ${byWorker.map((ids, i) => `worker ${i + 1}: [${ids.join(", ")}]`).join("; ")}`);
    return { finished, byWorker, maxQueued, producerWaits, finishedAtJoin };
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
