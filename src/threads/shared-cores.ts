/**
 * One local "core" per shared object per thread.
 *
 * A ThreadQueue or ThreadLock may be revived many times in one thread (each call argument that
 * carries it revives a copy). The copies share one core: one list of waiting tasks, one watcher on
 * each wake-up word, and, for locks, at most one ticket in the line. That keeps the number of
 * watchers and tickets bounded by the number of threads, not by the number of copies.
 *
 * Each shared object carries a random 64-bit id in its SharedArrayBuffer; the registry maps it to
 * the core through a WeakRef, so a core lives as long as a copy (or a pending wait) uses it.
 */
import { getRandomValues } from "node:crypto";

const cores = new Map<string, WeakRef<object>>();
const forget = new FinalizationRegistry<string>((key) => {
  const ref = cores.get(key);
  if (ref !== undefined && ref.deref() === undefined) cores.delete(key);
});

/** Writes a fresh random id into `i32[index]` and `i32[index + 1]` (at creation). */
export function writeSharedId(i32: Int32Array, index: number): void {
  const id = getRandomValues(new Int32Array(2));
  i32[index] = id[0] as number;
  i32[index + 1] = id[1] as number;
}

/** The core of the shared object whose id sits at `i32[index]`, made by `create` on first use. */
export function coreFor<C extends object>(kind: string, i32: Int32Array, index: number, create: () => C): C {
  const key = `${kind}:${i32[index]}:${i32[index + 1]}`;
  const existing = cores.get(key)?.deref();
  if (existing !== undefined) return existing as C;
  const core = create();
  cores.set(key, new WeakRef(core));
  forget.register(core, key);
  return core;
}
