"""The Landsat WRS-2 path/row grid computed from orbit constants (no downloaded shapefile).

Scene centres follow the USGS GloVis ``ll2PathRow`` / ``WRS2Model`` algorithm: a circular sun-synchronous
orbit of inclination 98.2096°, 233 orbits per 16-day cycle, 248 rows per orbit, row 60 at the descending
equator crossing, and path 1 crossing the equator (descending) at longitude -64.6°. Footprints are built
around the centre along the ground-track heading with geodesic offsets whose half-sizes were fitted to the
mean Landsat 8 Collection-1 scene corners (about 185 km cross-track x 195 km along-track, slightly more
than the nominal 185 x 180 km frame because real L1 scenes are a little larger).

Rows 1-122 are the daytime (descending) rows used for optical scenes; rows 123-248 are the ascending
(night) half of the orbit. Footprints that cross the antimeridian are returned as a `MultiPolygon` of the
parts on either side of ±180°.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
from pyproj import Geod
from shapely import points
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from tracking.exceptions import ParameterError

__all__ = [
    "DAYTIME_ROWS",
    "N_PATHS",
    "N_ROWS",
    "footprint",
    "grid",
    "path_rows",
    "path_rows_meeting",
    "scene_centre",
]

#: Paths per 16-day repeat cycle.
N_PATHS = 233
#: Rows per orbit (descending and ascending).
N_ROWS = 248
#: The daytime (descending) rows.
DAYTIME_ROWS = range(1, 123)

# WRS-2 orbit constants (USGS GloVis WRS2Model).
_A = 6378137.0
_B = 6356752.3
_INCLINATION = math.radians(98.2096)
_LON_PATH1 = math.radians(-64.6)
_EQUATOR_ROW = 60
# Earth spin rate over spacecraft angular rate: omega_E / omega_sc = 16 / 233.
_SPIN_RATIO = 16.0 / N_PATHS

# Footprint half-sizes (m), fitted to the mean Landsat 8 C1 corners: along-track and cross-track to the
# west (right of a descending pass) and the east.
_HALF_ALONG = 97_500.0
_HALF_CROSS_WEST = 94_000.0
_HALF_CROSS_EAST = 98_000.0

_GEOD = Geod(ellps="WGS84")


def _centres(path: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised scene centres (lon, lat in degrees, lon wrapped to [-180, 180)) for float path/rows."""
    path = np.asarray(path, dtype=float)
    row = np.asarray(row, dtype=float)
    theta = (row - _EQUATOR_ROW) * 2.0 * np.pi / N_ROWS
    phi_c = np.arcsin(-np.sin(theta) * math.sin(_INCLINATION))
    lat = np.arctan(np.tan(phi_c) * (_A / _B) ** 2)
    lon0 = _LON_PATH1 - (path - 1.0) / N_PATHS * 2.0 * np.pi
    dlon = np.arctan2(np.tan(phi_c) / math.tan(_INCLINATION), np.cos(theta) / np.cos(phi_c))
    lon = lon0 - dlon - theta * _SPIN_RATIO
    lon_deg = (np.degrees(lon) + 180.0) % 360.0 - 180.0
    return lon_deg, np.degrees(lat)


def _check(path: int, row: int) -> tuple[int, int]:
    p, r = int(path), int(row)
    if p != path or r != row or not 1 <= p <= N_PATHS or not 1 <= r <= N_ROWS:
        raise ParameterError(
            f"invalid WRS-2 path/row ({path!r}, {row!r}): path must be an integer in 1..{N_PATHS} and "
            f"row an integer in 1..{N_ROWS} (daytime rows are 1..122)"
        )
    return p, r


def scene_centre(path: int, row: int) -> tuple[float, float]:
    """The nominal centre of a WRS-2 scene.

    Parameters
    ----------
    path : int
        WRS-2 path, 1..233.
    row : int
        WRS-2 row, 1..248 (1..122 are the daytime, descending rows).

    Returns
    -------
    tuple of float
        ``(lon, lat)`` in degrees (EPSG:4326), lon in [-180, 180).

    Raises
    ------
    ParameterError
        If the path or row is out of range or not an integer.

    Examples
    --------
    >>> lon, lat = scene_centre(9, 11)
    >>> round(lon, 1), round(lat, 1)
    (-49.4, 69.6)
    """
    p, r = _check(path, row)
    lon, lat = _centres(np.array([p]), np.array([r]))
    return float(lon[0]), float(lat[0])


def _corners(path: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised centres and corners: (lon_c, lat_c, lons[n, 4], lats[n, 4]) with corners UL, UR, LR, LL.

    Corner longitudes are continuous with (within 180° of) the centre longitude, so they may leave
    [-180, 180].
    """
    path = np.asarray(path, dtype=float).ravel()
    row = np.asarray(row, dtype=float).ravel()
    lon_c, lat_c = _centres(path, row)
    lon_a, lat_a = _centres(path, row - 0.01)
    lon_b, lat_b = _centres(path, row + 0.01)
    heading, _, _ = _GEOD.inv(lon_a, lat_a, lon_b, lat_b)
    heading = np.asarray(heading, dtype=float)
    # Travel direction is "down" the scene on a descending pass: UL/UR lie behind, LL/LR ahead; the west
    # side (UL, LL) is to the right of the travel direction.
    along = np.array([-_HALF_ALONG, -_HALF_ALONG, _HALF_ALONG, _HALF_ALONG])
    right = np.array([_HALF_CROSS_WEST, -_HALF_CROSS_EAST, -_HALF_CROSS_EAST, _HALF_CROSS_WEST])
    bearing = np.degrees(np.arctan2(right, along))
    dist = np.hypot(right, along)
    n = lon_c.size
    lons, lats, _ = _GEOD.fwd(
        np.repeat(lon_c, 4),
        np.repeat(lat_c, 4),
        (np.repeat(heading, 4) + np.tile(bearing, n)),
        np.tile(dist, n),
    )
    lons = np.asarray(lons, dtype=float).reshape(n, 4)
    lats = np.asarray(lats, dtype=float).reshape(n, 4)
    lons = lon_c[:, None] + (lons - lon_c[:, None] + 180.0) % 360.0 - 180.0
    return lon_c, lat_c, lons, lats


def _polygon(lons: np.ndarray, lats: np.ndarray) -> Polygon | MultiPolygon:
    """A ring with continuous longitudes as a polygon, split into a MultiPolygon at ±180° if it crosses."""
    poly = Polygon(zip(lons, lats, strict=True))
    lo, hi = float(np.min(lons)), float(np.max(lons))
    if lo >= -180.0 and hi <= 180.0:
        return poly
    shift = 360.0 if lo < -180.0 else -360.0
    inside = poly.intersection(box(-180.0, -90.0, 180.0, 90.0))
    outside = poly.difference(box(-180.0, -90.0, 180.0, 90.0))
    parts: list[Polygon] = []
    for geom, dx in ((inside, 0.0), (outside, shift)):
        parts.extend(
            Polygon([(x + dx, y) for x, y in part.exterior.coords])
            for part in getattr(geom, "geoms", [geom])
            if isinstance(part, Polygon) and not part.is_empty and part.area > 0
        )
    return MultiPolygon(parts)


def footprint(path: int, row: int) -> Polygon | MultiPolygon:
    """The modelled footprint of a WRS-2 scene, in EPSG:4326.

    About 185 km cross-track x 195 km along-track around `scene_centre`, oriented along the ground-track
    heading, with vertices in the order UL, UR, LR, LL (the corner names of the Landsat metadata). A
    footprint crossing the antimeridian is split into a `MultiPolygon` of its parts east and west of ±180°.

    Parameters
    ----------
    path : int
        WRS-2 path, 1..233.
    row : int
        WRS-2 row, 1..248.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon
        The footprint, longitudes in [-180, 180].

    Raises
    ------
    ParameterError
        If the path or row is out of range or not an integer.

    Examples
    --------
    >>> from shapely import Point
    >>> footprint(9, 11).contains(Point(-50.0, 69.0))
    True
    """
    p, r = _check(path, row)
    _, _, lons, lats = _corners(np.array([p]), np.array([r]))
    return _polygon(lons[0], lats[0])


@functools.cache
def _daytime_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paths, rows, centre lon and lat of every daytime scene (233 x 122)."""
    pp, rr = np.meshgrid(np.arange(1, N_PATHS + 1), np.arange(1, 123), indexing="ij")
    pp, rr = pp.ravel(), rr.ravel()
    lon, lat = _centres(pp, rr)
    return pp, rr, lon, lat


@functools.cache
def _night_table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paths, rows, centre lon and lat of every night (ascending) scene (233 x 126)."""
    pp, rr = np.meshgrid(np.arange(1, N_PATHS + 1), np.arange(123, N_ROWS + 1), indexing="ij")
    pp, rr = pp.ravel(), rr.ravel()
    lon, lat = _centres(pp, rr)
    return pp, rr, lon, lat


def _haversine_km(lon1: float, lat1: float, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    p1, p2 = math.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(lon2 - lon1)
    h = np.sin(dphi / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def path_rows(lon: float, lat: float, *, daytime: bool = True) -> list[tuple[int, int]]:
    """The WRS-2 path/rows whose modelled footprint contains a point.

    Candidates are the scene centres within 3° of latitude and 200 km of the point (a footprint's
    half-diagonal is about 135 km); each is then tested exactly against its `footprint`.

    Parameters
    ----------
    lon, lat : float
        The point, degrees (EPSG:4326).
    daytime : bool
        Daytime (descending) rows 1..122 if true, else the night (ascending) rows 123..248.

    Returns
    -------
    list of tuple of int
        Sorted ``(path, row)`` pairs; empty if none covers the point.

    Raises
    ------
    ParameterError
        If the point is not a finite longitude/latitude.

    Examples
    --------
    >>> path_rows(-50.0, 69.0)
    [(8, 11), (8, 12), (9, 11), (9, 12), (10, 11)]
    """
    lon, lat = float(lon), float(lat)
    if not (math.isfinite(lon) and math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ParameterError(f"invalid point ({lon!r}, {lat!r}): need a finite lon and a lat in [-90, 90]")
    lon = (lon + 180.0) % 360.0 - 180.0
    pp, rr, clon, clat = _daytime_table() if daytime else _night_table()
    near = np.abs(clat - lat) < 3.0
    idx = np.flatnonzero(near)
    idx = idx[_haversine_km(lon, lat, clon[idx], clat[idx]) < 200.0]
    pt = points(lon, lat)
    hits = [(int(pp[i]), int(rr[i])) for i in idx if footprint(int(pp[i]), int(rr[i])).covers(pt)]
    return sorted(hits)


def path_rows_meeting(
    area: BaseGeometry | tuple[float, float, float, float], *, daytime: bool = True
) -> list[tuple[int, int]]:
    """The WRS-2 path/rows whose modelled footprint meets an area.

    Parameters
    ----------
    area : shapely geometry or tuple of float
        A polygon in EPSG:4326, or a box ``(lon_min, lat_min, lon_max, lat_max)``; it must not cross the
        antimeridian (split it there and query each part).
    daytime : bool
        Daytime (descending) rows 1..122 if true, else the night (ascending) rows 123..248.

    Returns
    -------
    list of tuple of int
        Sorted ``(path, row)`` pairs: every scene that images some of the area.

    Raises
    ------
    ParameterError
        If the area is empty or not in longitude/latitude.

    Examples
    --------
    >>> path_rows_meeting((-50.2, 68.9, -49.8, 69.1))
    [(8, 11), (8, 12), (9, 11), (9, 12), (10, 11)]
    """
    shape = box(*area) if isinstance(area, tuple) else area
    lon_min, lat_min, lon_max, lat_max = shape.bounds if not shape.is_empty else (np.nan,) * 4
    if not (
        np.isfinite([lon_min, lat_min, lon_max, lat_max]).all()
        and -180 <= lon_min <= lon_max <= 180
        and -90 <= lat_min <= lat_max <= 90
    ):
        raise ParameterError(
            f"invalid area {area!r}: give a box (lon_min, lat_min, lon_max, lat_max) in degrees"
        )
    pp, rr, clon, clat = _daytime_table() if daytime else _night_table()
    centre_lon, centre_lat = shape.centroid.x, shape.centroid.y
    corner_km = _haversine_km(
        centre_lon, centre_lat, np.array([lon_min, lon_max]), np.array([lat_min, lat_max])
    )
    reach_km = 200.0 + float(corner_km.max())
    idx = np.flatnonzero(np.abs(clat - centre_lat) < 3.0 + (lat_max - lat_min) / 2)
    idx = idx[_haversine_km(centre_lon, centre_lat, clon[idx], clat[idx]) < reach_km]
    hits = [(int(pp[i]), int(rr[i])) for i in idx if footprint(int(pp[i]), int(rr[i])).intersects(shape)]
    return sorted(hits)


def grid(paths: Iterable[int] | None = None, rows: Iterable[int] | None = None) -> gpd.GeoDataFrame:
    """The modelled WRS-2 grid as a table of footprints, for map layers.

    Parameters
    ----------
    paths : iterable of int, optional
        Paths to include (default all, 1..233).
    rows : iterable of int, optional
        Rows to include (default the daytime rows 1..122).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per path/row, sorted by path then row: path, row, lon, lat (the scene centre, degrees) and
        geometry (the `footprint`), CRS EPSG:4326.

    Raises
    ------
    ParameterError
        If a path or row is out of range.

    Examples
    --------
    >>> grid(paths=[9], rows=[11, 12])[["path", "row"]].values.tolist()
    [[9, 11], [9, 12]]
    """
    plist = sorted({_check(p, 1)[0] for p in (range(1, N_PATHS + 1) if paths is None else paths)})
    rlist = sorted({_check(1, r)[1] for r in (DAYTIME_ROWS if rows is None else rows)})
    pp, rr = np.meshgrid(np.array(plist, dtype=int), np.array(rlist, dtype=int), indexing="ij")
    pp, rr = pp.ravel(), rr.ravel()
    lon_c, lat_c, lons, lats = _corners(pp, rr)
    geoms: list[BaseGeometry] = [_polygon(lons[i], lats[i]) for i in range(pp.size)]
    return gpd.GeoDataFrame(
        {"path": pp, "row": rr, "lon": lon_c, "lat": lat_c},
        geometry=geoms,
        crs="EPSG:4326",
    )
