"""Which ITS_LIVE datacube covers a point (`find_cube`): from the GeoJSON catalog or the STAC API.

The catalog (`CATALOG_URL`, or a local copy) is downloaded once through the cache and parsed once per file
version; the point must lie in a cube's footprint and in its projected square. The answer names the cube's
Zarr URL, its EPSG code and the point in its projection.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shapely.geometry import Point, shape

from tracking.exceptions import MissingAssetError, ParameterError, TrackingError
from tracking.sources.itslive.common import (
    CATALOG_URL,
    CUBES,
    default_cache,
    https_url,
    stac_client,
    stac_items,
    to_crs_transformer,
)

__all__ = ["find_cube"]


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
        ``zarr_url`` (https), ``epsg`` (int), ``name`` (the cube's name), ``x``, ``y`` (the point in the
        cube's projection, m), ``geometry`` (the footprint, GeoJSON lon/lat) and ``properties`` (all of them).

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
    raise _no_cube(lon, lat)


def _catalog_path(catalog: str | os.PathLike[str] | None) -> Path:
    text = os.fspath(catalog) if catalog is not None else CATALOG_URL
    if urlsplit(text).scheme.lower() in ("http", "https", "s3"):
        return Path(default_cache().fetch(https_url(text), what="the ITS_LIVE datacube catalog"))
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
    x, y = to_crs_transformer(epsg).transform(lon, lat)
    square = props.get("geometry_epsg")
    if square:
        try:
            if not shape(square).covers(Point(x, y)):
                return None
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
    url = https_url(str(zarr_url))
    return {
        "zarr_url": url,
        "epsg": epsg,
        "name": Path(urlsplit(url).path.rstrip("/")).stem,
        "x": float(x),
        "y": float(y),
        "geometry": feature.get("geometry"),
        "properties": props,
    }


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


def _find_cube_stac(lon: float, lat: float, url: str) -> dict[str, Any]:
    client = stac_client(url)
    items = stac_items(
        client,
        url,
        {
            "collections": [CUBES],
            "intersects": {"type": "Point", "coordinates": [lon, lat]},
            "max_items": 20,
            "limit": 20,
        },
        what="the ITS_LIVE datacube search",
    )
    for item in items:
        assets = item.get("assets") or {}
        href = next(
            (
                a["href"]
                for a in assets.values()
                if "data" in (a.get("roles") or []) and str(a.get("href", "")).rstrip("/").endswith(".zarr")
            ),
            None,
        )
        epsg = _epsg(item.get("properties") or {})
        if href is None or epsg is None:
            continue
        x, y = to_crs_transformer(epsg).transform(lon, lat)
        zarr_url = https_url(str(href))
        return {
            "zarr_url": zarr_url,
            "epsg": epsg,
            "name": str(item.get("id") or Path(zarr_url).stem),
            "x": float(x),
            "y": float(y),
            "geometry": item.get("geometry"),
            "properties": dict(item.get("properties") or {}),
        }
    raise _no_cube(lon, lat)


def _no_cube(lon: float, lat: float) -> MissingAssetError:
    """The error for a point that no datacube covers."""
    return MissingAssetError(
        f"no ITS_LIVE datacube covers {lon:.4f}, {lat:.4f}: ITS_LIVE covers land ice only; pick a point on a "
        "glacier or ice sheet."
    )
