"""Cross-thread asyncio scenarios, the peers of bench/scenarios/threads.ts: a second thread runs an
event loop forever; the main thread's loop calls into it with run_coroutine_threadsafe, and the main
thread posts one-way calls with call_soon_threadsafe."""
import asyncio
import threading

from common import now_ns, ops_per_second, pick, rounds, us_per_op


class TargetLoop:
    """An event loop running forever in its own thread, with the targets of loop-target.ts."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.ticks = 0
        self.wanted = None
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-target", daemon=True)
        self.thread.start()

    async def echo(self, value):
        return value

    def tick(self):
        self.ticks += 1
        if self.wanted is not None and self.ticks >= self.wanted[0]:
            self.wanted[1].set_result(self.ticks)
            self.wanted = None

    async def wait_for_ticks(self, total):
        if self.ticks >= total:
            return self.ticks
        future = self.loop.create_future()
        self.wanted = (total, future)
        return await future

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def round_trips(target, count):
    async def main():
        start = now_ns()
        for i in range(count):
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(target.echo(i), target.loop))
        return us_per_op(start, now_ns(), count)

    return {"asyncio run_coroutine_threadsafe": asyncio.run(main())}


def in_flight(target, count):
    async def main():
        start = now_ns()
        futures = [asyncio.wrap_future(asyncio.run_coroutine_threadsafe(target.echo(i), target.loop)) for i in range(count)]
        await asyncio.gather(*futures)
        return ops_per_second(start, now_ns(), count)

    return {"asyncio run_coroutine_threadsafe, in flight": asyncio.run(main())}


def one_way(target, count, sent):
    start = now_ns()
    for _ in range(count):
        target.loop.call_soon_threadsafe(target.tick)
    sent[0] += count
    asyncio.run_coroutine_threadsafe(target.wait_for_ticks(sent[0]), target.loop).result(60)
    return {"asyncio call_soon_threadsafe": ops_per_second(start, now_ns(), count)}


def run(mode):
    trips = pick(mode, 5_000, 500, 20)
    flight = pick(mode, 10_000, 2_000, 100)
    calls = pick(mode, 100_000, 20_000, 500)
    target = TargetLoop()
    sent = [0]
    try:
        samples = rounds(
            mode,
            [
                lambda: round_trips(target, trips),
                lambda: in_flight(target, flight),
                lambda: one_way(target, calls, sent),
            ],
        )
    finally:
        target.stop()
    notes = [
        f"asyncio counts: {trips:,} sequential round trips, {flight:,} calls in flight, {calls:,} one-way calls per round; "
        "the caller runs its own loop in the main thread."
    ]
    return samples, notes
