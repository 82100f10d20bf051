"""`assess`: a VelocityField's error estimates and GLAFT quality metrics, and its stable-ground offset removed;
`track_and_assess`: a pair tracked, then assessed."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import xarray as xr

from tracking.exceptions import NotEnoughSamplesError
from tracking.params import TrackingParameters
from tracking.pipeline import track
from tracking.progress import ProgressCallback
from tracking.quality.kde import static_terrain_metric
from tracking.quality.stable import Area, area_mask, offset_stats, stable_ground
from tracking.quality.strain import strain_rate_metric
from tracking.scenes import Pair
from tracking.tiles import track_tiled

__all__ = ["QUALITY_ATTRS", "assess", "track_and_assess"]

#: The attrs `assess` writes, with their meaning.
QUALITY_ATTRS: dict[str, str] = {
    "stable_shift_x": "median vx on stable ground (m/yr), the offset removed when stable_shift_applied is 1",
    "stable_shift_y": "median vy on stable ground (m/yr)",
    "stable_shift_applied": "1 if the stable-ground offset was subtracted from vx, vy and v, else 0",
    "stable_shift_status": "why: removed, kept on request, kept: no stable ground found, kept: no vector on it",
    "stable_spread_x": "1.4826 x MAD of vx on stable ground (m/yr): the 1-sigma error of vx",
    "stable_spread_y": "1.4826 x MAD of vy on stable ground (m/yr): the 1-sigma error of vy",
    "stable_spread": "hypot(stable_spread_x, stable_spread_y) (m/yr): the 2-D error",
    "stable_count": "measured vectors on stable ground",
    "stable_source": "where stable ground came from: polygons, mask or slowest 25%",
    "v_error": "speed error (m/yr): median over the measured vectors of hypot(spread_x vx, spread_y vy) / v",
    "metric_static_terrain_x": "GLAFT metric 1, delta_u (m/yr): ~2-sigma noise of vx on stable ground",
    "metric_static_terrain_y": "GLAFT metric 1, delta_v (m/yr)",
    "metric_alongflow_normal": "GLAFT metric 2, delta_x'x' (1/yr, GLAFT scaling: 8 x the physical strain rate)",
    "metric_alongflow_shear": "GLAFT metric 2, delta_x'y' (1/yr, GLAFT scaling)",
    "metric_outlier_percent": "stable-ground vectors outside GLAFT's metric-1 box (%): incorrect matches",
    "metric_invalid_percent": "nodes without a measured vector (%)",
}


def assess(
    field: xr.Dataset,
    *,
    stable: Area | None = None,
    on_ice: Area | None = None,
    correct_offset: bool | None = None,
) -> xr.Dataset:
    """Error estimates and quality metrics of a VelocityField; its stable-ground offset removed.

    Measured on the measured vectors only (``valid``; interpolated ones are smooth by construction):

    - stable ground (`tracking.quality.stable_ground_stats`): the median offset, removed from ``vx``, ``vy``
      and ``v`` as autoRIFT does (by default only when the stable ground is given: polygons or a mask; the
      slowest-quarter fallback may be slow ice, whose motion is no offset), and the robust spread, the 1-sigma
      error of a vector component;
    - ``v_error``: the speed error, ``hypot(spread_x * vx, spread_y * vy) / v`` (autoRIFT's propagation),
      its median over the measured vectors;
    - GLAFT metric 1 (`tracking.quality.static_terrain_metric`) on stable ground, in m/yr (GLAFT's numbers are
      in m/day: divide by 365.25);
    - GLAFT metric 2 (`tracking.quality.strain_rate_metric`) on ``on_ice``, in 1/yr with GLAFT's scaling
      (8 x the physical strain rate, so divide by 365.25 for GLAFT's 1/day numbers, by 8 for the physical rate);
    - the outlier percentage of metric 1 (GLAFT's "incorrect matches") and the share of nodes without a measured
      vector (GLAFT's invalid percentage, 0-100).

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField (``vx``, ``vy``, ``v`` in m/yr on a north-up grid, ``valid`` if it has one, a CRS for
        polygons).
    stable : str, path-like, GeoDataFrame, GeoSeries or ndarray of bool, optional
        Stable-ground polygons (a vector file any OGR driver reads, or polygons in memory, reprojected to the
        field's CRS) or mask. Default: the slowest 25 % of the measured vectors (`stable_ground_stats`).
    on_ice : same types as ``stable``, optional
        Where to measure metric 2 (GLAFT: the glacier outline buffered 600 m inwards). Default: every node
        outside the stable-ground polygons or mask; every node when ``stable`` is None.
    correct_offset : bool, optional
        Subtract the stable-ground median from ``vx``, ``vy`` (and recompute ``v``). Default (None): when
        ``stable`` is given. True also removes the slowest quarter's median when it looks like stable ground
        (below a third of the field's 90th-percentile speed); False never removes anything.

    Returns
    -------
    xarray.Dataset
        A copy of ``field`` (offset removed when applied), with the attrs of `QUALITY_ATTRS`, all netCDF-safe
        numbers and strings; a metric with too few samples is NaN.

    Raises
    ------
    AreaError
        Polygons that cannot be read, have no CRS, or do not overlap the field.

    Examples
    --------
    >>> from tracking.testing import uniform_field
    >>> field = uniform_field(100.0, 0.0, shape=(20, 30))
    >>> noise = np.random.default_rng(0).normal(0.0, 5.0, (20, 30)).astype(np.float32)
    >>> field["vx"] = field["vx"] + noise
    >>> still = np.zeros((20, 30), dtype=bool)
    >>> still[:, :10] = True  # the western third does not move but shows a 100 m/yr offset
    >>> out = assess(field, stable=still)
    >>> out.attrs["stable_source"], out.attrs["stable_shift_applied"], round(out.attrs["stable_shift_x"])
    ('mask', 1, 100)
    >>> bool(abs(float(out["vx"][:, :10].median())) < 1.0)
    True
    """
    mask, source, usable, vx, vy, stable_area = stable_ground(field, stable)
    stats = offset_stats(vx[mask], vy[mask], source, usable)
    wanted = stable is not None if correct_offset is None else correct_offset
    apply = bool(wanted and stats["usable"] and np.isfinite(stats["shift_x"]))
    if apply:
        status = "removed"
    elif stats["count"] == 0:
        status = "kept: no vector on stable ground"
    elif not stats["usable"]:
        status = "kept: no stable ground found"  # the slowest quarter moves like the rest
    elif correct_offset is None:
        status = "kept: stable ground guessed (slowest quarter); give stable-ground polygons to remove it"
    else:
        status = "kept on request"

    out = field.copy()
    if apply:
        for name, shift in (("vx", stats["shift_x"]), ("vy", stats["shift_y"])):
            out[name] = (field[name] - shift).astype(field[name].dtype)
            out[name].attrs = field[name].attrs
        out["v"] = np.hypot(out["vx"], out["vy"]).astype(field["v"].dtype)
        out["v"].attrs = field["v"].attrs
        vx, vy = vx - stats["shift_x"], vy - stats["shift_y"]

    if on_ice is not None:
        ice = area_mask(field, on_ice, "on-ice")
    elif stable_area is not None:
        ice = ~stable_area
    else:
        ice = np.ones(vx.shape, dtype=bool)

    static = _metric(
        lambda: static_terrain_metric(vx[mask], vy[mask]), ("metric_x", "metric_y", "outlier_percent")
    )
    strain = _metric(lambda: _strain(field, vx, vy, ice), ("metric_normal", "metric_shear"))
    measured = np.isfinite(vx)
    attrs: dict[str, Any] = {
        "stable_shift_x": stats["shift_x"],
        "stable_shift_y": stats["shift_y"],
        "stable_shift_applied": int(apply),
        "stable_shift_status": status,
        "stable_spread_x": stats["spread_x"],
        "stable_spread_y": stats["spread_y"],
        "stable_spread": stats["spread"],
        "stable_count": stats["count"],
        "stable_source": stats["source"],
        "v_error": _speed_error(vx, vy, stats["spread_x"], stats["spread_y"]),
        "metric_static_terrain_x": static["metric_x"],
        "metric_static_terrain_y": static["metric_y"],
        "metric_alongflow_normal": strain["metric_normal"],
        "metric_alongflow_shear": strain["metric_shear"],
        "metric_outlier_percent": static["outlier_percent"],
        "metric_invalid_percent": 100.0 * float(1.0 - measured.mean()) if measured.size else float("nan"),
    }
    out.attrs.update(
        {key: float(value) if isinstance(value, float) else value for key, value in attrs.items()}
    )
    return out


def _metric(compute: Any, keys: tuple[str, ...]) -> dict[str, float]:
    try:
        result = compute()
    except NotEnoughSamplesError:
        return dict.fromkeys(keys, float("nan"))
    return {key: float(result[key]) for key in keys}


def track_and_assess(
    pair: Pair | tuple[Any, Any],
    params: TrackingParameters | None = None,
    *,
    tile_size: int | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    stable: Area | None = None,
    on_ice: Area | None = None,
    correct_offset: bool | None = None,
) -> xr.Dataset:
    """`tracking.pipeline.track` a pair, then `assess` the field: what the dashboard, the CLI and batches run.

    Parameters
    ----------
    pair : Pair, or (reference, secondary) with ``tile_size``
        What to track; with ``tile_size``, the two inputs of `tracking.tiles.track_tiled` (scenes or paths).
    params : TrackingParameters, optional
        The tracking parameters (defaults when None).
    tile_size : int, optional
        Track tile by tile (`tracking.tiles.track_tiled`), in bounded memory; None tracks the pair whole.
    progress, cancel
        As in `tracking.pipeline.track`.
    stable, on_ice, correct_offset
        As in `assess`.
    """
    if tile_size is None:
        field = track(pair, params, progress=progress, cancel=cancel)
    else:
        field = track_tiled(*pair, params, tile_size=tile_size, progress=progress, cancel=cancel)
    return assess(field, stable=stable, on_ice=on_ice, correct_offset=correct_offset)


def _strain(field: xr.Dataset, vx: np.ndarray, vy: np.ndarray, ice: np.ndarray) -> dict[str, float]:
    transform = field.rio.transform()
    flip = transform.e > 0  # a south-up grid: put the northern edge first, as the strain rates expect
    order = slice(None, None, -1) if flip else slice(None)
    return strain_rate_metric(
        vx[order],
        vy[order],
        spacing=(abs(transform.a), abs(transform.e)),
        on_ice=ice[order],
        glaft_scaling=True,
    )


def _speed_error(vx: np.ndarray, vy: np.ndarray, spread_x: float, spread_y: float) -> float:
    """Median over the measured vectors of autoRIFT's ``hypot(spread_x * vx, spread_y * vy) / v``."""
    speed = np.hypot(vx, vy)
    keep = np.isfinite(speed) & (speed > 0)
    if not keep.any() or not (np.isfinite(spread_x) and np.isfinite(spread_y)):
        return float("nan")
    error = np.hypot(spread_x * vx[keep], spread_y * vy[keep]) / speed[keep]
    return float(np.median(error))
