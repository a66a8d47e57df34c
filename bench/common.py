"""Pieces shared by the benchmarks. Peers are measured interleaved, round by round, so that a noisy machine
slows all of them alike and their ratios stay meaningful."""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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


#: Browser-side counters of what a page receives: ``window.__wsBytes`` (websocket message bytes) and a resource
#: timing buffer big enough to sum /media/ bodies; installed before the page's own scripts (``add_init_script``).
RECEIVED_BYTES_COUNTER = """
performance.setResourceTimingBufferSize(100000);
window.__wsBytes = 0;
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (event) => {
      const data = event.data;
      window.__wsBytes += data.byteLength ?? data.size ?? data.length ?? 0;
    });
  }
};
"""


def median_p95(values: list[float]) -> str:
    """"median / p95" of a row's seconds (nearest rank), or a dash when nothing was measured."""
    if not values:
        return "—"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(values):.2f} / {p95:.2f}"


@contextmanager
def streamlit_run(port: int, root: Path | None = None, *extra: str, module: str = "streamlit") -> Iterator[str]:
    """``streamlit run app.py`` as the browser tests start it (no warm-up) in ``root`` on ``port``; yields its URL
    once ``/_stcore/health`` answers (or after two minutes: a row then measures a server still starting).
    ``module``: the launcher, e.g. ``scripts.preloaded_streamlit`` (importable from any ``root``)."""
    command = [sys.executable, "-m", module, "run", "app.py", "--server.headless", "true", "--server.port",
               str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", *extra]
    repository = str(Path(__file__).resolve().parent.parent)
    proc = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": repository})
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a loaded machine: do not lose the numbers over a slow shutdown
            proc.kill()
            proc.wait()
