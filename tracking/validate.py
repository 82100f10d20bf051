"""Outlier tests of a displacement field, OpenPIV style: each returns a boolean flag array (True = outlier).

The tests work on grids of vectors (rows, cols) — one vector per chip — not on images. `outlier_flags` runs
all of them on a tracked field with the thresholds of a `TrackingParameters`, and `apply_outlier_tests`
folds the flags into the field's ``valid`` mask, leaving the raw displacements untouched.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from tracking.exceptions import ParameterError, TrackingError
from tracking.params import TrackingParameters
from tracking.times import DAYS_PER_YEAR

__all__ = [
    "apply_outlier_tests",
    "low_peak",
    "low_snr",
    "normalized_median_outliers",
    "outlier_flags",
    "peak_threshold",
    "too_far",
    "too_fast",
]

#: The chip size, px, at which ``min_peak`` applies as given (see `peak_threshold`).
PEAK_REFERENCE_CHIP = 32

_MIN_NEIGHBOURS = 3  # the normalized median test needs at least this many usable neighbours
_BLOCK_VALUES = 4_000_000  # neighbour values sorted at once by the median test (bounds its memory)


def low_peak(peak: np.ndarray, min_peak: float) -> np.ndarray:
    """Flag vectors whose correlation peak is below ``min_peak``.

    Parameters
    ----------
    peak : array_like, any shape
        Peak normalized cross-correlation of each vector (dimensionless, -1 to 1).
    min_peak : float
        Smallest acceptable peak.

    Returns
    -------
    ndarray of bool, same shape as ``peak``
        True where ``peak < min_peak`` or ``peak`` is NaN (no match).
    """
    peak = np.asarray(peak)
    return ~(peak >= min_peak)


def peak_threshold(min_peak: float, chip_size: int) -> float:
    """The peak threshold for a chip size: ``min_peak`` at 32 px, scaled by ``32 / chip_size``, at most 1.

    The correlation of unrelated images has a spread of about one over the square root of the number of
    independent pixels, so it falls as ``1 / chip_size``: a fixed threshold that suits 32 px chips rejects good
    64 px matches (on the Sentinel-2 stable pair, 60% of the vectors a fixed 0.2 rejected at chip 64 were
    right) and lets noise through at 16 px.

    Parameters
    ----------
    min_peak : float
        Threshold at a 32 px chip (``TrackingParameters.min_peak``).
    chip_size : int
        Chip size, px.

    Returns
    -------
    float

    Examples
    --------
    >>> peak_threshold(0.2, 32), peak_threshold(0.2, 64), peak_threshold(0.2, 16)
    (0.2, 0.1, 0.4)
    """
    return min(1.0, float(min_peak) * PEAK_REFERENCE_CHIP / int(chip_size))


def low_snr(snr: np.ndarray, min_snr: float) -> np.ndarray:
    """Flag vectors whose signal-to-noise ratio is below ``min_snr``.

    Parameters
    ----------
    snr : array_like, any shape
        Ratio of the correlation peak to the strongest other peak (dimensionless, >= 1 for a clear match).
    min_snr : float
        Smallest acceptable ratio.

    Returns
    -------
    ndarray of bool, same shape as ``snr``
        True where ``snr < min_snr`` or ``snr`` is NaN.
    """
    snr = np.asarray(snr)
    return ~(snr >= min_snr)


def too_fast(speed: np.ndarray, max_speed: float | None) -> np.ndarray:
    """Flag vectors faster than ``max_speed``.

    Parameters
    ----------
    speed : array_like, any shape
        Speed of each vector, in the units of ``max_speed`` (m/yr for georeferenced pairs).
    max_speed : float or None
        Largest acceptable speed; None for no limit.

    Returns
    -------
    ndarray of bool, same shape as ``speed``
        True where ``speed > max_speed``. NaN speeds are not flagged (a vector without a speed has no
        displacement and is rejected by the other tests); with ``max_speed`` None nothing is flagged.
    """
    speed = np.asarray(speed)
    if max_speed is None:
        return np.zeros(speed.shape, dtype=bool)
    return speed > max_speed


def too_far(
    dx: np.ndarray, dy: np.ndarray, max_speed: float | None, pixel_size: tuple[float, float], dt_days: float
) -> np.ndarray:
    """Flag offsets longer than ``max_speed`` allows in ``dt_days``: the speed limit as a displacement.

    Parameters
    ----------
    dx, dy : array_like
        Offsets, px (along columns and rows).
    max_speed : float or None
        Largest acceptable speed, m/yr; None for no limit.
    pixel_size : (float, float)
        Pixel width and height, m.
    dt_days : float
        Time between the images, days (years of 365.25 days).

    Returns
    -------
    ndarray of bool
        True where ``hypot(dx * width, dy * height) > max_speed * dt_days / DAYS_PER_YEAR`` (metres); NaN offsets are
        not flagged.

    Examples
    --------
    >>> too_far(np.array([1.0, 4.0]), np.array([0.0, 0.0]), 1000.0, (30.0, 30.0), 36.525)  # 100 m allowed
    array([False,  True])
    """
    dx = np.asarray(dx, dtype=np.float64)
    if max_speed is None:
        return np.zeros(dx.shape, dtype=bool)
    metres = np.hypot(dx * pixel_size[0], np.asarray(dy, dtype=np.float64) * pixel_size[1])
    return metres > max_speed * dt_days / DAYS_PER_YEAR


def normalized_median_outliers(
    dx: np.ndarray,
    dy: np.ndarray,
    *,
    threshold: float = 3.0,
    epsilon: float = 0.2,
    radius: int = 1,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Normalized median test of Westerweel & Scarano (2005), on each displacement component.

    For each node with neighbours ``u_i`` in its ``(2 radius + 1)^2`` neighbourhood — the node itself,
    nodes outside the grid, NaN vectors and vectors not in ``valid`` excluded — the residual is::

        r0 = |u0 - median(u_i)| / (median(|u_i - median(u_i)|) + epsilon)

    computed for ``dx`` and ``dy`` separately; the node is flagged if either residual exceeds
    ``threshold``. Edge rules: a node with fewer than 3 usable neighbours is not flagged (too few to judge
    it: isolated vectors are left to the other tests); a node that is itself NaN or not ``valid`` is not
    flagged (it is already rejected). With ``epsilon = 0`` a node that differs from a perfectly uniform
    neighbourhood is flagged.

    Parameters
    ----------
    dx, dy : array_like, shape (rows, cols)
        Displacement components on the grid, px (or any unit shared with ``epsilon``).
    threshold : float
        Largest acceptable normalized residual (OpenPIV's validation uses 3; lower is stricter).
    epsilon : float
        Noise floor added to the median residual, in the units of ``dx`` (0.1-0.2 px is typical of
        correlation noise; OpenPIV uses 0.2).
    radius : int
        Neighbourhood half-width, grid nodes (1: the 8 nodes around).
    valid : array_like of bool, shape (rows, cols), optional
        Vectors that may serve as neighbours (and be tested); default: every finite vector.

    Returns
    -------
    ndarray of bool, shape (rows, cols)
        True where the vector is an outlier.
    """
    dx = np.asarray(dx, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    if dx.ndim != 2 or dx.shape != dy.shape:
        raise ParameterError(f"dx and dy must be 2-D grids of one shape; got {dx.shape} and {dy.shape}.")
    radius = int(radius)
    if radius < 1:
        raise ParameterError(f"the median test needs radius >= 1 grid node; got {radius}.")
    usable = np.isfinite(dx) & np.isfinite(dy)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != dx.shape:
            raise ParameterError(f"valid has shape {valid.shape}; dx and dy have {dx.shape}.")
        usable &= valid
    flags = np.zeros(dx.shape, dtype=bool)
    for component in (dx, dy):
        residual = _normalized_residual(np.where(usable, component, np.nan), radius, float(epsilon))
        flags |= residual > threshold  # NaN residuals (too few neighbours) compare False
    flags &= usable
    return flags


def _normalized_residual(u: np.ndarray, radius: int, epsilon: float) -> np.ndarray:
    """Westerweel-Scarano residual of each node of ``u`` (NaN = unusable); NaN where it is undefined.

    Works on blocks of rows: the block's neighbours are gathered into an ``(n_neighbours, rows, cols)``
    float32 array, sorted along the first axis (NaN sort last) and the medians read at the counts of
    finite neighbours.
    """
    rows, cols = u.shape
    width = 2 * radius + 1
    offsets = [(di, dj) for di in range(width) for dj in range(width) if (di, dj) != (radius, radius)]
    padded = np.pad(u, radius, constant_values=np.nan)
    residual = np.empty(u.shape, dtype=np.float64)
    step = max(1, _BLOCK_VALUES // (cols * len(offsets)))
    for top in range(0, rows, step):
        bottom = min(rows, top + step)
        neighbours = np.empty((len(offsets), bottom - top, cols), dtype=np.float32)
        for k, (di, dj) in enumerate(offsets):
            neighbours[k] = padded[top + di : bottom + di, dj : dj + cols]
        count = len(offsets) - np.count_nonzero(np.isnan(neighbours), axis=0)
        neighbours.sort(axis=0)
        median = _sorted_median(neighbours, count)
        np.subtract(neighbours, median, out=neighbours)
        np.abs(neighbours, out=neighbours)
        neighbours.sort(axis=0)
        spread = _sorted_median(neighbours, count)
        centre = u[top:bottom]
        with np.errstate(invalid="ignore", divide="ignore"):
            r0 = np.abs(centre - median) / (spread + epsilon)
        r0[np.isnan(r0) & ~np.isnan(centre) & ~np.isnan(median)] = 0.0  # 0 / 0: no deviation at all
        r0[count < _MIN_NEIGHBOURS] = np.nan
        residual[top:bottom] = r0
    return residual


def _sorted_median(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median along the first axis of ``values`` sorted with NaN last, ``count`` finite values per node."""
    lower = np.maximum((count - 1) // 2, 0)[None]
    upper = np.maximum(count // 2, 0)[None]
    median = np.take_along_axis(values, lower, axis=0)
    median += np.take_along_axis(values, upper, axis=0)
    median *= 0.5
    return median[0]


def outlier_flags(
    field: xr.Dataset,
    params: TrackingParameters,
    *,
    speed: np.ndarray | xr.DataArray | None = None,
    pixel_size: tuple[float, float] | None = None,
    dt_days: float | None = None,
) -> dict[str, np.ndarray]:
    """Run every outlier test on a tracked field.

    The peak and SNR tests run on every vector. The normalized median test runs on the vectors that pass
    the tracker's own ``valid`` mask and the peak and SNR tests, so that bad matches poison neither their
    own verdict nor their neighbours' medians. The speed test runs when ``params.max_speed`` is set and either
    ``speed`` or the grid's ``pixel_size`` and ``dt_days`` are given (then on the offsets, `too_far`).

    Parameters
    ----------
    field : xarray.Dataset
        Variables ``dx``, ``dy`` (px), ``peak``, ``snr`` and ``valid`` (bool) on 2-D dims ``(row, col)`` or
        ``(y, x)``. A missing ``peak`` or ``snr`` skips its test; a missing ``valid`` means every finite
        vector.
    params : TrackingParameters
        Thresholds: ``min_peak`` (scaled to the chip size by `peak_threshold`), ``min_snr``, ``median_threshold``, ``median_epsilon``, ``median_radius``
        and ``max_speed``.
    speed : array_like or xarray.DataArray, shape of ``dx``, optional
        Speed of each vector in m/yr (a DataArray is aligned to the dims of ``dx``).
    pixel_size : (float, float), optional
        Pixel width and height, m, for the speed test on the offsets themselves.
    dt_days : float, optional
        Time between the images, days (with ``pixel_size``).

    Returns
    -------
    dict of str to ndarray of bool
        ``{"peak", "snr", "median", "speed"}`` flag arrays, each shaped like ``dx`` (in the dims order of
        ``field.dx``); True = outlier.
    """
    for name in ("dx", "dy"):
        if name not in field:
            raise TrackingError(f"outlier tests need a field with variables dx and dy; {name!r} is missing.")
    dims = field["dx"].dims
    if len(dims) != 2:
        raise TrackingError(f"outlier tests need 2-D displacement grids; dx has dims {dims}.")
    dx = field["dx"].values
    dy = field["dy"].transpose(*dims).values

    def variable(name: str) -> np.ndarray | None:
        return field[name].transpose(*dims).values if name in field else None

    no_flags = np.zeros(dx.shape, dtype=bool)
    peak, snr, valid = variable("peak"), variable("snr"), variable("valid")
    flags = {
        "peak": (
            low_peak(peak, peak_threshold(params.min_peak, params.chip_size))
            if peak is not None
            else no_flags.copy()
        ),
        "snr": low_snr(snr, params.min_snr) if snr is not None else no_flags.copy(),
    }
    usable = np.isfinite(dx) & np.isfinite(dy) & ~flags["peak"] & ~flags["snr"]
    if valid is not None:
        usable &= valid.astype(bool)
    flags["median"] = normalized_median_outliers(
        dx,
        dy,
        threshold=params.median_threshold,
        epsilon=params.median_epsilon,
        radius=params.median_radius,
        valid=usable,
    )
    if params.max_speed is None:
        flags["speed"] = no_flags.copy()
    elif speed is None:  # the limit as a displacement, where the grid and dt are known
        known = pixel_size is not None and dt_days is not None
        flags["speed"] = too_far(dx, dy, params.max_speed, pixel_size, dt_days) if known else no_flags.copy()
    else:
        values = speed.transpose(*dims).values if isinstance(speed, xr.DataArray) else np.asarray(speed)
        if values.shape != dx.shape:
            raise ParameterError(f"speed has shape {values.shape}; the field's dx has {dx.shape}.")
        flags["speed"] = too_fast(values, params.max_speed)
    return flags


def apply_outlier_tests(
    field: xr.Dataset,
    params: TrackingParameters,
    *,
    speed: np.ndarray | xr.DataArray | None = None,
    pixel_size: tuple[float, float] | None = None,
    dt_days: float | None = None,
) -> xr.Dataset:
    """A copy of ``field`` whose ``valid`` mask also rejects the outliers found by `outlier_flags`.

    Parameters
    ----------
    field : xarray.Dataset
        Tracked field: ``dx``, ``dy``, ``peak``, ``snr``, ``valid`` on dims ``(row, col)`` or ``(y, x)``.
    params : TrackingParameters
        Thresholds of the tests (see `outlier_flags`).
    speed : array_like or xarray.DataArray, optional
        Speed of each vector in m/yr, for the ``max_speed`` test.
    pixel_size, dt_days : optional
        The grid's pixel size (m) and the time between the images (days): the ``max_speed`` test on the
        offsets (`too_far`), without a speed array.

    Returns
    -------
    xarray.Dataset
        A shallow copy of ``field`` (data arrays shared, not copied) with ``valid = field.valid & ~(any
        flag)``. ``dx``, ``dy`` and the other variables are untouched, so raw values stay available.
    """
    flags = outlier_flags(field, params, speed=speed, pixel_size=pixel_size, dt_days=dt_days)
    dims = field["dx"].dims
    rejected = np.logical_or.reduce(list(flags.values()))
    if "valid" in field:
        old = field["valid"].transpose(*dims)
        valid = xr.DataArray(old.values.astype(bool) & ~rejected, dims=dims, attrs=old.attrs)
    else:
        finite = np.isfinite(field["dx"].values) & np.isfinite(field["dy"].transpose(*dims).values)
        valid = xr.DataArray(finite & ~rejected, dims=dims)
    return field.assign(valid=valid)
