import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getRunningLoop, run, sleep, type ExceptionContext } from "multiloop";
// The examples are imported from dist/: their worker entry points are compiled JS next to them.
import { FrameDecoder, FrameTooLargeError, encodeFrame, type Frame } from "../dist/examples/binary-protocol/frame.js";
import { FrameClient, reverseHandler, serveFrames, type ConnectionStats } from "../dist/examples/binary-protocol/protocol.js";
import { runDemo } from "../dist/examples/binary-protocol/index.js";

const frameArb = fc.record({
  id: fc.integer({ min: 0, max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

/** Cuts `bytes` at the given points (any order, duplicates allowed). */
function cut(bytes: Buffer, points: number[]): Buffer[] {
  const sorted = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...sorted, bytes.length]) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  return out;
}

function decodeAll(chunks: Buffer[]): Frame[] {
  const d = new FrameDecoder();
  const frames = chunks.flatMap((c) => d.push(c));
  expect(d.pending).toBe(0);
  return frames;
}

describe("FrameDecoder", () => {
  it("reassembles any sequence of frames however the stream is cut (property)", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 60 }), (frames, points) => {
        const stream = Buffer.concat(frames.map((f) => encodeFrame(f.id, f.payload)));
        const got = decodeAll(cut(stream, points));
        expect(got.map((f) => f.id)).toEqual(frames.map((f) => f.id));
        got.forEach((f, i) => expect(f.payload.equals(frames[i]?.payload as Buffer)).toBe(true));
      }),
      { numRuns: 300 },
    );
  });

  it("one byte at a time, and everything in one chunk", () => {
    const frames = Array.from({ length: 50 }, (_, i) => ({ id: i * 7, payload: Buffer.from("p".repeat(i)) }));
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f.id, f.payload)));
    const bytewise = decodeAll(Array.from(stream, (b) => Buffer.from([b])));
    const whole = decodeAll([stream]);
    for (const got of [bytewise, whole]) {
      expect(got.map((f) => [f.id, String(f.payload)])).toEqual(frames.map((f) => [f.id, String(f.payload)]));
    }
  });

  it("rejects a length over its limit, and ids out of range", () => {
    const d = new FrameDecoder(10);
    expect(() => d.push(encodeFrame(1, Buffer.alloc(11)))).toThrow(FrameTooLargeError);
    expect(() => encodeFrame(-1, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => encodeFrame(2 ** 32, Buffer.alloc(0))).toThrow(RangeError);
  });
});

describe("binary protocol over TCP", () => {
  it("server thread + client threads: pipelined, one batch write, and one byte per write all answered correctly", async () => {
    const result = await runDemo({ pipelined: 500, batch: 500, trickle: 3 });
    expect(result.clients).toEqual([
      { mode: "pipelined", sent: 500, correct: 500 },
      { mode: "batch", sent: 500, correct: 500 },
      { mode: "trickle", sent: 3, correct: 3 },
    ]);
    const stats = result.server;
    expect(stats.length).toBe(3);
    // TCP really did split frames (more reads than frames) and merge them (more frames than reads).
    expect(stats.some((s: ConnectionStats) => s.chunks > s.frames)).toBe(true);
    expect(stats.some((s: ConnectionStats) => s.frames > s.chunks)).toBe(true);
    expect(stats.reduce((n, s) => n + s.frames, 0)).toBe(1003);
  }, 60_000);

  it("a garbage length closes only that connection (the protocol error goes to the handler)", async () => {
    await run(async () => {
      const loop = getRunningLoop();
      const contexts: ExceptionContext[] = [];
      loop.setExceptionHandler((_l, ctx) => contexts.push(ctx));
      const server = await serveFrames(loop, reverseHandler, "127.0.0.1", 0);
      try {
        const port = (server.sockets[0]?.address() as { port: number }).port;
        const good = await FrameClient.connect(loop, "127.0.0.1", port);
        const [badTransport] = await loop.createConnection(() => ({}), "127.0.0.1", port);
        const header = Buffer.alloc(8);
        header.writeUInt32BE(0xffffffff, 0);
        badTransport.write(header);
        while (contexts.length === 0) await sleep(1);
        expect(String(await good.request(Buffer.from("abc")))).toBe("3:cba");
        expect(contexts[0]?.message).toBe("Fatal error: protocol.dataReceived() call failed.");
        expect(contexts[0]?.exception).toBeInstanceOf(FrameTooLargeError);
        await good.close();
        badTransport.close();
      } finally {
        server.close();
        server.abortClients();
        await server.waitClosed();
      }
    });
  }, 15_000);
});
