/**
 * The hidden preambles of README.md's ts blocks (test/readme.test.ts): for the block
 * `<heading> #<n>`, code put before each of its files (by file name, `main` for a block of one
 * file), and files the block uses without showing them. Only what a fragment leaves out belongs
 * here: names it calls, data it loops over, a module it starts a thread with.
 */
export const preambles: Record<string, Record<string, string>> = {
  "The worker-thread error #2": {
    "io-tasks": `
export async function fetchPage(url: string): Promise<string> {
  return \`<html>\${url}</html>\`;
}
`,
  },
  "Threads #1": {
    main: `function resize(image: Uint8Array, width: number): Uint8Array {
  return image.subarray(0, width);
}`,
    helper: `const img = new Uint8Array(1024);`,
  },
  "Sharing work between threads: ThreadQueue, ThreadLock, ThreadSemaphore #1": {
    main: `function* loadJobs(): Generator<Job> {
  for (let id = 0; id < 1000; id++) yield { id, url: \`https://example.com/\${id}\` };
}`,
    worker: `async function processJob(job: Job): Promise<void> {
  void job;
}`,
  },
  "Synchronisation and queues #1": {
    main: `const urls = ["https://example.com/a", "https://example.com/b", "https://example.com/c"];
async function fetchAndStore(url: string): Promise<void> {
  void url;
}`,
  },
};
