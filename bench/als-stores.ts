/**
 * Four AsyncLocalStorage stores entered around a measurement, as a traced service has them
 * (OpenTelemetry's context, a logger's bindings, a request id, a tenant): issue 14 §2 asks that
 * `sleep(0)` and a `maxsize: 1` Queue stay within 1.25× of their figure without them. On Node 24
 * and later each store entered makes the async context frame every await captures one entry
 * larger; on Node 20 they run on async_hooks.
 */
import { AsyncLocalStorage } from "node:async_hooks";

const stores = [
  new AsyncLocalStorage<{ traceId: string; spanId: string }>(),
  new AsyncLocalStorage<{ level: string; bindings: Record<string, string> }>(),
  new AsyncLocalStorage<string>(),
  new AsyncLocalStorage<{ tenant: string }>(),
];

/** The label suffix of a figure measured inside the stores. */
export const WITH_STORES = ", 4 other AsyncLocalStorage stores entered";

/** Runs `fn` with the four stores entered (each `run` nested in the previous one). */
export function withStores<T>(fn: () => T): T {
  const [trace, log, requestId, tenant] = stores as [
    AsyncLocalStorage<{ traceId: string; spanId: string }>,
    AsyncLocalStorage<{ level: string; bindings: Record<string, string> }>,
    AsyncLocalStorage<string>,
    AsyncLocalStorage<{ tenant: string }>,
  ];
  return trace.run({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7" }, () =>
    log.run({ level: "info", bindings: { service: "bench" } }, () => requestId.run("req-1", () => tenant.run({ tenant: "t-1" }, fn))),
  );
}
