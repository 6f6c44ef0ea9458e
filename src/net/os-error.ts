/**
 * Node system errors (`{ code: "ECONNRESET", syscall: "read" }`) turned into the typed `OSError`
 * family, so callers can `instanceof ConnectionRefusedError` as in Python and match on Node's own
 * `code` (`"ECONNREFUSED"`). The Node error stays reachable as `cause`.
 */
import {
  BrokenPipeError,
  ConnectionAbortedError,
  ConnectionRefusedError,
  ConnectionResetError,
  FileNotFoundError,
  GaiError,
  LoopError,
  OSError,
  OS_ERROR_FIELDS,
  type LoopErrorOptions,
  type OSErrorFields,
  PermissionError,
  ProcessLookupError,
} from "../core/errors.js";

type OSErrorClass = new (message: string, options: LoopErrorOptions & OSErrorFields) => OSError;

const byCode: Record<string, OSErrorClass> = {
  ECONNREFUSED: ConnectionRefusedError,
  ECONNRESET: ConnectionResetError,
  ECONNABORTED: ConnectionAbortedError,
  EPIPE: BrokenPipeError,
  ENOTFOUND: GaiError,
  EAI_AGAIN: GaiError,
  EAI_FAIL: GaiError,
  EAI_NONAME: GaiError,
  EAI_NODATA: GaiError,
  ENODATA: GaiError,
  ENOENT: FileNotFoundError,
  EACCES: PermissionError,
  EPERM: PermissionError,
  ESRCH: ProcessLookupError,
};

/**
 * The typed error for a Node error: system errors become an `OSError` subclass that keeps Node's
 * `code`, `errno`, `syscall`, `path`, `address`, `port` and `hostname` (the original as `cause`);
 * our own errors and anything without a system code pass through unchanged. `message` replaces
 * Node's message (asyncio's wording for a failed bind, for instance).
 */
export function toOSError(err: unknown, message?: string): unknown {
  if (err instanceof LoopError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string" || !/^E(?!RR_)[A-Z0-9_]+$/u.test(code)) return err;
  const fields: LoopErrorOptions & OSErrorFields = { cause: err, code };
  const source = err as unknown as Record<string, unknown>;
  for (const key of OS_ERROR_FIELDS) {
    const value = source[key];
    if (typeof value === (key === "errno" || key === "port" ? "number" : "string")) {
      (fields as Record<string, unknown>)[key] = value;
    }
  }
  const cls = byCode[code] ?? OSError;
  return new cls(message ?? err.message, fields);
}

/** `toOSError` typed for places that need an `Error` (a protocol's `connectionLost`). */
export function toError(err: unknown): Error {
  const mapped = toOSError(err);
  return mapped instanceof Error ? mapped : new OSError(String(mapped), { cause: mapped });
}
