/**
 * Context variables do not cross threads unless the caller asks: a trailing `carryContext(...)`
 * argument names the ones to send along with one call.
 */
import { contextEntries, ContextVar } from "../core/context.js";
import { isInstance, typeError } from "../core/validate.js";
import type { ContextEntries } from "./wire.js";

/**
 * Carries the values of chosen context variables with a cross-thread call; pass it as the last
 * argument of `callSoonThreadsafe` / `runCoroutineThreadsafe`. Made by `carryContext()`.
 */
export class ContextCarrier {
  readonly vars: ReadonlyArray<ContextVar<unknown>>;
  /** @internal */
  constructor(vars: ReadonlyArray<ContextVar<unknown>>) {
    this.vars = vars;
  }
}

/**
 * Context variables do not cross threads unless asked: `carryContext(a, b)` as the last argument
 * of a cross-thread call sends the current values of `a` and `b`, and the remote task runs with
 * them set in its thread's variables of the same names.
 *
 * @example
 * await thread.handle.runCoroutineThreadsafe("handle", request, carryContext(requestId));
 */
export function carryContext(...vars: ContextVar<unknown>[]): ContextCarrier {
  vars.forEach((v, i) => {
    if (!isInstance(v, ContextVar)) throw typeError(`vars[${i}]`, "a ContextVar", v);
  });
  return new ContextCarrier(vars);
}

export function splitCarrier(args: unknown[]): ContextEntries {
  const last = args.length > 0 ? args[args.length - 1] : undefined;
  if (!isInstance(last, ContextCarrier)) return 0;
  args.pop();
  return contextEntries((last as ContextCarrier).vars);
}
