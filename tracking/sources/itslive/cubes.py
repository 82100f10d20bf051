"""ITS_LIVE Zarr datacubes: open one lazily (`open_cube`) and read a point's velocity series (`cube_series`).

Only the consolidated metadata and the nearest cell's values are read; the cell's pairs become the series
table (`tracking.schema.SERIES_COLUMNS`), and read failures become icetrack errors.
"""

from __future__ import annotations

import math
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS as ProjCRS

from tracking.exceptions import (
    AuthenticationError,
    MissingAssetError,
    NoNetworkError,
    NoOverlapError,
    RemoteError,
    TrackingError,
)
from tracking.schema import empty_series
from tracking.sources import http
from tracking.sources.itslive.catalog import find_cube
from tracking.sources.itslive.common import (
    FILL_VALUE,
    NEEDS_INTERNET,
    SOURCE,
    as_series,
    https_url,
    naive_utc,
    parse_time,
    series_label,
    time_window,
    to_crs_transformer,
)

__all__ = ["cube_series", "open_cube"]

_CUBE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    ValueError,
    KeyError,
    TypeError,
    aiohttp.ClientError,
)
_CUBE_VARIABLES = (
    "v",
    "vx",
    "vy",
    "v_error",
    "date_dt",
    "acquisition_date_img1",
    "acquisition_date_img2",
    "satellite_img1",
    "mission_img1",
)


def open_cube(zarr_url: str) -> xr.Dataset:
    """Open an ITS_LIVE Zarr datacube lazily (consolidated metadata; nothing but the metadata is read).

    Parameters
    ----------
    zarr_url : str
        A local ``.zarr`` directory, an ``http(s)://`` URL (read with fsspec), or ``s3://its-live-data/...``
        (read anonymously over https).

    Returns
    -------
    xarray.Dataset
        The cube, as stored (``date_dt`` left in days, not decoded to timedeltas).

    Raises
    ------
    MissingAssetError
        Nothing there (or no consolidated metadata).
    NoNetworkError
        The host cannot be reached.
    TrackingError
        Not a Zarr store.
    """
    url = https_url(str(zarr_url))
    remote = urlsplit(url).scheme.lower() in ("http", "https")
    kwargs: dict[str, Any] = {
        "engine": "zarr",
        "consolidated": True,
        "chunks": None,
        "decode_timedelta": False,
    }
    if remote:
        kwargs["storage_options"] = {"headers": {"User-Agent": http.USER_AGENT}}
    elif not Path(url).exists():
        raise MissingAssetError(f"no datacube at {url}: give the path or URL of a .zarr store.")
    try:
        try:  # ITS_LIVE cubes are Zarr v2: do not probe for zarr.json (a public bucket may answer 403)
            return xr.open_dataset(url, zarr_format=2, **kwargs)
        except FileNotFoundError:
            return xr.open_dataset(url, **kwargs)
    except _CUBE_ERRORS as err:
        raise _cube_error(err, url) from None


def _cube_error(err: BaseException, url: str) -> TrackingError:
    """The icetrack error for a failure to open or read the datacube at ``url``."""
    what = f"the ITS_LIVE datacube {http.redact(url)}"
    host = urlsplit(url).netloc or url
    if isinstance(err, aiohttp.ClientResponseError):
        if err.status in (401, 403):
            return AuthenticationError(
                f"{what}: {host} refused access (HTTP {err.status}); the ITS_LIVE bucket is public, so check "
                "the URL."
            )
        if err.status in (404, 410):
            return MissingAssetError(f"{what} is not there (HTTP {err.status}): check the URL.")
        return RemoteError(f"{what}: {host} answered HTTP {err.status}; try again later.")
    if _is_connection_error(err):
        return NoNetworkError(
            f"no network: could not reach {host} ({what}); {NEEDS_INTERNET}: check the connection."
        )
    if isinstance(err, FileNotFoundError):
        return MissingAssetError(
            f"{what} is not there, or is not a Zarr store with consolidated metadata: check the URL, or find "
            "the cube again with find_cube()."
        )
    return TrackingError(f"{what} could not be read as a Zarr datacube ({_short(err)}).")


def _is_connection_error(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) is a failure to reach the host."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, aiohttp.ClientConnectionError | ConnectionError | TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _short(err: BaseException) -> str:
    return http.redact(" ".join(str(err).split()))[:200] or type(err).__name__


def cube_series(
    lon: float,
    lat: float,
    *,
    name: str = "ITS_LIVE",
    zarr_url: str | None = None,
    catalog: str | os.PathLike[str] | None = None,
    start: str | date | datetime | pd.Timestamp | None = None,
    end: str | date | datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The ITS_LIVE velocity time series at a point, from the nearest cell of its datacube.

    Parameters
    ----------
    lon, lat : float
        The point, degrees.
    name : str
        The ``point`` name in the table.
    zarr_url : str, optional
        The cube; default the one `find_cube` finds (in ``catalog``).
    catalog : str or path-like, optional
        Passed to `find_cube`.
    start, end : date-like, optional
        Keep the pairs whose mid date is in this window (a date-only ``end`` is inclusive).

    Returns
    -------
    pandas.DataFrame
        The series table (`tracking.schema.SERIES_COLUMNS`), sorted by ``mid_date``: ``lon``/``lat`` the
        point, ``x``/``y`` the cell's centre, ``source="ITS_LIVE"``, ``label`` like ``"Landsat 8 dt=16 d"``,
        ``valid`` where ``v`` is finite, ``interpolated`` False, ``peak`` NaN. ``df.attrs`` holds
        ``zarr_url``, ``epsg`` and ``offset_m`` (distance from the point to the cell's centre, m).

    Raises
    ------
    MissingAssetError
        No cube covers the point.
    NoOverlapError
        The point is outside the given cube.
    NoNetworkError, RemoteError
        The cube could not be read.
    """
    lon, lat = float(lon), float(lat)
    if zarr_url is None:
        zarr_url = find_cube(lon, lat, catalog=catalog)["zarr_url"]
    cube = open_cube(zarr_url)
    with cube:
        epsg = _cube_epsg(cube)
        x, y = to_crs_transformer(epsg).transform(lon, lat)
        xs = np.asarray(cube["x"].values, dtype=np.float64)
        ys = np.asarray(cube["y"].values, dtype=np.float64)
        if not (_within(xs, x) and _within(ys, y)):
            raise NoOverlapError(
                f"the point {lon:.4f}, {lat:.4f} is outside the datacube {Path(str(zarr_url)).name}: use "
                "find_cube() to find the cube that covers it."
            )
        names = [v for v in _CUBE_VARIABLES if v in cube.variables]
        if "v" not in names and not {"vx", "vy"} <= set(names):
            raise TrackingError(f"{Path(str(zarr_url)).name} has no velocity variables (v, vx, vy).")
        mid = pd.DatetimeIndex(pd.to_datetime(cube["mid_date"].values))
        keep = np.ones(mid.size, dtype=bool)
        if start is not None or end is not None:
            lo = naive_utc(start) if start is not None else pd.Timestamp.min
            hi = time_window(lo, end)[1] if end is not None else pd.Timestamp.max
            keep = np.asarray((mid >= lo) & (mid <= hi))
        selected = cube[names].isel(mid_date=np.nonzero(keep)[0]).sel(x=x, y=y, method="nearest")
        try:
            cell = selected.load()
        except _CUBE_ERRORS as err:
            raise _cube_error(err, https_url(str(zarr_url))) from None
    table = _cube_table(cell, name, lon, lat)
    cx, cy = float(cell["x"].values), float(cell["y"].values)
    table.attrs.update(
        {"zarr_url": str(zarr_url), "epsg": int(epsg), "offset_m": float(math.hypot(cx - x, cy - y))}
    )
    return table


def _cube_epsg(cube: xr.Dataset) -> int:
    for attrs in ((cube["mapping"].attrs if "mapping" in cube.variables else {}), cube.attrs):
        for key in ("spatial_epsg", "projection", "epsg"):
            value = attrs.get(key)
            match = re.search(r"(\d{4,5})\s*$", str(value)) if value is not None else None
            if match:
                return int(match.group(1))
    if "mapping" in cube.variables and cube["mapping"].attrs.get("crs_wkt"):
        epsg = ProjCRS.from_wkt(str(cube["mapping"].attrs["crs_wkt"])).to_epsg()
        if epsg:
            return int(epsg)
    raise TrackingError("the datacube has no projection (mapping.spatial_epsg or the 'projection' attr).")


def _within(coords: np.ndarray, value: float) -> bool:
    if coords.size == 0:
        return False
    half = 0.5 * (float(np.abs(np.diff(coords)).min()) if coords.size > 1 else 120.0)
    return bool(coords.min() - half <= value <= coords.max() + half)


def _cube_table(cell: xr.Dataset, name: str, lon: float, lat: float) -> pd.DataFrame:
    n = cell.sizes.get("mid_date", 0)
    if n == 0:
        return empty_series()
    mid = pd.to_datetime(cell["mid_date"].values)

    def speed(var: str) -> np.ndarray:
        if var not in cell:
            return np.full(n, np.nan)
        values = np.asarray(cell[var].values, dtype=np.float64)
        return np.where(values == FILL_VALUE, np.nan, values)

    vx, vy = speed("vx"), speed("vy")
    v = speed("v") if "v" in cell else np.hypot(vx, vy)
    dt_days = _days(cell["date_dt"].values) if "date_dt" in cell else np.full(n, np.nan)
    t0 = _times(cell, "acquisition_date_img1")
    t1 = _times(cell, "acquisition_date_img2")
    half = pd.to_timedelta(dt_days / 2, unit="D")
    t0 = t0.where(~t0.isna(), mid - half)
    t1 = t1.where(~t1.isna(), mid + half)
    dt_days = np.where(np.isfinite(dt_days), dt_days, (t1 - t0) / pd.Timedelta(days=1))
    missions = _strings(cell, "mission_img1", n)
    satellites = _strings(cell, "satellite_img1", n)
    labels = [series_label(m, s, d) for m, s, d in zip(missions, satellites, dt_days, strict=True)]
    table = pd.DataFrame(
        {
            "point": name,
            "lon": lon,
            "lat": lat,
            "x": float(cell["x"].values),
            "y": float(cell["y"].values),
            "t0": t0,
            "t1": t1,
            "mid_date": mid,
            "dt_days": dt_days,
            "v": v,
            "vx": vx,
            "vy": vy,
            "valid": np.isfinite(v),
            "interpolated": False,
            "peak": np.nan,
            "label": labels,
            "source": SOURCE,
            "v_error": speed("v_error"),
        }
    )
    return as_series(table)


def _days(values: np.ndarray) -> np.ndarray:
    """``date_dt`` in days, whether stored as numbers or decoded to timedelta64."""
    values = np.asarray(values)
    if values.dtype.kind == "m":
        return values / np.timedelta64(1, "D")
    return values.astype(np.float64)


def _times(cell: xr.Dataset, var: str) -> pd.Series:
    n = cell.sizes["mid_date"]
    if var not in cell:
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    values = np.asarray(cell[var].values)
    if values.dtype.kind == "M":
        return pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
    parsed = [parse_time(v) for v in values]
    return pd.Series([p if p is not None else pd.NaT for p in parsed], dtype="datetime64[ns]")


def _strings(cell: xr.Dataset, var: str, n: int) -> list[str]:
    if var not in cell:
        return [""] * n
    out = []
    for value in np.asarray(cell[var].values).ravel():
        text = value.decode() if isinstance(value, bytes) else str(value)
        out.append("" if text in ("nan", "None") else text.strip())
    return out
