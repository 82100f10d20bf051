"""``track``: a `Pair` in, a VelocityField out.

The steps, each a pure function of its inputs: check the parameters against the images, run the kernel named by
``params.kernel`` through `tracking.kernels.track_arrays` (pre-filter, matching, sub-pixel refinement and the
outlier tests), reject vectors faster than ``max_speed``, fill the
holes if asked, and build the VelocityField (`tracking.velocity`).

Which variable holds what (for a view that toggles raw / masked / interpolated):

- ``dx``, ``dy``: the kernel's **raw** offsets (px), outliers included;
- ``valid``: passed every test, ``max_speed`` included;
- ``interpolated``: rejected or missing, and filled from valid neighbours;
- ``vx``, ``vy``, ``v``: the **final** velocities (m/yr): measured where ``valid``, filled where
  ``interpolated``, NaN elsewhere. ``vx.where(valid)`` is the masked view; `tracking.velocity.vectors` gives
  all three.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import xarray as xr

from tracking.exceptions import CancelledError
from tracking.kernels import ProgressCallback
from tracking.params import TrackingParameters
from tracking.scenes import Pair
from tracking.velocity import offsets_to_velocity, velocity_field

__all__ = ["ProgressCallback", "track"]



def track(
    pair: Pair,
    params: TrackingParameters | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    **overrides: Any,
) -> xr.Dataset:
    """Measure the surface velocity between the two scenes of a pair.

    Parameters
    ----------
    pair : Pair
        Two scenes on one grid (`Pair.from_scenes`).
    params : TrackingParameters, optional
        Parameters; defaults to ``TrackingParameters()``.
    progress : callable, optional
        ``progress(done, total)``, called as the chips are matched.
    cancel : threading.Event, optional
        When set, the work stops and `CancelledError` is raised.
    **overrides
        Parameter values that replace those of ``params`` (``chip_size=64``, ``max_speed=5000``, ...).

    Returns
    -------
    xarray.Dataset
        The VelocityField (see `tracking.velocity`).

    Raises
    ------
    ParameterError
        An unknown or out-of-range parameter, or a chip and search range that do not fit the images.
    CancelledError
        ``cancel`` was set.
    """
    from tracking.kernels import track_arrays

    params = TrackingParameters.from_overrides(params, **overrides).check(pair.shape)
    _check_cancel(cancel)
    offsets = track_arrays(
        pair.reference.values, pair.secondary.values, params, progress=progress, cancel=cancel
    )
    _check_cancel(cancel)
    offsets = reject_too_fast(offsets, pair, params.max_speed)
    if params.fill_holes:
        offsets = fill_offsets(offsets, params.fill_distance)
    return velocity_field(offsets, pair, params)


def reject_too_fast(offsets: xr.Dataset, pair: Pair, max_speed: float | None) -> xr.Dataset:
    """``offsets`` with ``valid`` cleared where the raw speed exceeds ``max_speed`` (m/yr; None: no limit)."""
    from tracking.validate import too_fast

    if max_speed is None:
        return offsets
    vx, vy = offsets_to_velocity(offsets["dx"].values, offsets["dy"].values, pair.transform, pair.dt_days)
    fast = np.asarray(too_fast(np.hypot(vx, vy), max_speed), dtype=bool)
    return offsets.assign(valid=offsets["valid"] & ~fast)


def fill_offsets(offsets: xr.Dataset, max_distance: int) -> xr.Dataset:
    """``offsets`` with ``dx_filled``, ``dy_filled`` and ``interpolated`` added by hole filling.

    ``dx``/``dy`` keep the raw kernel offsets; the filled ones hold the valid offsets, interpolated values where
    ``interpolated`` and NaN elsewhere.
    """
    from tracking.interpolate import fill_holes

    valid = offsets["valid"].values.astype(bool)
    dx = np.where(valid, offsets["dx"].values, np.nan)
    dy = np.where(valid, offsets["dy"].values, np.nan)
    dx_filled, dy_filled, interpolated = fill_holes(dx, dy, valid, max_distance=max_distance)
    dims = offsets["dx"].dims
    return offsets.assign(
        dx_filled=(dims, np.asarray(dx_filled, dtype=np.float32)),
        dy_filled=(dims, np.asarray(dy_filled, dtype=np.float32)),
        interpolated=(dims, np.asarray(interpolated, dtype=bool) & ~valid),
    )


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CancelledError("tracking was cancelled.")
