"""Figures of the spatial-transformer page, built from small hand-made inputs."""

import numpy as np
import pytest

from services.affine import Rotate, compose
from services.stn import (
    EpochReport,
    EpochSnapshot,
    SamplerCheck,
    StnAnalysis,
    angle_relation,
    theta_view,
)
from services.stn.analysis import confusion_matrix
from services.stn.figures import (
    GAP,
    angle_figure,
    before_after_figure,
    confusion_figure,
    epochs_figure,
    mosaic,
    sample_grid_figure,
    theta_grid_figure,
    training_figure,
)

RNG = np.random.default_rng(0)
IMAGES = RNG.random((6, 24, 24)).astype(np.float32)


def _report(epoch: int) -> EpochReport:
    return EpochReport(epoch, 2.0 / epoch, 1.5 / epoch, 0.5, 0.6, 0.4, 0.55, 1.0, 1.2)


def test_mosaic_places_every_tile_between_gaps():
    tiles = mosaic(IMAGES, columns=4)
    assert tiles.shape == (2 * (24 + GAP) + GAP, 4 * (24 + GAP) + GAP)
    assert np.array_equal(tiles[GAP : GAP + 24, GAP : GAP + 24], IMAGES[0])
    second_row = GAP + 24 + GAP
    assert np.array_equal(tiles[second_row : second_row + 24, GAP : GAP + 24], IMAGES[4])


def test_sample_and_before_after_figures_caption_every_tile():
    fig = sample_grid_figure(IMAGES, [f"digit {i}" for i in range(6)], columns=3)
    assert len(fig.data) == 1 and len(fig.layout.annotations) == 6
    fig = before_after_figure(IMAGES[:3], IMAGES[3:], ["a", "b", "c"])
    assert fig.data[0].z.shape[0] == 2 * (24 + GAP) + GAP
    assert len(fig.layout.annotations) == 3 + 2  # captions and the two row labels


def test_training_figure_spans_every_epoch_asked_for():
    fig = training_figure([_report(1), _report(2)], epochs=8)
    assert len(fig.data) == 6
    assert tuple(fig.layout.xaxis.range) == (0.5, 8.5)
    assert list(fig.data[0].y) == [2.0, 1.0]


def test_epochs_figure_has_one_frame_per_snapshot():
    snapshots = [EpochSnapshot(e, np.zeros((3, 2, 3)), IMAGES[:3] * e) for e in range(4)]
    fig = epochs_figure(IMAGES[:3], snapshots)
    assert [frame.name for frame in fig.frames] == ["0", "1", "2", "3"]
    assert len(fig.layout.sliders[0].steps) == 4


def test_theta_grid_outlines_the_region_the_output_reads():
    theta = compose([Rotate(30.0)])[:2] * np.array([[0.5], [0.5]]) + np.array([[0, 0, 0.1], [0, 0, 0]])
    view = theta_view(theta, 24, 24)
    fig = theta_grid_figure(IMAGES[0], IMAGES[1], view)
    border = fig.data[3]
    corners = np.column_stack([border.x, border.y])[:4]
    expected = []
    for x, y in ((-1, -1), (-1, 1), (1, 1), (1, -1)):
        sx, sy = theta @ np.array([x, y, 1.0])
        expected.append(((sx + 1) * 11.5, (sy + 1) * 11.5))
    assert corners == pytest.approx(np.array(expected))
    assert view.decomposition.rotation_degrees == pytest.approx(30.0)


def test_angle_and_confusion_figures():
    labels = np.arange(40) % 10
    applied = np.linspace(-60, 60, 40)
    learned = -0.8 * applied + 3.0
    analysis = StnAnalysis(
        labels=labels, cnn_predictions=labels, stn_predictions=labels, thetas=np.zeros((40, 2, 3)),
        outputs=np.zeros((40, 4, 4)), learned_rotation=learned, learned_scale=np.ones((40, 2)),
        applied_angles=applied, angles=angle_relation(applied, learned),
        cnn_confusion=confusion_matrix(labels, labels), stn_confusion=confusion_matrix(labels, labels),
        sampler=SamplerCheck(0.0, 40, 1e-4),
    )
    assert analysis.angles.correlation == pytest.approx(-1.0)
    assert analysis.angles.slope == pytest.approx(-0.8) and analysis.angles.intercept == pytest.approx(3.0)
    fig = angle_figure(analysis)
    assert "r = -1.00" in fig.layout.title.text
    assert len(fig.data) == 10 + 2
    fig = confusion_figure(analysis.cnn_confusion, analysis.stn_confusion, 1.0, 1.0)
    assert len(fig.data) == 2 and int(fig.data[0].z.trace()) == 40


def test_angle_relation_is_undefined_without_spread():
    assert angle_relation(np.zeros(5), np.arange(5.0)).correlation is None


def test_page_texts_and_tables():
    from services.stn import DigitSet
    from services.stn.figures import epoch_time_ratio, playground_query, sample_view, theta_table, undo_caption

    digits = DigitSet(images=IMAGES, labels=np.arange(6), angles=np.linspace(-30, 30, 6), scales=np.full(6, 1.2),
                      shifts=np.zeros((6, 2)), thetas=np.zeros((6, 2, 3)), sources=np.arange(6))
    sample = sample_view(digits, 3, with_scale=True)
    assert sample.indices.tolist() == [0, 2, 5]
    assert sample.captions[0] == "0 · -30° · ×1.20" and len(sample.table) == 3
    assert "a rotation of +30.0°" in undo_caption(digits, 0)
    assert epoch_time_ratio([_report(1), _report(2)]) == pytest.approx(1.2)
    theta = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, -0.25]])
    assert playground_query(theta) == "mode=direct&m00=1&m01=0.5&m02=0&m10=0&m11=1&m12=-0.25"
    assert theta_table(theta).shape == (2, 3)
