"""The composition of a tracking run, in one place: pre-filter -> match -> outlier tests -> holes -> velocity.

- `track_arrays`: two arrays in, pixel offsets out (pre-filter, `tracking.kernels.match`, `match_and_validate`);
- `match_and_validate`: match two pre-filtered arrays and fold the outlier tests of `tracking.validate` (peak,
  SNR, normalized median, and ``max_speed`` as a displacement limit when the pixel size and dt are known) into
  ``valid`` — what `tracking.tiles` runs on each tile;
- `fill_offsets`: hole filling on the offsets, px;
- `track`: a `Pair` in, a VelocityField out (`tracking.velocity.velocity_field`, the only px -> m/yr step).

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

from tracking.kernels import match
from tracking.params import TrackingParameters
from tracking.progress import ProgressCallback, check_cancel
from tracking.scenes import Pair
from tracking.velocity import velocity_field

__all__ = ["fill_offsets", "match_and_validate", "pixel_size", "track", "track_arrays"]


def track_arrays(
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    pixel_size: tuple[float, float] | None = None,
    dt_days: float | None = None,
    **overrides: Any,
) -> xr.Dataset:
    """Track features from ``reference`` to ``secondary``: pixel offsets on a regular grid of chips.

    Both images are pre-filtered (``params.prefilter``), matched chip by chip by the kernel ``params.kernel``
    (``"ncc"``: zero-mean normalized cross-correlation; ``"oc"``: orientation correlation; or a kernel added
    with `tracking.kernels.register_kernel`) and screened by the outlier tests of `tracking.validate`.

    Parameters
    ----------
    reference, secondary : ndarray of shape (rows, cols)
        The two images on the same grid, any real dtype; NaN (or inf) marks nodata.
    params : TrackingParameters, optional
        Parameters; defaults to ``TrackingParameters()``.
    progress : callable, optional
        Called as ``progress(done, total)`` with chip counts while the chips are matched.
    cancel : threading.Event, optional
        When set, tracking stops at the next block of chips and raises `CancelledError`.
    pixel_size : (float, float), optional
        Pixel width and height, m: with ``dt_days``, ``max_speed`` is tested on the offsets.
    dt_days : float, optional
        Time between the images, days.
    **overrides
        Parameter values that replace those of ``params`` (``chip_size=64``, ``kernel="oc"``, ...).

    Returns
    -------
    xarray.Dataset
        On dims ``("row", "col")``, whose coordinates are the chip centres in the reference image in pixel-index
        units (pixel i's centre is i):

        - ``dx``, ``dy`` (float32, px): offset of the match, + columns right and + rows down; NaN where no match
          was found (no texture, mostly nodata, peak at the edge of the search range);
        - ``peak`` (float32): similarity at the match: the NCC (``ncc``), the normalized orientation
          correlation (``oc``), the score of a user kernel;
        - ``snr`` (float32): the peak over the next highest peak of the full-range search;
        - ``valid`` (bool): matched and not flagged by any outlier test.

        ``attrs`` hold every parameter value.

    Raises
    ------
    ParameterError
        Images of different shapes, parameters that do not fit the images, or an unknown kernel.
    KernelError
        The kernel returned something that breaks the kernel contract.
    CancelledError
        ``cancel`` was set.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> from scipy import ndimage
    >>> image = ndimage.gaussian_filter(rng.normal(size=(160, 160)), 1.5)
    >>> moved = ndimage.shift(image, (1.25, -2.5), order=3)
    >>> field = track_arrays(image, moved, search_range=6)
    >>> bool(abs(float(field.dx.median()) + 2.5) < 0.05 and abs(float(field.dy.median()) - 1.25) < 0.05)
    True
    >>> field = track_arrays(image, moved, search_range=6, kernel="oc")
    >>> bool(abs(float(field.dx.median()) + 2.5) < 0.05 and abs(float(field.dy.median()) - 1.25) < 0.05)
    True
    """
    from tracking.preprocess import prefilter

    params = TrackingParameters.from_overrides(params, **overrides)
    check_cancel(cancel)
    reference = prefilter(reference, params.prefilter, params.prefilter_size)
    secondary = prefilter(secondary, params.prefilter, params.prefilter_size)
    return match_and_validate(
        reference, secondary, params, progress=progress, cancel=cancel, pixel_size=pixel_size, dt_days=dt_days
    )


def match_and_validate(
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    pixel_size: tuple[float, float] | None = None,
    dt_days: float | None = None,
) -> xr.Dataset:
    """Match two **pre-filtered** images (`tracking.kernels.match`) and fold the outlier tests into ``valid``.

    Parameters and result as in `track_arrays`, whose second half this is. A kernel that gives no SNR (all NaN)
    skips the SNR test.
    """
    from tracking.validate import apply_outlier_tests

    field = match(reference, secondary, params, progress=progress, cancel=cancel)
    check_cancel(cancel)
    no_snr = bool(field["snr"].isnull().all())
    tested = apply_outlier_tests(
        field.drop_vars("snr") if no_snr else field, params, pixel_size=pixel_size, dt_days=dt_days
    )
    return field.assign(valid=tested["valid"])


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
    params = TrackingParameters.from_overrides(params, **overrides).check(pair.shape)
    offsets = track_arrays(
        pair.reference.values,
        pair.secondary.values,
        params,
        progress=progress,
        cancel=cancel,
        pixel_size=pixel_size(pair),
        dt_days=pair.dt_days,
    )
    check_cancel(cancel)
    if params.fill_holes:
        offsets = fill_offsets(offsets, params.fill_distance)
    return velocity_field(offsets, pair, params)


def pixel_size(pair: Pair) -> tuple[float, float]:
    """Width and height of the pair's pixels, m."""
    return abs(pair.transform.a), abs(pair.transform.e)


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
