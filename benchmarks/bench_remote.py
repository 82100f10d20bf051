"""Remote data over a local HTTP server: what an area-of-interest read costs, and how right the answers are.

A real HTTP server on 127.0.0.1 (tests/fake_remote.py) serves the remote world of tests/remote_world.py: a
Landsat-like STAC API whose assets are cloud-optimized GeoTIFFs of the demo glacier, ITS_LIVE granules and a
datacube holding the demo's true velocity. Printed: search time, the bytes an area-of-interest read transfers
against the files' sizes, the cached reload, tracking error against the known motion, the error of an ITS_LIVE
field resampled onto our grid, and how long a search takes to fail without network.

Run: ``python benchmarks/bench_remote.py [--aoi-km 20]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import remote_world
from fake_remote import FakeRemote

import tracking
from tracking.aoi import aoi_bounds, local_crs
from tracking.compare import onto_grid
from tracking.exceptions import NoNetworkError
from tracking.sources import demo, itslive, stac
from tracking.sources.cache import DownloadCache


def _range_bytes(requests: list) -> int:
    total = 0
    for request in requests:
        if request.method == "GET" and request.range:
            first, last = request.range.split("=")[1].split("-")
            total += int(last) - int(first) + 1
    return total


def _error(
    vx: np.ndarray, vy: np.ndarray, t0: object, t1: object, x: np.ndarray, y: np.ndarray, keep: np.ndarray
) -> tuple[int, float, float]:
    tvx, tvy = demo.true_velocity(t0, t1, x, y)
    speed = np.hypot(tvx, tvy)
    keep = keep & (speed > 1000) & np.isfinite(vx)
    error = np.hypot(vx - tvx, vy - tvy)[keep]
    return int(keep.sum()), float(np.median(error)), float(np.median(error) / np.median(speed[keep]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aoi-km", type=float, default=20.0)
    args = parser.parse_args()
    os.environ["ICETRACK_CACHE"] = tempfile.mkdtemp()
    lon, lat = remote_world.TRUNK
    with FakeRemote(Path(tempfile.mkdtemp())) as remote:
        world = remote_world.build(remote, side_km=args.aoi_km * 2)
        started = time.perf_counter()
        scenes = stac.search(
            "landsat", lon=lon, lat=lat, start="2021-05-01", end="2021-07-31", url=world.landsat_url
        )
        print(f"STAC search: {len(scenes)} scenes in {time.perf_counter() - started:.2f} s")

        crs = local_crs(lon, lat)
        box = aoi_bounds(lon, lat, args.aoi_km, crs)
        cache = DownloadCache()
        ref, sec = scenes.iloc[2], scenes.iloc[3]
        before = len(remote.log)
        started = time.perf_counter()
        pair = stac.load_pair(ref, sec, box, bbox_crs=crs, cache=cache)
        elapsed = time.perf_counter() - started
        reads = remote.log[before:]
        files = sum(
            (remote.root / "world" / "landsat" / f"{row.scene_id}_SR_B4.TIF").stat().st_size
            for row in (ref, sec)
        )
        moved = _range_bytes(reads)
        print(
            f"area of interest {args.aoi_km:g} km ({pair.shape[0]} x {pair.shape[1]} px) of two scenes: "
            f"{len(reads)} requests, {moved / 1e6:.2f} MB of {files / 1e6:.2f} MB ({100 * moved / files:.0f}%), "
            f"{elapsed:.2f} s"
        )
        before = len(remote.log)
        started = time.perf_counter()
        stac.load_pair(ref, sec, box, bbox_crs=crs, cache=cache)
        print(f"cached reload: {time.perf_counter() - started:.3f} s, {len(remote.log) - before} requests")

        field = tracking.track(pair)
        x, y = np.meshgrid(field["x"].values, field["y"].values)
        n, median, relative = _error(
            field["vx"].values,
            field["vy"].values,
            field.attrs["acquisition_date_img1"],
            field.attrs["acquisition_date_img2"],
            x,
            y,
            field["valid"].values,
        )
        print(
            f"ours vs truth (fast ice > 1000 m/yr, {n} valid nodes): median error {median:.0f} m/yr "
            f"({100 * relative:.1f}% of the speed)"
        )

        granules = itslive.search_granules(
            lon=lon, lat=lat, start="2018-01-01", end="2018-12-31", url=world.itslive_url
        )
        granule = granules.iloc[0]
        theirs = itslive.load_granule(
            granule["href"], bbox=(lon - 0.2, lat - 0.07, lon + 0.2, lat + 0.07), cache=cache
        )
        resampled = onto_grid(theirs, field)
        n, median, relative = _error(
            resampled["vx"].values,
            resampled["vy"].values,
            granule["t0"],
            granule["t1"],
            x,
            y,
            np.ones(x.shape, dtype=bool),
        )
        print(
            f"ITS_LIVE granule (EPSG:3413, 120 m) onto our UTM grid vs truth ({n} nodes): median error "
            f"{median:.1f} m/yr ({100 * relative:.2f}%)"
        )

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    try:
        stac.search(
            "landsat",
            lon=lon,
            lat=lat,
            start="2021-05-01",
            end="2021-07-31",
            url=f"http://127.0.0.1:{port}/stac",
        )
    except NoNetworkError:
        print(f"no network (refused connection): NoNetworkError after {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
