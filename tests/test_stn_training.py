"""A short fixed-seed training run on RTS digits: the transformer helps, undoes rotations, can be stopped, and
its output is reproduced by the project's numpy sampler.

Measured on this machine with these settings (seed 0, the one asserted): CNN 63.1 % / ST-CNN 79.8 % test
accuracy, r = -0.53 between applied and learned rotation (slope -0.06: on this small 28 x 28 canvas the
localisation net sees a 9 x 9 pooled copy, and four epochs turn digits back only a little); seeds 1 and 2 gave
57.7 / 70.9 %, r = -0.53 and 65.1 / 76.3 %, r = -0.67. The asserts keep a margin for other CPUs' float paths:
the ST-CNN at least as accurate as the CNN (16 points to spare at seed 0), r below -0.35.
"""

import numpy as np
import pytest
import torch

from services.stn import (
    SAMPLER_TOLERANCE,
    DigitSettings,
    StnSettings,
    Training,
    analyse,
    confusion_matrix,
    make_digits,
    torch_threads,
)

RTS_SMALL = DigitSettings(distortion="RTS", max_angle=60, digit_size=18, canvas=28, copies=1, test_fraction=0.3,
                          seed=0)
SHORT_RUN = StnSettings(digits=RTS_SMALL, epochs=4, batch_size=32, learning_rate=0.003)
CORRELATION_BELOW = -0.35


@pytest.fixture(scope="module")
def digits():
    return make_digits(RTS_SMALL)


@pytest.fixture(scope="module")
def trained(digits):
    with torch_threads(1):
        run = Training(SHORT_RUN, digits)
        reports = list(run.epochs())
        pair = run.result()
        return run, reports, pair, analyse(pair, digits)


def test_the_transformer_helps_and_undoes_the_rotation(trained):
    _, reports, pair, analysis = trained
    assert [r.epoch for r in reports] == [1, 2, 3, 4] and not pair.stopped
    assert analysis.stn_accuracy >= analysis.cnn_accuracy
    assert analysis.stn_accuracy == pytest.approx(reports[-1].stn_test_accuracy, abs=1e-12)
    assert analysis.angles.correlation < CORRELATION_BELOW
    assert analysis.angles.slope < 0


def test_the_numpy_sampler_reproduces_the_learned_transform(trained):
    sampler = trained[3].sampler
    assert sampler.images == 539
    assert sampler.max_difference <= SAMPLER_TOLERANCE and sampler.agrees


def test_snapshots_start_at_identity_and_follow_every_epoch(trained, digits):
    _, _, pair, _ = trained
    assert [s.epoch for s in pair.snapshots] == [0, 1, 2, 3, 4]
    first = pair.snapshots[0]
    assert np.max(np.abs(first.outputs - digits.test.images[pair.fixed_indices])) <= 1e-6
    assert np.allclose(first.thetas, [[1, 0, 0], [0, 1, 0]])
    assert sorted(digits.test.labels[pair.fixed_indices].tolist()) == list(range(10))
    assert not np.allclose(pair.snapshots[-1].thetas, first.thetas)


def test_confusion_matrices_count_every_test_digit(trained):
    analysis = trained[3]
    for matrix, predictions in ((analysis.cnn_confusion, analysis.cnn_predictions),
                                (analysis.stn_confusion, analysis.stn_predictions)):
        assert matrix.sum() == len(analysis.labels)
        assert np.trace(matrix) == np.sum(predictions == analysis.labels)
    assert confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]))[1].tolist()[:2] == [1, 1]


def test_a_stopped_run_keeps_its_partial_model(digits):
    with torch_threads(1):
        run = Training(StnSettings(digits=RTS_SMALL, epochs=3, batch_size=64), digits)
        next(run.epochs())
        partial = run.result(stopped=True)
        weights = partial.stn.localisation.fc2.weight.clone()
        run.run_epoch()  # training on does not touch the kept copy
    assert partial.stopped and partial.epochs_done == 1 and len(partial.snapshots) == 2
    assert torch.equal(partial.stn.localisation.fc2.weight, weights)
    assert not torch.equal(run.stn.localisation.fc2.weight, weights)
    assert not any(p.requires_grad for p in partial.stn.parameters())
