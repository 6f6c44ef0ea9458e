"""Single-thread asyncio scenarios, the peers of bench/scenarios/single.ts."""
import asyncio
import random

from common import now_ns, ns_per_op, pick, rounds, us_per_op


def call_soon_drain(n):
    """call_soon of n callbacks; the drain is timed from the first callback to the last."""
    stamps = {}
    ticks = 0

    def first():
        stamps["t0"] = now_ns()

    def tick():
        nonlocal ticks
        ticks += 1

    async def main():
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def last():
            stamps["t1"] = now_ns()
            done.set_result(None)

        start = now_ns()
        loop.call_soon(first)
        for _ in range(n - 2):
            loop.call_soon(tick)
        loop.call_soon(last)
        scheduled = now_ns()
        await done
        return ns_per_op(start, scheduled, n)

    schedule = asyncio.run(main())
    assert ticks == n - 2
    return {
        "asyncio call_soon drain": ns_per_op(stamps["t0"], stamps["t1"], n - 1),
        "asyncio call_soon schedule": schedule,
    }


def call_later_timers(delays):
    async def main():
        loop = asyncio.get_running_loop()
        n = len(delays)
        done = loop.create_future()
        fired = 0

        def tick():
            nonlocal fired
            fired += 1
            if fired == n:
                done.set_result(now_ns())

        start = now_ns()
        for d in delays:
            # asyncio takes seconds; the delays are whole milliseconds as on the Node side.
            loop.call_later(d / 1000, tick)
        scheduled = now_ns()
        end = await done
        return {
            "asyncio call_later total": ns_per_op(start, end, n),
            "asyncio call_later schedule": ns_per_op(start, scheduled, n),
        }

    return asyncio.run(main())


def create_task_gather(n):
    async def work(i):
        return i

    async def main():
        start = now_ns()
        tasks = [asyncio.create_task(work(i)) for i in range(n)]
        results = await asyncio.gather(*tasks)
        end = now_ns()
        assert len(results) == n
        return us_per_op(start, end, n)

    return {"asyncio create_task + gather": asyncio.run(main())}


def sleep_zero_ping_pong(switches):
    half = switches // 2

    async def player():
        for _ in range(half):
            await asyncio.sleep(0)

    async def main():
        start = now_ns()
        await asyncio.gather(asyncio.create_task(player()), asyncio.create_task(player()))
        return us_per_op(start, now_ns(), switches)

    return {"asyncio sleep(0) ping-pong": asyncio.run(main())}


def future_hand_off(hand_offs):
    rounds_ = hand_offs // 2

    async def main():
        loop = asyncio.get_running_loop()
        box = {"to_a": loop.create_future(), "to_b": loop.create_future()}

        async def a():
            for i in range(rounds_):
                out = box["to_b"]
                box["to_b"] = loop.create_future()
                out.set_result(i)
                await box["to_a"]

        async def b():
            for _ in range(rounds_):
                value = await box["to_b"]
                out = box["to_a"]
                box["to_a"] = loop.create_future()
                out.set_result(value)

        start = now_ns()
        await asyncio.gather(asyncio.create_task(b()), asyncio.create_task(a()))
        return us_per_op(start, now_ns(), hand_offs)

    return {"asyncio Future hand-off": asyncio.run(main())}


def run(mode):
    drain_n = pick(mode, 200_000, 50_000, 1_000)
    timers_n = pick(mode, 100_000, 20_000, 200)
    gather_n = pick(mode, 100_000, 10_000, 200)
    switches = pick(mode, 100_000, 10_000, 200)
    rng = random.Random(20240605)
    delays = [int(rng.random() * 11) for _ in range(timers_n)]
    samples = rounds(
        mode,
        [
            lambda: call_soon_drain(drain_n),
            lambda: call_later_timers(delays),
            lambda: create_task_gather(gather_n),
            lambda: sleep_zero_ping_pong(switches),
            lambda: future_hand_off(switches),
        ],
    )
    notes = [
        f"asyncio counts: {drain_n:,} callbacks, {timers_n:,} timers, {gather_n:,} tasks, "
        f"{switches:,} switches and hand-offs per round (per-operation figures)."
    ]
    return samples, notes
