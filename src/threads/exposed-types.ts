/**
 * The types of calls into a loop thread's module: `spawnLoopThread<typeof import("./worker.js")>()`
 * gives a `LoopThread<M>` whose `call(name, ...args)` checks the export's name, its parameters and
 * its awaited result. Shared by `LoopThread`, `LoopHandle` and whatever else calls exposed
 * functions by name.
 */
import type { ContextCarrier } from "./context-carrier.js";
import type { SignalOptions } from "../core/abort.js";

/** Any set of exposed functions: what a loop or thread exposes when nothing more is known. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the untyped default must accept any argument list
export type ExposedModule = Record<string, (...args: any[]) => unknown>;

/** The names of `M`'s functions (a module namespace may also export values, which are not exposed). */
export type ExposedName<M> = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any parameter list is a function
  [K in keyof M]-?: M[K] extends (...args: any[]) => unknown ? K : never;
}[keyof M] &
  string;

/** The parameters of `M[K]`. */
export type ExposedParameters<M, K extends keyof M> = M[K] extends (...args: infer A) => unknown ? A : never;

/** The arguments of a call of `M[K]`: its parameters, optionally followed by `carryContext(...)`. */
export type CallArgs<M, K extends keyof M> = ExposedParameters<M, K> | [...ExposedParameters<M, K>, ContextCarrier];

/** What a call of `M[K]` resolves to: its awaited return type. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any parameter list is a function
export type CallResult<M, K extends keyof M> = M[K] extends (...args: any[]) => infer R ? Awaited<R> : never;

/**
 * The names of `M`'s functions that can be streamed: those returning an async iterable (an async
 * generator, say), or a promise of one, and any name of an untyped module.
 */
export type StreamName<M> = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any parameter list is a function
  [K in keyof M]-?: M[K] extends (...args: any[]) => infer R ? (unknown extends R ? K : Awaited<R> extends AsyncIterable<unknown> ? K : never) : never;
}[keyof M] &
  string;

/** The items a stream of `M[K]` yields: the element type of the async iterable it returns. */
export type StreamItem<M, K extends keyof M> =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any parameter list is a function
  M[K] extends (...args: any[]) => infer R ? (Awaited<R> extends AsyncIterable<infer T> ? T : unknown) : never;

/** The options of `callWith`. */
export interface CallOptions extends SignalOptions {
  /**
   * Give up after this many milliseconds: the remote task is cancelled (it sees `CancelledError`)
   * and the call rejects with `TimeoutError`. `null`/absent: no limit.
   */
  timeout?: number | null | undefined;
}
