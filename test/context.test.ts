/**
 * Context variables: asyncio-semantics.md items 57 (callbacks copy the context when scheduled) and
 * 79 (a task runs in a copy taken at creation, or in the context given), plus the contextvars API
 * of API.md ("Context variables").
 */
import { describe, expect, it } from "vitest";
import {
  Context,
  ContextVar,
  LookupError,
  RuntimeError,
  Token,
  copyContext,
  createTask,
  currentTask,
  gather,
  getRunningLoop,
  newEventLoop,
  run,
  sleep,
  withContext,
  type Task,
} from "multiloop";
import { thrown } from "./helpers.js";

describe("context variables (semantics items 57 and 79)", () => {
  it("57: a callback runs in a copy of the context taken when it was scheduled, or in the one given with withContext", async () => {
    const cvar = new ContextVar<string>("cvar", { default: "default" });
    await run(async () => {
      const loop = getRunningLoop();
      const seen: string[] = [];
      cvar.set("when scheduled");
      const handle = loop.callSoon(() => {
        seen.push(`soon: ${cvar.get()}`);
        cvar.set("set by the callback"); // lands in the callback's own copy
      });
      loop.callLater(0, () => seen.push(`later: ${cvar.get()}`));
      loop.callAt(loop.time(), () => seen.push(`at: ${cvar.get()}`));
      const ctx = new Context();
      ctx.run(() => cvar.set("explicit"));
      loop.callSoon((tag: string) => seen.push(`${tag}: ${cvar.get()}`), "withContext", withContext(ctx));
      cvar.set("changed after scheduling");
      expect(handle.getContext().get(cvar)).toBe("when scheduled");
      await sleep(1);
      expect(seen).toEqual(["soon: when scheduled", "withContext: explicit", "later: when scheduled", "at: when scheduled"]);
      expect(cvar.get()).toBe("changed after scheduling");
    });
  });

  it("79: a task runs in a copy of the context taken at its creation; its changes do not leak to its creator", async () => {
    const cvar = new ContextVar<string>("cvar", { default: "nope" });
    await run(async () => {
      cvar.set("creator");
      const task = createTask(async () => {
        const before = cvar.get();
        cvar.set("task's own");
        await sleep(0);
        return [before, cvar.get()];
      });
      cvar.set("creator, changed after createTask");
      expect(await task).toEqual(["creator", "task's own"]);
      expect(cvar.get()).toBe("creator, changed after createTask");
      expect(task.getContext().get(cvar)).toBe("task's own");
      expect((currentTask() as Task).getContext().get(cvar)).toBe("creator, changed after createTask");
    });
    expect(cvar.get()).toBe("nope");
  });

  it("79: with options.context the task runs in that very context (test_context_4..6)", async () => {
    const cvar = new ContextVar<number>("cvar");
    await run(async () => {
      const ctx = copyContext();
      const ret: Array<number | undefined> = [ctx.get(cvar)];
      const coro = (val: number) => async () => {
        await sleep(0);
        cvar.set(val);
      };
      const t1 = createTask(coro(1), { context: ctx });
      expect(t1.getContext()).toBe(ctx);
      await t1;
      ret.push(ctx.get(cvar));
      await createTask(coro(2), { context: ctx });
      ret.push(ctx.get(cvar));
      expect(ret).toEqual([undefined, 1, 2]);
      expect(cvar.get(-1)).toBe(-1);

      const loop = getRunningLoop();
      await loop.createTask(coro(3), { context: ctx });
      expect(ctx.get(cvar)).toBe(3);
    });
  });

  it("79: many tasks in parallel each keep their own value across awaits (test_context_3)", async () => {
    const cvar = new ContextVar<number>("cvar", { default: -1 });
    await run(async () => {
      const sub = (num: number) => async () => {
        for (let i = 0; i < 10; i++) {
          cvar.set(num + i);
          await sleep((num + i) % 3);
          if (i % 2 === 0) await Promise.resolve();
          expect(cvar.get()).toBe(num + i);
        }
      };
      await gather(Array.from({ length: 100 }, (_, n) => createTask(sub(n * 100))));
      expect(cvar.get()).toBe(-1);
    });
  });

  it("79: the context reaches a task's done callbacks and survives awaits of plain promises (test_context_1/2)", async () => {
    const cvar = new ContextVar<string>("cvar", { default: "nope" });
    await run(async () => {
      const loop = getRunningLoop();
      const seen: string[] = [];
      const main = createTask(async () => {
        for (let j = 0; j < 2; j++) {
          const fut = loop.createFuture<void>();
          fut.addDoneCallback(() => {
            seen.push(`done callback: ${cvar.get()}`);
            cvar.set("something else"); // must not pollute the task's context
          });
          cvar.set(`yes${j}`);
          loop.callSoon(() => fut.setResult());
          await fut;
          expect(cvar.get()).toBe(`yes${j}`);
          await new Promise<void>((resolve) => setImmediate(resolve));
          expect(cvar.get()).toBe(`yes${j}`);
        }
      });
      await main;
      // Captured at addDoneCallback, before the loop body's cvar.set.
      expect(seen).toEqual(["done callback: nope", "done callback: yes0"]);
      expect(cvar.get()).toBe("nope");
    });
  });
});

describe("contextvars API", () => {
  it("ContextVar: name, default, get(fallback), LookupError without a value", () => {
    const withDefault = new ContextVar<number>("withDefault", { default: 1 });
    const bare = new ContextVar<number>("bare");
    expect(withDefault.name).toBe("withDefault");
    expect(withDefault.get()).toBe(1);
    expect(withDefault.get(2)).toBe(2);
    expect(bare.get(3)).toBe(3);
    const err = thrown(() => bare.get());
    expect(err).toBeInstanceOf(LookupError);
    expect((err as Error).message).toBe("<ContextVar name='bare'> has no value in the current context");
    expect(String(bare)).toBe("<ContextVar name='bare'>");
    // An explicit undefined default is a default.
    expect(new ContextVar<undefined>("u", { default: undefined }).get()).toBeUndefined();
  });

  it("set/reset with tokens: oldValue, Token.MISSING, a token used twice, of another variable or another context", () => {
    const a = new ContextVar<string>("a");
    const b = new ContextVar<string>("b");
    const ctx = new Context();
    ctx.run(() => {
      const t1 = a.set("one");
      expect(t1.var).toBe(a);
      expect(t1.oldValue).toBe(Token.MISSING);
      const t2 = a.set("two");
      expect(t2.oldValue).toBe("one");
      a.reset(t2);
      expect(a.get()).toBe("one");
      const used = thrown(() => a.reset(t2));
      expect(used).toBeInstanceOf(RuntimeError);
      expect((used as Error).message).toMatch(/has already been used once$/u);
      const other = thrown(() => b.reset(t1));
      expect(other).toBeInstanceOf(RangeError);
      expect((other as Error).message).toMatch(/was created by a different ContextVar$/u);
      a.reset(t1);
      expect(a.get("none")).toBe("none");
      expect(ctx.has(a)).toBe(false);
    });
    const token = ctx.run(() => a.set("in ctx"));
    const elsewhere = thrown(() => new Context().run(() => a.reset(token)));
    expect(elsewhere).toBeInstanceOf(RangeError);
    expect((elsewhere as Error).message).toMatch(/was created in a different Context$/u);
  });

  it("Context: run, get, has, copy, iteration; a copy is independent; entering an entered context is refused", () => {
    const v = new ContextVar<number>("v");
    const ctx = new Context();
    expect(ctx.run((x: number) => x * 2, 21)).toBe(42);
    ctx.run(() => v.set(1));
    expect(ctx.get(v)).toBe(1);
    expect(ctx.has(v)).toBe(true);
    expect(ctx.size).toBe(1);
    expect([...ctx]).toEqual([[v, 1]]);
    expect([...ctx.keys()]).toEqual([v]);
    expect([...ctx.values()]).toEqual([1]);
    const copy = ctx.copy();
    copy.run(() => v.set(2));
    expect(ctx.get(v)).toBe(1);
    expect(copy.get(v)).toBe(2);
    // Outside: the variable has no value.
    expect(v.get(0)).toBe(0);
    const again = thrown(() => ctx.run(() => ctx.run(() => 1)));
    expect(again).toBeInstanceOf(RuntimeError);
    expect((again as Error).message).toMatch(/^cannot enter context: .* is already entered$/u);
    // copyContext() outside any loop copies the thread's base context.
    expect(copyContext()).toBeInstanceOf(Context);
  });

  it("Context.run with an async function keeps the context across its awaits", async () => {
    const v = new ContextVar<string>("v", { default: "outside" });
    const ctx = new Context();
    const seen = await ctx.run(async () => {
      v.set("inside");
      await new Promise<void>((resolve) => setImmediate(resolve));
      return v.get();
    });
    expect(seen).toBe("inside");
    expect(v.get()).toBe("outside");
    expect(ctx.get(v)).toBe("inside");
  });

  it("a callback's ContextVar.set stays in the callback's copy; the next callback does not see it", async () => {
    const v = new ContextVar<string>("v", { default: "unset" });
    const loop = newEventLoop();
    try {
      const seen: string[] = [];
      loop.callSoon(() => {
        v.set("first callback");
        seen.push(v.get());
      });
      loop.callSoon(() => seen.push(v.get()));
      loop.callSoon(() => loop.stop());
      await loop.runForever();
      expect(seen).toEqual(["first callback", "unset"]);
    } finally {
      loop.close();
    }
  });

  it("bad input: ContextVar, Context, withContext and reset check their arguments", () => {
    expect(() => new ContextVar(5 as never)).toThrow(/`name`/u);
    expect(() => new ContextVar("x", 5 as never)).toThrow(/`options`/u);
    expect(() => new Context().run(5 as never)).toThrow(/`fn`/u);
    expect(() => new Context().get({} as never)).toThrow(/`v`/u);
    expect(() => new Context().has("x" as never)).toThrow(/`v`/u);
    expect(() => withContext({} as never)).toThrow(/`ctx`/u);
    expect(() => new ContextVar("x").reset({} as never)).toThrow(/`token`/u);
    expect(thrown(() => withContext(null as never))).toBeInstanceOf(TypeError);
  });
});
