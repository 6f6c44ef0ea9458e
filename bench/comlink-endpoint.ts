/**
 * comlink's own Node adapter, loaded once for both sides of the comlink scenarios.
 *
 * comlink 4.4.2 ships it as a UMD file whose module.exports is the function itself, with a
 * declaration file that says `export default`. TypeScript therefore types the CommonJS default
 * import as `{ default: fn }`, while Node hands over the function; accept either shape.
 */
import adapter from "comlink/dist/umd/node-adapter.js";

type NodeEndpointFn = typeof adapter.default;

const exported: unknown = adapter;

export const nodeEndpoint: NodeEndpointFn =
  typeof exported === "function" ? (exported as NodeEndpointFn) : (exported as { default: NodeEndpointFn }).default;
