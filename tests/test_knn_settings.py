"""Request objects and the page's small decisions (clamping K, the CV range, odd K), now testable here."""

import dataclasses

import numpy as np
import pytest

from services.knn import DatasetSpec, SettingsError, load_dataset
from services.knn.neighbours import Metric, largest_k
from services.knn.settings import (
    KnnSettings,
    clamp_k,
    cv_k_range,
    data_centre,
    grid_votes,
    make_split,
    odd_ks,
    plan_boundary,
    sweep_frames,
)


def test_settings_are_frozen_hashable_cache_keys():
    one, same = KnnSettings(metric=Metric("minkowski", 3.0)), KnnSettings(metric=Metric("minkowski", 3.0))
    assert one == same and hash(one) == hash(same)
    assert one != dataclasses.replace(one, weights="distance")
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.seed = 1  # type: ignore[misc]
    with pytest.raises(SettingsError, match="Unknown weighting"):
        KnnSettings(weights="cubic")
    with pytest.raises(SettingsError, match="Unknown scaling"):
        KnnSettings(scaling="log")


def test_largest_k_served_by_a_table():
    assert largest_k(16, 100) == 15  # the 17th neighbour is needed to see a tie at K = 16
    assert largest_k(100, 100) == 100  # the table holds every training point


def test_k_is_clamped_with_a_reason():
    assert clamp_k(15, 119) == (15, "")
    k, note = clamp_k(110, 100)
    assert k == 100 and "K = 110 is more than the 100 training points" in note and "K was set to 100" in note
    assert clamp_k(0, 100)[0] == 1


def test_cv_range_is_kept_and_clamped():
    assert cv_k_range((3, 21), 90) == ((3, 21), "")
    (low, high), note = cv_k_range((1, 49), 30)
    assert (low, high) == (1, 30) and "narrowed to 1–30" in note
    assert cv_k_range((), 90) == ((1, 49), "")
    assert cv_k_range((5, 5), 8) == ((1, 8), "")


def test_odd_ks():
    assert odd_ks(1, 9) == (1, 3, 5, 7, 9)
    assert odd_ks(2, 9, limit=6) == (3, 5)


def test_plan_grid_votes_and_sweep_from_settings():
    split = make_split(load_dataset(DatasetSpec("iris")), KnnSettings())
    plan = plan_boundary(split, 7, 60)
    assert (plan.depth, plan.resolution, plan.largest_k, plan.reason) == (16, 60, 15, "")
    grid, predictor = grid_votes(split, KnnSettings(), plan.resolution, plan.depth)
    assert predictor.votes(15).labels.shape == (60 * 60,)
    grid, frames = sweep_frames(split, KnnSettings(), (1, 3, 5), 20)
    assert [k for k, _, _ in frames] == [1, 3, 5] and frames[0][1].shape == (400,)
    centre = data_centre(split)
    np.testing.assert_allclose(centre, load_dataset(DatasetSpec("iris")).X.mean(axis=0), rtol=1e-12)
