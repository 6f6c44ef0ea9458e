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
  JobLostError,
  JobRefusedError,
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
} from "./core/errors.js";
export type { LoopErrorOptions } from "./core/errors.js";

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
} from "./core/policy.js";
export { currentThreadName } from "./core/thread-name.js";

// The loop
export { EventLoop } from "./core/event-loop.js";
export type { Awaitable, ExceptionContext, ExceptionHandler, TaskFactory } from "./core/event-loop.js";
export { Handle, TimerHandle } from "./core/handle.js";
export type { Executor, ExecutorFn, ShutdownOptions, SubmitOptions } from "./core/executor.js";

// Running
export { run, Runner } from "./tasks/runner.js";
export type { RunOptions, RunnerOptions } from "./tasks/runner.js";

// Futures and tasks
export { Future, isFuture } from "./core/future.js";
export type { FutureOptions } from "./core/future.js";
export { Task } from "./core/task.js";
export type { Coroutine, TaskOptions } from "./core/task.js";
export { allTasks, createTask, currentTask, ensureFuture, sleep } from "./core/tasks.js";
export type { EnsureFutureOptions } from "./core/tasks.js";
export { gather } from "./tasks/gather.js";
export type { GatherInput, GatherOptions } from "./tasks/gather.js";
export { ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, wait, waitFor } from "./tasks/wait.js";
export type { ReturnWhen, WaitOptions } from "./tasks/wait.js";
export { shield } from "./tasks/shield.js";
export { asCompleted } from "./tasks/as-completed.js";
export type { AsCompletedOptions } from "./tasks/as-completed.js";
export { Timeout, timeout, timeoutAt } from "./tasks/timeouts.js";
export { TaskGroup, taskGroup } from "./tasks/task-group.js";

// Introspection (Python 3.14's asyncio graph module)
export { captureCallGraph, formatCallGraph, printCallGraph } from "./core/call-graph.js";
export type { FrameCallGraphEntry, FutureCallGraph } from "./core/call-graph.js";

// Context variables
export { Context, ContextMarker, ContextVar, Token, copyContext, withContext } from "./core/context.js";
export type { ContextVarOptions } from "./core/context.js";

// ---- Synchronisation and queues (same loop) ----
export { Lock } from "./sync/lock.js";
export { Event } from "./sync/event.js";
export { Condition } from "./sync/condition.js";
export { BoundedSemaphore, Semaphore } from "./sync/semaphore.js";
export { Barrier } from "./sync/barrier.js";
export { LifoQueue, PriorityQueue, Queue } from "./sync/queue.js";
export type { PriorityQueueOptions, QueueOptions } from "./sync/queue.js";

// ---- Other threads ----
export { LoopHandle, runCoroutineThreadsafe } from "./threads/loop-handle.js";
export type { LoopHandleData } from "./threads/loop-handle.js";
export { ContextCarrier, carryContext } from "./threads/context-carrier.js";
export { ConcurrentFuture } from "./threads/concurrent-future.js";
export { LoopThread, spawnLoopThread } from "./threads/loop-thread.js";
export type { LoopThreadStopOptions, SpawnLoopThreadOptions } from "./threads/loop-thread.js";
export { LoopPool, spawnLoopPool } from "./threads/loop-pool.js";
export type { LoopPoolEvents, PoolStopOptions } from "./threads/loop-pool.js";
export type { RestartOptions, SpawnLoopPoolOptions } from "./threads/pool-options.js";
export type {
  CallArgs,
  CallOptions,
  CallResult,
  ExposedModule,
  ExposedName,
  ExposedParameters,
  StreamItem,
  StreamName,
} from "./threads/exposed-types.js";
export { ThreadStream } from "./threads/stream-consumer.js";
export type { StreamOptions } from "./threads/stream-wire.js";
export type { Remote, RemoteObject, RemoteProperty, RemoteValue } from "./threads/remote-types.js";
export type { CallTraceContext } from "./core/log.js";
export { PoolExecutor, toThread } from "./executor/pool-executor.js";
export type { ExecutorReply, ExecutorTask, PoolExecutorOptions, PoolStats } from "./executor/pool-executor.js";
export { deserializeError, registerErrorClass, serializeError } from "./threads/error-envelope.js";
export type { ErrorEnvelope } from "./threads/error-envelope.js";
export type { SharedData, Shareable } from "./threads/crossing.js";
export { contextFromEntries } from "./core/context.js";
export { ThreadQueue } from "./threads/thread-queue.js";
export type { ThreadQueueData, ThreadQueueOptions, ThreadQueueWaitOptions } from "./threads/thread-queue.js";
export type { SignalOptions } from "./core/abort.js";
export { ThreadLock } from "./threads/thread-lock.js";
export type { ThreadAcquireOptions, ThreadLockData } from "./threads/thread-lock.js";
export { ThreadSemaphore } from "./threads/thread-semaphore.js";
export type { ThreadSemaphoreData } from "./threads/thread-semaphore.js";

// What every loop is doing
export { snapshotThreads } from "./threads/thread-snapshot.js";
export type { LoopSnapshot, LoopStateName, SnapshotThreadsOptions, TaskRef, TaskSnapshot, ThreadSnapshot, ThreadsSnapshot } from "./threads/thread-snapshot.js";
export { formatThreads } from "./threads/format-threads.js";
export { installDumpOnSignal } from "./threads/dump-signal.js";

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
} from "./core/errors.js";
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
export { Process, createSubprocessExec, createSubprocessShell } from "./subprocess/subprocess.js";
export type { StdioSetting, SubprocessOptions } from "./subprocess/subprocess.js";

// The loop core does not import the outer layers (so it can be read without them): the methods
// they add to EventLoop (`handle`, `expose`, `exposeObject`; `createServer`, `createConnection`,
// ...) are attached here, once, when the package is loaded. Their types merge into EventLoop's
// (declaration merging); exporting these two names keeps those modules in the built index.d.ts,
// which drops imports that only run code.
export type { ThreadLoopMethods } from "./threads/loop-methods.js";
export type { NetworkingLoopMethods } from "./net/loop-methods.js";
import { EventLoop as EventLoopClass } from "./core/event-loop.js";
import { installThreadMethods } from "./threads/loop-methods.js";
import { installNetworking } from "./net/loop-methods.js";
installThreadMethods(EventLoopClass.prototype);
installNetworking(EventLoopClass.prototype);
