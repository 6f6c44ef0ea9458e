/**
 * How the demos print an error: its class, and that it is one of asyncio's RuntimeErrors when it is.
 */
import { RuntimeError } from "multiloop";

/** `NoCurrentLoopError (a RuntimeError subclass): There is no current event loop in thread ...`. */
export function describeError(err: unknown): string {
  const e = err as Error;
  const kind = err instanceof RuntimeError && e.name !== "RuntimeError" ? " (a RuntimeError subclass)" : "";
  return `${e.name}${kind}: ${e.message}`;
}
