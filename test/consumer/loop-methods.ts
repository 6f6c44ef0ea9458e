/**
 * Compiled by test/built-types.test.ts in a consumer project against the package's built types
 * (not against src/): the thread and networking methods of EventLoop must be visible there.
 */
import { newEventLoop, type LoopHandle, type Protocol, type Server, type Transport } from "multiloop";

export async function useLoopMethods(): Promise<void> {
  const loop = newEventLoop();
  const handle: LoopHandle = loop.handle;
  loop.expose("double", (x: number) => x * 2);
  loop.exposeObject({ ping: () => "pong" });
  const server: Server = await loop.createServer((): Protocol => ({}), "127.0.0.1", 0);
  const [transport]: [Transport, Protocol] = await loop.createConnection((): Protocol => ({}), "127.0.0.1", 1);
  const unix: Promise<Server> = loop.createUnixServer(() => ({}), "/tmp/x.sock");
  void unix;
  transport.close();
  server.close();
  void handle.threadName;
  // @ts-expect-error a misspelt method is an error, not `any`
  loop.createServr("127.0.0.1", 0);
}
