"""Typed errors of the spatial-transformer service: the page catches ``StnError`` and shows its message."""

from __future__ import annotations


class StnError(ValueError):
    """Bad settings or input for the spatial-transformer service; the message says what to change."""


class DistortionRangeError(StnError):
    """A distortion range is outside what still leaves a recognisable digit on the canvas."""


class SplitError(StnError):
    """The train/test split would leave one side without digits."""


class TrainingSettingsError(StnError):
    """Epochs, batch size or learning rate cannot train anything."""
