/**
 * Handles: what `callSoon`, `callLater` and `callAt` return, and what the ready queue holds.
 */
import { inspect } from "node:util";
import { Context, ContextMarker, currentData, type ContextData } from "./context.js";
import { callbackRepr } from "./format.js";
import { EMPTY_DATA, state, type Frame } from "./frame.js";
import type { HeapTimer } from "./timer-heap.js";
import { kTaskOf } from "./symbols.js";
import type { Task } from "./task.js";

export const kRun = Symbol("multiloop.run");

/** Anything the ready queue can hold: public handles and the loop's internal wake-ups. */
export interface Runnable {
  cancelled(): boolean;
  /** Runs the callback; `frame` is the loop's reusable frame for plain callbacks. */
  [kRun](frame: Frame): unknown;
  /** The task this runnable steps, if it is a task's start or wake-up. */
  readonly [kTaskOf]?: Task<unknown> | null;
  toString(): string;
}

/** Notified when a timer in its heap is cancelled, so cancelled timers can be purged. */
export interface TimerOwner {
  timerCancelled(timer: TimerHandle): void;
}

type Callback = (...args: never[]) => unknown;

/**
 * A callback scheduled on a loop. `cancel()` keeps it from running (also when it is already in the
 * ready queue) and drops the references to the callback and its arguments.
 */
export class Handle implements Runnable {
  #cb: Callback | null;
  #args: unknown[] | null;
  #ctx: Context | null;
  #data: ContextData;
  #cancelled = false;
  #repr: string | null = null;
  /** Where the handle was created (debug mode only). */
  sourceTraceback: string | undefined;

  /** @internal */
  constructor(cb: Callback, args: unknown[] | null, ctx: Context | null, data: ContextData) {
    this.#cb = cb;
    this.#args = args !== null && args.length === 0 ? null : args;
    this.#ctx = ctx;
    this.#data = data;
  }

  cancel(): void {
    if (this.#cancelled) return;
    // As asyncio: only debug mode (which records where handles were created) keeps a description
    // of a cancelled callback; formatting one on every cancel costs more than the cancel.
    if (this.sourceTraceback !== undefined) this.#repr = this.#describe();
    this.#cancelled = true;
    this.#cb = null;
    this.#args = null;
  }

  cancelled(): boolean {
    return this.#cancelled;
  }

  /** The context the callback runs in (asyncio 3.12 `Handle.get_context()`). */
  getContext(): Context {
    return this.#ctx ?? (this.#ctx = Context.fromData(this.#data));
  }

  [kRun](frame: Frame): unknown {
    const cb = this.#cb as (...args: unknown[]) => unknown;
    frame.ctx = this.#ctx;
    frame.data = this.#data;
    state.sync = frame;
    const args = this.#args;
    const result = args === null ? cb() : args.length === 1 ? cb(args[0]) : cb(...args);
    // A callback that set a context variable made its context real: keep it, so getContext()
    // shows what the callback changed (asyncio's handle owns its context copy).
    if (this.#ctx === null && frame.ctx !== null) this.#ctx = frame.ctx;
    return result;
  }

  #describe(): string {
    return callbackRepr(this.#cb, this.#args ?? []);
  }

  /** The callback and its arguments as asyncio shows them in log lines: `name(arg1, arg2)`. */
  formatCallback(): string {
    return this.#cancelled ? (this.#repr ?? "") : this.#describe();
  }

  protected reprBody(): string {
    if (!this.#cancelled) return this.#describe();
    return this.#repr === null ? "cancelled" : `cancelled ${this.#repr}`;
  }

  toString(): string {
    return `<${this.constructor.name} ${this.reprBody()}>`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

let timerSeq = 0;

/** A handle for a callback scheduled at a point in time; `when()` gives that time in loop ms. */
export class TimerHandle extends Handle implements HeapTimer {
  readonly heapWhen: number;
  readonly heapSeq: number;
  #owner: TimerOwner | null;

  /** @internal */
  constructor(
    when: number,
    cb: Callback,
    args: unknown[] | null,
    ctx: Context | null,
    data: ContextData,
    owner: TimerOwner,
  ) {
    super(cb, args, ctx, data);
    this.heapWhen = when;
    this.heapSeq = timerSeq++;
    this.#owner = owner;
  }

  /** The absolute time (in `loop.time()` milliseconds) the callback is scheduled for. */
  when(): number {
    return this.heapWhen;
  }

  isCancelled(): boolean {
    return this.cancelled();
  }

  override cancel(): void {
    if (this.cancelled()) return;
    super.cancel();
    const owner = this.#owner;
    if (owner !== null) {
      this.#owner = null;
      owner.timerCancelled(this);
    }
  }

  /** @internal the timer left the heap (it became due or the loop closed). */
  detach(): void {
    this.#owner = null;
  }

  protected override reprBody(): string {
    return `when=${this.heapWhen.toFixed(3)} ${super.reprBody()}`;
  }
}

/** `Array.prototype.slice.call(args, from)` without `arguments` leaving the function (V8 keeps it cheap). */
export function sliceArguments(args: IArguments, from: number): unknown[] {
  const out: unknown[] = [];
  for (let i = from; i < args.length; i++) out.push(args[i]);
  return out;
}

/** A trailing `withContext(ctx)` in a callback's arguments: taken off and returned; else null. */
function takeContextMarker(args: unknown[] | null): ContextMarker | null {
  const last = args !== null ? args[args.length - 1] : undefined;
  if (!ContextMarker.is(last)) return null;
  (args as unknown[]).pop();
  return last;
}

/**
 * The handle of `callSoon(cb, ...args)`: a trailing `withContext(ctx)` in `args` runs it in `ctx`;
 * otherwise it keeps a snapshot of the current context (made into a `Context` only if asked).
 */
export function newHandle(cb: Callback, args: unknown[] | null, debug: boolean): Handle {
  const marker = takeContextMarker(args);
  const handle = marker === null ? new Handle(cb, args, null, currentData()) : new Handle(cb, args, marker.context, EMPTY_DATA);
  if (debug) handle.sourceTraceback = new Error("Handle created at").stack;
  return handle;
}

/** `newHandle` for `callLater`/`callAt`: a timer due at `when`, in `owner`'s heap. */
export function newTimerHandle(when: number, cb: Callback, args: unknown[] | null, owner: TimerOwner, debug: boolean): TimerHandle {
  const marker = takeContextMarker(args);
  const timer =
    marker === null
      ? new TimerHandle(when, cb, args, null, currentData(), owner)
      : new TimerHandle(when, cb, args, marker.context, EMPTY_DATA, owner);
  if (debug) timer.sourceTraceback = new Error("Handle created at").stack;
  return timer;
}

/** A task's step is described by its task, anything else by its own repr. */
export function describeRunnable(handle: Runnable): string {
  const task = handle[kTaskOf] ?? null;
  return task !== null ? task.toString() : handle.toString();
}
