/**
 * What `Future.then()` returns: a thenable that becomes a native Promise only when somebody needs
 * one.
 *
 * An `await` hands `then` its own resolving functions and never looks at the returned promise,
 * yet a native `new Promise` costs an executor and two resolving closures on every await. This
 * object is plain until somebody chains on it (`then`, `catch`, `finally`), and becomes a real
 * Promise on a rejection nobody subscribed to, so Node still reports it as unhandled.
 */

interface RealPromise<T> {
  readonly promise: Promise<T>;
  readonly resolve: (value: T | PromiseLike<T>) => void;
  readonly reject: (reason: unknown) => void;
}

const PENDING = 0;
const FULFILLED = 1;

export class LazyPromise<T> implements PromiseLike<T> {
  /** The native promise, once somebody needed one. */
  #native: RealPromise<T> | null = null;
  /** Fulfilled before it became a real promise: the value is kept for later subscribers. */
  #settled: typeof PENDING | typeof FULFILLED = PENDING;
  #value: unknown = undefined;

  fulfil(value: T | PromiseLike<T>): void {
    const native = this.#native;
    if (native !== null) {
      native.resolve(value);
      return;
    }
    this.#settled = FULFILLED;
    this.#value = value;
  }

  reject(reason: unknown): void {
    // Nobody subscribed yet: a real promise, so Node reports the rejection if nobody ever does.
    this.#real().reject(reason);
  }

  #real(): RealPromise<T> {
    let native = this.#native;
    if (native === null) {
      let resolve: RealPromise<T>["resolve"] | undefined;
      let reject: RealPromise<T>["reject"] | undefined;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      native = this.#native = {
        promise,
        resolve: resolve as RealPromise<T>["resolve"],
        reject: reject as RealPromise<T>["reject"],
      };
      if (this.#settled === FULFILLED) native.resolve(this.#value as T | PromiseLike<T>);
      this.#value = undefined;
    }
    return native;
  }

  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this.#real().promise.then(onFulfilled, onRejected);
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.#real().promise.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.#real().promise.finally(onFinally);
  }

  get [Symbol.toStringTag](): string {
    return "Promise";
  }
}
