/**
 * The catalogue of hostile values the property suites draw from (issue 11): wrong types, NaN,
 * +-Infinity, huge and negative numbers, undefined/null, symbols, revoked proxies, proxies whose
 * traps throw, objects with throwing getters, cyclic objects, functions, class instances,
 * SharedArrayBuffers. Each is made fresh by a factory, so no test can damage the next.
 */

/**
 * What a hostile callback, trap or getter throws. A callback's error ("callback ...", "async
 * callback", "thenable") is the user's own and may surface as is; a getter's or a non-call
 * trap's must not escape a check unwrapped.
 */
export class HostileError extends Error {
  override name = "HostileError";
}

function revoked<T extends object>(target: T): T {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

function throwingTraps<T extends object>(target: T): T {
  const fail = (): never => {
    throw new HostileError("trap");
  };
  // Calling it is calling the user's code: its error is the callback's own.
  const failCall = (): never => {
    throw new HostileError("callback trap");
  };
  return new Proxy(target, {
    get: fail,
    set: fail,
    has: fail,
    ownKeys: fail,
    getPrototypeOf: fail,
    getOwnPropertyDescriptor: fail,
    apply: failCall,
    construct: failCall,
    defineProperty: fail,
    deleteProperty: fail,
  });
}

/** An object every one of whose (many) plausible option names is a getter that throws. */
function throwingGetters(): object {
  const obj: Record<string, unknown> = {};
  const names = [
    "name", "context", "loop", "timeout", "maxsize", "bufferSize", "signal", "limit", "returnExceptions", "returnWhen",
    "debug", "module", "env", "execArgv", "resourceLimits", "filename", "minThreads", "maxThreads", "idleTimeout",
    "maxQueue", "terminateOnCancel", "default", "then", "kind", "buffer", "control", "port", "message", "cause",
    "code", "hint", "stdin", "stdout", "stderr", "cwd", "backlog", "reusePort", "loopFactory", "partial", "expected",
    "length", "size", "wait", "path", "host", "family", "errno", "syscall", "priority", "key",
  ];
  for (const name of names) {
    Object.defineProperty(obj, name, {
      enumerable: true,
      get(): never {
        throw new HostileError(`getter ${name}`);
      },
    });
  }
  return obj;
}

function cyclic(): object {
  const a: Record<string, unknown> = { list: [] as unknown[] };
  a["self"] = a;
  (a["list"] as unknown[]).push(a, { back: a });
  return a;
}

class Plain {
  value = 1;
}

/** One hostile value per entry, made fresh by `make()`. */
export interface Hostile {
  readonly label: string;
  make(): unknown;
  /** Whether structured clone copies it (the cross-thread suite expects equality then). */
  readonly cloneable: boolean;
}

const h = (label: string, make: () => unknown, cloneable: boolean): Hostile => ({ label, make, cloneable });

export const HOSTILE: readonly Hostile[] = [
  h("undefined", () => undefined, true),
  h("null", () => null, true),
  h("true", () => true, true),
  h("NaN", () => NaN, true),
  h("Infinity", () => Infinity, true),
  h("-Infinity", () => -Infinity, true),
  h("-1", () => -1, true),
  h("-0", () => -0, true),
  h("1.5", () => 1.5, true),
  h("2**53+2", () => 2 ** 53 + 2, true),
  h("1e300", () => 1e300, true),
  h("-1e300", () => -1e300, true),
  h("bigint", () => 10n ** 30n, true),
  h("empty string", () => "", true),
  h("string", () => "not-a-thing", true),
  h("'__proto__'", () => "__proto__", true),
  h("'toString'", () => "toString", true),
  h("long string", () => "x".repeat(100_000), true),
  h("symbol", () => Symbol("hostile"), false),
  h("revoked object proxy", () => revoked({}), false),
  h("revoked function proxy", () => revoked(() => 1), false),
  h("revoked array proxy", () => revoked([]), false),
  h("throwing-trap proxy", () => throwingTraps({}), false),
  h("throwing-trap function proxy", () => throwingTraps(() => 1), false),
  h("throwing getters", throwingGetters, false),
  h("cyclic object", cyclic, true),
  h("empty object", () => ({}), true),
  h("null-prototype object", () => Object.create(null) as object, true),
  h("object with __proto__ key", () => JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}') as object, true),
  h("array with holes", () => {
    const holes: number[] = [1];
    holes[2] = 3;
    return holes;
  }, true),
  h("sparse huge array", () => new Array<unknown>(2 ** 32 - 1), true),
  h("function", () => (): number => 1, false),
  h("throwing function", () => (): never => {
    throw new HostileError("callback");
  }, false),
  h("async function rejecting", () => async (): Promise<never> => {
    await Promise.resolve();
    throw new HostileError("async callback");
  }, false),
  h("generator function", () => function* gen(): Generator<number> {
    yield 1;
  }, false),
  h("class", () => class Foo {}, false),
  h("class instance", () => new Plain(), true),
  h("Date", () => new Date(0), true),
  h("Map", () => new Map<unknown, unknown>([[{}, 1]]), true),
  h("Set", () => new Set([1, {}]), true),
  h("Promise", () => Promise.resolve(1), false),
  h("rejected thenable", () => ({
    then(_ok: unknown, fail: (e: unknown) => void): void {
      fail(new HostileError("thenable"));
    },
  }), false),
  h("never-settling thenable", () => ({ then(): void {} }), false),
  h("WeakMap", () => new WeakMap(), false),
  h("Error", () => new Error("an error value"), true),
  h("SharedArrayBuffer", () => new SharedArrayBuffer(8), true),
  h("Int32Array on SAB", () => new Int32Array(new SharedArrayBuffer(16)), true),
  h("Uint8Array", () => new Uint8Array([1, 2, 3]), true),
  h("boxed string", () => new String("boxed"), true),
];

export const HOSTILE_COUNT = HOSTILE.length;

/** How many runs a property suite makes: its default, or `MULTILOOP_FUZZ_RUNS` when that is more. */
export function fuzzRuns(defaultRuns: number): number {
  const raw = process.env["MULTILOOP_FUZZ_RUNS"];
  const asked = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(asked) && asked > defaultRuns ? asked : defaultRuns;
}
