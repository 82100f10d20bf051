"""ITS_LIVE: search and read NASA's published glacier velocities, to compare with our own.

A thin client of the public, anonymous ITS_LIVE services (``shared/docs/data-sources.md`` §1):

`search_granules`
    Image-pair granules from the STAC API (``https://stac.itslive.cloud``, collection ``itslive-granules``),
    one row per pair.
`load_granule`
    One granule NetCDF (V2, ``*_G0120V02_P*.nc``), local or downloaded once through the cache, as a
    VelocityField (`tracking.velocity`) with our variable names, so it plots and samples like our own fields.
`find_cube`, `open_cube`, `cube_series`
    The Zarr datacube covering a point, and the velocity time series of its nearest cell as a series table
    (`tracking.timeseries.SERIES_COLUMNS`).
`read_series_csv`
    A point time series saved by ``itslive-export --format csv``, as the same series table.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
import geopandas as gpd
import numpy as np
import pandas as pd
import requests
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import Point, shape

from tracking.exceptions import (
    AuthenticationError,
    MissingAssetError,
    NoNetworkError,
    NoOverlapError,
    ParameterError,
    RemoteError,
    SceneReadError,
    TrackingError,
)
from tracking.sources import http
from tracking.timeseries import SERIES_COLUMNS, empty_series
from tracking.velocity import COORD_ATTRS, DAYS_PER_YEAR, VARIABLE_ATTRS

if TYPE_CHECKING:
    from tracking.sources.cache import DownloadCache

__all__ = [
    "CATALOG_URL",
    "CUBES",
    "GRANULES",
    "GRANULE_COLUMNS",
    "MISSIONS",
    "STAC_URL",
    "cube_series",
    "find_cube",
    "granule_filter",
    "load_granule",
    "open_cube",
    "read_series_csv",
    "search_granules",
]

#: The ITS_LIVE STAC API.
STAC_URL = "https://stac.itslive.cloud"
#: Its collection of image-pair granules.
GRANULES = "itslive-granules"
#: Its collection of Zarr datacubes.
CUBES = "itslive-cubes"
#: The GeoJSON catalog of the datacubes (footprints and Zarr URLs).
CATALOG_URL = "https://its-live-data.s3.amazonaws.com/datacubes/catalog_v02.json"
#: The STAC ``platform`` values of each mission (the first token of the image-1 id).
MISSIONS: dict[str, tuple[str, ...]] = {
    "landsat": ("LC08", "LC09", "LO08", "LO09"),
    "sentinel2": ("S2A", "S2B", "S2C"),
    "sentinel1": ("S1A", "S1B", "S1C"),
}
#: Columns of the table `search_granules` returns (plus ``geometry``).
GRANULE_COLUMNS = (
    "granule_id", "t0", "t1", "mid_date", "dt_days", "platform", "percent_valid", "frame", "crs", "href",
)  # fmt: skip

SOURCE = "ITS_LIVE"
_FILL = -32767
_BUCKET_HTTPS = "https://its-live-data.s3.amazonaws.com/"
_NEEDS_INTERNET = "ITS_LIVE needs the internet"
_STAC_TIMEOUT = (5.0, 60.0)
_GRANULE_VARIABLES = ("vx", "vy")
_CUBE_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, ValueError, KeyError, TypeError,
                                                  aiohttp.ClientError)
_CUBE_VARIABLES = ("v", "vx", "vy", "v_error", "date_dt", "acquisition_date_img1", "acquisition_date_img2",
                   "satellite_img1", "mission_img1")


# --- granule search -------------------------------------------------------------------------------------------------


def granule_filter(
    *,
    min_valid: float | None,
    dt_days: tuple[float | None, float | None] | None,
    platforms: Sequence[str] | None,
    frames: Sequence[str] | None,
) -> dict[str, Any] | None:
    """The CQL2-JSON filter of an ITS_LIVE granule search.

    Parameters
    ----------
    min_valid : float or None
        Least ``percent_valid_pixels`` (0-100).
    dt_days : (float or None, float or None) or None
        Least and most days between the two images (``date_dt``).
    platforms : sequence of str or None
        ``platform`` values, e.g. ``("LC08", "LC09")`` (see `MISSIONS`).
    frames : sequence of str or None
        ``scene_1_frame`` values: WRS-2 ``"PPPRRR"`` for Landsat, the MGRS tile for Sentinel-2.

    Returns
    -------
    dict or None
        An ``{"op": "and", "args": [...]}`` expression, or None when nothing is asked.

    Examples
    --------
    >>> granule_filter(min_valid=20, dt_days=(None, 100), platforms=None, frames=["009011"])["args"]
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'op': '>=', 'args': [{'property': 'percent_valid_pixels'}, 20]},
     {'op': '<=', 'args': [{'property': 'date_dt'}, 100]},
     {'op': 'in', 'args': [{'property': 'scene_1_frame'}, ['009011']]}]
    >>> granule_filter(min_valid=None, dt_days=None, platforms=None, frames=None) is None
    True
    """
    args: list[dict[str, Any]] = []
    if min_valid is not None:
        args.append(_compare(">=", "percent_valid_pixels", min_valid))
    if platforms:
        args.append({"op": "in", "args": [{"property": "platform"}, [str(p) for p in platforms]]})
    low, high = dt_days if dt_days is not None else (None, None)
    if low is not None:
        args.append(_compare(">=", "date_dt", low))
    if high is not None:
        args.append(_compare("<=", "date_dt", high))
    if frames:
        args.append({"op": "in", "args": [{"property": "scene_1_frame"}, [str(f) for f in frames]]})
    return {"op": "and", "args": args} if args else None


def _compare(op: str, prop: str, value: float) -> dict[str, Any]:
    number = float(value)
    return {"op": op, "args": [{"property": prop}, int(number) if number.is_integer() else number]}


def search_granules(
    *,
    lon: float | None = None,
    lat: float | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    start: str | date | datetime | pd.Timestamp,
    end: str | date | datetime | pd.Timestamp,
    min_valid: float = 1,
    dt_days: tuple[float | None, float | None] | None = (None, None),
    mission: str | None = None,
    platforms: Sequence[str] | None = None,
    path_rows: Sequence[tuple[int, int]] | None = None,
    both_inside: bool = True,
    max_items: int = 2000,
    url: str = STAC_URL,
) -> gpd.GeoDataFrame:
    """Search the ITS_LIVE STAC API for image-pair granules at a point or in a box.

    Parameters
    ----------
    lon, lat : float, optional
        A point (degrees); the granules whose footprint contains it.
    bbox : (west, south, east, north), optional
        A box (degrees), instead of a point.
    start, end : str, date or datetime
        The time window, UTC (naive times are UTC). A date, or a time of exactly midnight, as ``end`` means the
        whole of that day. ITS_LIVE indexes a pair by its *mid* date.
    min_valid : float
        Least percentage of valid pixels.
    dt_days : (float or None, float or None), optional
        Least and most days between the images.
    mission : {"landsat", "sentinel2", "sentinel1"}, optional
        Keep only the platforms of this mission (`MISSIONS`).
    platforms : sequence of str, optional
        Keep only these platforms (``"LC08"``, ``"S2A"``...); combined with ``mission`` by intersection.
    path_rows : sequence of (path, row), optional
        Keep only Landsat pairs whose first image is on these WRS-2 path/rows.
    both_inside : bool
        Drop pairs whose first image is before ``start`` or whose second image is after ``end`` (the search
        matches the mid date only).
    max_items : int
        The most granules to return.
    url : str
        The STAC API root.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per granule, sorted by ``mid_date``: ``granule_id``, ``t0``, ``t1``, ``mid_date``
        (datetime64[ns], naive UTC), ``dt_days``, ``platform``, ``percent_valid``, ``frame``, ``crs``
        (``"EPSG:3413"``...), ``href`` (the NetCDF file) and ``geometry`` (footprint, EPSG:4326).

    Raises
    ------
    ParameterError
        Neither a point nor a box, an unknown mission, or ``start`` after ``end``.
    NoNetworkError
        The STAC API cannot be reached.
    RemoteError
        It answered an error.
    """
    t_start, t_end = _window(start, end)
    intersects = None
    if bbox is not None:
        box = [float(v) for v in bbox]
        if len(box) != 4 or box[0] >= box[2] or box[1] >= box[3]:
            raise ParameterError(f"bbox must be (west, south, east, north) in degrees, got {bbox!r}.")
    elif lon is not None and lat is not None:
        box = None
        intersects = {"type": "Point", "coordinates": [float(lon), float(lat)]}
    else:
        raise ParameterError("give a point (lon=, lat=) or a box (bbox=) to search ITS_LIVE granules.")
    wanted = _platforms(mission, platforms)
    frames = [f"{int(p):03d}{int(r):03d}" for p, r in path_rows] if path_rows else None
    query = granule_filter(min_valid=min_valid, dt_days=dt_days, platforms=wanted, frames=frames)
    if max_items < 1:
        raise ParameterError(f"max_items must be at least 1, got {max_items}.")

    client = _stac_client(url)
    search_kwargs: dict[str, Any] = {
        "collections": [GRANULES],
        "datetime": f"{_utc(t_start)}/{_utc(t_end)}",
        "limit": min(int(max_items), 2000),
        "max_items": int(max_items),
    }
    if intersects is not None:
        search_kwargs["intersects"] = intersects
    else:
        search_kwargs["bbox"] = box
    if query is not None:
        search_kwargs["filter"] = query
        search_kwargs["filter_lang"] = "cql2-json"
    items = _stac_items(client, url, search_kwargs, what="the ITS_LIVE granule search")
    table = _granule_table(items)
    if both_inside and len(table):
        table = table[(table["t0"] >= t_start) & (table["t1"] <= t_end)]
    return table.sort_values("mid_date", kind="stable").reset_index(drop=True)


def _platforms(mission: str | None, platforms: Sequence[str] | None) -> list[str] | None:
    wanted: list[str] | None = None
    if mission is not None:
        key = mission.lower().replace("-", "").replace("_", "").replace(" ", "")
        if key not in MISSIONS:
            raise ParameterError(f"unknown ITS_LIVE mission {mission!r}: use one of {', '.join(MISSIONS)}.")
        wanted = list(MISSIONS[key])
    if platforms:
        given = [str(p).upper() for p in platforms]
        wanted = given if wanted is None else [p for p in wanted if p in given]
        if not wanted:
            raise ParameterError(f"none of the platforms {', '.join(given)} belongs to the mission {mission!r}.")
    return wanted


def _window(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(start, end) as naive UTC Timestamps; a date-only ``end`` becomes the end of that day."""
    t_start, t_end = _naive_utc(start), _naive_utc(end)
    if t_end == t_end.normalize():
        t_end = t_end + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    if t_start > t_end:
        raise ParameterError(f"the start ({t_start:%Y-%m-%d}) is after the end ({t_end:%Y-%m-%d}).")
    return t_start, t_end


def _naive_utc(value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"not a date or time: {value!r} ({err}).") from None
    if stamp is pd.NaT:
        raise ParameterError("a date is missing.")
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _utc(stamp: pd.Timestamp) -> str:
    return f"{stamp:%Y-%m-%dT%H:%M:%S}Z"


def _stac_client(url: str) -> Any:
    """A pystac-client Client on ``url`` that uses our retrying session; errors mapped to ours."""
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO

    io = StacApiIO()
    io.session = http.session()  # retries with backoff, icetrack's User-Agent
    # Client.open resets the time limit of the StacApiIO it is given: pass it there
    return _stac_call(lambda: Client.open(url, stac_io=io, timeout=_STAC_TIMEOUT), url,
                      "opening the ITS_LIVE STAC API")


def _stac_items(client: Any, url: str, kwargs: dict[str, Any], *, what: str) -> list[dict[str, Any]]:
    return _stac_call(lambda: list(client.search(**kwargs).items_as_dicts()), url, what)


def _stac_call(call: Any, url: str, what: str) -> Any:
    """Run a pystac-client call, turning its errors into icetrack's (pystac-client wraps them in APIError)."""
    from pystac_client.exceptions import APIError

    host = urlsplit(url).netloc or url
    try:
        return call()
    except APIError as err:
        cause = err.__cause__ or err.__context__
        if isinstance(cause, requests.exceptions.SSLError):
            raise RemoteError(f"{what}: the secure connection to {host} failed: check the system's "
                              "certificates.") from None
        if isinstance(cause, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            raise NoNetworkError(
                f"no network: could not reach {host} ({what}); {_NEEDS_INTERNET}: check the connection, or "
                "use the demo source."
            ) from None
        status = getattr(err, "status_code", None)
        text = http.redact(" ".join(str(err).split()))[:200]
        if status in (401, 403):
            raise AuthenticationError(f"{what}: {host} refused the request (HTTP {status}): {text}.") from None
        if status == 404:
            raise MissingAssetError(f"{what}: {host} has no such page (HTTP 404): check the STAC URL.") from None
        detail = f"HTTP {status}: " if status else ""
        raise RemoteError(f"{what}: {host} answered an error ({detail}{text}); try again later.") from None
    except requests.RequestException as err:  # pragma: no cover - pystac-client wraps these, but be safe
        raise NoNetworkError(f"no network: could not reach {host} ({what}); {_NEEDS_INTERNET}.") from err
    except (ValueError, KeyError, TypeError) as err:
        raise RemoteError(f"{what}: {host} answered something that is not a STAC API response ({err}).") from None


def _granule_table(items: Iterable[Mapping[str, Any]]) -> gpd.GeoDataFrame:
    records, geometries = [], []
    for item in items:
        props = item.get("properties", {})
        t0 = _naive_utc(props.get("start_datetime") or props.get("datetime"))
        t1 = _naive_utc(props.get("end_datetime") or props.get("datetime"))
        mid = _naive_utc(props.get("mid_datetime") or props.get("datetime") or (t0 + (t1 - t0) / 2))
        code = props.get("proj:code") or (f"EPSG:{props['proj:epsg']}" if props.get("proj:epsg") else None)
        dt_days = props.get("date_dt")
        records.append({
            "granule_id": str(item.get("id", "")),
            "t0": t0, "t1": t1, "mid_date": mid,
            "dt_days": float(dt_days) if dt_days is not None else (t1 - t0) / pd.Timedelta(days=1),
            "platform": str(props.get("platform", "")),
            "percent_valid": float(props.get("percent_valid_pixels", np.nan)),
            "frame": str(props.get("scene_1_frame", "")),
            "crs": str(code or ""),
            "href": _data_href(item),
        })  # fmt: skip
        geometries.append(shape(item["geometry"]) if item.get("geometry") else None)
    frame = pd.DataFrame.from_records(records, columns=list(GRANULE_COLUMNS))
    for name in ("t0", "t1", "mid_date"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[ns]")
    frame = frame.astype({"dt_days": float, "percent_valid": float, "granule_id": object, "platform": object,
                          "frame": object, "crs": object, "href": object})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometries, crs="EPSG:4326"), crs="EPSG:4326")


def _data_href(item: Mapping[str, Any]) -> str:
    assets = item.get("assets", {})
    data = assets.get("data")
    if data is None:
        data = next((a for a in assets.values() if "data" in (a.get("roles") or [])
                     and str(a.get("href", "")).endswith(".nc")), {})
    return _https(str(data.get("href", "")))


def _https(url: str) -> str:
    """ITS_LIVE bucket URLs as anonymous https (the catalog has ``http://``, some assets ``s3://``)."""
    if url.startswith("s3://its-live-data/"):
        return _BUCKET_HTTPS + url[len("s3://its-live-data/"):]
    if url.startswith("http://its-live-data."):
        return "https://" + url[len("http://"):]
    return url


# --- one granule ----------------------------------------------------------------------------------------------------


def load_granule(
    source: str | os.PathLike[str],
    *,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_crs: str = "EPSG:4326",
    cache: DownloadCache | None = None,
) -> xr.Dataset:
    """Read an ITS_LIVE V2 granule NetCDF as a VelocityField.

    Parameters
    ----------
    source : str or path-like
        A local file, or an ``https://`` (or ``s3://its-live-data/``) URL, downloaded once into ``cache``.
    bbox : (xmin, ymin, xmax, ymax), optional
        Keep only the grid nodes in this box (in ``bbox_crs``, transformed into the granule's projection).
    bbox_crs : str
        The CRS of ``bbox``.
    cache : DownloadCache, optional
        Where a URL is downloaded to; default ``DownloadCache()``.

    Returns
    -------
    xarray.Dataset
        A VelocityField (`tracking.velocity`): ``vx``, ``vy``, ``v`` (float32 m/yr, NaN at fill), ``dx``,
        ``dy`` (float32 px offsets over the pair, derived from the velocities), ``peak`` and ``snr`` (NaN:
        ITS_LIVE does not publish them), ``valid`` (measured) and ``interpolated`` (``interp_mask``); the CRS in
        ``spatial_ref``; attrs ``acquisition_date_img1/2``, ``date_center`` (ISO), ``date_dt`` (days),
        ``id_img1/2``, ``sensor_img1/2``, ``satellite``, ``source="ITS_LIVE"``, ``label``, ``granule_id``,
        ``v_error`` (m/yr, NaN if unknown), ``roi_valid_percentage`` and ``title``.

    Raises
    ------
    SceneReadError
        The file is not an ITS_LIVE V2 granule (a `TrackingError`).
    NoOverlapError
        ``bbox`` misses the granule.
    NoNetworkError, MissingAssetError, RemoteError
        The download failed.
    """
    path, name = _local_granule(source, cache)
    try:
        ds = xr.open_dataset(path, engine="netcdf4", decode_times=False, decode_timedelta=False)
    except (OSError, ValueError, TypeError) as err:
        raise SceneReadError(
            f"{name} is not a NetCDF file xarray can read ({err}): give an ITS_LIVE V2 granule (*_G0120V02_*.nc)."
        ) from None
    with ds:
        return _granule_field(ds, name, bbox, bbox_crs)


def _local_granule(source: str | os.PathLike[str], cache: DownloadCache | None) -> tuple[Path, str]:
    text = os.fspath(source)
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https", "s3"):
        url = _https(text)
        if urlsplit(url).scheme not in ("http", "https"):
            raise ParameterError(f"cannot download {http.redact(url)}: only http(s) and s3://its-live-data URLs.")
        name = Path(urlsplit(url).path).name
        store = cache if cache is not None else _default_cache()
        return Path(store.fetch(url, what=f"ITS_LIVE granule {name}")), Path(name).stem
    path = Path(text)
    if not path.is_file():
        raise SceneReadError(f"no such granule file: {path}.")
    return path, path.stem


def _default_cache() -> DownloadCache:
    from tracking.sources.cache import DownloadCache

    return DownloadCache()


def _granule_field(
    ds: xr.Dataset, name: str, bbox: tuple[float, float, float, float] | None, bbox_crs: str
) -> xr.Dataset:
    missing = [v for v in ("vx", "vy", "img_pair_info", "mapping") if v not in ds.variables]
    if missing or "x" not in ds.coords or "y" not in ds.coords:
        what = ", ".join(missing) or "x/y coordinates"
        raise SceneReadError(
            f"{name} is not an ITS_LIVE V2 granule (it lacks {what}): give an image-pair velocity file "
            "(*_G0120V02_*.nc) from ITS_LIVE."
        )
    crs = _granule_crs(ds["mapping"].attrs, ds.attrs, name)
    info = ds["img_pair_info"].attrs
    x_all = np.asarray(ds["x"].values, dtype=np.float64)
    y_all = np.asarray(ds["y"].values, dtype=np.float64)
    if x_all.size < 1 or y_all.size < 1:
        raise SceneReadError(f"{name} has an empty grid.")
    rows, cols = slice(None), slice(None)
    if bbox is not None:
        rows, cols = _crop(x_all, y_all, bbox, bbox_crs, crs, name)
    sub = ds.isel(y=rows, x=cols)
    x = np.asarray(sub["x"].values, dtype=np.float64)
    y = np.asarray(sub["y"].values, dtype=np.float64)

    vx, vy = _velocity(sub, "vx"), _velocity(sub, "vy")
    v = _velocity(sub, "v") if "v" in sub else np.hypot(vx, vy)
    v = np.where(np.isfinite(v), v, np.hypot(vx, vy))
    measured = np.isfinite(vx) & np.isfinite(vy)
    if "interp_mask" in sub:
        mask = np.asarray(sub["interp_mask"].transpose("y", "x").values)
        flagged = np.isfinite(mask) & (mask == 1) if mask.dtype.kind == "f" else mask == 1
    else:
        flagged = np.zeros(measured.shape, dtype=bool)
    valid, interpolated = measured & ~flagged, measured & flagged

    t0, t1 = _parse_time(info.get("acquisition_date_img1")), _parse_time(info.get("acquisition_date_img2"))
    if t0 is None or t1 is None:
        raise SceneReadError(f"{name} lacks the image acquisition dates (img_pair_info.acquisition_date_img1/2).")
    dt_days = _float(info.get("date_dt"))
    if not (math.isfinite(dt_days) and dt_days > 0):
        dt_days = (t1 - t0) / pd.Timedelta(days=1)
    centre = _parse_time(info.get("date_center")) or t0 + (t1 - t0) / 2
    spacing_x = float(abs(x_all[1] - x_all[0])) if x_all.size > 1 else _geotransform_step(ds, 1)
    spacing_y = float(abs(y_all[1] - y_all[0])) if y_all.size > 1 else _geotransform_step(ds, 5)
    step_y = spacing_y if y.size > 1 and y[1] > y[0] else -spacing_y  # rows grow southward when y decreases
    transform = Affine(spacing_x, 0.0, float(x[0]) - spacing_x / 2, 0.0, step_y, float(y[0]) - step_y / 2)
    # the offsets over the pair that `tracking.velocity.offsets_to_velocity` turns back into vx, vy
    years = dt_days / DAYS_PER_YEAR
    dx = np.where(measured, vx * years / transform.a, np.nan)
    dy = np.where(measured, vy * years / transform.e, np.nan)

    dims = ("y", "x")
    offset_note = "derived from the ITS_LIVE velocities (ITS_LIVE publishes no raw offsets)"
    data = {"vx": vx, "vy": vy, "v": v, "dx": dx, "dy": dy,
            "peak": np.full(vx.shape, np.nan), "snr": np.full(vx.shape, np.nan)}
    variables: dict[str, tuple[Any, ...]] = {}
    for key, values in data.items():
        attrs = dict(VARIABLE_ATTRS[key])
        if key in ("dx", "dy"):
            attrs["description"] = offset_note
        elif key in ("peak", "snr"):
            attrs["description"] = "not published by ITS_LIVE"
        variables[key] = (dims, np.asarray(values, dtype=np.float32), attrs)
    variables["valid"] = (dims, valid, VARIABLE_ATTRS["valid"])
    variables["interpolated"] = (dims, interpolated, VARIABLE_ATTRS["interpolated"])

    sensors = (_sensor(info.get("mission_img1"), info.get("satellite_img1"), info.get("id_img1")),
               _sensor(info.get("mission_img2"), info.get("satellite_img2"), info.get("id_img2")))
    satellite = str(ds.attrs.get("satellite") or (sensors[0] if sensors[0] == sensors[1] else " and ".join(sensors)))
    title = str(ds.attrs.get("title") or "autoRIFT surface velocities")
    attrs: dict[str, Any] = {
        "Conventions": "CF-1.8",
        "title": title if "ITS_LIVE" in title else f"ITS_LIVE {title}",
        "source": SOURCE,
        "source_description": str(ds.attrs.get("source", "")),
        "institution": str(ds.attrs.get("institution", "")),
        "references": "ITS_LIVE, NASA MEaSUREs (https://its-live.jpl.nasa.gov)",
        "granule_id": name,
        "label": f"{SOURCE} {t0:%Y-%m-%d} → {t1:%Y-%m-%d}",
        "GDAL_AREA_OR_POINT": "Area",
        "scene_pair_type": str(ds.attrs.get("scene_pair_type", "optical")),
        "motion_detection_method": str(ds.attrs.get("motion_detection_method", "feature")),
        "motion_coordinates": "map",
        "satellite": satellite,
        "sensor_img1": sensors[0],
        "sensor_img2": sensors[1],
        "id_img1": str(info.get("id_img1", "")),
        "id_img2": str(info.get("id_img2", "")),
        "acquisition_date_img1": t0.isoformat(),
        "acquisition_date_img2": t1.isoformat(),
        "date_center": centre.isoformat(),
        "date_dt": float(dt_days),
        "image_geotransform": np.array(transform.to_gdal(), dtype=np.float64),
        "roi_valid_percentage": _float(info.get("roi_valid_percentage"), float(100.0 * measured.mean())),
        "v_error": _granule_error(sub),
    }
    if "autoRIFT_software_version" in ds.attrs:
        attrs["autoRIFT_software_version"] = str(ds.attrs["autoRIFT_software_version"])
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    units = "m" if unit in ("metre", "meter") else unit
    field = xr.Dataset(
        variables,
        coords={"y": ("y", y, {**COORD_ATTRS["y"], "units": units}),
                "x": ("x", x, {**COORD_ATTRS["x"], "units": units})},
        attrs=attrs,
    )
    field = field.rio.write_crs(crs.to_wkt(), grid_mapping_name="spatial_ref")
    field = field.rio.write_transform(transform)
    epsg = crs.to_epsg()
    if epsg is not None:
        field["spatial_ref"].attrs["spatial_epsg"] = int(epsg)
    return field


def _granule_crs(mapping: Mapping[str, Any], attrs: Mapping[str, Any], name: str) -> ProjCRS:
    """The granule's CRS from its ``mapping`` variable (``spatial_epsg``, else ``crs_wkt``/``spatial_ref``)."""
    candidates: list[Any] = []
    epsg = mapping.get("spatial_epsg")
    if epsg is not None and _float(epsg) > 0:
        candidates.append(int(_float(epsg)))
    candidates += [mapping.get("crs_wkt"), mapping.get("spatial_ref"), attrs.get("projection")]
    for candidate in candidates:
        if candidate is None or (isinstance(candidate, str) and not candidate.strip()):
            continue
        try:
            if isinstance(candidate, int):
                return ProjCRS.from_epsg(candidate)
            text = str(candidate).strip()
            return ProjCRS.from_epsg(int(text)) if text.isdigit() else ProjCRS.from_user_input(text)
        except (CRSError, ValueError):
            continue
    raise SceneReadError(f"{name} has no usable projection in its 'mapping' variable (spatial_epsg or crs_wkt).")


def _crop(
    x: np.ndarray, y: np.ndarray, bbox: tuple[float, float, float, float], bbox_crs: str, crs: ProjCRS, name: str
) -> tuple[slice, slice]:
    try:
        source = ProjCRS.from_user_input(bbox_crs)
    except CRSError as err:
        raise ParameterError(f"bbox_crs {bbox_crs!r} is not a CRS ({err}).") from None
    west, south, east, north = (float(v) for v in bbox)
    if not (west < east and south < north):
        raise ParameterError(f"bbox must be (xmin, ymin, xmax, ymax) with xmin < xmax and ymin < ymax, got {bbox}.")
    if source != crs:
        transformer = Transformer.from_crs(source, crs, always_xy=True)
        west, south, east, north = transformer.transform_bounds(west, south, east, north, densify_pts=21)
    half_x = 0.5 * (float(abs(x[1] - x[0])) if x.size > 1 else 0.0)
    half_y = 0.5 * (float(abs(y[1] - y[0])) if y.size > 1 else 0.0)
    in_x = np.nonzero((x >= west - half_x) & (x <= east + half_x))[0]
    in_y = np.nonzero((y >= south - half_y) & (y <= north + half_y))[0]
    if in_x.size == 0 or in_y.size == 0:
        raise NoOverlapError(
            f"the box {tuple(round(float(v), 4) for v in bbox)} ({bbox_crs}) does not overlap the granule {name}: "
            "pick a box inside its footprint."
        )
    return slice(int(in_y.min()), int(in_y.max()) + 1), slice(int(in_x.min()), int(in_x.max()) + 1)


def _velocity(ds: xr.Dataset, name: str) -> np.ndarray:
    """A velocity variable as float64, NaN at the fill value (decoded or not)."""
    values = np.asarray(ds[name].transpose("y", "x").values, dtype=np.float64)
    return np.where(values == _FILL, np.nan, values)


def _granule_error(ds: xr.Dataset) -> float:
    """The granule's velocity error, m/yr: median of ``v_error``, else the ``error`` attr of vx/vy."""
    if "v_error" in ds:
        values = _velocity(ds, "v_error")
        finite = values[np.isfinite(values)]
        if finite.size:
            return float(np.median(finite))
    errors = [_float(ds[name].attrs.get("error")) for name in _GRANULE_VARIABLES if name in ds]
    errors = [e for e in errors if math.isfinite(e)]
    return float(max(errors)) if errors else float("nan")


def _geotransform_step(ds: xr.Dataset, index: int) -> float:
    text = str(ds["mapping"].attrs.get("GeoTransform", ""))
    try:
        return abs(float(text.split()[index]))
    except (IndexError, ValueError):
        return 120.0


_ITSLIVE_TIME = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2}):?(\d{2}(?:\.\d+)?)?)?")


def _parse_time(value: Any) -> pd.Timestamp | None:
    """An ITS_LIVE time (``19841206T12:52:19.377``, or ISO) as a naive UTC Timestamp; None if unreadable.

    Examples
    --------
    >>> _parse_time("19841206T12:52:19.377")
    Timestamp('1984-12-06 12:52:19.377000')
    >>> _parse_time("2018-03-04T14:10:09Z")
    Timestamp('2018-03-04 14:10:09')
    """
    if value is None:
        return None
    text = str(value).strip()
    match = _ITSLIVE_TIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = match.groups()
    try:
        stamp = pd.Timestamp(int(year), int(month), int(day))
    except ValueError:
        return None
    if hour is not None:
        stamp += pd.Timedelta(hours=int(hour), minutes=int(minute or 0), seconds=float(second or 0))
    return stamp


def _sensor(mission: Any, satellite: Any, image_id: Any = None) -> str:
    """A human sensor name: ``("L", "8")`` → ``"Landsat 8"``, ``("S", "2A")`` → ``"Sentinel-2A"``.

    Examples
    --------
    >>> _sensor("L", "8"), _sensor("S", "2A"), _sensor(None, "1B"), _sensor("L", 5.0)
    ('Landsat 8', 'Sentinel-2A', 'Sentinel-1B', 'Landsat 5')
    """
    sat = str(satellite).strip() if satellite is not None else ""
    if sat.replace(".", "", 1).isdigit():
        sat = str(int(float(sat)))
    mis = str(mission).strip().upper()[:1] if mission is not None else ""
    if not mis and image_id:
        mis = str(image_id)[:1].upper()
    if not mis and sat:
        mis = "S" if sat[:1] in ("1", "2") and sat[-1:].isalpha() else "L"
    if mis == "L":
        return f"Landsat {sat}".strip()
    if mis == "S":
        return f"Sentinel-{sat}" if sat else "Sentinel"
    if mis == "N":
        return "NISAR"
    return " ".join(p for p in (mis, sat) if p) or "unknown"


def _float(value: Any, default: float = float("nan")) -> float:
    try:
        out = float(np.asarray(value).ravel()[0]) if value is not None else default
    except (TypeError, ValueError, IndexError):
        return default
    return out


# --- datacubes ------------------------------------------------------------------------------------------------------


def find_cube(
    lon: float,
    lat: float,
    *,
    catalog: str | os.PathLike[str] | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """The ITS_LIVE datacube that covers a point.

    Parameters
    ----------
    lon, lat : float
        The point, degrees.
    catalog : str or path-like, optional
        The GeoJSON datacube catalog: a local file or a URL (downloaded once through the cache). Default
        `CATALOG_URL`. Both catalog flavours are read (``epsg`` as an int, or ``data_epsg`` ``"EPSG:n"``).
    url : str, optional
        Ask this STAC API's ``itslive-cubes`` collection instead of the catalog (e.g. `STAC_URL`).

    Returns
    -------
    dict
        ``zarr_url`` (https), ``epsg`` (int), ``name`` (the cube's name), ``x``, ``y`` (the point in the cube's
        projection, m), ``geometry`` (the footprint, GeoJSON lon/lat) and ``properties`` (all of them).

    Raises
    ------
    MissingAssetError
        No datacube covers the point.
    NoNetworkError, RemoteError
        The catalog or the STAC API could not be read.
    """
    lon, lat = float(lon), float(lat)
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ParameterError(f"({lon}, {lat}) is not a longitude, latitude in degrees.")
    if url is not None:
        return _find_cube_stac(lon, lat, url)
    features = _catalog_features(_catalog_path(catalog))
    point = Point(lon, lat)
    for feature in _candidates(features, point):
        found = _cube_entry(feature, lon, lat)
        if found is not None:
            return found
    raise MissingAssetError(
        f"no ITS_LIVE datacube covers {lon:.4f}, {lat:.4f}: ITS_LIVE covers land ice only; pick a point on a "
        "glacier or ice sheet."
    )


def _catalog_path(catalog: str | os.PathLike[str] | None) -> Path:
    text = os.fspath(catalog) if catalog is not None else CATALOG_URL
    if urlsplit(text).scheme.lower() in ("http", "https", "s3"):
        return Path(_default_cache().fetch(_https(text), what="the ITS_LIVE datacube catalog"))
    path = Path(text)
    if not path.is_file():
        raise MissingAssetError(f"no datacube catalog at {path}: give the GeoJSON catalog file or its URL.")
    return path


def _catalog_features(path: Path) -> tuple[tuple[Any, dict[str, Any]], ...]:
    stat = path.stat()
    return _load_catalog(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _load_catalog(path: str, mtime_ns: int, size: int) -> tuple[tuple[Any, dict[str, Any]], ...]:
    """(lon/lat footprint, feature) of every cube in a catalog file (cached per file version)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        features = doc["features"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise TrackingError(f"{path} is not a GeoJSON datacube catalog ({err}).") from None
    out = []
    for feature in features:
        props = feature.get("properties") or {}
        if not feature.get("geometry") or props.get("datacube_exist", 1) in (0, "0", False):
            continue
        try:
            out.append((shape(feature["geometry"]), feature))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return tuple(out)


def _candidates(features: Sequence[tuple[Any, dict[str, Any]]], point: Point) -> list[dict[str, Any]]:
    """Features whose lon/lat footprint contains the point first, then those within 0.5° of it."""
    inside = [f for geom, f in features if geom.covers(point)]
    near = [f for geom, f in features if not geom.covers(point) and geom.distance(point) < 0.5]
    return inside + near


def _cube_entry(feature: Mapping[str, Any], lon: float, lat: float) -> dict[str, Any] | None:
    """The cube record if the point, projected, lies in the feature's ``geometry_epsg`` square."""
    props = dict(feature.get("properties") or {})
    epsg = _epsg(props)
    zarr_url = props.get("zarr_url")
    if epsg is None or not zarr_url:
        return None
    x, y = _transformer(epsg).transform(lon, lat)
    square = props.get("geometry_epsg")
    if square:
        try:
            if not shape(square).covers(Point(x, y)):
                return None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
    url = _https(str(zarr_url))
    return {
        "zarr_url": url, "epsg": epsg, "name": Path(urlsplit(url).path.rstrip("/")).stem,
        "x": float(x), "y": float(y), "geometry": feature.get("geometry"), "properties": props,
    }  # fmt: skip


def _epsg(props: Mapping[str, Any]) -> int | None:
    """A catalog entry's EPSG code: ``epsg`` (int) or ``data_epsg`` (``"EPSG:32718"``) or ``proj:code``."""
    for key in ("epsg", "data_epsg", "proj:code", "proj:epsg"):
        value = props.get(key)
        if value is None:
            continue
        match = re.search(r"(\d{4,5})\s*$", str(value))
        if match:
            return int(match.group(1))
    return None


@functools.lru_cache(maxsize=32)
def _transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


def _find_cube_stac(lon: float, lat: float, url: str) -> dict[str, Any]:
    client = _stac_client(url)
    items = _stac_items(
        client, url, {"collections": [CUBES], "intersects": {"type": "Point", "coordinates": [lon, lat]},
                      "max_items": 20, "limit": 20},
        what="the ITS_LIVE datacube search",
    )
    for item in items:
        assets = item.get("assets") or {}
        href = next((a["href"] for a in assets.values() if "data" in (a.get("roles") or [])
                     and str(a.get("href", "")).rstrip("/").endswith(".zarr")), None)
        epsg = _epsg(item.get("properties") or {})
        if href is None or epsg is None:
            continue
        x, y = _transformer(epsg).transform(lon, lat)
        zarr_url = _https(str(href))
        return {"zarr_url": zarr_url, "epsg": epsg, "name": str(item.get("id") or Path(zarr_url).stem),
                "x": float(x), "y": float(y), "geometry": item.get("geometry"),
                "properties": dict(item.get("properties") or {})}
    raise MissingAssetError(
        f"no ITS_LIVE datacube covers {lon:.4f}, {lat:.4f}: ITS_LIVE covers land ice only; pick a point on a "
        "glacier or ice sheet."
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
    url = _https(str(zarr_url))
    remote = urlsplit(url).scheme.lower() in ("http", "https")
    kwargs: dict[str, Any] = {"engine": "zarr", "consolidated": True, "chunks": None,
                              "decode_timedelta": False}
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
            return AuthenticationError(f"{what}: {host} refused access (HTTP {err.status}); the ITS_LIVE bucket "
                                       "is public, so check the URL.")
        if err.status in (404, 410):
            return MissingAssetError(f"{what} is not there (HTTP {err.status}): check the URL.")
        return RemoteError(f"{what}: {host} answered HTTP {err.status}; try again later.")
    if _is_connection_error(err):
        return NoNetworkError(f"no network: could not reach {host} ({what}); {_NEEDS_INTERNET}: check the "
                              "connection.")
    if isinstance(err, FileNotFoundError):
        return MissingAssetError(f"{what} is not there, or is not a Zarr store with consolidated metadata: check "
                                 "the URL, or find the cube again with find_cube().")
    return TrackingError(f"{what} could not be read as a Zarr datacube ({_short(err)}).")


def _is_connection_error(err: BaseException) -> bool:
    """Whether ``err`` (or what caused it) is a failure to reach the host."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, aiohttp.ClientConnectionError | ConnectionError | TimeoutError):
            return True
        if type(current).__name__ == "FSTimeoutError":
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
        The series table (`tracking.timeseries.SERIES_COLUMNS`), sorted by ``mid_date``: ``lon``/``lat`` the
        point, ``x``/``y`` the cell's centre, ``source="ITS_LIVE"``, ``label`` like ``"Landsat 8 dt=16 d"``,
        ``valid`` where ``v`` is finite, ``interpolated`` False, ``peak`` NaN. ``df.attrs`` holds ``zarr_url``,
        ``epsg`` and ``offset_m`` (distance from the point to the cell's centre, m).

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
        x, y = _transformer(epsg).transform(lon, lat)
        xs, ys = np.asarray(cube["x"].values, dtype=np.float64), np.asarray(cube["y"].values, dtype=np.float64)
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
            lo = _naive_utc(start) if start is not None else pd.Timestamp.min
            hi = _window(lo, end)[1] if end is not None else pd.Timestamp.max
            keep = np.asarray((mid >= lo) & (mid <= hi))
        selected = cube[names].isel(mid_date=np.nonzero(keep)[0]).sel(x=x, y=y, method="nearest")
        try:
            cell = selected.load()
        except _CUBE_ERRORS as err:
            raise _cube_error(err, _https(str(zarr_url))) from None
    table = _cube_table(cell, name, lon, lat)
    cx, cy = float(cell["x"].values), float(cell["y"].values)
    table.attrs.update({"zarr_url": str(zarr_url), "epsg": int(epsg),
                        "offset_m": float(math.hypot(cx - x, cy - y))})
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
        return np.where(values == _FILL, np.nan, values)

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
    labels = [_series_label(m, s, d) for m, s, d in zip(missions, satellites, dt_days, strict=True)]
    table = pd.DataFrame({
        "point": name, "lon": lon, "lat": lat, "x": float(cell["x"].values), "y": float(cell["y"].values),
        "t0": t0, "t1": t1, "mid_date": mid, "dt_days": dt_days, "v": v, "vx": vx, "vy": vy,
        "valid": np.isfinite(v), "interpolated": False, "peak": np.nan, "label": labels, "source": SOURCE,
        "v_error": speed("v_error"),
    })  # fmt: skip
    return _as_series(table)


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
    parsed = [_parse_time(v) for v in values]
    return pd.Series([p if p is not None else pd.NaT for p in parsed], dtype="datetime64[ns]")


def _strings(cell: xr.Dataset, var: str, n: int) -> list[str]:
    if var not in cell:
        return [""] * n
    out = []
    for value in np.asarray(cell[var].values).ravel():
        text = value.decode() if isinstance(value, bytes) else str(value)
        out.append("" if text in ("nan", "None") else text.strip())
    return out


def _series_label(mission: Any, satellite: Any, dt_days: float) -> str:
    """``"Landsat 8 dt=16 d"``.

    Examples
    --------
    >>> _series_label("S", "1A", 12.0)
    'Sentinel-1A dt=12 d'
    """
    sensor = _sensor(mission or None, satellite or None)
    days = f"{round(float(dt_days)):d}" if math.isfinite(float(dt_days)) else "?"
    return f"{sensor} dt={days} d"


def _as_series(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with exactly the series columns and dtypes, sorted by ``mid_date``."""
    dtypes = empty_series().dtypes.to_dict()
    table = table[list(SERIES_COLUMNS)].astype(dtypes)
    return table.sort_values("mid_date", kind="stable").reset_index(drop=True)


# --- exported CSV ---------------------------------------------------------------------------------------------------

_POINT_NAME = re.compile(r"LAT(-?\d+(?:\.\d+)?)--LON(-?\d+(?:\.\d+)?)")


def read_series_csv(path: str | os.PathLike[str], *, name: str | None = None) -> pd.DataFrame:
    """Read a point time series exported by ``itslive-export --format csv`` as a series table.

    Parameters
    ----------
    path : str or path-like
        The CSV (columns ``mid_date, lat, lon, v [m/yr], v_error [m/yr], vx [m/yr], vx_error [m/yr],
        vy [m/yr], vy_error [m/yr], date_dt [days], mission, satellite, epsg``).
    name : str, optional
        The ``point`` name; default from a ``LAT69.1117--LON-49.4604`` file name (``"69.1117 N, 49.4604 W"``),
        else the file's stem.

    Returns
    -------
    pandas.DataFrame
        The series table (`tracking.timeseries.SERIES_COLUMNS`), sorted by ``mid_date``: ``t0``/``t1`` the mid
        date ∓ half of ``date_dt``, ``x``/``y`` the point in the file's ``epsg``, ``source="ITS_LIVE"``,
        ``label`` like ``"Landsat 8 dt=16 d"``, ``valid`` where ``v`` is finite.

    Raises
    ------
    TrackingError
        The file is not in that layout.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise TrackingError(f"cannot read {path.name} as CSV ({err}).") from None
    missing = [c for c in ("mid_date", "lat", "lon", "v [m/yr]", "date_dt [days]") if c not in raw.columns]
    if missing:
        raise TrackingError(
            f"{path.name} is not an ITS_LIVE point time series (it lacks {', '.join(missing)}): export one with "
            "itslive-export --format csv."
        )
    if name is None:
        name = _point_name(path.stem)
    n = len(raw)
    mid = pd.Series(pd.to_datetime(raw["mid_date"], utc=True, format="ISO8601").dt.tz_localize(None),
                    dtype="datetime64[ns]")
    dt_days = pd.to_numeric(raw["date_dt [days]"], errors="coerce").to_numpy(dtype=np.float64)
    half = pd.to_timedelta(dt_days / 2, unit="D")
    lon = pd.to_numeric(raw["lon"], errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(raw["lat"], errors="coerce").to_numpy(dtype=np.float64)
    x = y = np.full(n, np.nan)
    epsgs = pd.to_numeric(raw["epsg"], errors="coerce").dropna() if "epsg" in raw else pd.Series([], dtype=float)
    if len(epsgs):
        x, y = _transformer(int(epsgs.iloc[0])).transform(lon, lat)

    def column(label: str) -> np.ndarray:
        if label not in raw:
            return np.full(n, np.nan)
        return pd.to_numeric(raw[label], errors="coerce").to_numpy(dtype=np.float64)

    v = column("v [m/yr]")
    missions = raw["mission"].astype(str).tolist() if "mission" in raw else [""] * n
    satellites = raw["satellite"].astype(str).tolist() if "satellite" in raw else [""] * n
    table = pd.DataFrame({
        "point": name, "lon": lon, "lat": lat, "x": np.asarray(x, dtype=np.float64),
        "y": np.asarray(y, dtype=np.float64), "t0": mid - half, "t1": mid + half, "mid_date": mid,
        "dt_days": dt_days, "v": v, "vx": column("vx [m/yr]"), "vy": column("vy [m/yr]"),
        "valid": np.isfinite(v), "interpolated": False, "peak": np.nan,
        "label": [_series_label(m, s, d) for m, s, d in zip(missions, satellites, dt_days, strict=True)],
        "source": SOURCE, "v_error": column("v_error [m/yr]"),
    })  # fmt: skip
    return _as_series(table)


def _point_name(stem: str) -> str:
    """``"LAT69.1117--LON-49.4604"`` → ``"69.1117 N, 49.4604 W"``; other names as they are.

    Examples
    --------
    >>> _point_name("timeseries_LAT61.1804--LON-146.9751")
    '61.1804 N, 146.9751 W'
    >>> _point_name("my_point")
    'my_point'
    """
    match = _POINT_NAME.search(stem)
    if match is None:
        return stem
    lat_text, lon_text = match.groups()
    lat_hemi = "S" if lat_text.startswith("-") else "N"
    lon_hemi = "W" if lon_text.startswith("-") else "E"
    return f"{lat_text.lstrip('-')} {lat_hemi}, {lon_text.lstrip('-')} {lon_hemi}"
