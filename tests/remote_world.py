"""A whole remote world on a local HTTP server, made from the demo glacier, for end-to-end tests.

`build` writes, under a `FakeRemote`'s root, and routes:

- a Landsat STAC API at ``/landsat`` (Planetary Computer-like ``landsat-c2-l2`` items, red band) whose assets are
  cloud-optimized GeoTIFFs of the demo scenes around Jakobshavn's trunk;
- an ITS_LIVE STAC API at ``/itslive`` whose granules (NetCDF, EPSG:3413, 120 m) hold the demo's true velocity;
- an ITS_LIVE datacube catalog (``itslive/catalog.json``) whose one cube (Zarr v2, over HTTP) holds the demo's
  true velocity for pairs from 2015 to 2023.

So the dashboard, the CLI and the library run their real remote code paths (pystac-client, rasterio over HTTP,
xarray/zarr over HTTP) against data whose answer is known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
from fake_remote import FakeRemote
from itslive_data import granule_name, itslive_item, write_cube, write_granule
from pyproj import Transformer
from shapely.geometry import box, mapping

from tracking.sources import demo

__all__ = ["TRUNK", "RemoteWorld", "build"]

_UTM = demo.DEMO_CRS
#: The demo trunk (lon, lat), where the dashboard's marker starts (EPSG:32622 x 572 km, y 7670 km).
TRUNK = tuple(
    round(float(c), 4)
    for c in Transformer.from_crs(_UTM, "EPSG:4326", always_xy=True).transform(572_000.0, 7_670_000.0)
)
_TO_UTM = Transformer.from_crs("EPSG:3413", _UTM, always_xy=True)
_TO_POLAR = Transformer.from_crs(_UTM, "EPSG:3413", always_xy=True)
_TO_LONLAT = Transformer.from_crs("EPSG:3413", "EPSG:4326", always_xy=True)

_CONFORMS = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]


@dataclass
class RemoteWorld:
    """What `build` made: the endpoints to give the clients and the truth to check them against."""

    remote: FakeRemote
    landsat_url: str
    itslive_url: str
    catalog: Path
    scene_ids: list[str] = field(default_factory=list)
    granule_ids: list[str] = field(default_factory=list)

    def endpoints(self) -> dict[str, str]:
        """The dashboard's `ENDPOINTS` for this world."""
        return {
            "landsat": self.landsat_url,
            "itslive": self.itslive_url,
            "itslive-catalog": str(self.catalog),
        }


def _landing(url: str, title: str) -> dict[str, Any]:
    return {
        "type": "Catalog",
        "id": title,
        "stac_version": "1.0.0",
        "description": f"{title} (test stand-in)",
        "conformsTo": _CONFORMS,
        "links": [
            {"rel": "self", "href": url, "type": "application/json"},
            {"rel": "root", "href": url, "type": "application/json"},
            {"rel": "search", "href": f"{url}/search", "type": "application/geo+json", "method": "POST"},
        ],
    }


def _search_route(remote: FakeRemote, prefix: str, items: list[dict[str, Any]], time_of: Any) -> None:
    """POST ``prefix/search``: the items whose time falls in the request's datetime range, one page."""

    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        body = request.json or {}
        start, _, end = str(body.get("datetime", "..")).partition("/")
        lo = pd.Timestamp(start).tz_localize(None) if start not in ("", "..") else pd.Timestamp.min
        hi = pd.Timestamp(end).tz_localize(None) if end not in ("", "..") else pd.Timestamp.max
        features = [item for item in items if lo <= time_of(item) <= hi]
        payload = {
            "type": "FeatureCollection",
            "features": features,
            "links": [],
            "numberReturned": len(features),
            "numberMatched": len(features),
        }
        return 200, {"Content-Type": "application/geo+json"}, json.dumps(payload).encode()

    remote.route("GET", prefix, _landing(remote.url + prefix, prefix.strip("/")))
    remote.route("POST", f"{prefix}/search", answer)


def _write_cog(path: Path, scene: Any) -> None:
    transform = scene.rio.transform()
    data = np.nan_to_num(scene.values, nan=0.0) * 10_000.0  # as integer reflectance, 0 = nodata
    profile = {
        "driver": "COG",
        "width": scene.shape[1],
        "height": scene.shape[0],
        "count": 1,
        "dtype": "uint16",
        "crs": str(scene.rio.crs),
        "transform": transform,
        "nodata": 0,
        "blocksize": 256,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(np.uint16), 1)


def _landsat(remote: FakeRemote, folder: Path, side_km: float, start: str, end: str, limit: int) -> list[str]:
    x, y = Transformer.from_crs("EPSG:4326", _UTM, always_xy=True).transform(*TRUNK)
    half = side_km * 500.0
    crop = (x - half, y - half, x + half, y + half)
    catalog = demo.catalog()
    times = pd.to_datetime(catalog["time"])
    chosen = catalog[
        (times >= start) & (times <= end) & (catalog["path"] == 9) & (catalog["cloud_cover"] < 20)
    ]
    items, ids = [], []
    for row in chosen.head(limit).itertuples():
        scene = demo.load_scene(row.scene_id, "red", bbox=crop)
        path = folder / f"{row.scene_id}_SR_B4.TIF"
        _write_cog(path, scene)
        href = f"{remote.url}/files/{path.relative_to(remote.root).as_posix()}"
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": row.scene_id,
                "collection": "landsat-c2-l2",
                "geometry": mapping(row.geometry),
                "bbox": list(row.geometry.bounds),
                "properties": {
                    "datetime": pd.Timestamp(row.time).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "platform": "landsat-8" if row.platform == "LANDSAT_8" else "landsat-9",
                    "instruments": ["oli", "tirs"],
                    "eo:cloud_cover": float(row.cloud_cover),
                    "landsat:wrs_path": f"{row.path:03d}",
                    "landsat:wrs_row": f"{row.row:03d}",
                    "proj:epsg": 32622,
                },
                "assets": {
                    "red": {
                        "href": href,
                        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                        "roles": ["data"],
                    }
                },
                "links": [],
            }
        )
        ids.append(row.scene_id)
    _search_route(
        remote, "/landsat", items, lambda item: pd.Timestamp(item["properties"]["datetime"]).tz_localize(None)
    )
    return ids


def true_velocity_polar(t0: Any, t1: Any, xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The demo's true velocity at EPSG:3413 points, along EPSG:3413's axes (m/yr)."""
    ux, uy = _TO_UTM.transform(xx, yy)
    vx, vy = demo.true_velocity(t0, t1, ux, uy)
    step = 1.0e-3  # years: rotate the vectors with the projection's local linear map
    px0, py0 = _TO_POLAR.transform(ux, uy)
    px1, py1 = _TO_POLAR.transform(ux + np.asarray(vx) * step, uy + np.asarray(vy) * step)
    return (np.asarray(px1) - px0) / step, (np.asarray(py1) - py0) / step


def _itslive(remote: FakeRemote, folder: Path, side_km: float, pairs: list[tuple[str, str]]) -> list[str]:
    cx, cy = Transformer.from_crs("EPSG:4326", "EPSG:3413", always_xy=True).transform(*TRUNK)
    n = int(side_km * 1000 / 120)
    origin = (np.round(cx / 120) * 120 - 60 * n, np.round(cy / 120) * 120 + 60 * n)
    xs = origin[0] + 120.0 * np.arange(n)
    ys = origin[1] - 120.0 * np.arange(n)
    xx, yy = np.meshgrid(xs, ys)
    items, ids = [], []
    for t0, t1 in pairs:
        stamp0, stamp1 = pd.Timestamp(t0), pd.Timestamp(t1)
        id1 = f"LC08_L1TP_009011_{stamp0:%Y%m%d}_20220101_02_T1"
        id2 = f"LC08_L1TP_009011_{stamp1:%Y%m%d}_20220101_02_T1"
        vx, vy = true_velocity_polar(stamp0, stamp1, xx, yy)
        name = granule_name(id1, id2, 90)
        path = folder / name
        quiet = np.zeros((n, n), dtype=bool)
        write_granule(
            path,
            crs="EPSG:3413",
            shape=(n, n),
            origin=origin,
            spacing=120.0,
            t0=t0,
            t1=t1,
            id1=id1,
            id2=id2,
            vx=vx,
            vy=vy,
            fill=quiet,
            interp=quiet,
        )
        lon, lat = _TO_LONLAT.transform(cx, cy)
        item = itslive_item(
            t0=stamp0.strftime("%Y-%m-%dT%H:%M:%SZ"),
            t1=stamp1.strftime("%Y-%m-%dT%H:%M:%SZ"),
            id1=id1,
            id2=id2,
            lon=lon,
            lat=lat,
            percent_valid=90,
        )
        item["assets"]["data"]["href"] = f"{remote.url}/files/{path.relative_to(remote.root).as_posix()}"
        items.append(item)
        ids.append(name.removesuffix(".nc"))
    _search_route(
        remote, "/itslive", items, lambda item: pd.Timestamp(item["properties"]["datetime"]).tz_localize(None)
    )
    return ids


def _cube(remote: FakeRemote, folder: Path) -> Path:
    cube = write_cube(
        folder / "cube.zarr",
        n_time=40,
        size=120,
        lon=TRUNK[0],
        lat=TRUNK[1],
        start="2015-04-01T14:00:00",
        velocity=true_velocity_polar,
    )
    xmin, xmax = cube.x.min() - 60, cube.x.max() + 60
    ymin, ymax = cube.y.min() - 60, cube.y.max() + 60
    lons, lats = _TO_LONLAT.transform([xmin, xmax, xmax, xmin], [ymin, ymin, ymax, ymax])
    feature = {
        "type": "Feature",
        "geometry": mapping(box(min(lons) - 0.05, min(lats) - 0.02, max(lons) + 0.05, max(lats) + 0.02)),
        "properties": {
            "epsg": 3413,
            "zarr_url": f"{remote.url}/files/{(folder / 'cube.zarr').relative_to(remote.root).as_posix()}",
            "geometry_epsg": mapping(box(xmin, ymin, xmax, ymax)),
            "datacube_exist": 1,
        },
    }
    catalog = folder / "catalog.json"
    catalog.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return catalog


def build(
    remote: FakeRemote,
    *,
    side_km: float = 24.0,
    start: str = "2021-05-01",
    end: str = "2021-07-31",
    scenes: int = 4,
) -> RemoteWorld:
    """Write and route the remote world under ``remote.root`` (a few seconds; the demo scenes are cached).

    Parameters
    ----------
    remote : FakeRemote
        The running server.
    side_km : float
        Side of the square crops around the trunk (scenes and granules), km.
    start, end : str
        Dates of the Landsat scenes.
    scenes : int
        Most Landsat scenes.
    """
    folder = remote.root / "world"
    (folder / "landsat").mkdir(parents=True, exist_ok=True)
    (folder / "itslive").mkdir(parents=True, exist_ok=True)
    scene_ids = _landsat(remote, folder / "landsat", side_km, start, end, scenes)
    granule_ids = _itslive(
        remote,
        folder / "itslive",
        side_km,
        [("2015-05-03T14:50:00", "2015-05-19T14:50:00"), ("2018-05-10T14:50:00", "2018-05-26T14:50:00")],
    )
    catalog = _cube(remote, folder / "itslive")
    return RemoteWorld(
        remote, remote.url + "/landsat", remote.url + "/itslive", catalog, scene_ids, granule_ids
    )
