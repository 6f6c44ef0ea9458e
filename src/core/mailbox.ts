/**
 * The loop's mailbox: how other threads wake it and hand it work (asyncio's self-pipe, for threads).
 *
 * Two parts:
 * - a small SharedArrayBuffer control block that every thread holding a handle can read and write
 *   with Atomics: the loop's state (stopped / running / parked / closed / dead), a count of
 *   messages posted but not yet received, and a wake word;
 * - MessagePorts that carry the messages themselves (structured clone), one per thread holding a
 *   copy of the loop's handle (the copies in one thread share it), so each sender is FIFO on its
 *   own port. The loop keeps them ref'd only while it runs.
 *
 * How messages get in, without a 'message' event per call:
 * - a running loop checks the pending count once per iteration (one Atomics.load) and drains
 *   every port with `receiveMessageOnPort`, so calls that arrive while it is busy are picked up at
 *   the start of its next iteration;
 * - the loop also checks it before it queues a callback of its own (`callSoon`, a future's
 *   callbacks, a new task): calls other threads posted earlier go into the ready queue first. That
 *   is asyncio's order, where `call_soon_threadsafe` appends to the ready queue when it is called,
 *   not when the loop next looks;
 * - a parked loop is woken by the port's 'message' event (the fastest wake-up Node has between
 *   threads: measured 15 us quicker per round trip than an `Atomics.waitAsync` wake-up), whose
 *   handler drains everything else pending on that port in the same go, so a burst of calls costs
 *   one wake-up;
 * - senders add to the pending count *before* they post, and `Atomics.notify` the wake word when
 *   the loop marked itself parked, for anything waiting on it in shared memory (never this loop: it
 *   must not block). Counting first makes the count an upper bound of what is on the ports: a
 *   spinning loop (mailbox-spin.ts) polls that one word and touches its ports only when it is
 *   positive. Counted after the post, a message could be received before it was counted, and the
 *   count showed it only once the sender got past `postMessage` (which signals the receiving
 *   thread through a syscall): the spin lagged behind the port by that much.
 *
 * The core only moves messages; what they mean (calls, replies, cancels) is decided by the
 * dispatcher the thread layer installs (threads/endpoint.ts).
 */
import { getRandomValues } from "node:crypto";
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { EventLoop } from "./event-loop.js";
import type { LoopInbox } from "./loop-inbox.js";
import { kMailbox, kWake } from "./symbols.js";
import { currentThreadName } from "./thread-name.js";

/** Slots of the control block (Int32Array indices). */
export const STATE = 0;
export const PENDING = 1;
export const WAKE = 2;
/** Written by the thread's parent when the thread exits: its exit code. */
export const EXIT_CODE = 3;
/** A random 64-bit id of the loop (two slots), so a thread can tell copies of one loop's handle apart from others'. */
export const LOOP_ID = 4;
export const CONTROL_SLOTS = 6;

/** Values of `STATE`. */
export const STOPPED = 0;
export const RUNNING = 1;
export const PARKED = 2;
export const CLOSED = 3;
/** The thread that owned the loop is gone (written by its parent or noticed by a sender). */
export const DEAD = 4;

export type MailboxDispatcher = (message: unknown, port: MessagePort) => void;

export function newControlBlock(): Int32Array {
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  control.set(getRandomValues(new Int32Array(2)), LOOP_ID);
  return control;
}

/** The loop's id, as a map key (the same in every thread). */
export function loopId(control: Int32Array): string {
  return `${control[LOOP_ID]}:${control[LOOP_ID + 1]}`;
}

/** True when calls into the loop that owns `control` can never run. */
export function isControlClosed(control: Int32Array): boolean {
  const s = Atomics.load(control, STATE);
  return s === CLOSED || s === DEAD;
}

/** Sender side of the protocol, before posting: count the messages, notify a parked loop. */
export function signalPosted(control: Int32Array, messages: number): void {
  Atomics.add(control, PENDING, messages);
  if (Atomics.load(control, STATE) === PARKED) {
    Atomics.add(control, WAKE, 1);
    Atomics.notify(control, WAKE);
  }
}

/** A post counted with `signalPosted` failed: take the count back. */
export function unsignalPosted(control: Int32Array, messages: number): void {
  Atomics.sub(control, PENDING, messages);
}

export class Mailbox implements LoopInbox {
  readonly control: Int32Array = newControlBlock();
  /** The name of the thread the loop lives in (for handles and error envelopes). */
  readonly threadName: string = currentThreadName();
  readonly #loop: EventLoop;
  readonly #ports: MessagePort[] = [];
  /** Per port: the word its sender counts replies in (see `replyWord`). */
  readonly #replyWords = new WeakMap<MessagePort, Int32Array>();
  #running: boolean;
  #dispatcher: MailboxDispatcher | null = null;
  #onClose: (() => void) | null = null;
  /**
   * Messages are being handed out now: what they schedule must not drain again (it would hand out
   * later messages in the middle of an earlier one, out of order).
   */
  #draining = false;

  constructor(loop: EventLoop) {
    this.#loop = loop;
    this.#running = loop.isRunning();
    Atomics.store(this.control, STATE, loop.isClosed() ? CLOSED : this.#running ? RUNNING : STOPPED);
  }

  /** Installs what interprets messages, and what to do when the loop closes (thread layer). */
  setDispatcher(dispatcher: MailboxDispatcher, onClose: () => void): void {
    this.#dispatcher = dispatcher;
    this.#onClose = onClose;
  }

  /**
   * Starts receiving from `port` (the loop's end of a new handle's channel). `replies`: a shared
   * word the thread layer adds to before it posts replies on `port`, so that a spinning caller
   * polls shared memory rather than its port.
   */
  addPort(port: MessagePort, replies: Int32Array | null = null): void {
    this.#ports.push(port);
    if (replies !== null) this.#replyWords.set(port, replies);
    port.on("message", (message: unknown) => {
      const was = this.#draining;
      this.#draining = true;
      try {
        this.#receive(message, port);
        // The rest of this port's burst goes in the same go, in order, before anything else.
        this.#drainPort(port);
      } finally {
        this.#draining = was;
      }
      this.#loop[kWake]();
    });
    // The sender's thread died or dropped its copy: forget the port.
    port.once("close", () => {
      this.removePort(port);
    });
    // Only a running loop keeps its thread alive; a stopped or closed one must let it exit.
    if (!this.#running) port.unref();
  }

  removePort(port: MessagePort): void {
    const i = this.#ports.indexOf(port);
    if (i >= 0) this.#ports.splice(i, 1);
  }

  /** The reply word given with `port` to `addPort`, if any. */
  replyWord(port: MessagePort): Int32Array | null {
    return this.#replyWords.get(port) ?? null;
  }

  get ports(): readonly MessagePort[] {
    return this.#ports;
  }

  #receive(message: unknown, port: MessagePort): void {
    Atomics.sub(this.control, PENDING, 1);
    try {
      this.#dispatcher?.(message, port);
    } catch (err) {
      // The dispatcher answers or reports what it cannot handle; this is the last line: nothing
      // a message holds may throw out of a port handler, which would end the thread.
      this.#loop.callExceptionHandler({ message: "A message to this loop's mailbox could not be handled", exception: err });
    }
  }

  /** Receives what `port` holds; true when there was something. */
  #drainPort(port: MessagePort): boolean {
    let any = false;
    for (let msg = receiveMessageOnPort(port); msg !== undefined; msg = receiveMessageOnPort(port)) {
      any = true;
      this.#receive(msg.message, port);
    }
    return any;
  }

  poll(): void {
    if (!this.#draining && Atomics.load(this.control, PENDING) !== 0) this.drain();
  }

  /** Receives everything posted so far, port by port, in arrival order per port; true if anything came. */
  drain(): boolean {
    const was = this.#draining;
    this.#draining = true;
    let any = false;
    try {
      // A message may attach a new port (a handle shared onward): it is drained in this same pass.
      for (let i = 0; i < this.#ports.length; i++) if (this.#drainPort(this.#ports[i] as MessagePort)) any = true;
    } finally {
      this.#draining = was;
    }
    return any;
  }

  /**
   * For a spinning loop: true when calls arrived (they are in the ready queue now). One
   * `Atomics.load` while nothing is posted; the ports are read only while the count says a
   * message is on its way (a sender counts before it posts, so the message may land a moment later).
   */
  pending(): boolean {
    if (this.#draining || Atomics.load(this.control, PENDING) <= 0) return false;
    return this.drain();
  }

  park(): boolean {
    const control = this.control;
    Atomics.store(control, STATE, PARKED);
    // Dekker-style: a sender adds to PENDING then reads STATE; we wrote STATE, now read PENDING.
    // With sequentially consistent atomics one of us sees the other's write. Calls posted but not
    // yet delivered as events are drained now rather than after a wake-up.
    // A positive count with nothing on the ports is a sender between counting and posting: park
    // anyway. Refusing to would spin this thread for as long as the sender is descheduled (on a
    // busy machine, milliseconds); the message wakes the parked loop through its port's event.
    if (Atomics.load(control, PENDING) > 0 && !this.#draining && this.drain()) {
      Atomics.store(control, STATE, RUNNING);
      return false;
    }
    return true;
  }

  unpark(): void {
    if (Atomics.load(this.control, STATE) === PARKED) Atomics.store(this.control, STATE, RUNNING);
  }

  start(): void {
    this.#running = true;
    Atomics.store(this.control, STATE, RUNNING);
    for (const port of this.#ports) port.ref();
  }

  stop(): void {
    this.#running = false;
    const control = this.control;
    if (Atomics.load(control, STATE) !== CLOSED) Atomics.store(control, STATE, STOPPED);
    for (const port of this.#ports) port.unref();
  }

  close(): void {
    this.#running = false;
    Atomics.store(this.control, STATE, CLOSED);
    // Whatever was posted before the state changed is answered (refused) by the thread layer.
    this.drain();
    this.#onClose?.();
    for (const port of this.#ports) port.close();
    this.#ports.length = 0;
    Atomics.add(this.control, WAKE, 1);
    Atomics.notify(this.control, WAKE);
  }
}

/** The loop's mailbox, created on first use. */
export function mailboxOf(loop: EventLoop): Mailbox {
  const existing = loop[kMailbox];
  if (existing instanceof Mailbox) return existing;
  const mailbox = new Mailbox(loop);
  loop[kMailbox] = mailbox;
  return mailbox;
}
