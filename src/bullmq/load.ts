/**
 * BullMQ is an optional peer dependency: `import "multiloop"` never loads it, and
 * `multiloop/bullmq` loads it here, once, or throws an error that says what to install.
 *
 * It is loaded with `require` (BullMQ's package has no exports map, so `import "bullmq"` loads the
 * same CommonJS build and the same instance): a synchronous load keeps top-level await out of the
 * library, so `require("multiloop/bullmq")` works from CommonJS too (require(esm)).
 */
import { createRequire } from "node:module";
import type * as BullMQModule from "bullmq";
import { LoopError } from "../core/errors.js";

export type BullMQ = typeof BullMQModule;

const require = createRequire(import.meta.url);

/** The module Node could not find, when `err` is a missing-module error. */
function missingModule(err: unknown): string | null {
  if (typeof err !== "object" || err === null) return null;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (code !== "MODULE_NOT_FOUND" && code !== "ERR_MODULE_NOT_FOUND") return null;
  const named = typeof message === "string" ? /Cannot find (?:module|package) '([^']+)'/u.exec(message) : null;
  return named?.[1] ?? "";
}

function load(): BullMQ {
  try {
    return require("bullmq") as BullMQ;
  } catch (err) {
    const missing = missingModule(err);
    if (missing === null) throw err;
    const what = missing === "bullmq" || missing === "" ? "the package 'bullmq'" : `the package '${missing}' (which bullmq needs)`;
    throw new LoopError(`multiloop/bullmq needs ${what}, which is not installed`, {
      code: "ERR_LOOP_PEER_MISSING",
      hint: "bullmq is an optional peer dependency of multiloop: install it next to multiloop with `npm install bullmq ioredis`.",
      cause: err,
    });
  }
}

/** BullMQ, loaded when `multiloop/bullmq` is. */
export const bullmq: BullMQ = load();
