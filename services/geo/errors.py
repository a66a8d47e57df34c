"""Every error the geo services raise on purpose, a leaf module (numpy only), importable without
pandas, the indexes or psycopg.

The page catches these exact types: a :class:`GeoError` is bad input with a message a person can act on, a
:class:`BackendError` is an engine (today PostGIS) that failed while the in-memory engines stay usable.
Anything else is a bug and should surface as one.
"""

from __future__ import annotations

import numpy as np


class GeoError(ValueError):
    """Bad input to the geo services; the message says what to change."""


class InvalidCoordinatesError(GeoError):
    """Points or a query with missing or out-of-range coordinates; ``rows`` holds the offending positions."""

    def __init__(self, message: str, rows: np.ndarray | None = None):
        super().__init__(message)
        self.rows = np.array([], dtype=np.int64) if rows is None else rows


class InvalidSearchError(GeoError):
    """A search setting out of range: K, radius, mode, engine name, benchmark sizes."""


class PointsFileError(GeoError):
    """An upload that cannot be turned into points; the message names the problem for the user."""


class RequestTooLargeError(GeoError):
    """A request that would exceed the budget in :mod:`services.budget` (rows, positions, result rows)."""


class JoinStopped(GeoError):
    """A batch join was asked to stop (its caller gave up: a deadline, or a newer request) between chunks."""


class BackendError(GeoError, RuntimeError):
    """An engine failed while answering (the database stopped, a table vanished); the message is safe to
    show (no password). Also a ``RuntimeError`` so older callers that caught that still do."""


class BackendUnavailable(BackendError):
    """An engine that cannot be used in this installation or with this configuration."""
