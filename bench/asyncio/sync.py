"""Synchronisation asyncio scenarios, the peers of bench/scenarios/sync.ts."""
import asyncio

from common import now_ns, ns_per_op, pick, rounds


def producer_consumer(n, maxsize):
    async def main():
        q = asyncio.Queue(maxsize)
        total = 0

        async def producer():
            for i in range(n):
                await q.put(i)

        async def consumer():
            nonlocal total
            for _ in range(n):
                total += await q.get()

        start = now_ns()
        await asyncio.gather(asyncio.create_task(producer()), asyncio.create_task(consumer()))
        end = now_ns()
        assert total == n * (n - 1) // 2
        return ns_per_op(start, end, n)

    return asyncio.run(main())


def lock_cycle(n):
    async def main():
        lock = asyncio.Lock()
        start = now_ns()
        for _ in range(n):
            await lock.acquire()
            lock.release()
        return ns_per_op(start, now_ns(), n)

    return {"asyncio Lock acquire + release": asyncio.run(main())}


def run(mode):
    unbounded_n = pick(mode, 500_000, 20_000, 200)
    bounded_n = pick(mode, 50_000, 5_000, 200)
    lock_n = pick(mode, 500_000, 20_000, 200)
    samples = rounds(
        mode,
        [
            lambda: {"asyncio Queue, unbounded": producer_consumer(unbounded_n, 0)},
            lambda: {"asyncio Queue, maxsize 1": producer_consumer(bounded_n, 1)},
            lambda: lock_cycle(lock_n),
        ],
    )
    notes = [f"asyncio counts: {unbounded_n:,} items unbounded, {bounded_n:,} with maxsize 1, {lock_n:,} lock cycles."]
    return samples, notes
