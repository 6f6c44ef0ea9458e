/**
 * multiloop: Python's asyncio event-loop model for Node.js, one event loop per worker thread.
 *
 * This is the package's only entry; everything public is re-exported here by name.
 */

// Errors
export {
  BrokenBarrierError,
  CancelledError,
  IncompleteReadError,
  InvalidStateError,
  LimitOverrunError,
  LookupError,
  LoopClosedError,
  LoopError,
  NoCurrentLoopError,
  NoRunningLoopError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  RemoteError,
  RuntimeError,
  ThreadExitError,
  TimeoutError,
} from "./errors.js";
export type { LoopErrorOptions } from "./errors.js";

// Policy and loop lookup
export {
  DefaultEventLoopPolicy,
  EventLoopPolicy,
  getEventLoop,
  getEventLoopPolicy,
  getRunningLoop,
  newEventLoop,
  setEventLoop,
  setEventLoopPolicy,
  setStrict,
  isStrict,
} from "./policy.js";
export { currentThreadName } from "./thread-name.js";

// The loop
export { EventLoop } from "./event-loop.js";
export type { Awaitable, ExceptionContext, ExceptionHandler, TaskFactory } from "./event-loop.js";
export { Handle, TimerHandle } from "./handle.js";
export type { Executor, ExecutorFn, ShutdownOptions, SubmitOptions } from "./executor-types.js";

// Running
export { run, Runner } from "./runner.js";
export type { RunnerOptions } from "./runner.js";

// Futures and tasks
export { Future, isFuture } from "./future.js";
export type { FutureOptions } from "./future.js";
export { Task } from "./task.js";
export type { Coroutine, TaskOptions } from "./task.js";
export { allTasks, createTask, currentTask, ensureFuture, sleep } from "./tasks.js";
export type { EnsureFutureOptions } from "./tasks.js";
export { gather } from "./gather.js";
export type { GatherInput, GatherOptions } from "./gather.js";
export { ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, wait, waitFor } from "./wait.js";
export type { ReturnWhen, WaitOptions } from "./wait.js";
export { shield } from "./shield.js";
export { asCompleted } from "./as-completed.js";
export type { AsCompletedOptions } from "./as-completed.js";
export { Timeout, timeout, timeoutAt } from "./timeouts.js";
export { TaskGroup, taskGroup } from "./task-group.js";

// Context variables
export { Context, ContextMarker, ContextVar, Token, copyContext, withContext } from "./context.js";
export type { ContextVarOptions } from "./context.js";

// ---- Synchronisation and queues (same loop) ----
export { Lock } from "./lock.js";
export { Event } from "./event.js";
export { Condition } from "./condition.js";
export { BoundedSemaphore, Semaphore } from "./semaphore.js";
export { Barrier } from "./barrier.js";
export { LifoQueue, PriorityQueue, Queue } from "./queue.js";
export type { PriorityQueueOptions, QueueOptions } from "./queue.js";

// ---- Other threads ----
export { LoopHandle, ContextCarrier, carryContext, runCoroutineThreadsafe, installThreadMethods } from "./loop-handle.js";
export type { LoopHandleData } from "./loop-handle.js";
export { ConcurrentFuture } from "./concurrent-future.js";
export { LoopThread, spawnLoopThread } from "./loop-thread.js";
export type { SpawnLoopThreadOptions } from "./loop-thread.js";
export { PoolExecutor, toThread } from "./executor.js";
export type { ExecutorReply, ExecutorTask, PoolExecutorOptions } from "./executor.js";
export { deserializeError, registerErrorClass, serializeError } from "./error-envelope.js";
export type { ErrorEnvelope } from "./error-envelope.js";
export type { SharedData, Shareable } from "./crossing.js";
export { contextFromEntries } from "./context.js";
export { ThreadQueue } from "./thread-queue.js";
export type { ThreadQueueData, ThreadQueueOptions } from "./thread-queue.js";
export { ThreadLock } from "./thread-lock.js";
export type { ThreadAcquireOptions, ThreadLockData } from "./thread-lock.js";
export { ThreadSemaphore } from "./thread-semaphore.js";
export type { ThreadSemaphoreData } from "./thread-semaphore.js";

// ---- Networking and processes ----
export {
  BrokenPipeError,
  ConnectionAbortedError,
  ConnectionError,
  ConnectionRefusedError,
  ConnectionResetError,
  FileNotFoundError,
  GaiError,
  OSError,
  PermissionError,
  ProcessLookupError,
} from "./errors.js";
export type { BufferedProtocol, Protocol } from "./net/protocol.js";
export { Transport } from "./net/transport.js";
export { Server } from "./net/server.js";
export type {
  CreateConnectionOptions,
  CreateServerOptions,
  CreateUnixServerOptions,
  SocketAddress,
} from "./net/connection.js";
export { StreamReader, DEFAULT_LIMIT } from "./streams/reader.js";
export type { Separator, StreamReaderOptions } from "./streams/reader.js";
export { StreamWriter } from "./streams/writer.js";
export { StreamReaderProtocol } from "./streams/protocol.js";
export type { ClientConnectedCallback } from "./streams/protocol.js";
export { openConnection, openUnixConnection, startServer, startUnixServer } from "./streams/open.js";
export type { OpenConnectionOptions, StartServerOptions, StartUnixServerOptions } from "./streams/open.js";
export { Process, createSubprocessExec, createSubprocessShell } from "./subprocess.js";
export type { StdioSetting, SubprocessOptions } from "./subprocess.js";

// The loop core does not import the outer layers (so it can be read without them): the methods
// they add to EventLoop (`handle`, `expose`, `exposeObject`; `createServer`, `createConnection`,
// ...) are attached here, once, when the package is loaded.
import { EventLoop as EventLoopClass } from "./event-loop.js";
import { installThreadMethods as installThreads } from "./loop-handle.js";
import { installNetworking } from "./net/install.js";
installThreads(EventLoopClass.prototype);
installNetworking(EventLoopClass.prototype);
