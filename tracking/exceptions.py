"""Errors raised by icetrack, each with a message that says what was wrong and what to do."""

from __future__ import annotations

__all__ = [
    "AreaError",
    "AuthenticationError",
    "CancelledError",
    "FieldReadError",
    "InvalidPairError",
    "KernelError",
    "MissingAssetError",
    "MissingTimeError",
    "NoNetworkError",
    "NoOverlapError",
    "NotEnoughSamplesError",
    "OutputWriteError",
    "ParameterError",
    "RemoteError",
    "SceneReadError",
    "TrackingError",
    "UsageError",
]


class TrackingError(RuntimeError):
    """Base class of every error icetrack raises on purpose."""


class ParameterError(TrackingError, ValueError):
    """A tracking parameter, or a combination of them, is out of its allowed range."""


class SceneReadError(TrackingError):
    """A file could not be read as a georeferenced raster scene."""


class FieldReadError(TrackingError):
    """A file could not be read as a velocity field (not NetCDF or GeoTIFF, truncated, or without vx and vy)."""


class MissingTimeError(SceneReadError):
    """A scene file has no acquisition date (in its tags or its name): the user must give one."""


class OutputWriteError(TrackingError):
    """An output file could not be written (disk full, size limit, I/O error); any earlier file is left as it was."""


class InvalidPairError(TrackingError):
    """Two scenes cannot form a pair (time order, units, missing metadata)."""


class NoOverlapError(InvalidPairError):
    """The two scenes of a pair do not overlap on the ground."""


class CancelledError(TrackingError):
    """The user cancelled a long-running job."""


class KernelError(TrackingError):
    """A tracking kernel returned a result that breaks the kernel contract (`tracking.kernels`)."""


class AreaError(TrackingError, ValueError):
    """A stable-ground or on-ice area cannot be used: unreadable, no CRS, no polygons, or off the field."""


class NotEnoughSamplesError(TrackingError, ValueError):
    """Too few finite samples in the area a metric is measured on."""


class RemoteError(TrackingError):
    """A remote service (STAC API, cloud storage, ITS_LIVE) failed or answered something unusable."""


class NoNetworkError(RemoteError):
    """The remote host cannot be reached (no network, DNS failure, or no answer within the time limit)."""


class AuthenticationError(RemoteError):
    """The remote host refused the request for lack of (valid) credentials (HTTP 401 or 403)."""


class MissingAssetError(RemoteError):
    """A scene or granule has no such asset, or its file is not there (HTTP 404)."""


class UsageError(Exception):
    """A bad ``icetrack`` command line (exit code 2); not a `TrackingError`: the library never raises it."""
