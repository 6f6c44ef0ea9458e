"""Timing helpers shared by the CPython asyncio peer scenarios.

The same method as the TypeScript side (bench/measure.ts): each round runs every variant once,
the first `warmup` rounds are thrown away, and each kept round gives one sample per label.
"""
import gc
import time

# Rounds per mode: (warm-up, kept). Mirrors defaultRounds() in bench/measure.ts.
ROUNDS = {"full": (2, 7), "quick": (1, 3), "tiny": (0, 1)}


def now_ns():
    return time.perf_counter_ns()


def ns_per_op(start, end, ops):
    return (end - start) / ops


def us_per_op(start, end, ops):
    return (end - start) / 1e3 / ops


def ops_per_second(start, end, ops):
    return ops * 1e9 / (end - start)


def rounds(mode, variants):
    """Runs each variant (a function returning {label: value}) once per round; returns {label: [samples]}."""
    warmup, reps = ROUNDS[mode]
    samples = {}
    for round_no in range(warmup + reps):
        for variant in variants:
            gc.collect()
            figures = variant()
            if round_no < warmup:
                continue
            for label, value in figures.items():
                samples.setdefault(label, []).append(value)
    return samples


def pick(mode, full, quick, tiny):
    return {"full": full, "quick": quick, "tiny": tiny}[mode]
