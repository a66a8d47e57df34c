"""Distorted digits and settings: reproducible, split by original digit, distortions as stated, typed errors."""

from dataclasses import replace

import numpy as np
import pytest

from services.affine import decompose, warp
from services.stn import (
    DigitSettings,
    DistortionRangeError,
    SplitError,
    StnError,
    StnSettings,
    TrainingSettingsError,
    distortion_theta,
    make_digits,
)

SMALL = DigitSettings(digit_size=16, canvas=24, copies=2, test_fraction=0.25, seed=5)


@pytest.fixture(scope="module")
def digits():
    return make_digits(SMALL)


def test_split_is_by_original_digit(digits):
    train_sources, test_sources = set(digits.train.sources), set(digits.test.sources)
    assert not train_sources & test_sources
    assert len(train_sources) + len(test_sources) == 1797
    assert len(digits.test) == round(0.25 * 1797)
    assert len(digits.train) == 2 * len(train_sources)
    assert digits.train.images.shape[1:] == (24, 24)
    assert digits.train.images.dtype == np.float32
    assert 0.0 <= digits.train.images.min() and digits.train.images.max() <= 1.0


def test_same_settings_same_pixels_and_another_seed_differs(digits):
    again = make_digits(SMALL)
    assert np.array_equal(again.train.images, digits.train.images)
    assert np.array_equal(again.test.angles, digits.test.angles)
    other = make_digits(replace(SMALL, seed=6))
    assert not np.array_equal(other.test.sources, digits.test.sources)


def test_each_image_is_the_numpy_sampler_at_its_stated_theta(digits):
    test = digits.test
    for index in range(5):
        expected = warp(digits.centred[test.sources[index]], test.thetas[index], engine="numpy")
        assert np.max(np.abs(np.clip(expected, 0, 1) - test.images[index])) <= 1e-6
        parts = decompose(test.thetas[index])
        assert parts.rotation_degrees == pytest.approx(test.angles[index], abs=1e-9)
        assert parts.scale == pytest.approx((1 / test.scales[index],) * 2, abs=1e-9)


def test_ranges_are_respected(digits):
    assert np.all(np.abs(digits.train.angles) <= SMALL.max_angle)
    assert np.all((digits.train.scales >= SMALL.min_scale) & (digits.train.scales <= SMALL.max_scale))
    assert np.all(np.abs(digits.train.shifts) <= SMALL.max_shift)


def test_distortion_theta_turns_the_picture_counter_clockwise():
    """theta maps output -> input: the output's right-hand point reads the input above the centre (y down)."""
    theta = distortion_theta(90.0, 1.0, (0.0, 0.0))
    x, y = theta @ np.array([1.0, 0.0, 1.0])
    assert (x, y) == pytest.approx((0.0, 1.0))
    # so the input's top (y = -1) appears on the output's left: a counter-clockwise quarter turn on screen
    x, y = theta @ np.array([-1.0, 0.0, 1.0])
    assert (x, y) == pytest.approx((0.0, -1.0))


def test_rotation_only_clears_the_unused_ranges():
    settings = DigitSettings(distortion="R", min_scale=0.5, max_shift=0.4).validate()
    assert (settings.min_scale, settings.max_scale, settings.max_shift) == (1.0, 1.0, 0.0)


def test_clutter_adds_ink(digits):
    cluttered = make_digits(replace(SMALL, clutter=4))
    assert cluttered.test.images.sum() > digits.test.images.sum()


@pytest.mark.parametrize(
    ("settings", "error", "words"),
    [
        (StnSettings(epochs=0), TrainingSettingsError, "at least 1 epoch"),
        (StnSettings(epochs=10_000), TrainingSettingsError, "train fewer epochs"),
        (StnSettings(batch_size=0), TrainingSettingsError, "batch size"),
        (StnSettings(learning_rate=1.0), TrainingSettingsError, "learning rate"),
        (StnSettings(digits=DigitSettings(test_fraction=0.0)), SplitError, "at least one digit on each side"),
        (StnSettings(digits=DigitSettings(test_fraction=1.0)), SplitError, "at least one digit on each side"),
        (StnSettings(digits=DigitSettings(test_fraction=0.0001)), SplitError, "0 test"),
        (StnSettings(digits=DigitSettings(min_scale=0.1, max_scale=3.0)), DistortionRangeError, "scale range"),
        (StnSettings(digits=DigitSettings(min_scale=1.2, max_scale=0.8)), DistortionRangeError, "smallest ≤ largest"),
        (StnSettings(digits=DigitSettings(max_shift=0.9)), DistortionRangeError, "leaves the canvas"),
        (StnSettings(digits=DigitSettings(max_angle=400)), DistortionRangeError, "rotation range"),
        (StnSettings(digits=DigitSettings(distortion="XYZ")), DistortionRangeError, "R, RTS"),
        (StnSettings(digits=DigitSettings(copies=0)), TrainingSettingsError, "distorted copies"),
        (StnSettings(digits=DigitSettings(canvas=12)), DistortionRangeError, "canvas"),
    ],
)
def test_bad_settings_raise_typed_errors_that_say_what_to_change(settings, error, words):
    with pytest.raises(error) as raised:
        settings.validate()
    assert isinstance(raised.value, StnError) and isinstance(raised.value, ValueError)
    assert words in str(raised.value)


def test_make_digits_validates_first():
    with pytest.raises(SplitError):
        make_digits(DigitSettings(test_fraction=0.0))


def test_settings_are_hashable_cache_keys():
    assert hash(StnSettings()) == hash(StnSettings())
    assert StnSettings(epochs=3) != StnSettings()
    assert len({StnSettings(), StnSettings(), StnSettings(learning_rate=0.001)}) == 2
