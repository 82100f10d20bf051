"""Errors raised by icetrack, each with a message that says what was wrong and what to do."""

from __future__ import annotations

__all__ = [
    "CancelledError",
    "InvalidPairError",
    "MissingTimeError",
    "NoOverlapError",
    "ParameterError",
    "SceneReadError",
    "TrackingError",
]


class TrackingError(RuntimeError):
    """Base class of every error icetrack raises on purpose."""


class ParameterError(TrackingError, ValueError):
    """A tracking parameter, or a combination of them, is out of its allowed range."""


class SceneReadError(TrackingError):
    """A file could not be read as a georeferenced raster scene."""


class MissingTimeError(SceneReadError):
    """A scene file has no acquisition date (in its tags or its name): the user must give one."""


class InvalidPairError(TrackingError):
    """Two scenes cannot form a pair (time order, units, missing metadata)."""


class NoOverlapError(InvalidPairError):
    """The two scenes of a pair do not overlap on the ground."""


class CancelledError(TrackingError):
    """The user cancelled a long-running job."""
