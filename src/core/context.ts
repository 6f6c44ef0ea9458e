/**
 * Context variables, after Python's `contextvars`.
 *
 * A `Context` holds an immutable map; `ContextVar.set` replaces the map of the current context, so
 * a copy is O(1) (it shares the map) and a copy never sees later changes of its original. Each task
 * runs in its own copy taken when it was created; each callback in a copy taken when it was
 * scheduled. For a callback the loop does not even build the `Context` object unless the callback
 * asks for it: it keeps the map snapshot in the handle (see `Frame.data`).
 */
import { types } from "node:util";
import { LookupError, RuntimeError } from "./errors.js";
import { als, baseFrame, currentFrame, state, EMPTY_DATA, type Frame } from "./frame.js";
import { pyStr } from "./format.js";
import { checkFunction, checkString, isInstance, readOptions, typeError } from "./validate.js";

export type ContextData = ReadonlyMap<ContextVar<unknown>, unknown>;

const MISSING: unique symbol = Symbol("MISSING");

let getData: (ctx: Context) => ContextData;
let setData: (ctx: Context, data: ContextData) => void;

/**
 * A mapping of context variables to values; `run(fn)` makes it the current context while `fn` runs,
 * including after `fn`'s awaits.
 *
 * @example
 * const requestId = new ContextVar<string>("requestId");
 * const ctx = copyContext();
 * ctx.run(() => requestId.set("r-1"));
 * ctx.get(requestId); // "r-1"; the caller's own context is unchanged
 */
export class Context implements Iterable<[ContextVar<unknown>, unknown]> {
  #data: ContextData;
  #entered = false;

  /** An empty context (Python's `Context()`); use `copyContext()` for a copy of the current one. */
  constructor() {
    this.#data = EMPTY_DATA;
  }

  static {
    getData = (ctx) => ctx.#data;
    setData = (ctx, data) => {
      ctx.#data = data;
    };
  }

  /** @internal */
  static fromData(data: ContextData): Context {
    const ctx = new Context();
    ctx.#data = data;
    return ctx;
  }

  /**
   * Runs `fn(...args)` with this context as the current one and returns what it returns. Changes
   * `fn` makes with `ContextVar.set` land in this context. An async `fn` keeps this context across
   * its awaits. Entering a context that is already entered throws `RuntimeError`.
   */
  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
    checkFunction("fn", fn);
    if (this.#entered) {
      throw new RuntimeError(`cannot enter context: ${this.toString()} is already entered`, {
        code: "ERR_LOOP_CONTEXT_ENTERED",
      });
    }
    return runInContext(this, fn, args);
  }

  get<T>(v: ContextVar<T>): T | undefined {
    if (!(v instanceof ContextVar)) throw typeError("v", "a ContextVar", v);
    const value = this.#data.get(v);
    return value as T | undefined;
  }

  has(v: ContextVar<unknown>): boolean {
    if (!(v instanceof ContextVar)) throw typeError("v", "a ContextVar", v);
    return this.#data.has(v);
  }

  /** A shallow copy: same values now, independent from here on. */
  copy(): Context {
    return Context.fromData(this.#data);
  }

  get size(): number {
    return this.#data.size;
  }

  keys(): IterableIterator<ContextVar<unknown>> {
    return this.#data.keys();
  }

  values(): IterableIterator<unknown> {
    return this.#data.values();
  }

  entries(): IterableIterator<[ContextVar<unknown>, unknown]> {
    return this.#data.entries();
  }

  [Symbol.iterator](): IterableIterator<[ContextVar<unknown>, unknown]> {
    return this.#data.entries();
  }

  /** @internal marks the context entered while `fn` runs synchronously. */
  static enter(ctx: Context, entered: boolean): boolean {
    const was = ctx.#entered;
    ctx.#entered = entered;
    return was;
  }

  toString(): string {
    return `<Context vars=${this.#data.size}>`;
  }
}

/** Runs `fn` in `ctx` (also across its awaits), without the "already entered" check. */
export function runInContext<A extends unknown[], R>(ctx: Context, fn: (...args: A) => R, args: A): R {
  const outer = currentFrame();
  const frame: Frame = { loop: outer.loop, task: outer.task, ctx, data: EMPTY_DATA };
  const prevSync = state.sync;
  const wasEntered = Context.enter(ctx, true);
  state.sync = frame;
  try {
    return als.run(frame, fn, ...args);
  } finally {
    state.sync = prevSync;
    Context.enter(ctx, wasEntered);
  }
}

/** The current context object, creating it from the frame's snapshot on first use. */
export function currentContext(): Context {
  const frame = currentFrame();
  return frame.ctx ?? (frame.ctx = Context.fromData(frame.data));
}

/** The current context's values, without creating a context object. */
export function currentData(): ContextData {
  const frame = currentFrame();
  return frame.ctx === null ? frame.data : getData(frame.ctx);
}

/** The values of a context (for handles that snapshot it). */
export function contextData(ctx: Context): ContextData {
  return getData(ctx);
}

/** A copy of the current context (Python's `contextvars.copy_context()`). */
export function copyContext(): Context {
  return Context.fromData(currentData());
}

/**
 * The value a `ContextVar.set` replaced; pass it to `reset()` to restore it.
 */
export class Token<T> {
  /** Python's `Token.MISSING`: the variable had no value before `set`. */
  static readonly MISSING: typeof MISSING = MISSING;
  readonly #var: ContextVar<T>;
  readonly #oldValue: T | typeof MISSING;
  readonly #ctx: Context;
  #used = false;

  /** @internal */
  constructor(ctx: Context, v: ContextVar<T>, oldValue: T | typeof MISSING) {
    this.#ctx = ctx;
    this.#var = v;
    this.#oldValue = oldValue;
  }

  get var(): ContextVar<T> {
    return this.#var;
  }

  /** The previous value, or `Token.MISSING` if the variable had none. */
  get oldValue(): T | typeof MISSING {
    return this.#oldValue;
  }

  /** @internal */
  static consume<T>(token: Token<T>, v: ContextVar<T>, ctx: Context): T | typeof MISSING {
    if (token.#used) {
      throw new RuntimeError(`${token.toString()} has already been used once`, {
        code: "ERR_LOOP_TOKEN_USED",
      });
    }
    if (token.#var !== v) {
      throw new RangeError(`${token.toString()} was created by a different ContextVar`);
    }
    if (token.#ctx !== ctx) {
      throw new RangeError(`${token.toString()} was created in a different Context`);
    }
    token.#used = true;
    return token.#oldValue;
  }

  toString(): string {
    return `<Token${this.#used ? " used" : ""} var=${this.#var.toString()}>`;
  }
}

export interface ContextVarOptions<T> {
  /** The value `get()` returns when the variable has no value in the current context. */
  default?: T;
}

/**
 * A variable whose value depends on the current context (per task, per callback).
 *
 * @example
 * const user = new ContextVar<string>("user", { default: "anonymous" });
 * await run(async () => {
 *   user.set("ada");
 *   await createTask(async () => user.get()); // "ada": the task copied the context
 * });
 */
export class ContextVar<T> {
  readonly #name: string;
  readonly #default: T | typeof MISSING;

  constructor(name: string, options: ContextVarOptions<T> = {}) {
    checkString("name", name);
    options = readOptions("options", options);
    this.#name = name;
    this.#default = "default" in options ? options.default : MISSING;
    registerByName(this);
  }

  get name(): string {
    return this.#name;
  }

  /**
   * The value in the current context; else `fallback` if given; else the default; else throws
   * `LookupError`.
   */
  get(...fallback: [] | [T]): T {
    const data = currentData();
    const self = this as ContextVar<unknown>;
    if (data.has(self)) return data.get(self) as T;
    if (fallback.length > 0) return fallback[0] as T;
    if (this.#default !== MISSING) return this.#default;
    throw new LookupError(`<ContextVar name=${pyStr(this.#name)}> has no value in the current context`, {
      hint: "Give the ContextVar a default, pass a fallback to get(), or set() it first.",
    });
  }

  /** Sets the value in the current context; returns a token that `reset()` uses to undo it. */
  set(value: T): Token<T> {
    const ctx = currentContext();
    const data = getData(ctx);
    const self = this as ContextVar<unknown>;
    const old = data.has(self) ? (data.get(self) as T) : MISSING;
    setData(ctx, new Map(data).set(self, value));
    return new Token(ctx, this, old);
  }

  /** Restores the value the variable had before the `set()` that returned `token`. */
  reset(token: Token<T>): void {
    if (!(token instanceof Token)) throw typeError("token", "a Token", token);
    const ctx = currentContext();
    const old = Token.consume(token, this, ctx);
    const next = new Map(getData(ctx));
    if (old === MISSING) next.delete(this);
    else next.set(this, old);
    setData(ctx, next);
  }

  toString(): string {
    return `<ContextVar name=${pyStr(this.#name)}>`;
  }
}

/** The marker a trailing `withContext(ctx)` argument leaves; the loop pops it off `args`. */
export class ContextMarker {
  readonly context: Context;
  readonly #marker = true;
  /** @internal */
  constructor(context: Context) {
    this.context = context;
  }

  /**
   * @internal Whether `value` is a marker. A brand check, not `instanceof`: the value is any
   * callback argument, and `instanceof` on a Proxy runs its getPrototypeOf trap (which may throw).
   */
  static is(value: unknown): value is ContextMarker {
    return typeof value === "object" && value !== null && #marker in value;
  }
}

/**
 * Runs a callback in `ctx` instead of a copy of the current context: pass it as the last argument
 * of `callSoon`, `callLater`, `callAt`, `callSoonThreadsafe` or `addDoneCallback` (asyncio's
 * `context=`).
 *
 * @example
 * loop.callSoon(handler, "event", withContext(ctx));
 */
export function withContext(ctx: Context): ContextMarker {
  if (!isInstance(ctx, Context)) throw typeError("ctx", "a Context", ctx);
  return new ContextMarker(ctx);
}

/** The thread's own context, for code outside any loop. */
export function baseContext(): Context {
  return baseFrame.ctx ?? (baseFrame.ctx = Context.fromData(EMPTY_DATA));
}

/**
 * Context variables of this thread by name, so values carried from another thread (which has its
 * own ContextVar objects) can be set in the variables of the same name here.
 */
const byName = new Map<string, WeakRef<ContextVar<unknown>>[]>();

function registerByName(v: ContextVar<unknown>): void {
  const refs = byName.get(v.name);
  if (refs === undefined) byName.set(v.name, [new WeakRef(v)]);
  else {
    const live = refs.filter((r) => r.deref() !== undefined);
    live.push(new WeakRef(v));
    byName.set(v.name, live);
  }
}

/** The live context variables of this thread called `name`. */
export function contextVarsNamed(name: string): ContextVar<unknown>[] {
  const out: ContextVar<unknown>[] = [];
  for (const ref of byName.get(name) ?? []) {
    const v = ref.deref();
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** A new context holding `entries`, set in this thread's variables of the same names. */
export function contextFromEntries(entries: ReadonlyArray<readonly [string, unknown]>): Context {
  // isProxy first: Array.isArray throws on a revoked proxy.
  if (types.isProxy(entries) || !Array.isArray(entries)) throw typeError("entries", "an array of [name, value] pairs", entries);
  const data = new Map<ContextVar<unknown>, unknown>();
  for (let i = 0; i < entries.length; i++) {
    const entry: unknown = entries[i];
    if (types.isProxy(entry) || !Array.isArray(entry) || typeof entry[0] !== "string") {
      throw typeError(`entries[${i}]`, "a [name, value] pair with a string name", entry);
    }
    const [name, value] = entry as [string, unknown];
    for (const v of contextVarsNamed(name)) data.set(v, value);
  }
  return Context.fromData(data);
}

/** `[name, value]` of each of `vars` that has a value in the current context. */
export function contextEntries(vars: ReadonlyArray<ContextVar<unknown>>): Array<[string, unknown]> {
  const data = currentData();
  const out: Array<[string, unknown]> = [];
  for (const v of vars) if (data.has(v)) out.push([v.name, data.get(v)]);
  return out;
}

/** `[name, value]` of every variable set in the current context (what `toThread` carries). */
export function allContextEntries(): Array<[string, unknown]> {
  return [...currentData()].map(([v, value]) => [v.name, value]);
}
