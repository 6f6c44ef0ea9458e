#!/usr/bin/env node
/**
 * `multiloop-worker`: `serveQueue` from the command line, with graceful shutdown.
 *
 *   npx multiloop-worker --queue images --redis redis://127.0.0.1:6379 --allow ./resize.js --concurrency 50
 *
 * SIGTERM or SIGINT stops taking jobs and lets the running ones finish (at most
 * --shutdown-timeout ms; then their tasks are cancelled and their jobs left to another worker);
 * a second signal does not wait. The exit code is 0 after a clean stop, 1 when serving failed,
 * 2 for bad arguments.
 */
import { parseArgs } from "node:util";
import { run } from "../tasks/runner.js";
import type { QueueServer } from "./serve-queue.js";

const USAGE = `Usage: multiloop-worker --queue <name> --allow <module> [--allow <module>...] [options]

Runs the jobs that multiloop QueueExecutors add to a BullMQ queue, each as a task on this
process's event loop.

  --queue <name>             the BullMQ queue to serve (required)
  --allow <module>           a module jobs may run, a path from the current directory or a URL
                             (required; repeat it, or separate modules with commas)
  --redis <url>              the Redis server (default redis://127.0.0.1:6379)
  --concurrency <n>          jobs at once (default 1)
  --prefix <prefix>          BullMQ's key prefix (default bull)
  --shutdown-timeout <ms>    how long running jobs may finish after SIGTERM/SIGINT (default 30000)
  --help                     this text
`;

interface Config {
  queue: string;
  allow: string[];
  redis: string;
  concurrency: number;
  prefix: string | undefined;
  shutdownTimeout: number;
}

class UsageError extends Error {}

function integer(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${text}'`);
  return n;
}

function parse(argv: string[]): Config | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        queue: { type: "string" },
        allow: { type: "string", multiple: true },
        redis: { type: "string" },
        concurrency: { type: "string" },
        prefix: { type: "string" },
        "shutdown-timeout": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help === true) return null;
  if (values.queue === undefined || values.queue === "") throw new UsageError("--queue is required");
  const allow = (values.allow ?? []).flatMap((a) => a.split(",")).filter((a) => a !== "");
  if (allow.length === 0) throw new UsageError("--allow is required: name the modules jobs may run");
  const redis = values.redis ?? "redis://127.0.0.1:6379";
  if (!/^rediss?:\/\//u.test(redis)) throw new UsageError(`--redis must be a redis:// or rediss:// URL, got '${redis}'`);
  return {
    queue: values.queue,
    allow,
    redis,
    concurrency: integer("concurrency", values.concurrency, 1, 1),
    prefix: values.prefix,
    shutdownTimeout: integer("shutdown-timeout", values["shutdown-timeout"], 30_000, 0),
  };
}

async function serve(config: Config): Promise<void> {
  // Loaded here, not at the top: --help and argument errors work without bullmq installed, and a
  // missing bullmq is reported as such.
  const { serveQueue } = await import("./serve-queue.js");
  await run(async () => {
    // Resolved with how long the running jobs may take: the first signal's timeout, then 0.
    let onStop: (timeout: number) => void = () => undefined;
    const stopped = new Promise<number>((resolve) => (onStop = resolve));
    let signals = 0;
    let server: QueueServer | null = null;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      process.stderr.write(`multiloop-worker: ${signal}, ${signals === 1 ? "finishing the running jobs" : "stopping now"}\n`);
      const timeout = signals === 1 ? config.shutdownTimeout : 0;
      onStop(timeout);
      // A second signal while closing: the close goes on without waiting.
      if (signals > 1) void server?.close({ timeout: 0 });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    try {
      server = await serveQueue({
        queue: config.queue,
        connection: { url: config.redis, maxRetriesPerRequest: null },
        allow: config.allow,
        concurrency: config.concurrency,
        ...(config.prefix === undefined ? {} : { prefix: config.prefix }),
      });
      process.stderr.write(`multiloop-worker: serving queue '${config.queue}' (pid ${process.pid}, concurrency ${config.concurrency})\n`);
      await server.close({ timeout: await stopped });
      process.stderr.write("multiloop-worker: stopped\n");
    } finally {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
  });
}

async function main(): Promise<void> {
  let config: Config | null;
  try {
    config = parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`multiloop-worker: ${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (config === null) {
    process.stdout.write(USAGE);
    return;
  }
  try {
    await serve(config);
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    // A missing peer dependency is a message for the user, not a stack trace.
    const text = code === "ERR_LOOP_PEER_MISSING" ? `${(err as Error).message}. ${String((err as { hint?: unknown }).hint)}` : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`multiloop-worker: ${text}\n`);
    process.exitCode = 1;
  }
}

await main();
