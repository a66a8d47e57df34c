"""The request: every setting that decides the data and the trained pair, frozen and hashable (the cache key).

``DigitSettings`` decides the distorted digits (so it keys the data cache); ``StnSettings`` adds the training
settings (so it keys the trained pair). ``validate`` raises a typed ``StnError`` whose message says what to
change; the page calls it before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from services import budget
from services.stn.errors import DistortionRangeError, SplitError, TrainingSettingsError

DISTORTIONS: dict[str, str] = {
    "R": "rotate",
    "RTS": "rotate, translate, scale",
}
#: Number of scikit-learn digits (8 x 8 each).
N_DIGITS = 1797
MAX_ANGLE = 180.0
SCALE_LIMITS = (0.4, 1.6)
#: Shifts are in normalised canvas units (1 = half the canvas); past this the digit leaves the canvas.
MAX_SHIFT = 0.5
MIN_CANVAS, MAX_CANVAS = 24, 128


@dataclass(frozen=True)
class DigitSettings:
    """How the distorted digits are made: which distortions, their ranges, clutter, copies, split and seed."""

    distortion: str = "RTS"
    max_angle: float = 60.0  # degrees; the angle is uniform in [-max_angle, max_angle]
    min_scale: float = 0.7  # the digit's size factor is uniform in [min_scale, max_scale] (RTS only)
    max_scale: float = 1.2
    max_shift: float = 0.2  # each of tx, ty uniform in [-max_shift, max_shift] (normalised, RTS only)
    clutter: int = 0  # 6 x 6 fragments of other digits scattered over each canvas
    copies: int = 2  # distorted copies of each training digit (a test digit gets one)
    test_fraction: float = 0.2  # of the 1,797 original digits, held out with all their copies
    seed: int = 0
    digit_size: int = 28  # the 8 x 8 digit is upsampled to this side
    canvas: int = 42  # and placed at the centre of a canvas of this side

    def validate(self) -> DigitSettings:
        """Raise a typed error for unusable settings; return the settings with unused ranges cleared."""
        if self.distortion not in DISTORTIONS:
            raise DistortionRangeError(
                f"Unknown distortion {self.distortion!r}; use one of {', '.join(DISTORTIONS)}."
            )
        if not 0.0 <= self.max_angle <= MAX_ANGLE:
            raise DistortionRangeError(
                f"The rotation range must be between 0° and ±{MAX_ANGLE:.0f}°, got ±{self.max_angle:g}°."
            )
        if self.distortion == "RTS":
            low, high = SCALE_LIMITS
            if not (low <= self.min_scale <= self.max_scale <= high):
                raise DistortionRangeError(
                    f"The scale range must satisfy {low} ≤ smallest ≤ largest ≤ {high}, got "
                    f"{self.min_scale:g} to {self.max_scale:g}: smaller digits are a few pixels wide, larger ones "
                    "leave the canvas."
                )
            if not 0.0 <= self.max_shift <= MAX_SHIFT:
                raise DistortionRangeError(
                    f"The shift range must be between 0 and ±{MAX_SHIFT} (half the canvas is 1), got "
                    f"±{self.max_shift:g}: further out the digit leaves the canvas."
                )
        if not 0 <= self.clutter <= budget.STN_MAX_CLUTTER:
            raise DistortionRangeError(f"Clutter must be 0 to {budget.STN_MAX_CLUTTER} fragments, got {self.clutter}.")
        if not 1 <= self.copies <= budget.STN_MAX_COPIES:
            raise TrainingSettingsError(
                f"Each training digit needs 1 to {budget.STN_MAX_COPIES} distorted copies, got {self.copies}."
            )
        if not 0.0 < self.test_fraction < 1.0:  # also refuses NaN
            raise SplitError(
                f"A test fraction of {self.test_fraction:g} leaves no digit on one side; choose a fraction that "
                "keeps at least one digit on each side (0.1 to 0.5 is sensible)."
            )
        n_test = round(self.test_fraction * N_DIGITS)
        if n_test < 1 or n_test > N_DIGITS - 1:
            raise SplitError(
                f"A test fraction of {self.test_fraction:g} leaves {n_test} test and {N_DIGITS - n_test} training "
                "digits; choose a fraction that keeps at least one digit on each side (0.1 to 0.5 is sensible)."
            )
        if not (8 <= self.digit_size <= self.canvas and MIN_CANVAS <= self.canvas <= MAX_CANVAS):
            raise DistortionRangeError(
                f"The digit side ({self.digit_size}) must be at least 8 and at most the canvas side ({self.canvas}), "
                f"and the canvas between {MIN_CANVAS} and {MAX_CANVAS} pixels (the networks need that much room)."
            )
        if self.distortion == "R":
            return replace(self, min_scale=1.0, max_scale=1.0, max_shift=0.0)
        return self


@dataclass(frozen=True)
class StnSettings:
    """Everything that decides a trained CNN / ST-CNN pair: the digits plus epochs, batch size, learning rate."""

    digits: DigitSettings = field(default_factory=DigitSettings)
    epochs: int = 8
    batch_size: int = 64
    learning_rate: float = 0.002  # Adam, for both models

    def validate(self) -> StnSettings:
        digits = self.digits.validate()
        if self.epochs < 1:
            raise TrainingSettingsError(f"Train for at least 1 epoch (got {self.epochs}): 0 epochs learns nothing.")
        if self.epochs > budget.STN_MAX_EPOCHS:
            raise TrainingSettingsError(
                f"{self.epochs} epochs is more than this shared server allows ({budget.STN_MAX_EPOCHS}); "
                "train fewer epochs."
            )
        low, high = budget.STN_BATCH_RANGE
        if not low <= self.batch_size <= high:
            raise TrainingSettingsError(f"The batch size must be between {low} and {high}, got {self.batch_size}.")
        low_rate, high_rate = budget.STN_LEARNING_RATE_RANGE
        if not low_rate <= self.learning_rate <= high_rate:
            raise TrainingSettingsError(
                f"The learning rate must be between {low_rate:g} and {high_rate:g}, got {self.learning_rate:g}: "
                "smaller learns nothing in a few epochs, larger makes the localisation net diverge."
            )
        return replace(self, digits=digits)
