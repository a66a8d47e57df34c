"""Hostile settings for the spatial-transformer page, one per subprocess: refused at once with a message, or,
at the largest budget a link may ask for, built within the request's memory budget."""

import pytest

from services import budget
from services.stn import DistortionRangeError, SplitError, TrainingSettingsError
from tests.hostile import measure

SETUP = "from services.stn import DigitSettings, StnSettings, make_digits"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("StnSettings(epochs=10**12).validate()", TrainingSettingsError),
        ("StnSettings(batch_size=10**9).validate()", TrainingSettingsError),
        ("make_digits(DigitSettings(copies=10**9))", TrainingSettingsError),
        ("make_digits(DigitSettings(clutter=10**9))", DistortionRangeError),
        ("make_digits(DigitSettings(canvas=10**6, digit_size=10**6))", DistortionRangeError),
        ("make_digits(DigitSettings(test_fraction=float('nan')))", SplitError),
    ],
)
def test_extreme_settings_are_refused_quickly(body, error):
    cost = measure(SETUP, body)
    assert cost.raised(error), cost.outcome
    assert cost.seconds < budget.REQUEST_SECONDS_TO_MESSAGE
    assert cost.extra_bytes < 64 * budget.MIB


def test_the_largest_allowed_data_stays_within_the_request_budget():
    cost = measure(SETUP, f"make_digits(DigitSettings(copies={budget.STN_MAX_COPIES}, "
                          f"clutter={budget.STN_MAX_CLUTTER}))", timeout=300)
    assert cost.outcome == "ok"
    assert cost.extra_bytes < budget.REQUEST_PEAK_BYTES
