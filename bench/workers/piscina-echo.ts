/**
 * piscina 5 task module: the default export for `pool.run(x)`, and the same function as `echo` for
 * `pool.run(x, { name: "echo" })` and multiloop's `runInExecutor(executor, { filename, name: "echo" })`.
 */
export function echo(value: number): number {
  return value;
}

export default echo;
