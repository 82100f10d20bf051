"""Velocity time series at points: sample a stack of VelocityFields at named places.

`sample_fields` takes the fields of many pairs and a table of points (longitude, latitude) and returns one row
per (field, point) with the velocity at the grid node nearest the point (or the mean of the components over a
small window), the pair's dates and the quality flags; `write_csv` saves such a table.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS as ProjCRS
from pyproj import Transformer

from tracking.exceptions import ParameterError, TrackingError
from tracking.files import atomic_path
from tracking.schema import SERIES_COLUMNS, SERIES_DTYPES, SPEED_COLUMNS, empty_series
from tracking.times import utc_naive
from tracking.velocity import vectors

__all__ = ["is_own", "sample_fields", "write_csv"]


def is_own(source: object) -> bool:
    """Whether a field's or a series row's ``source`` is icetrack's own tracking (not ITS_LIVE or another product).

    Empty sources count as our own (fields made before sources were recorded).

    Examples
    --------
    >>> is_own("icetrack feature tracking (normalized cross-correlation)"), is_own("ITS_LIVE"), is_own("")
    (True, False, True)
    """
    text = "" if source is None else str(source)
    return not text or text.startswith("icetrack")


def sample_fields(
    fields: Sequence[xr.Dataset],
    points: pd.DataFrame,
    *,
    layer: Literal["raw", "masked", "filled"] = "filled",
    radius: int = 0,
) -> pd.DataFrame:
    """The velocity of each field at each point: a time series per point.

    Parameters
    ----------
    fields : sequence of xarray.Dataset
        VelocityFields (`tracking.velocity`), each with its CRS (``field.rio.crs``) and the attrs
        ``acquisition_date_img1`` / ``acquisition_date_img2``. Optional attrs: ``label`` (a name for the pair),
        ``source`` and ``v_error`` (an error estimate, m/yr).
    points : pandas.DataFrame
        Columns ``name``, ``lon``, ``lat`` (degrees, EPSG:4326).
    layer : {"raw", "masked", "filled"}
        Which vectors to sample (`tracking.velocity.vectors`).
    radius : int
        0: the nearest grid node. ``r > 0``: the NaN-ignoring mean of ``vx`` and of ``vy`` over the
        ``(2r + 1) x (2r + 1)`` nodes around it (clipped at the grid's edge); ``v`` is the magnitude of that mean
        vector, never a mean of speeds.

    Returns
    -------
    pandas.DataFrame
        One row per (field, point), columns `SERIES_COLUMNS`: ``point`` (the name), ``lon``, ``lat``, ``x``, ``y``
        (the point in the field's CRS, m), ``t0``, ``t1``, ``mid_date`` (Timestamps), ``dt_days``, ``v``, ``vx``,
        ``vy`` (m/yr), ``valid``, ``interpolated`` and ``peak`` at the node, ``label``, ``source`` and
        ``v_error`` (m/yr, NaN when unknown). A point more than half a node spacing outside a field's grid gets
        NaN velocities, NaN peak and False flags. Sorted by point, then ``mid_date``.

    Raises
    ------
    ParameterError
        ``points`` lacks a column, ``radius`` is negative, or ``layer`` is unknown.
    TrackingError
        A field has no CRS.
    """
    if radius < 0:
        raise ParameterError(f"radius must be 0 (nearest node) or more, got {radius}.")
    if layer not in ("raw", "masked", "filled"):
        raise ParameterError(f"layer must be 'raw', 'masked' or 'filled', not {layer!r}.")
    missing = [c for c in ("name", "lon", "lat") if c not in points.columns]
    if missing:
        raise ParameterError(
            f"the points table lacks the column(s) {', '.join(missing)}: give one row per point with columns "
            "name, lon, lat (degrees, EPSG:4326)."
        )
    names = points["name"].astype(str).to_numpy()
    lons = points["lon"].to_numpy(dtype=np.float64)
    lats = points["lat"].to_numpy(dtype=np.float64)
    records: list[dict[str, Any]] = []
    for field in fields:
        records.extend(_sample_one(field, names, lons, lats, layer, int(radius)))
    if not records:
        return empty_series()
    table = pd.DataFrame.from_records(records, columns=list(SERIES_COLUMNS)).astype(SERIES_DTYPES)
    return table.sort_values(["point", "mid_date"], kind="stable").reset_index(drop=True)


def _sample_one(
    field: xr.Dataset, names: np.ndarray, lons: np.ndarray, lats: np.ndarray, layer: str, radius: int
) -> list[dict[str, Any]]:
    crs = field.rio.crs
    if crs is None:
        raise TrackingError(
            "a velocity field has no CRS: read it with tracking.read_field() or build it with tracking.track(), "
            "which record it."
        )
    xs, ys = Transformer.from_crs(
        ProjCRS.from_epsg(4326), ProjCRS.from_wkt(crs.to_wkt()), always_xy=True
    ).transform(lons, lats)
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    view = vectors(field, layer)  # type: ignore[arg-type]
    vx_grid = np.asarray(view["vx"].transpose("y", "x").values, dtype=np.float64)
    vy_grid = np.asarray(view["vy"].transpose("y", "x").values, dtype=np.float64)
    valid = _flag(field, "valid")
    interpolated = _flag(field, "interpolated")
    peak = (
        np.asarray(field["peak"].transpose("y", "x").values, dtype=np.float64)
        if "peak" in field
        else np.full(vx_grid.shape, np.nan)
    )
    rows = _nearest(field["y"].values, ys)
    cols = _nearest(field["x"].values, xs)
    t0, t1 = _time(field, "acquisition_date_img1"), _time(field, "acquisition_date_img2")
    dt_days = float(field.attrs.get("date_dt", (t1 - t0) / pd.Timedelta(days=1)))
    mid = _time(field, "date_center") if "date_center" in field.attrs else t0 + (t1 - t0) / 2
    label = field.attrs.get("label") or f"{t0:%Y-%m-%d} – {t1:%Y-%m-%d}"
    common = {
        "t0": t0,
        "t1": t1,
        "mid_date": mid,
        "dt_days": dt_days,
        "label": str(label),
        "source": str(field.attrs.get("source", "icetrack")),
        "v_error": _float(field.attrs.get("v_error")),
    }
    out = []
    for k in range(names.size):
        i, j = rows[k], cols[k]
        record = {"point": names[k], "lon": lons[k], "lat": lats[k], "x": xs[k], "y": ys[k], **common}
        if i < 0 or j < 0:
            record.update(v=np.nan, vx=np.nan, vy=np.nan, valid=False, interpolated=False, peak=np.nan)
        else:
            window = (slice(max(i - radius, 0), i + radius + 1), slice(max(j - radius, 0), j + radius + 1))
            vx, vy = _mean(vx_grid[window]), _mean(vy_grid[window])
            record.update(
                v=float(np.hypot(vx, vy)),
                vx=vx,
                vy=vy,
                valid=bool(valid[i, j]),
                interpolated=bool(interpolated[i, j]),
                peak=float(peak[i, j]),
            )
        out.append(record)
    return out


def _nearest(coords: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the nearest coordinate to each value; -1 beyond half a spacing outside the outer nodes."""
    coords = np.asarray(coords, dtype=np.float64)
    if coords.size == 0:
        return np.full(values.shape, -1, dtype=np.int64)
    index = np.abs(coords[None, :] - values[:, None]).argmin(axis=1)
    half = 0.5 * (float(np.abs(np.diff(coords)).min()) if coords.size > 1 else np.inf)
    outside = ~(np.abs(coords[index] - values) <= half)  # NaN (unprojectable point) counts as outside
    return np.where(outside, -1, index)


def _mean(values: np.ndarray) -> float:
    """NaN-ignoring mean, NaN (without a warning) when every value is NaN."""
    finite = np.isfinite(values)
    count = int(finite.sum())
    return float(values[finite].sum() / count) if count else float("nan")


def _flag(field: xr.Dataset, name: str) -> np.ndarray:
    if name not in field:
        return np.zeros((field.sizes["y"], field.sizes["x"]), dtype=bool)
    return np.asarray(field[name].transpose("y", "x").values, dtype=bool)


def _time(field: xr.Dataset, attr: str) -> pd.Timestamp:
    if attr not in field.attrs:
        raise TrackingError(
            f"a velocity field lacks the {attr!r} attr: sample fields made by tracking.track() or read with "
            "tracking.read_field()."
        )
    return utc_naive(str(field.attrs[attr]))


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def write_csv(series: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a series table as CSV, atomically: ISO 8601 times, speeds rounded to 0.1 m/yr.

    Parameters
    ----------
    series : pandas.DataFrame
        A table from `sample_fields` (other columns are written as they are).
    path : str or path-like
        Destination; its directory must exist. Replaced if it exists.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    table = series.copy()
    for name in ("t0", "t1", "mid_date"):
        if name in table:
            table[name] = pd.to_datetime(table[name]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    for name in SPEED_COLUMNS:
        if name in table:
            table[name] = table[name].astype(float).round(1)
    with atomic_path(path, write_only=True) as tmp:
        table.to_csv(tmp, index=False)
    return path
