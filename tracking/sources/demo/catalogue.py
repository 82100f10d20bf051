"""The demo's acquisitions: dates, WRS-2 footprints and cloud cover, as a scene table (`catalog`)."""

from __future__ import annotations

import functools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from shapely.geometry import Polygon

from tracking.exceptions import TrackingError
from tracking.sources.demo.flow import DEMO_BOUNDS, DEMO_CRS
from tracking.sources.demo.kernels import cloud_noise

__all__ = ["catalog", "catalog_entry", "full_catalog", "hash_ints"]

_SEASON = (3, 1, 10, 31)  # sunlit season: 1 March .. 31 October
_L9_START = np.datetime64("2021-10-31")
_END = np.datetime64("2024-12-31")
_PATH_TIME = {8: "14:50:", 9: "14:56:"}  # UTC overpass time (minutes), seconds vary per date
_PATH_DAY_OFFSET = {8: 0, 9: 7}  # adjacent path 9 (west) is imaged 7 days after path 8
_FIRST_L8 = np.datetime64("2015-03-08")
_PLATFORMS = {
    "LANDSAT_8": ("LC08", "Landsat 8 OLI"),
    "LANDSAT_9": ("LC09", "Landsat 9 OLI-2"),
}
# WRS-2 footprint rectangles in DEMO_CRS: centre, cross-track/along-track half sizes; descending pass heading.
_FOOTPRINT_CENTRE = {9: (610000.0, 7690000.0), 8: (667000.0, 7666000.0)}
_FOOTPRINT_HALF = (92500.0, 90000.0)
_HEADING_DEG = 203.0


# ----------------------------------------------------------------------------------------------------------
# catalog
# ----------------------------------------------------------------------------------------------------------


def _footprint_params(path: int, jitter: float) -> np.ndarray:
    """(cx, cy, cross-track unit x, unit y, half cross, half along) of a path's footprint in DEMO_CRS."""
    heading = math.radians(_HEADING_DEG)
    along = np.array([math.sin(heading), math.cos(heading)])
    cross = np.array([-along[1], along[0]])  # along rotated by -90 deg: points east-ish
    if cross[0] < 0:
        cross = -cross
    cx, cy = np.asarray(_FOOTPRINT_CENTRE[path]) + jitter * along
    return np.array([cx, cy, cross[0], cross[1], *_FOOTPRINT_HALF])


@functools.cache
def _to_lonlat() -> Transformer:
    return Transformer.from_crs(DEMO_CRS, "EPSG:4326", always_xy=True)


def _footprint_polygon(fp: np.ndarray) -> Polygon:
    """The footprint quadrilateral in EPSG:4326."""
    cx, cy, ux, uy, hu, hv = fp
    corners = [(su * hu, sv * hv) for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    xs = [cx + u * ux - v * uy for u, v in corners]
    ys = [cy + u * uy + v * ux for u, v in corners]
    lon, lat = _to_lonlat().transform(xs, ys)
    return Polygon(zip(lon, lat, strict=True))


def _acquisition_dates() -> list[tuple[np.datetime64, str, int]]:
    """(date, platform, path) of every acquisition in the sunlit season, 2015-2024."""
    out = []
    for platform, first, offset in (("LANDSAT_8", _FIRST_L8, 0), ("LANDSAT_9", _L9_START, 8)):
        for path, day_offset in _PATH_DAY_OFFSET.items():
            dates = (
                _FIRST_L8
                + np.timedelta64(offset + day_offset, "D")
                + np.arange(0, 3700, 16).astype("timedelta64[D]")
            )
            for date in dates[(dates >= first) & (dates <= _END)]:
                month, day = pd.Timestamp(date).month, pd.Timestamp(date).day
                if (_SEASON[0], _SEASON[1]) <= (month, day) <= (_SEASON[2], _SEASON[3]):
                    out.append((date, platform, path))
    return out


@functools.cache
def _demo_extent_points() -> tuple[np.ndarray, np.ndarray]:
    """A 1 km grid of points over the demo extent (for cloud cover statistics)."""
    xmin, ymin, xmax, ymax = DEMO_BOUNDS
    xx, yy = np.meshgrid(np.arange(xmin + 500, xmax, 1000.0), np.arange(ymin + 500, ymax, 1000.0))
    return xx.ravel(), yy.ravel()


def _inside(fp: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx, dy = x - fp[0], y - fp[1]
    return (np.abs(dx * fp[2] + dy * fp[3]) <= fp[4]) & (np.abs(-dx * fp[3] + dy * fp[2]) <= fp[5])


@functools.cache
def full_catalog(seed: int) -> pd.DataFrame:
    """The catalog with the private per-scene generator parameters (footprint, seeds, cloud threshold)."""
    records = []
    px, py = _demo_extent_points()
    for date, platform, path in _acquisition_dates():
        day = int((date - np.datetime64("1970-01-01")).astype(int))
        scene_seed = hash_ints(seed, day, path * 10 + (platform == "LANDSAT_9"))
        rng = np.random.default_rng(scene_seed)
        prefix, sensor = _PLATFORMS[platform]
        time = (
            pd.Timestamp(date)
            + pd.Timedelta(f"{_PATH_TIME[path][:2]}h")
            + pd.Timedelta(minutes=int(_PATH_TIME[path][3:5]), seconds=int(rng.integers(0, 60)))
        )
        fp = _footprint_params(path, float(rng.uniform(-1500, 1500)))
        inside = _inside(fp, px, py)
        draw = rng.uniform()
        target = 0.0 if draw < 0.45 else (rng.uniform(0.02, 0.2) if draw < 0.7 else rng.uniform(0.2, 0.9))
        thr, cover = np.inf, 0.0
        if target > 0 and inside.any():
            noise = np.sort(cloud_noise(px[inside], py[inside], scene_seed))
            thr = float(noise[int((1.0 - target) * (noise.size - 1))])
            cover = float(np.mean(noise > thr))
        records.append(
            {
                "scene_id": f"{prefix}_L1TP_{path:03d}011_{pd.Timestamp(date):%Y%m%d}_DEMO",
                "time": time,
                "platform": platform,
                "sensor": sensor,
                "path": path,
                "row": 11,
                "cloud_cover": round(100.0 * cover, 2),
                "geometry": _footprint_polygon(fp),
                "_fp": fp,
                "_seed": scene_seed,
                "_cloud_thr": thr,
                "_coverage": float(inside.mean()),
                "_gain": float(rng.uniform(0.94, 1.05)),
                "_offset": float(rng.uniform(-0.01, 0.015)),
            }
        )
    frame = pd.DataFrame.from_records(records).sort_values("time", kind="stable").reset_index(drop=True)
    frame["time"] = frame["time"].astype("datetime64[ns]")
    return frame.set_index("scene_id", drop=False)


def hash_ints(*values: int) -> int:
    """A 31-bit deterministic hash of integers (stable across processes, unlike ``hash``)."""
    h = 0x12345
    for v in values:
        h = (h * 1_000_003 ^ (int(v) & 0xFFFFFFFF)) & 0x7FFFFFFF
        h = ((h ^ (h >> 13)) * 0x5BD1E995) & 0x7FFFFFFF
    return h


def catalog(*, seed: int = 0) -> gpd.GeoDataFrame:
    """All demo acquisitions: Landsat 8 (2015-2024) and 9 (2022-2024), WRS-2 paths 8 and 9, row 11.

    Sixteen-day repeats (Landsat 9 eight days after Landsat 8, path 9 seven days after path 8), only in
    the sunlit season (1 March - 31 October). Cheap: no image is generated.

    Parameters
    ----------
    seed : int
        The demo's random seed (it sets the cloud cover of each date).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per acquisition sorted by time: scene_id, time (datetime64[ns], UTC), platform, sensor,
        path, row, cloud_cover (% of the demo extent's imaged pixels under cloud), geometry (the scene
        footprint, EPSG:4326).
    """
    frame = full_catalog(int(seed))
    cols = ["scene_id", "time", "platform", "sensor", "path", "row", "cloud_cover", "geometry"]
    return gpd.GeoDataFrame(frame[cols].reset_index(drop=True), geometry="geometry", crs="EPSG:4326")


def catalog_entry(scene_id: str, seed: int) -> pd.Series:
    frame = full_catalog(int(seed))
    if scene_id not in frame.index:
        raise TrackingError(
            f"unknown demo scene id {scene_id!r}; list the valid ids with "
            "tracking.sources.demo.catalog()['scene_id'] (e.g. 'LC08_L1TP_009011_20210516_DEMO')"
        )
    return frame.loc[scene_id]
