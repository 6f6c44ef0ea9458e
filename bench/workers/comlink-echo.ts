/** comlink 4.4.2 peer: exposes `echo` on the worker's parent port with comlink's own Node adapter. */
import { parentPort } from "node:worker_threads";
import * as Comlink from "comlink";
import { nodeEndpoint } from "../comlink-endpoint.js";

export interface EchoApi {
  echo(value: number): number;
}

if (parentPort === null) throw new Error("comlink-echo.js must run in a worker");
const api: EchoApi = { echo: (value) => value };
Comlink.expose(api, nodeEndpoint(parentPort));
