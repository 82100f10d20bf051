"""ITS_LIVE granule search: image-pair granules from the STAC API as one table (`search_granules`).

The search is by point or box and by mid date, narrowed by a CQL2 filter (`granule_filter`: valid pixels,
days between the images, platforms, WRS-2 frames); each granule becomes one row of `GRANULE_COLUMNS` with
its NetCDF href and footprint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import shape

from tracking.exceptions import ParameterError
from tracking.sources.itslive.common import (
    GRANULES,
    MISSIONS,
    STAC_URL,
    https_url,
    naive_utc,
    stac_client,
    stac_items,
    time_window,
)

__all__ = ["GRANULE_COLUMNS", "granule_filter", "search_granules"]

#: Columns of the table `search_granules` returns (plus ``geometry``).
GRANULE_COLUMNS = (
    "granule_id",
    "t0",
    "t1",
    "mid_date",
    "dt_days",
    "platform",
    "percent_valid",
    "frame",
    "crs",
    "href",
)


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
        The time window, UTC (naive times are UTC). A date, or a time of exactly midnight, as ``end`` means
        the whole of that day. ITS_LIVE indexes a pair by its *mid* date.
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
    t_start, t_end = time_window(start, end)
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

    client = stac_client(url)
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
    items = stac_items(client, url, search_kwargs, what="the ITS_LIVE granule search")
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
            raise ParameterError(
                f"none of the platforms {', '.join(given)} belongs to the mission {mission!r}."
            )
    return wanted


def _utc(stamp: pd.Timestamp) -> str:
    return f"{stamp:%Y-%m-%dT%H:%M:%S}Z"


def _granule_table(items: Iterable[Mapping[str, Any]]) -> gpd.GeoDataFrame:
    records, geometries = [], []
    for item in items:
        props = item.get("properties", {})
        t0 = naive_utc(props.get("start_datetime") or props.get("datetime"))
        t1 = naive_utc(props.get("end_datetime") or props.get("datetime"))
        mid = naive_utc(props.get("mid_datetime") or props.get("datetime") or (t0 + (t1 - t0) / 2))
        code = props.get("proj:code") or (f"EPSG:{props['proj:epsg']}" if props.get("proj:epsg") else None)
        dt_days = props.get("date_dt")
        records.append(
            {
                "granule_id": str(item.get("id", "")),
                "t0": t0,
                "t1": t1,
                "mid_date": mid,
                "dt_days": float(dt_days) if dt_days is not None else (t1 - t0) / pd.Timedelta(days=1),
                "platform": str(props.get("platform", "")),
                "percent_valid": float(props.get("percent_valid_pixels", np.nan)),
                "frame": str(props.get("scene_1_frame", "")),
                "crs": str(code or ""),
                "href": _data_href(item),
            }
        )
        geometries.append(shape(item["geometry"]) if item.get("geometry") else None)
    frame = pd.DataFrame.from_records(records, columns=list(GRANULE_COLUMNS))
    for name in ("t0", "t1", "mid_date"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[ns]")
    frame = frame.astype(
        {
            "dt_days": float,
            "percent_valid": float,
            "granule_id": object,
            "platform": object,
            "frame": object,
            "crs": object,
            "href": object,
        }
    )
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometries, crs="EPSG:4326"), crs="EPSG:4326")


def _data_href(item: Mapping[str, Any]) -> str:
    assets = item.get("assets", {})
    data = assets.get("data")
    if data is None:
        data = next(
            (
                a
                for a in assets.values()
                if "data" in (a.get("roles") or []) and str(a.get("href", "")).endswith(".nc")
            ),
            {},
        )
    return https_url(str(data.get("href", "")))
