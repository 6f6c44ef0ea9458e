/**
 * A small HTTP/1.1 server on multiloop's streams (`startServer`), for the per-thread shape of the
 * service example: each loop thread listens on the same port (`reusePort: true`) and answers on
 * its own loop, with no hop through the main thread.
 *
 * What it speaks: requests with a `Content-Length` body or none, keep-alive (the HTTP/1.1
 * default; `Connection: close` or HTTP/1.0 end the connection after the answer), pipelined
 * requests answered in order, JSON answers. What it refuses, with a JSON error and a closed
 * connection: a malformed request line (400), a head over the reader's limit (431), a body over
 * MAX_BODY (413), `Transfer-Encoding` (501: chunked request bodies are left out).
 */
import {
  IncompleteReadError,
  LimitOverrunError,
  startServer,
  type Server,
  type StreamReader,
  type StreamWriter,
} from "multiloop";

export interface HttpRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

export interface HttpResponse {
  status: number;
  /** Sent as JSON. */
  body: unknown;
}

export type HttpHandler = (request: HttpRequest) => HttpResponse | Promise<HttpResponse>;

/** The largest request body accepted (bytes). */
export const MAX_BODY = 1 << 20;

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
};

/** The request line and headers of one request, or null if they are not HTTP/1.x. */
export function parseHead(head: string): Omit<HttpRequest, "body"> & { version: string } | null {
  const lines = head.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/(1\.[01])$/u.exec(lines[0] ?? "");
  if (m === null) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return null;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const url = new URL(m[2] as string, "http://localhost");
  return { method: m[1] as string, path: url.pathname, query: Object.fromEntries(url.searchParams), headers, version: m[3] as string };
}

/** Writes one JSON response. */
export function writeResponse(writer: StreamWriter, response: HttpResponse, keepAlive: boolean): void {
  const json = JSON.stringify(response.body);
  writer.write(
    `HTTP/1.1 ${response.status} ${STATUS_TEXT[response.status] ?? "Unknown"}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(json)}\r\n` +
      `connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n${json}`,
  );
}

function refuse(writer: StreamWriter, status: number, error: string): void {
  writeResponse(writer, { status, body: { error } }, false);
}

/** Serves the requests of one connection, one after another, until it ends. */
async function serveConnection(reader: StreamReader, writer: StreamWriter, handler: HttpHandler): Promise<void> {
  try {
    for (;;) {
      let head: Buffer;
      try {
        head = await reader.readuntil("\r\n\r\n");
      } catch (err) {
        // The peer closed the connection (between requests, or mid-head).
        if (err instanceof IncompleteReadError) return;
        if (err instanceof LimitOverrunError) return refuse(writer, 431, "request head too large");
        throw err;
      }
      const request = parseHead(head.toString("latin1"));
      if (request === null) return refuse(writer, 400, "malformed request");
      if (request.headers["transfer-encoding"] !== undefined) return refuse(writer, 501, "Transfer-Encoding is not supported");
      let body = "";
      const length = request.headers["content-length"];
      if (length !== undefined) {
        if (!/^\d+$/u.test(length)) return refuse(writer, 400, "bad Content-Length");
        if (Number(length) > MAX_BODY) return refuse(writer, 413, `bodies are limited to ${MAX_BODY} bytes`);
        try {
          body = (await reader.readexactly(Number(length))).toString("utf8");
        } catch (err) {
          if (err instanceof IncompleteReadError) return;
          throw err;
        }
      }
      const connection = request.headers["connection"]?.toLowerCase();
      const keepAlive = request.version === "1.1" ? connection !== "close" : connection === "keep-alive";
      let response: HttpResponse;
      try {
        response = await handler({ method: request.method, path: request.path, query: request.query, headers: request.headers, body });
      } catch (err) {
        response = { status: 500, body: { error: String(err) } };
      }
      writeResponse(writer, response, keepAlive);
      await writer.drain();
      if (!keepAlive) return;
    }
  } finally {
    writer.close();
  }
}

/**
 * Listens on `host:port` and answers every request with `handler` (on the running loop). With
 * `reusePort`, other threads may listen on the same port (Node >= 22.12).
 */
export async function serveHttp(handler: HttpHandler, host: string, port: number, options: { reusePort?: boolean } = {}): Promise<Server> {
  return await startServer((reader, writer) => serveConnection(reader, writer, handler), host, port, {
    ...(options.reusePort === undefined ? {} : { reusePort: options.reusePort }),
  });
}
