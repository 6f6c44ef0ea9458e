/**
 * Property test of the loop's timer heap (src/core/timer-heap.ts): random schedules with shared delays
 * (the per-delay lists), absolute times (lists of their own), cancellations (including enough to
 * trigger the rebuild) and a clock that moves forward, against a model that sorts every timer by
 * (when, sequence). `takeDue` must hand over exactly the live timers that are due, each once, in
 * that order, however it drains the lists.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TimerHeap, type HeapTimer } from "../dist/src/core/timer-heap.js";

class FakeTimer implements HeapTimer {
  readonly heapWhen: number;
  readonly heapSeq: number;
  cancelled = false;

  constructor(when: number, seq: number) {
    this.heapWhen = when;
    this.heapSeq = seq;
  }

  isCancelled(): boolean {
    return this.cancelled;
  }
}

type Command =
  | { op: "later"; delay: number; count: number }
  | { op: "at"; offset: number }
  | { op: "cancel"; pick: number; count: number }
  | { op: "advance"; ms: number }
  | { op: "take" };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("later" as const), delay: fc.integer({ min: 0, max: 6 }), count: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("at" as const), offset: fc.double({ min: -2, max: 8, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("cancel" as const), pick: fc.nat(), count: fc.integer({ min: 1, max: 80 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.double({ min: 0, max: 4, noNaN: true }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("take" as const) }) },
);

function byWhenThenSeq(a: FakeTimer, b: FakeTimer): number {
  return a.heapWhen - b.heapWhen || a.heapSeq - b.heapSeq;
}

describe("timer heap", () => {
  it("takeDue hands over exactly the live due timers, once each, in (when, sequence) order", () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 60 }), (commands) => {
        const heap = new TimerHeap<FakeTimer>();
        const pending: FakeTimer[] = []; // the model: scheduled, not taken, not dropped
        let clock = 0;
        let seq = 0;
        const check = (): void => {
          const expected = pending.filter((t) => !t.cancelled && t.heapWhen <= clock).sort(byWhenThenSeq);
          const taken: FakeTimer[] = [];
          heap.takeDue(clock, (t) => taken.push(t));
          expect(taken).toEqual(expected);
          for (const t of taken) pending.splice(pending.indexOf(t), 1);
          // Cancelled timers that were due are gone from the heap too; the model forgets them.
          for (let i = pending.length - 1; i >= 0; i--) {
            const t = pending[i] as FakeTimer;
            if (t.cancelled && t.heapWhen <= clock) pending.splice(i, 1);
          }
        };
        for (const c of commands) {
          switch (c.op) {
            case "later":
              for (let i = 0; i < c.count; i++) {
                const t = new FakeTimer(clock + c.delay, seq++);
                heap.push(t, c.delay);
                pending.push(t);
              }
              break;
            case "at": {
              const t = new FakeTimer(clock + c.offset, seq++);
              heap.push(t, null);
              pending.push(t);
              break;
            }
            case "cancel": {
              const live = pending.filter((t) => !t.cancelled);
              for (let i = 0; i < c.count && live.length > 0; i++) {
                const t = live.splice((c.pick + i * 7) % live.length, 1)[0] as FakeTimer;
                t.cancelled = true;
                heap.noteCancelled();
              }
              break;
            }
            case "advance":
              clock += c.ms;
              break;
            case "take":
              check();
              break;
          }
        }
        clock += 1_000;
        check();
        expect(pending.filter((t) => !t.cancelled)).toEqual([]);
        expect(heap.peek()).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});
