/**
 * The loop's mailbox: how other threads wake it and hand it work (asyncio's self-pipe, for threads).
 *
 * Two parts:
 * - a small SharedArrayBuffer control block that every thread holding a handle can read and write
 *   with Atomics: the loop's state (stopped / running / parked / closed / dead), a count of
 *   messages posted but not yet drained, and a wake word;
 * - MessagePorts that carry the messages themselves (structured clone), one per copy of the loop's
 *   handle, so each sender is FIFO on its own port.
 *
 * A sender posts, adds to the pending count, and notifies the wake word only when the loop marked
 * itself parked, so a burst of calls costs one wake-up. The loop checks the pending count once per
 * iteration (one Atomics.load) and drains every port with `receiveMessageOnPort`, so no 'message'
 * event is dispatched per call. A parked loop waits with `Atomics.waitAsync` — never a blocking
 * wait — while its own Node timer keeps the thread alive (a pending waitAsync does not:
 * nodejs/node#44729).
 *
 * The core only moves messages; what they mean (calls, replies, cancels) is decided by the
 * dispatcher the thread layer installs (loop-handle.ts).
 */
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { EventLoop, LoopInbox } from "./event-loop.js";
import { kMailbox, kWake } from "./symbols.js";
import { currentThreadName } from "./thread-name.js";

/** Slots of the control block (Int32Array indices). */
export const STATE = 0;
export const PENDING = 1;
export const WAKE = 2;
/** Written by the thread's parent when the thread exits: its exit code. */
export const EXIT_CODE = 3;
export const CONTROL_SLOTS = 4;

/** Values of `STATE`. */
export const STOPPED = 0;
export const RUNNING = 1;
export const PARKED = 2;
export const CLOSED = 3;
/** The thread that owned the loop is gone (written by its parent or noticed by a sender). */
export const DEAD = 4;

/** `Atomics.waitAsync` (Node >= 16; typed only in TypeScript's ES2024 lib, which we do not load). */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync.bind(Atomics);

export type MailboxDispatcher = (message: unknown, port: MessagePort) => void;

export function newControlBlock(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
}

/** True when calls into the loop that owns `control` can never run. */
export function isControlClosed(control: Int32Array): boolean {
  const s = Atomics.load(control, STATE);
  return s === CLOSED || s === DEAD;
}

/**
 * Sender side of the protocol: count the message, then wake the loop if it is parked. Called after
 * the message was posted, so the loop finds it when it wakes.
 */
export function signalPosted(control: Int32Array, messages: number): void {
  Atomics.add(control, PENDING, messages);
  if (Atomics.load(control, STATE) === PARKED) {
    Atomics.add(control, WAKE, 1);
    Atomics.notify(control, WAKE);
  }
}

export class Mailbox implements LoopInbox {
  readonly control: Int32Array = newControlBlock();
  /** The name of the thread the loop lives in (for handles and error envelopes). */
  readonly threadName: string = currentThreadName();
  readonly #loop: EventLoop;
  readonly #ports: MessagePort[] = [];
  #waitArmed = false;
  #dispatcher: MailboxDispatcher | null = null;
  #onClose: (() => void) | null = null;

  constructor(loop: EventLoop) {
    this.#loop = loop;
    Atomics.store(this.control, STATE, loop.isClosed() ? CLOSED : loop.isRunning() ? RUNNING : STOPPED);
  }

  /** Installs what interprets messages, and what to do when the loop closes (thread layer). */
  setDispatcher(dispatcher: MailboxDispatcher, onClose: () => void): void {
    this.#dispatcher = dispatcher;
    this.#onClose = onClose;
  }

  /** Starts receiving from `port` (the loop's end of a new handle's channel). */
  addPort(port: MessagePort): void {
    this.#ports.push(port);
    // The sender's thread died or dropped its copy: forget the port. A 'close' listener does not
    // start the port or keep the thread alive.
    port.once("close", () => {
      this.removePort(port);
    });
  }

  removePort(port: MessagePort): void {
    const i = this.#ports.indexOf(port);
    if (i >= 0) this.#ports.splice(i, 1);
  }

  get ports(): readonly MessagePort[] {
    return this.#ports;
  }

  poll(): void {
    if (Atomics.load(this.control, PENDING) !== 0) this.drain();
  }

  /** Receives everything posted so far, port by port, in arrival order per port. */
  drain(): void {
    const dispatcher = this.#dispatcher;
    let received = 0;
    // A message may attach a new port (a handle shared onward): it is drained in this same pass.
    for (let i = 0; i < this.#ports.length; i++) {
      const port = this.#ports[i] as MessagePort;
      for (let msg = receiveMessageOnPort(port); msg !== undefined; msg = receiveMessageOnPort(port)) {
        received++;
        if (dispatcher !== null) dispatcher(msg.message, port);
      }
    }
    if (received > 0) Atomics.sub(this.control, PENDING, received);
  }

  park(): boolean {
    const control = this.control;
    const wake = Atomics.load(control, WAKE);
    Atomics.store(control, STATE, PARKED);
    // Dekker-style: the sender adds to PENDING then reads STATE; we wrote STATE, now read PENDING.
    // With sequentially consistent atomics at least one of us sees the other's write.
    if (Atomics.load(control, PENDING) !== 0) {
      Atomics.store(control, STATE, RUNNING);
      return false;
    }
    if (!this.#waitArmed) {
      const result = waitAsync(control, WAKE, wake);
      if (!result.async) {
        Atomics.store(control, STATE, RUNNING);
        return false;
      }
      this.#waitArmed = true;
      void result.value.then(this.#onWake);
    }
    return true;
  }

  readonly #onWake = (): void => {
    this.#waitArmed = false;
    this.#loop[kWake]();
  };

  unpark(): void {
    if (Atomics.load(this.control, STATE) === PARKED) Atomics.store(this.control, STATE, RUNNING);
  }

  start(): void {
    Atomics.store(this.control, STATE, RUNNING);
  }

  stop(): void {
    const control = this.control;
    if (Atomics.load(control, STATE) !== CLOSED) Atomics.store(control, STATE, STOPPED);
    // A waitAsync cannot be cancelled; wake our own so it does not dangle (it holds nothing alive).
    if (this.#waitArmed) {
      Atomics.add(control, WAKE, 1);
      Atomics.notify(control, WAKE);
    }
  }

  close(): void {
    Atomics.store(this.control, STATE, CLOSED);
    // Whatever was posted before the state changed is answered (refused) by the thread layer.
    this.drain();
    this.#onClose?.();
    for (const port of this.#ports) port.close();
    this.#ports.length = 0;
    if (this.#waitArmed) {
      Atomics.add(this.control, WAKE, 1);
      Atomics.notify(this.control, WAKE);
    }
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
