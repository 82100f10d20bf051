"""Stable ground: where it is (polygons, a mask, or the slowest quarter of the field) and what it says.

On ground that does not move, every vector is error: its median is the field's offset (a co-registration shift of
the two images), its spread the random error of a vector. autoRIFT (``testautoRIFT.generateAutoriftProduct``)
measures both on a stable-surface mask, else on the slowest 25 % of a reference speed map, and removes the median.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from rasterio.features import geometry_mask
from scipy import ndimage

from tracking.exceptions import AreaError

__all__ = [
    "MAD_TO_SIGMA",
    "SLOW_FRACTION",
    "Area",
    "area_mask",
    "measured_vectors",
    "offset_stats",
    "polygon_mask",
    "read_polygons",
    "stable_ground",
    "stable_ground_mask",
    "stable_ground_stats",
]

#: Scale from a median absolute deviation to the standard deviation of a normal distribution.
MAD_TO_SIGMA = 1.4826
#: Share of the measured vectors taken as stable ground when no polygons are given (autoRIFT's slowest 25 %).
SLOW_FRACTION = 0.25
#: Side of the window (nodes) the field is averaged over before picking its slowest vectors.
_SLOW_WINDOW = 7
#: The slowest quarter counts as stable ground (its median offset may be removed) only when its median speed is
#: below this share of the field's 90th-percentile speed: a field that moves everywhere has no stable ground.
_CONTRAST = 1.0 / 3.0

#: What `area_mask` accepts: a vector file, polygons, a boolean mask of the field's shape.
Area = str | os.PathLike[str] | gpd.GeoDataFrame | gpd.GeoSeries | np.ndarray


def read_polygons(
    source: str | os.PathLike[str] | gpd.GeoDataFrame | gpd.GeoSeries, what: str = "area"
) -> gpd.GeoSeries:
    """The polygons of a vector file or GeoDataFrame, checked: a CRS, at least one polygon.

    Parameters
    ----------
    source : str, path-like, GeoDataFrame or GeoSeries
        Any vector file GDAL/OGR reads (shapefile, GeoPackage, GeoJSON, ...), or polygons in memory.
    what : str
        What the polygons are, for error messages.

    Returns
    -------
    geopandas.GeoSeries
        The polygon geometries (empty and non-polygon geometries dropped), in their own CRS.

    Raises
    ------
    AreaError
        The file is missing or unreadable, has no CRS, or holds no polygon.
    """
    name = "the GeoDataFrame"
    if isinstance(source, gpd.GeoDataFrame | gpd.GeoSeries):
        geoms = source.geometry if isinstance(source, gpd.GeoDataFrame) else source
    else:
        path = Path(source)
        name = str(path)
        if not path.exists():
            raise AreaError(f"{what} file {path}: no such file.")
        try:
            geoms = gpd.read_file(path).geometry
        except (RuntimeError, OSError, ValueError) as err:  # pyogrio's errors are RuntimeErrors
            raise AreaError(
                f"cannot read the {what} polygons in {path} ({err}): give a vector file GDAL/OGR can open "
                "(shapefile with its .shx/.dbf/.prj, GeoPackage, GeoJSON)."
            ) from None
    if geoms.crs is None:
        raise AreaError(
            f"the {what} polygons in {name} have no coordinate reference system: add one (a .prj next to a "
            "shapefile, or GeoDataFrame.set_crs) so they can be put on the field's grid."
        )
    polygons = geoms[~geoms.is_empty & geoms.notna() & geoms.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        raise AreaError(f"{name} holds no polygon for the {what}: give polygons (not points or lines).")
    return polygons


def polygon_mask(
    polygons: gpd.GeoSeries, crs: Any, transform: Affine, shape: tuple[int, int], what: str = "area"
) -> np.ndarray:
    """Grid nodes whose centre lies inside the polygons (as ``rasterio.mask.mask``, which GLAFT uses).

    Parameters
    ----------
    polygons : geopandas.GeoSeries
        Polygons with a CRS (`read_polygons`); reprojected to ``crs``.
    crs : CRS-like
        The grid's CRS.
    transform : affine.Affine
        The grid's pixel-corner transform.
    shape : (int, int)
        The grid's (rows, cols).
    what : str
        What the polygons are, for error messages.

    Returns
    -------
    ndarray of bool
        True inside.

    Raises
    ------
    AreaError
        The grid has no CRS, or no node centre lies inside the polygons.
    """
    if crs is None:
        raise AreaError(
            f"the field has no coordinate reference system, so the {what} polygons cannot be placed "
            "on it: write one with field.rio.write_crs."
        )
    on_grid = polygons.to_crs(crs)
    inside = geometry_mask(list(on_grid), out_shape=shape, transform=transform, invert=True)
    if not inside.any():
        left, bottom, right, top = _grid_bounds(transform, shape)
        px0, py0, px1, py1 = on_grid.total_bounds
        raise AreaError(
            f"the {what} polygons do not overlap the field (no node centre inside them): the field covers "
            f"x {left:.0f} to {right:.0f}, y {bottom:.0f} to {top:.0f}, the polygons x {px0:.0f} to {px1:.0f}, "
            f"y {py0:.0f} to {py1:.0f} (in {crs}); give polygons on the field's area."
        )
    return inside


def _grid_bounds(transform: Affine, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    xs, ys = zip(*(transform * corner for corner in ((0, 0), (shape[1], shape[0]))), strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def _field_grid(field: xr.Dataset) -> tuple[Any, Affine, tuple[int, int]]:
    return field.rio.crs, field.rio.transform(), (field.sizes["y"], field.sizes["x"])


def area_mask(field: xr.Dataset, area: Area, what: str = "area") -> np.ndarray:
    """The nodes of ``field`` inside ``area``.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField (dims ``y``, ``x``, a CRS for polygons).
    area : str, path-like, GeoDataFrame, GeoSeries or ndarray of bool
        A vector file or polygons (reprojected to the field's CRS; a node is inside when its centre is), or a
        boolean mask of shape ``(y, x)``.
    what : str
        What the area is, for error messages.

    Returns
    -------
    ndarray of bool, shape (y, x)

    Raises
    ------
    AreaError
        See `read_polygons` and `polygon_mask`; or a mask of the wrong shape.
    """
    crs, transform, shape = _field_grid(field)
    if isinstance(area, np.ndarray):
        if area.shape != shape:
            raise AreaError(f"the {what} mask has shape {area.shape}; the field's grid is {shape}.")
        return area.astype(bool)
    return polygon_mask(read_polygons(area, what), crs, transform, shape, what)


def measured_vectors(field: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """``vx`` and ``vy`` (float64, dims ``y``, ``x``) where measured (``valid``, when the field has it), else NaN.

    Interpolated vectors are left out: they are smooth by construction and would hide the noise the error
    estimates and metrics measure.
    """
    vx = field["vx"].transpose("y", "x").values.astype(np.float64)
    vy = field["vy"].transpose("y", "x").values.astype(np.float64)
    keep = np.isfinite(vx) & np.isfinite(vy)
    if "valid" in field:
        keep &= field["valid"].transpose("y", "x").values.astype(bool)
    return np.where(keep, vx, np.nan), np.where(keep, vy, np.nan)


def _local_mean(values: np.ndarray) -> np.ndarray:
    """NaN-aware mean over a ``_SLOW_WINDOW`` square window."""
    finite = np.isfinite(values)
    total = ndimage.uniform_filter(np.where(finite, values, 0.0), _SLOW_WINDOW, mode="constant")
    count = ndimage.uniform_filter(finite.astype(np.float64), _SLOW_WINDOW, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan)


def _slowest(vx: np.ndarray, vy: np.ndarray) -> tuple[np.ndarray, bool]:
    """The slowest `SLOW_FRACTION` of the measured vectors, and whether they look like stable ground.

    The vectors are ranked by the speed of the locally averaged field (a 7 x 7 window), not by their own speed:
    ranking by their own speed would keep the vectors whose noise happens to be small and so shrink the
    spread measured on them (to about 0.4 of the true one for Gaussian noise) and pull the median offset to zero.
    """
    measured = np.isfinite(vx) & np.isfinite(vy)
    if not measured.any():
        return measured, False
    smooth = np.hypot(_local_mean(vx), _local_mean(vy))[measured]
    limit = np.quantile(smooth, SLOW_FRACTION)
    slow = np.zeros_like(measured)
    slow[measured] = smooth <= limit
    speed = np.hypot(vx, vy)[measured]
    contrast = float(np.median(np.hypot(vx, vy)[slow])) < _CONTRAST * float(np.quantile(speed, 0.9))
    return slow, contrast


def stable_ground(
    field: xr.Dataset, stable: Area | None
) -> tuple[np.ndarray, str, bool, np.ndarray, np.ndarray, np.ndarray | None]:
    """Stable-ground mask (measured nodes only), its source, whether its offset may be removed, the measured
    vx and vy, and the nodes inside the given area (None for the fallback).

    `stable_ground_mask` and `stable_ground_stats` in one pass, with what `tracking.quality.assess` needs besides.
    """
    vx, vy = measured_vectors(field)
    if stable is None:
        mask, usable = _slowest(vx, vy)
        return mask, "slowest 25%", usable, vx, vy, None
    inside = area_mask(field, stable, "stable-ground")
    source = "mask" if isinstance(stable, np.ndarray) else "polygons"
    return inside & np.isfinite(vx) & np.isfinite(vy), source, True, vx, vy, inside


def stable_ground_mask(field: xr.Dataset, stable: Area | None = None) -> np.ndarray:
    """The nodes on stable ground that hold a measured vector.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField (``vx``, ``vy`` in m/yr; ``valid`` if it has one).
    stable : str, path-like, GeoDataFrame, GeoSeries or ndarray of bool, optional
        Stable-ground polygons: a vector file any OGR driver reads, or polygons in memory, reprojected to the
        field's CRS; or a boolean mask of the field's shape. Default: the slowest 25 % of the measured vectors,
        ranked by the speed of the field averaged over 7 x 7 nodes (see `stable_ground_stats`).

    Returns
    -------
    ndarray of bool, shape (y, x)

    Raises
    ------
    AreaError
        Polygons that cannot be read, have no CRS, or do not overlap the field.

    Examples
    --------
    >>> from tracking.testing import uniform_field
    >>> field = uniform_field(50.0, 0.0, shape=(20, 40))
    >>> field["vx"][:, :20] = 0.0  # the western half does not move
    >>> field["vx"] = field["vx"] + np.random.default_rng(0).normal(0.0, 2.0, (20, 40))
    >>> mask = stable_ground_mask(field)
    >>> int(mask.sum()), bool(mask[:, :20].sum() == mask.sum())  # a quarter of the nodes, all in the west
    (200, True)
    """
    return stable_ground(field, stable)[0]


def stable_ground_stats(field: xr.Dataset, stable: Area | None = None) -> dict[str, Any]:
    """Median offset and robust spread of the measured vectors on stable ground, m/yr.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField.
    stable : str, path-like, GeoDataFrame, GeoSeries or ndarray of bool, optional
        Stable ground, as for `stable_ground_mask`. Without it the slowest 25 % of the measured vectors stand in
        (autoRIFT's fallback, ranked here on the field itself for want of a reference speed map); they are
        trusted as stable (``usable``) only when their median speed is below a third of the field's 90th
        percentile speed: in a field that moves everywhere (uniform drift, all ice) they are not stable ground.

    Returns
    -------
    dict
        - ``shift_x``, ``shift_y``: median vx, vy on stable ground (the offset to remove), m/yr;
        - ``spread_x``, ``spread_y``: 1.4826 x the median absolute deviation of vx, vy, m/yr (the standard
          deviation of a vector's error, robust to outliers);
        - ``spread``: ``hypot(spread_x, spread_y)``, the 2-D spread (RMS length of the error vector), m/yr;
        - ``count``: measured vectors on stable ground;
        - ``source``: ``"polygons"``, ``"mask"`` or ``"slowest 25%"``;
        - ``usable``: whether the offset may be removed (always for polygons and masks).

        The numbers are NaN when ``count`` is 0.

    Raises
    ------
    AreaError
        Polygons that cannot be read, have no CRS, or do not overlap the field.

    Examples
    --------
    >>> from tracking.testing import uniform_field
    >>> stats = stable_ground_stats(uniform_field(3.0, -2.0, shape=(8, 10)))  # moves everywhere
    >>> stats["shift_x"], stats["spread_x"], stats["source"], stats["usable"]
    (3.0, 0.0, 'slowest 25%', False)
    """
    mask, source, usable, vx, vy, _ = stable_ground(field, stable)
    return offset_stats(vx[mask], vy[mask], source, usable)


def offset_stats(x: np.ndarray, y: np.ndarray, source: str, usable: bool) -> dict[str, Any]:
    """The dict of `stable_ground_stats` for the stable-ground velocities ``x`` and ``y`` (m/yr)."""
    count = int(x.size)
    if count == 0:
        nan = float("nan")
        return {
            "shift_x": nan,
            "shift_y": nan,
            "spread_x": nan,
            "spread_y": nan,
            "spread": nan,
            "count": 0,
            "source": source,
            "usable": False,
        }
    shift_x, shift_y = float(np.median(x)), float(np.median(y))
    spread_x = MAD_TO_SIGMA * float(np.median(np.abs(x - shift_x)))
    spread_y = MAD_TO_SIGMA * float(np.median(np.abs(y - shift_y)))
    return {
        "shift_x": shift_x,
        "shift_y": shift_y,
        "spread_x": spread_x,
        "spread_y": spread_y,
        "spread": float(np.hypot(spread_x, spread_y)),
        "count": count,
        "source": source,
        "usable": usable,
    }
