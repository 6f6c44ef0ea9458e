/**
 * Node system errors (`{ code: "ECONNRESET", syscall: "read" }`) turned into the typed `OSError`
 * family, so callers can `instanceof ConnectionRefusedError` as in Python and match on a stable
 * `code`. The Node error stays reachable as `cause`.
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
  PermissionError,
  ProcessLookupError,
} from "../core/errors.js";

type OSErrorClass = new (
  message: string,
  options: { cause?: unknown; errno?: string | null; syscall?: string | null },
) => OSError;

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
 * The typed error for a Node error: system errors become an `OSError` subclass (the original as
 * `cause`); our own errors and anything without a system code pass through unchanged.
 */
export function toOSError(err: unknown): unknown {
  if (err instanceof LoopError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string" || !/^E(?!RR_)[A-Z0-9_]+$/u.test(code)) return err;
  const syscall = (err as { syscall?: unknown }).syscall;
  const cls = byCode[code] ?? OSError;
  return new cls(err.message, {
    cause: err,
    errno: code,
    syscall: typeof syscall === "string" ? syscall : null,
  });
}

/** `toOSError` typed for places that need an `Error` (a protocol's `connectionLost`). */
export function toError(err: unknown): Error {
  const mapped = toOSError(err);
  return mapped instanceof Error ? mapped : new OSError(String(mapped), { cause: mapped });
}
