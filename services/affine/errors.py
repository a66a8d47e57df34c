"""Typed errors of the affine service: pages catch ``AffineError`` and show its message."""

from __future__ import annotations


class AffineError(ValueError):
    """Bad input to the affine service; the message says what to change."""


class SingularMatrixError(AffineError):
    """The matrix has no inverse (its determinant is zero): the plane is squashed onto a line or a point."""


class UnsupportedCombinationError(AffineError):
    """An engine cannot do this interpolation/padding exactly as the others do, so it refuses."""


class StepsFormatError(AffineError):
    """A textual list of steps (from a URL) cannot be read."""
