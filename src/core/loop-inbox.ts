/**
 * What the loop's runner needs from its cross-thread mailbox (mailbox.ts implements it). Declared
 * on its own, below both, so the loop names no mailbox and the mailbox can be read after the loop.
 */
export interface LoopInbox {
  /**
   * Moves calls other threads posted into the ready queue; cheap when there are none. Called at
   * the start of each iteration and before the loop queues a callback of its own.
   */
  poll(): void;
  /**
   * For spinning: receives calls other threads posted, true when some arrived. One shared-memory
   * read while nothing was posted.
   */
  pending(): boolean;
  /** The runner is about to wait: arrange a wake-up; false if calls arrived meanwhile. */
  park(): boolean;
  /** The runner woke up. */
  unpark(): void;
  /** The loop started running. */
  start(): void;
  /** The loop stopped running. */
  stop(): void;
  /** The loop closed: refuse and fail whatever other threads still send. */
  close(): void;
}
