/**
 * The worker side of examples/thread-pipeline.ts: the functions the producer and consumer loop
 * threads expose (spawnLoopThread exports every function of this module). The queues arrive as
 * call arguments, already revived in this thread.
 */
import { currentThreadName, sleep, type ThreadQueue } from "multiloop";

export interface Job {
  id: string;
  payload: number;
}

export interface LogLine {
  thread: string;
  /** Wall-clock milliseconds (performance.now() has a different origin in each thread). */
  at: number;
  text: string;
}

function say(log: ThreadQueue<LogLine>, text: string): void {
  log.putNowait({ thread: currentThreadName(), at: performance.timeOrigin + performance.now(), text });
}

/** Puts `count` jobs into `jobs`; `put` waits whenever the queue is full (backpressure). */
export async function produce(
  jobs: ThreadQueue<Job>,
  log: ThreadQueue<LogLine>,
  producer: number,
  count: number,
): Promise<{ put: number; waits: number }> {
  let waits = 0;
  for (let n = 1; n <= count; n++) {
    const job = { id: `${producer}.${n}`, payload: producer * 100 + n };
    if (jobs.full()) {
      waits++;
      say(log, `queue full (${jobs.qsize()}/${jobs.maxsize}): waiting to put job ${job.id}`);
      const started = performance.now();
      await jobs.put(job);
      say(log, `put job ${job.id} after waiting ${Math.round(performance.now() - started)} ms`);
    } else {
      await jobs.put(job);
      say(log, `put job ${job.id} (queue ${jobs.qsize()}/${jobs.maxsize})`);
    }
  }
  say(log, `done: ${count} jobs put, ${waits} of them had to wait for room`);
  return { put: count, waits };
}

/** Handles jobs (slowly, `msPerJob` each) until the queue is closed and drained. */
export async function consume(jobs: ThreadQueue<Job>, log: ThreadQueue<LogLine>, msPerJob: number): Promise<number> {
  let handled = 0;
  for await (const job of jobs) {
    say(log, `took job ${job.id}, working ${msPerJob} ms`);
    await sleep(msPerJob);
    handled++;
  }
  say(log, `queue closed and drained: handled ${handled} jobs`);
  return handled;
}
