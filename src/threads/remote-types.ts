/**
 * The type of what `handle.wrap<T>()` returns: comlink's `Remote<T>`, declared here. comlink's own
 * declarations need the DOM lib (its endpoints are DOM `MessagePort`s and `EventListener`s), so
 * re-exporting them would break every TypeScript consumer that compiles with `lib: ["es2023"]`
 * and `skipLibCheck: false`. This is the part of comlink's mapping that applies to objects exposed
 * with `exposeObject`: every function becomes async, every other property a promise of its
 * (copied) value, and classes construct remotely.
 */

/** A value read across threads: a promise of a copy of it. */
export type RemoteValue<T> = T extends PromiseLike<unknown> ? Promise<Awaited<T>> : Promise<T>;

/** A property of a remote object: functions stay callable (asynchronously), values become promises. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any parameter list is a function
export type RemoteProperty<T> = T extends (...args: any[]) => unknown ? Remote<T> : T extends abstract new (...args: any[]) => unknown ? Remote<T> : RemoteValue<T>;

/** Every property of `T`, seen from another thread. */
export type RemoteObject<T> = { [P in keyof T]: RemoteProperty<T[P]> };

/**
 * An object exposed in another thread with `loop.exposeObject(obj)`, as `handle.wrap<T>()` gives
 * it: `await remote.method(...args)` runs the method as a task on that loop.
 */
export type Remote<T> = RemoteObject<T> &
  (T extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : unknown) &
  (T extends new (...args: infer A) => infer I ? { new (...args: A): Promise<Remote<I>> } : unknown);
