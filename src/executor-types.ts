/**
 * The executor interface the loop's `runInExecutor` talks to. The loop core knows only this; the
 * piscina-backed `PoolExecutor` lives with the other thread features and registers itself as the
 * factory of default executors (see index.ts).
 */

/**
 * What `runInExecutor` runs in another thread: a self-contained function (sent by its source text,
 * so it cannot use variables from outside its own body), or an export of a module, like piscina.
 */
export type ExecutorFn<R> =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any argument list must fit here
  | ((...args: any[]) => R | Promise<R>)
  | { filename?: string | URL; name?: string };

export interface SubmitOptions {
  /** Aborted when the caller cancels; an executor should drop queued work and may stop running work. */
  signal: AbortSignal;
  /** The values of context variables to carry across (used by `toThread`). */
  context?: ReadonlyArray<[name: string, value: unknown]>;
}

export interface ShutdownOptions {
  /** Wait for running work to finish (default true). */
  wait?: boolean;
  /** With `wait`, give up waiting after this many milliseconds and stop the threads. */
  timeout?: number;
}

/** Runs functions in other threads. */
export interface Executor {
  submit<R>(fn: ExecutorFn<R>, args: unknown[], options: SubmitOptions): Promise<R>;
  /** Resolves to true when everything stopped in time (false when `timeout` passed). */
  shutdown(options?: ShutdownOptions): Promise<boolean>;
}

/**
 * @internal an executor's cheaper way in: submit without an AbortSignal (which costs ~10 us per
 * call to build and listen to in Node) and get back a function that cancels the call.
 */
export const kSubmitCancellable = Symbol("multiloop.submitCancellable");

export interface CancellableSubmission<R> {
  promise: Promise<R>;
  cancel(): void;
}

export interface FastExecutor extends Executor {
  [kSubmitCancellable]<R>(
    fn: ExecutorFn<R>,
    args: unknown[],
    context: ReadonlyArray<[string, unknown]> | undefined,
  ): CancellableSubmission<R>;
}

export function isExecutor(value: unknown): value is Executor {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Executor).submit === "function" &&
    typeof (value as Executor).shutdown === "function"
  );
}

let defaultExecutorFactory: (() => Executor) | null = null;

/** @internal set by the executor module. */
export function setDefaultExecutorFactory(factory: () => Executor): void {
  defaultExecutorFactory = factory;
}

export function createDefaultExecutor(): Executor {
  if (defaultExecutorFactory === null) {
    throw new Error("multiloop: no default executor is available (the executor module was not loaded)");
  }
  return defaultExecutorFactory();
}
