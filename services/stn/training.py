"""Training both models side by side, one epoch at a time, so a caller can draw each epoch and stop at any one.

``Training`` holds the live models and optimisers; ``epochs()`` yields an ``EpochReport`` after every epoch
(loss, train and test accuracy of both models) and saves what the transformer does to a few fixed test
digits. Stopping is simply not asking for the next epoch: ``result(stopped=True)`` keeps everything learned so
far. Both models see the same batches in the same order, with the same learning rate (Adam).
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from services.stn.data import DigitSet, DistortedDigits
from services.stn.models import SmallCnn, SpatialTransformerCnn, build_pair
from services.stn.settings import StnSettings

#: Images per forward pass when evaluating (no gradients, so larger than any training batch).
EVAL_BATCH = 512
#: Training accuracy is measured after each epoch on this many fixed training images (all when fewer):
#: a full pass would cost as much as a third of the epoch itself.
TRAIN_ACCURACY_SAMPLE = 600


@dataclass(frozen=True)
class EpochReport:
    epoch: int  # 1-based
    cnn_loss: float  # mean training cross-entropy over the epoch
    stn_loss: float
    cnn_train_accuracy: float  # after the epoch, over a fixed sample of TRAIN_ACCURACY_SAMPLE training images
    stn_train_accuracy: float
    cnn_test_accuracy: float
    stn_test_accuracy: float
    cnn_seconds: float  # training time of the epoch alone (no evaluation)
    stn_seconds: float


@dataclass(frozen=True, eq=False)
class EpochSnapshot:
    """What the transformer did to the fixed test digits after ``epoch`` epochs (0: before training)."""

    epoch: int
    thetas: np.ndarray  # (k, 2, 3)
    outputs: np.ndarray  # (k, canvas, canvas)


@dataclass(frozen=True, eq=False)
class TrainedPair:
    """A finished (or stopped) pair; never trained further, so it can be shared between sessions."""

    settings: StnSettings
    cnn: SmallCnn
    stn: SpatialTransformerCnn
    history: tuple[EpochReport, ...]
    snapshots: tuple[EpochSnapshot, ...]
    fixed_indices: np.ndarray  # test-set indices of the digits in every snapshot
    stopped: bool
    run_id: str  # unique per trained state, for caches of what is derived from it

    @property
    def epochs_done(self) -> int:
        return len(self.history)


def fixed_test_digits(labels: np.ndarray) -> np.ndarray:
    """Test-set indices of the first test image of each class (fewer if a class is missing)."""
    return np.array([int(np.flatnonzero(labels == c)[0]) for c in range(10) if np.any(labels == c)], dtype=np.int64)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads, then restore the previous number."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def as_batch(images: np.ndarray) -> torch.Tensor:
    """(n, h, w) float32 -> an (n, 1, h, w) tensor sharing the memory."""
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)


class Training:
    """The live state of one training run of both models (owned by one caller, never shared while training)."""

    def __init__(self, settings: StnSettings, digits: DistortedDigits) -> None:
        self.settings = settings.validate()
        self.digits = digits
        self.cnn, self.stn = build_pair(digits.settings.canvas, digits.settings.seed)
        rate = self.settings.learning_rate
        self.cnn_optimiser = torch.optim.Adam(self.cnn.parameters(), lr=rate)
        self.stn_optimiser = torch.optim.Adam(self.stn.parameters(), lr=rate)
        self.train_x, self.train_y = as_batch(digits.train.images), torch.from_numpy(digits.train.labels)
        self.test_x, self.test_y = as_batch(digits.test.images), torch.from_numpy(digits.test.labels)
        self.shuffle = torch.Generator().manual_seed(digits.settings.seed)
        sample = np.random.default_rng(digits.settings.seed).permutation(len(self.train_y))[:TRAIN_ACCURACY_SAMPLE]
        self.sample_x, self.sample_y = self.train_x[np.sort(sample)], self.train_y[np.sort(sample)]
        self.fixed_indices = fixed_test_digits(digits.test.labels)
        self.history: list[EpochReport] = []
        self.snapshots: list[EpochSnapshot] = [self._snapshot(0)]

    @property
    def done(self) -> bool:
        return len(self.history) >= self.settings.epochs

    def epochs(self) -> Iterator[EpochReport]:
        """Train the remaining epochs, yielding after each; stop by not asking for the next one."""
        while not self.done:
            yield self.run_epoch()

    def run_epoch(self) -> EpochReport:
        order = torch.randperm(len(self.train_y), generator=self.shuffle)
        batches = order.split(self.settings.batch_size)
        cnn_loss, cnn_seconds = _train_one_epoch(self.cnn, self.cnn_optimiser, self.train_x, self.train_y, batches)
        stn_loss, stn_seconds = _train_one_epoch(self.stn, self.stn_optimiser, self.train_x, self.train_y, batches)
        report = EpochReport(
            epoch=len(self.history) + 1,
            cnn_loss=cnn_loss,
            stn_loss=stn_loss,
            cnn_train_accuracy=accuracy(self.cnn, self.sample_x, self.sample_y),
            stn_train_accuracy=accuracy(self.stn, self.sample_x, self.sample_y),
            cnn_test_accuracy=accuracy(self.cnn, self.test_x, self.test_y),
            stn_test_accuracy=accuracy(self.stn, self.test_x, self.test_y),
            cnn_seconds=cnn_seconds,
            stn_seconds=stn_seconds,
        )
        self.history.append(report)
        self.snapshots.append(self._snapshot(report.epoch))
        return report

    def result(self, *, stopped: bool = False) -> TrainedPair:
        """A frozen copy of the pair as trained so far (``stopped`` when fewer epochs than asked were run)."""
        cnn, stn = copy.deepcopy(self.cnn).eval(), copy.deepcopy(self.stn).eval()
        for parameter in (*cnn.parameters(), *stn.parameters()):
            parameter.requires_grad_(False)
        return TrainedPair(
            settings=self.settings,
            cnn=cnn,
            stn=stn,
            history=tuple(self.history),
            snapshots=tuple(self.snapshots),
            fixed_indices=self.fixed_indices,
            stopped=stopped and not self.done,
            run_id=uuid.uuid4().hex,
        )

    def _snapshot(self, epoch: int) -> EpochSnapshot:
        outputs, thetas = transformer_outputs(self.stn, self.digits.test, self.fixed_indices)
        return EpochSnapshot(epoch=epoch, thetas=thetas, outputs=outputs)


def train(settings: StnSettings, digits: DistortedDigits) -> TrainedPair:
    """Train both models for every epoch of ``settings`` (the bench's and the tests' entry point)."""
    run = Training(settings, digits)
    for _ in run.epochs():
        pass
    return run.result()


def _train_one_epoch(model: torch.nn.Module, optimiser: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                     batches: tuple[torch.Tensor, ...]) -> tuple[float, float]:
    model.train()
    started = time.perf_counter()
    total = 0.0
    for batch in batches:
        optimiser.zero_grad(set_to_none=True)
        loss = functional.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        optimiser.step()
        total += loss.item() * len(batch)
    model.eval()
    return total / len(y), time.perf_counter() - started


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Predicted classes for a batch, in evaluation mode."""
    return np.concatenate([model(chunk).argmax(1).numpy() for chunk in x.split(EVAL_BATCH)])


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float(np.mean(predict(model, x) == y.numpy()))


@torch.no_grad()
def transformer_outputs(stn: SpatialTransformerCnn, digit_set: DigitSet, indices: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(outputs (k, h, w), thetas (k, 2, 3)) of the transformer for the chosen images (all when None)."""
    images = digit_set.images if indices is None else digit_set.images[indices]
    outputs, thetas = [], []
    for chunk in as_batch(images).split(EVAL_BATCH):
        out, theta = stn.transformed(chunk)
        outputs.append(out[:, 0].numpy())
        thetas.append(theta.numpy())
    return np.concatenate(outputs), np.concatenate(thetas).astype(np.float64)
