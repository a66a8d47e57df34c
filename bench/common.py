"""Pieces shared by the benchmarks. Peers are measured interleaved, round by round, so that a noisy machine
slows all of them alike and their ratios stay meaningful."""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import Image


def interleaved_times(peers: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call for each peer over ``rounds`` rounds, after one warm-up call each."""
    for run in peers.values():  # warm up: imports, kernels, thread pools, allocator
        run()
    return times_after(peers, _nothing, rounds)


def times_after(peers: dict[str, Callable[[], object]], before: Callable[[], object] | None,
                rounds: int) -> dict[str, list[float]]:
    """Seconds per call for each peer, every timed call preceded by the same ``before`` (None: by the peer itself).

    Interleaving puts each peer after a different neighbour; this puts every peer in the same state, so a ratio
    cannot come from one peer inheriting a busier or idler machine than another.
    """
    times: dict[str, list[float]] = {name: [] for name in peers}
    for _ in range(rounds):
        for name, run in peers.items():
            (before or run)()  # _nothing for plain interleaving
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def _nothing() -> None:
    """No preparation: each peer simply follows its neighbour in the round."""


def jpeg_like_st_image(pixels: np.ndarray) -> bytes:
    """What st.image does with a uint8 array: PIL JPEG at quality 100 (streamlit's image_utils)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=100)
    return buffer.getvalue()


def ratio_table(times: dict[str, list[float]], baseline: str, *, what: str, against: str,
                decimals: int = 1) -> dict[str, float]:
    """Print the interleaved timings as a markdown table, each peer's ratio the median of its per-round
    ratios to ``baseline`` (rounds ran side by side, so a busy spell hits both); returns those ratios."""
    base = times[baseline]
    print(f"| {what} | median ms | best ms | × {against} (median of per-round ratios) |")
    print("|---|---:|---:|---:|")
    ratios = {}
    for name, samples in times.items():
        ratios[name] = statistics.median(t / b for t, b in zip(samples, base))
        print(f"| {name} | {statistics.median(samples) * 1e3:.{decimals}f} | {min(samples) * 1e3:.{decimals}f} "
              f"| {ratios[name]:.2f} |")
    return ratios
