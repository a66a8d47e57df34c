"""Typed errors of the KNN services. Every message is written for the person using the page."""

from __future__ import annotations


class KnnError(ValueError):
    """Base class: the input or the settings cannot be used; the message says why and what to change."""


class DatasetError(KnnError):
    """A dataset cannot be built from the chosen source, columns or generator settings."""


class CsvError(DatasetError):
    """An uploaded file is not a usable CSV table."""


class SplitError(KnnError):
    """The data cannot be split into training and test points with the chosen fraction."""


class NeighbourCountError(KnnError):
    """K is not between 1 and the number of training points (the seed's 'K can't exceed n')."""


class SettingsError(KnnError):
    """A metric, weighting, scaling or model setting is not one the services support."""


class WorkloadError(KnnError):
    """The request would cost more than the per-request budget even after sizing it down."""
