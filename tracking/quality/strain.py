"""GLAFT's metric 2: the variability of the along-flow normal and shear strain rates on ice."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.signal import medfilt2d

from tracking.exceptions import ParameterError
from tracking.quality.kde import kde_box

__all__ = ["SOBEL_GAIN", "flow_kernel_size", "strain_rate_metric", "strain_rates"]

#: Gain of `scipy.ndimage.sobel` on a unit ramp (its kernel is [1, 2, 1] x [-1, 0, 1], not normalized): GLAFT's
#: strain rates are this many times the physical ones.
SOBEL_GAIN = 8.0
#: Length the flow direction is smoothed over (GLAFT: 1500 m), and the largest median-filter kernel (35 nodes).
_FLOW_SMOOTHING_M = 1500.0
_MAX_KERNEL = 35


def flow_kernel_size(spacing_x: float) -> int:
    """GLAFT's median-filter size for the flow direction: ``odd(1500 m / spacing)``, at most 35.

    Examples
    --------
    >>> flow_kernel_size(60.0), flow_kernel_size(240.0), flow_kernel_size(10.0), flow_kernel_size(2000.0)
    (25, 7, 35, 1)
    """
    size = int(_FLOW_SMOOTHING_M / spacing_x // 2 * 2 + 1)
    return min(size, _MAX_KERNEL)


def _spacings(spacing: float | tuple[float, float]) -> tuple[float, float]:
    dx, dy = (spacing, spacing) if np.ndim(spacing) == 0 else tuple(spacing)  # type: ignore[misc]
    dx, dy = abs(float(dx)), abs(float(dy))
    if not (np.isfinite(dx) and np.isfinite(dy) and dx > 0 and dy > 0):
        raise ParameterError(
            f"spacing must be a positive grid spacing in metres (or a pair); got {spacing!r}."
        )
    return dx, dy


def strain_rates(
    vx: np.ndarray,
    vy: np.ndarray,
    *,
    spacing: float | tuple[float, float],
    on_ice: np.ndarray | None = None,
    glaft_scaling: bool = True,
) -> dict[str, np.ndarray]:
    """Strain rates in the flow frame, as GLAFT's ``longitudinal_shear_analysis`` computes them.

    1. ``vx``, ``vy`` are clipped to ``on_ice`` (NaN elsewhere and where either is not finite);
    2. the flow direction ``theta = arctan2(vy, vx)`` of the *unclipped* field is smoothed with
       `scipy.signal.medfilt2d` (kernel `flow_kernel_size`, zero padding, a plain median of angles as in GLAFT),
       then set to NaN off the clipped field; a non-finite vector takes the direction 0 (east) before the filter;
    3. the clipped arrays are flipped to Cartesian row order (``np.flipud``) and differentiated with
       `scipy.ndimage.sobel` (``mode='constant', cval=nan``): ``exx = d(vx)/dx``, ``eyy = d(vy)/dy``,
       ``exy = (d(vx)/dy + d(vy)/dx) / 2``, each Sobel output divided by the spacing only, then flipped back;
    4. they are rotated to the flow axes: ``exx' = exx cos^2 + eyy sin^2 + exy sin 2theta``,
       ``exy' = (eyy - exx) sin 2theta / 2 + exy cos 2theta``.

    Parameters
    ----------
    vx, vy : ndarray (rows, cols)
        Velocity components (east, north) on a north-up grid, row 0 the northern edge (the GeoTIFF and
        VelocityField order); NaN marks no data.
    spacing : float or (float, float)
        Node spacing in metres, or ``(dx, dy)``.
    on_ice : ndarray of bool (rows, cols), optional
        Where to measure (default: everywhere).
    glaft_scaling : bool, default True
        Keep the gain of the un-normalized Sobel operator (`SOBEL_GAIN`, 8): the results are then GLAFT's
        numbers, 8 times the physical strain rates. False divides it out: physical strain rates, in the velocity
        unit per metre (1/yr for m/yr).

    Returns
    -------
    dict of ndarray
        ``exx``, ``eyy``, ``exy`` (map frame), ``flow_exx``, ``flow_exy`` (flow frame: along-flow normal and
        shear) and ``theta`` (smoothed flow direction, radians counter-clockwise from east), NaN off the area.
    """
    vx = np.asarray(vx, dtype=np.float64)
    vy = np.asarray(vy, dtype=np.float64)
    if vx.ndim != 2 or vx.shape != vy.shape:
        raise ParameterError(f"vx and vy must be 2-D arrays of one shape; got {vx.shape} and {vy.shape}.")
    dx, dy = _spacings(spacing)
    area = np.ones(vx.shape, dtype=bool) if on_ice is None else np.asarray(on_ice, dtype=bool)
    if area.shape != vx.shape:
        raise ParameterError(f"on_ice must have the field's shape {vx.shape}; got {area.shape}.")
    finite = np.isfinite(vx) & np.isfinite(vy)
    inside = area & finite
    nan = np.full(vx.shape, np.nan)
    out = {name: nan.copy() for name in ("exx", "eyy", "exy", "flow_exx", "flow_exy", "theta")}
    if not inside.any():
        return out

    kernel = flow_kernel_size(dx)
    # work on the area's bounding box, widened by the filter's reach: the results inside are unchanged
    margin = max(kernel // 2, 1)
    rows, cols = np.nonzero(inside)
    box = (
        slice(max(rows.min() - margin, 0), rows.max() + margin + 1),
        slice(max(cols.min() - margin, 0), cols.max() + margin + 1),
    )
    angle = np.where(finite[box], np.arctan2(vy[box], vx[box]), 0.0)
    theta = medfilt2d(angle, kernel)
    clip_x = np.where(inside[box], vx[box], np.nan)
    clip_y = np.where(inside[box], vy[box], np.nan)
    theta[~inside[box]] = np.nan

    flip_x, flip_y = np.flipud(clip_x), np.flipud(clip_y)
    gain = 1.0 if glaft_scaling else SOBEL_GAIN

    def derivative(values: np.ndarray, axis: int, step: float) -> np.ndarray:
        return np.flipud(ndimage.sobel(values, axis=axis, mode="constant", cval=np.nan)) / (step * gain)

    exx = derivative(flip_x, 1, dx)
    eyy = derivative(flip_y, 0, dy)
    exy = 0.5 * (derivative(flip_x, 0, dy) + derivative(flip_y, 1, dx))
    cos2, sin2 = np.cos(theta) ** 2, np.sin(theta) ** 2
    sin_2t, cos_2t = np.sin(2 * theta), np.cos(2 * theta)
    pieces = {
        "exx": exx,
        "eyy": eyy,
        "exy": exy,
        "theta": theta,
        "flow_exx": exx * cos2 + eyy * sin2 + exy * sin_2t,
        "flow_exy": 0.5 * (eyy - exx) * sin_2t + exy * cos_2t,
    }
    for name, values in pieces.items():
        out[name][box] = values
    return out


def strain_rate_metric(
    vx: np.ndarray,
    vy: np.ndarray,
    *,
    spacing: float | tuple[float, float],
    on_ice: np.ndarray | None = None,
    thres_sigma: float = 2.0,
    kde_gridsize: int = 60,
    glaft_scaling: bool = True,
) -> dict[str, float]:
    """GLAFT's metric 2: the variability of the along-flow normal and shear strain rates.

    Follows ``glaft.Velocity.longitudinal_shear_analysis`` (GLAFT ``glaft/metrics.py``, class defaults): the
    flow-frame strain rates of `strain_rates`, then `kde_box` on the finite ``(exx', exy')`` pairs. A smooth
    flow gives small values; noise and mismatches widen the scatter.

    Parameters
    ----------
    vx, vy : ndarray (rows, cols)
        Velocity components (east, north), row 0 the northern edge; NaN marks no data.
    spacing : float or (float, float)
        Node spacing in metres, or ``(dx, dy)``.
    on_ice : ndarray of bool (rows, cols), optional
        The on-ice area to measure (GLAFT: the glacier outline buffered inwards); default everywhere.
    thres_sigma : float, default 2.0
        Threshold of `kde_box`, Gaussian standard deviations.
    kde_gridsize : int, default 60
        Nodes along each axis of `kde_box`'s meshes.
    glaft_scaling : bool, default True
        True: GLAFT's numbers, which keep the gain 8 of the un-normalized Sobel operator (`SOBEL_GAIN`), in
        the velocity unit per metre (1/day for m/day; GLAFT's published thresholds, e.g. 0.004 1/day, are in
        these units). False: physical strain rates, 1/8 of those (1/yr for m/yr).

    Returns
    -------
    dict
        ``metric_normal`` and ``metric_shear`` (GLAFT's delta_x'x' and delta_x'y', the box half-widths),
        ``kdepeak_normal``, ``kdepeak_shear``, ``outlier_percent`` (0-100), ``n`` (samples) and
        ``kernel_size`` (of the flow-direction median filter).

    Raises
    ------
    NotEnoughSamplesError
        Fewer than 10 nodes with a strain rate (each needs its 8 neighbours on the area).
    ParameterError
        Bad shapes, spacing, ``thres_sigma`` or ``kde_gridsize``.

    Examples
    --------
    A uniform stretch of 0.01 /yr along x, with a little noise:

    >>> rng = np.random.default_rng(0)
    >>> x = np.arange(80) * 100.0
    >>> vx = np.tile(100 + 0.01 * x, (60, 1)) + rng.normal(0, 0.05, (60, 80))
    >>> result = strain_rate_metric(vx, np.zeros((60, 80)), spacing=100.0, glaft_scaling=False)
    >>> round(result["kdepeak_normal"], 3)
    0.01
    """
    rates = strain_rates(vx, vy, spacing=spacing, on_ice=on_ice, glaft_scaling=glaft_scaling)
    box = kde_box(
        rates["flow_exx"],
        rates["flow_exy"],
        thres_sigma=thres_sigma,
        kde_gridsize=kde_gridsize,
        what="strain rates (nodes whose 3 x 3 neighbourhood is on the area)",
    )
    return {
        "metric_normal": box["half_a"],
        "metric_shear": box["half_b"],
        "kdepeak_normal": box["peak_a"],
        "kdepeak_shear": box["peak_b"],
        "outlier_percent": box["outlier_percent"],
        "n": box["n"],
        "kernel_size": flow_kernel_size(_spacings(spacing)[0]),
    }
