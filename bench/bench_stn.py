"""Spatial-transformer page: training throughput of the CNN and the ST-CNN, and the default run's wall time.

Goals (issue 14), measured in one run on the same machine:
* the ST-CNN costs at most 1.5x the plain CNN per epoch (same batches, same batch size, the page's one thread);
* the page's default run (8 epochs of both models on 2,876 images) finishes in under 60 s.
Throughput is timed in interleaved rounds (``bench.common.interleaved_times``): each round trains a slice of
``SLICE_BATCHES`` batches of each model, so a busy machine slows both alike; the table gives the median round.
Both thread counts are timed, to show why the page trains with one. The machine's load average is printed
with the numbers: on a shared 2-core machine it decides the absolute times, not the ratios.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from torch.nn import functional

from bench.common import interleaved_times
from services.stn import StnSettings, build_pair, make_digits, torch_threads, train
from services.stn.training import as_batch
from views.spatial_transformer import TRAINING_THREADS

GOAL_RATIO = 1.5
GOAL_DEFAULT_RUN_S = 60.0
SLICE_BATCHES = 12
ROUNDS = 5


def _slice_trainer(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int):
    optimiser = torch.optim.Adam(model.parameters(), lr=0.002)
    generator = torch.Generator().manual_seed(0)

    def run() -> None:
        order = torch.randperm(len(y), generator=generator)[: SLICE_BATCHES * batch]
        for indices in order.split(batch):
            optimiser.zero_grad(set_to_none=True)
            functional.cross_entropy(model(x[indices]), y[indices]).backward()
            optimiser.step()

    return run


def _row(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    settings = StnSettings()
    started = time.perf_counter()
    digits = make_digits(settings.digits)
    data_s = time.perf_counter() - started
    x, y = as_batch(digits.train.images), torch.from_numpy(digits.train.labels)
    images_per_slice = SLICE_BATCHES * settings.batch_size
    print(f"load average before: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"{len(digits.train):,} training images {digits.settings.canvas}², batch {settings.batch_size}; "
          f"making the data took {data_s:.1f} s\n")
    print(_row(["threads", "CNN images/s", "ST-CNN images/s", "ST-CNN / CNN time per epoch", "goal"]))
    print(_row(["---"] * 5))
    for threads in (1, 2):
        cnn, stn = build_pair(digits.settings.canvas, digits.settings.seed)
        with torch_threads(threads):
            times = interleaved_times({
                "cnn": _slice_trainer(cnn, x, y, settings.batch_size),
                "stn": _slice_trainer(stn, x, y, settings.batch_size),
            }, ROUNDS)
        cnn_s, stn_s = float(np.median(times["cnn"])), float(np.median(times["stn"]))
        print(_row([threads, f"{images_per_slice / cnn_s:,.0f}", f"{images_per_slice / stn_s:,.0f}",
                    f"**{stn_s / cnn_s:.2f}x**", f"≤ {GOAL_RATIO}x"]), flush=True)

    with torch_threads(TRAINING_THREADS):
        started = time.perf_counter()
        pair = train(settings, digits)
        wall = time.perf_counter() - started
    last = pair.history[-1]
    target = last.stn_test_accuracy
    reached = next(r.epoch for r in pair.history if r.stn_test_accuracy >= target)
    train_s = sum(r.cnn_seconds + r.stn_seconds for r in pair.history)
    print(f"\n### Default run ({settings.epochs} epochs, both models, {TRAINING_THREADS} thread)\n")
    print(_row(["wall time", "of which training", "CNN / ST-CNN test accuracy", "ST-CNN reached it at epoch",
                "per-epoch CNN / ST-CNN s", "goal"]))
    print(_row(["---"] * 6))
    print(_row([f"**{wall:.1f} s**", f"{train_s:.1f} s", f"{last.cnn_test_accuracy:.1%} / {target:.1%}",
                f"{reached} ({sum(r.cnn_seconds + r.stn_seconds for r in pair.history[:reached]):.1f} s)",
                (f"{np.mean([r.cnn_seconds for r in pair.history]):.2f} / "
                 f"{np.mean([r.stn_seconds for r in pair.history]):.2f}"), f"< {GOAL_DEFAULT_RUN_S:.0f} s"]))
    print(f"\nload average after: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}")
