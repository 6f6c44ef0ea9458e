/** The job the distributed.bullmq scenario runs: it returns what it got. */
export function echo(...args: unknown[]): unknown[] {
  return args;
}
