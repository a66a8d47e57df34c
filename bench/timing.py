"""Shared timing for the benchmarks: peers are measured interleaved, round by round, so that a noisy
machine slows all of them alike and their ratios stay meaningful."""

from __future__ import annotations

import time
from collections.abc import Callable


def interleaved_times(peers: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call for each peer over ``rounds`` rounds, after one warm-up call each."""
    for run in peers.values():  # warm up: imports, kernels, thread pools, allocator
        run()
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(rounds):
        for name, run in peers.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times
