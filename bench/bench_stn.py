"""Spatial-transformer page: training throughput of the CNN and the ST-CNN, and the default run's wall time.

Goals (issue 14), measured in one run on the same machine:
* the ST-CNN costs at most 1.5x the plain CNN per epoch (same batches, same batch size, the page's one thread);
* the page's default run (8 epochs of both models on 2,876 images) finishes in under 60 s.

The default run is itself interleaved: every epoch trains the CNN, then the ST-CNN on the same batches, so the
table gives both models' images/s and their ratio for each epoch of one run, then the wall time (training and
the per-epoch evaluation, as on the page) until each model first reached the run's final accuracies. Short
interleaved slices (``bench.common.interleaved_times``, ``SLICE_BATCHES`` batches of each model per round) give
a second view of the ratio and show why the page trains with one thread, not two. The load average is printed
with the numbers: on a shared 2-core machine it decides the absolute times, much less the ratios.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from torch.nn import functional

from bench.common import interleaved_times
from services.stn import StnSettings, Training, build_pair, make_digits, torch_threads
from services.stn.training import EpochReport, as_batch
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


def _load() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def _first_reaching(history: list[EpochReport], ends: list[float], accuracy: float, model: str) -> str:
    """'at epoch k (t s)' where ``model``'s test accuracy first reached ``accuracy``, or 'not within n epochs'."""
    for report, end in zip(history, ends):
        if getattr(report, f"{model}_test_accuracy") >= accuracy:
            return f"at epoch {report.epoch} ({end:.1f} s)"
    return f"not within {len(history)} epochs"


def main() -> None:
    settings = StnSettings()
    started = time.perf_counter()
    digits = make_digits(settings.digits)
    data_s = time.perf_counter() - started
    n_train = len(digits.train)
    print(f"load average before: {_load()}; {n_train:,} training images {digits.settings.canvas}², batch "
          f"{settings.batch_size}; making the data took {data_s:.1f} s\n")

    print(f"### Default run ({settings.epochs} epochs, both models, {TRAINING_THREADS} thread, epochs interleaved)\n")
    print(_row(["epoch", "CNN images/s", "ST-CNN images/s", "ST-CNN / CNN time", "test accuracy CNN / ST-CNN"]))
    print(_row(["---"] * 5))
    with torch_threads(TRAINING_THREADS):
        started = time.perf_counter()
        run = Training(settings, digits)
        ends = []
        for report in run.epochs():
            ends.append(time.perf_counter() - started)
            print(_row([report.epoch, f"{n_train / report.cnn_seconds:,.0f}", f"{n_train / report.stn_seconds:,.0f}",
                        f"{report.stn_seconds / report.cnn_seconds:.2f}x",
                        f"{report.cnn_test_accuracy:.1%} / {report.stn_test_accuracy:.1%}"]), flush=True)
        run.result()
        wall = time.perf_counter() - started
    history = run.history
    ratios = [r.stn_seconds / r.cnn_seconds for r in history]
    cnn_s, stn_s = sum(r.cnn_seconds for r in history), sum(r.stn_seconds for r in history)
    last = history[-1]
    print(f"\nST-CNN / CNN time per epoch: median **{np.median(ratios):.2f}x**, range {min(ratios):.2f}–"
          f"{max(ratios):.2f}x, whole run {stn_s / cnn_s:.2f}x (goal ≤ {GOAL_RATIO}x). Default run wall time "
          f"**{wall:.1f} s** (goal < {GOAL_DEFAULT_RUN_S:.0f} s), of which training {cnn_s + stn_s:.1f} s.")
    print(f"Wall time to the run's final accuracies: ST-CNN {last.stn_test_accuracy:.1%} "
          f"{_first_reaching(history, ends, last.stn_test_accuracy, 'stn')}, CNN {last.cnn_test_accuracy:.1%} "
          f"{_first_reaching(history, ends, last.cnn_test_accuracy, 'cnn')}; the ST-CNN passed the CNN's final "
          f"accuracy {_first_reaching(history, ends, last.cnn_test_accuracy, 'stn')}, the CNN reached the "
          f"ST-CNN's {_first_reaching(history, ends, last.stn_test_accuracy, 'cnn')}.")
    print(f"load average after the default run: {_load()}\n")

    x, y = as_batch(digits.train.images), torch.from_numpy(digits.train.labels)
    images_per_slice = SLICE_BATCHES * settings.batch_size
    print(f"### Interleaved slices ({SLICE_BATCHES} batches of each model per round, median of {ROUNDS} rounds)\n")
    print(_row(["threads", "CNN images/s", "ST-CNN images/s", "ST-CNN / CNN time", "load average after"]))
    print(_row(["---"] * 5))
    for threads in (1, 2):
        cnn, stn = build_pair(digits.settings.canvas, digits.settings.seed)
        with torch_threads(threads):
            times = interleaved_times({
                "cnn": _slice_trainer(cnn, x, y, settings.batch_size),
                "stn": _slice_trainer(stn, x, y, settings.batch_size),
            }, ROUNDS)
        slice_cnn, slice_stn = float(np.median(times["cnn"])), float(np.median(times["stn"]))
        ratio = float(np.median([s / c for s, c in zip(times["stn"], times["cnn"])]))
        print(_row([threads, f"{images_per_slice / slice_cnn:,.0f}", f"{images_per_slice / slice_stn:,.0f}",
                    f"{ratio:.2f}x", _load()]), flush=True)
