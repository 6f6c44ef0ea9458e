/**
 * The loops of this thread that have run and are not closed, for `snapshotThreads`. A loop is
 * noted when it starts running (once: a WeakSet check per `runForever`, nothing per iteration)
 * and held weakly, so an abandoned loop is not kept alive by being listed.
 */
import type { EventLoop } from "./event-loop.js";

const noted = new WeakSet<EventLoop>();
let loops: Array<WeakRef<EventLoop>> = [];
let onFirstLoop: (() => void) | null = null;

/** @internal the thread layer's hook: called when this thread's first loop starts running. */
export function setFirstLoopHook(hook: () => void): void {
  if (loops.length > 0) hook();
  else onFirstLoop = hook;
}

/** @internal called by `runForever`. */
export function noteLoop(loop: EventLoop): void {
  if (noted.has(loop)) return;
  noted.add(loop);
  loops.push(new WeakRef(loop));
  const hook = onFirstLoop;
  if (hook !== null) {
    onFirstLoop = null;
    hook();
  }
}

/** The loops of this thread that ran and are not closed, oldest first. */
export function threadLoops(): EventLoop[] {
  const live: EventLoop[] = [];
  loops = loops.filter((ref) => {
    const loop = ref.deref();
    if (loop === undefined || loop.isClosed()) return false;
    live.push(loop);
    return true;
  });
  return live;
}
