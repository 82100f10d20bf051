"""Whole scenes and batches on Dask: a 16000 x 16000 pair tracked tile by tile, and N pairs on 1 and 2 workers.

(a) Two 16000 x 16000 float32 GeoTIFFs are written block by block (never whole in memory): a band-limited
gradient-noise texture (octaves of 4 to 32 px) and the same texture moved by a known smooth flow (2 to 6 px),
each with its own sensor noise. `tracking.tiles.track_tiled` tracks them from the files at step 16 (default
parameters otherwise), once here one tile after the other and once on a LocalCluster of 2 worker processes.
Each run is a fresh process: wall time, peak resident memory (``VmHWM``, the process plus its cluster's
processes) and the error against the known flow at every chip centre.

(b) The same N demo pairs (30 km areas, 1000 x 1000 px) tracked by `tracking.batch.run_batch` on a LocalCluster of
1 worker and of 2 workers (cluster start and the workers' warm-up included): wall times and the speed-up.

Run: ``python benchmarks/bench_batch.py [--size 16000] [--tile-size 4096] [--pairs 40]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit, prange

from tracking.sources.demo.kernels import gnoise, hash3

PIXEL = 15.0  # m
_OCTAVES = ((4.0, 1.0), (8.0, 0.8), (16.0, 0.6), (32.0, 0.4))  # (period px, weight)


# --- the synthetic pair -------------------------------------------------------------------------------------------


@njit(cache=True, inline="always")
def _flow(r, c, size):
    """The known displacement (dx columns right, dy rows down), px, at pixel (r, c): smooth, 2 to 6 px."""
    dx = 3.5 + 2.0 * math.sin(2.0 * math.pi * r / size) * math.cos(math.pi * c / size)
    dy = -1.0 + 1.5 * math.sin(2.0 * math.pi * c / size)
    return dx, dy


@njit(cache=True, parallel=True)
def _render(out, row0, col0, size, moved, noise_seed):
    """Pixels of the reference (``moved`` False) or the secondary: texture(p - D(p)) plus sensor noise."""
    rows, cols = out.shape
    for i in prange(rows):
        r = row0 + i
        for j in range(cols):
            c = col0 + j
            x = float(c)
            y = float(r)
            if moved:
                dx, dy = _flow(r, c, size)
                x -= dx
                y -= dy
            value = 0.0
            for k in range(len(_OCTAVES)):
                period, weight = _OCTAVES[k]
                value += weight * gnoise(x / period, y / period, 17 + k)  # the demo glacier's texture noise
            noise = (hash3(r, c, noise_seed) / 4294967296.0 - 0.5) * 0.1
            out[i, j] = value + noise


def write_pair(folder: Path, size: int, block: int = 1024) -> tuple[Path, Path]:
    """The two GeoTIFFs, written ``block`` rows at a time (tiled 256 x 256, uncompressed)."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    transform = Affine(PIXEL, 0.0, 400_000.0, 0.0, -PIXEL, 7_800_000.0)
    paths = []
    for name, moved, seed, stamp in (
        ("ref_20210501.tif", False, 1, "2021-05-01T14:50:00"),
        ("sec_20210517.tif", True, 2, "2021-05-17T14:50:00"),
    ):
        path = folder / name
        profile = {
            "driver": "GTiff",
            "width": size,
            "height": size,
            "count": 1,
            "dtype": "float32",
            "crs": "EPSG:32622",
            "transform": transform,
            "nodata": float("nan"),
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "BIGTIFF": "YES",
        }
        with rasterio.open(path, "w", **profile) as dst:
            dst.update_tags(ACQUISITION_TIME=stamp, SENSOR="synthetic", BAND="pan")
            out = np.empty((block, size), np.float32)
            for top in range(0, size, block):
                rows = min(block, size - top)
                _render(out[:rows], top, 0, size, moved, seed)
                dst.write(out[:rows], 1, window=Window(0, top, size, rows))
        paths.append(path)
    return paths[0], paths[1]


def true_offsets(rows: np.ndarray, cols: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Displacement of the feature at reference pixel (rows, cols): the fixed point of p = x0 + D(p)."""
    land_r, land_c = rows.astype(np.float64), cols.astype(np.float64)
    for _ in range(6):
        dx = 3.5 + 2.0 * np.sin(2 * np.pi * land_r / size) * np.cos(np.pi * land_c / size)
        dy = -1.0 + 1.5 * np.sin(2 * np.pi * land_c / size)
        land_r, land_c = rows + dy, cols + dx
    return land_c - cols, land_r - rows


# --- (a) one large pair, tile by tile ----------------------------------------------------------------------------

TILED = r"""
import json, os, sys, time

def status(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0

import numpy as np
import psutil
from tracking.io import write_netcdf
from tracking import track_arrays
from tracking.params import TrackingParameters
from tracking.tiles import track_tiled

small = np.random.default_rng(0).normal(size=(160, 160)).astype(np.float32)
track_arrays(small, small, search_range=8)  # load the compiled kernels
ref, sec, out, how, tile_size = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
base = status("self", "VmRSS")
params = TrackingParameters(step=16)
started = time.perf_counter()
if how == "local":
    field = track_tiled(ref, sec, params, tile_size=tile_size)
    seconds = time.perf_counter() - started
    peak, parts = status("self", "VmHWM"), []
else:
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": ":0"}, env={"NUMBA_NUM_THREADS": "1"}) as cluster, \
            Client(cluster) as client:
        client.run(lambda: __import__("tracking.tiles"))
        started = time.perf_counter()
        field = track_tiled(ref, sec, params, tile_size=tile_size, client=client)
        seconds = time.perf_counter() - started
        parts = [status(p.pid, "VmHWM") for p in psutil.Process().children(recursive=True)]
    peak = status("self", "VmHWM") + sum(parts)
write_netcdf(field, out)
print(json.dumps({"seconds": seconds, "peak": peak, "base": base, "parts": parts}))
"""


def run_tiled(ref: Path, sec: Path, folder: Path, how: str, tile_size: int, size: int) -> dict:
    from tracking.io import read_field

    out = folder / f"field_{how}.nc"
    text = subprocess.check_output(
        [sys.executable, "-c", TILED, str(ref), str(sec), str(out), how, str(tile_size)], text=True
    )
    result = json.loads(text.strip().splitlines()[-1])
    field = read_field(out)
    valid = field["valid"].values
    image = np.asarray(field.attrs["image_geotransform"], dtype=float)  # x0, dx, 0, y0, 0, dy of the pixels
    cols = (field["x"].values - image[0]) / image[1] - 0.5
    rows = (field["y"].values - image[3]) / image[5] - 0.5
    true_dx, true_dy = true_offsets(
        rows[:, None] + 0 * cols[None, :], cols[None, :] + 0 * rows[:, None], size
    )
    error = np.hypot(field["dx"].values - true_dx, field["dy"].values - true_dy)[valid]
    result.update(
        nodes=valid.size,
        valid=float(valid.mean()),
        interpolated=int(field["interpolated"].sum()),
        median_error=float(np.median(error)),
        p95_error=float(np.percentile(error, 95)),
        rmse=float(np.sqrt(np.mean(error**2))),
    )
    return result


# --- (b) a batch on 1 and 2 workers -----------------------------------------------------------------------------


def run_batches(n_pairs: int, aoi_km: float, folder: Path) -> list[dict]:
    """The batch on run_batch's own LocalCluster of 1 and of 2 workers (cores // workers Numba threads each)."""
    from tracking.batch import demo_pair_specs, run_batch
    from tracking.cli.batch import DEMO_CENTRE
    from tracking.params import TrackingParameters

    x, y = DEMO_CENTRE
    half = aoi_km * 500.0
    specs = demo_pair_specs(
        bbox=(x - half, y - half, x + half, y + half), start="2019-01-01", end="2021-12-31", max_dt_days=48
    )[:n_pairs]
    results = []
    for workers in (1, 2):
        os.environ["ICETRACK_CACHE"] = str(folder / f"cache-{workers}")  # crops generated by the workers
        out = folder / f"out-{workers}"
        started = time.perf_counter()
        stamps: list[float] = []

        def progress(done: int, total: int, stamps: list[float] = stamps, started: float = started) -> None:
            if done:
                stamps.append(time.perf_counter() - started)

        result = run_batch(specs, TrackingParameters(), out, n_workers=workers, progress=progress)
        seconds = time.perf_counter() - started
        busy = sum(o.seconds for o in result.done + result.failed)
        numba = max(1, (os.cpu_count() or 1) // workers)
        results.append(
            {
                "workers": workers,
                "threads": numba,
                "seconds": seconds,
                "done": len(result.done),
                "failed": len(result.failed),
                "task_seconds": busy,
                "first": stamps[0],
                "rate": (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-9),
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16000, help="side of the large pair, px (default 16000)")
    parser.add_argument("--tile-size", type=int, default=4096)
    parser.add_argument("--pairs", type=int, default=40, help="demo pairs of the batch (default 40)")
    parser.add_argument("--aoi-km", type=float, default=30.0, help="side of the demo areas, km (default 30)")
    parser.add_argument("--skip-tiled", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--skip-cluster", action="store_true", help="(a) in one process only")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        if not args.skip_tiled:
            started = time.perf_counter()
            ref, sec = write_pair(folder, args.size)
            print(
                f"(a) {args.size} x {args.size} px pair written in {time.perf_counter() - started:.0f} s "
                f"({2 * args.size**2 * 4 / 2**30:.1f} GiB of float32 GeoTIFF); step 16, tile {args.tile_size} px"
            )
            for how in ("local", "cluster")[: 1 if args.skip_cluster else 2]:
                r = run_tiled(ref, sec, folder, how, args.tile_size, args.size)
                label = "one process, tiles in turn" if how == "local" else "LocalCluster, 2 worker processes"
                print(
                    f"    {label}: {r['seconds']:.0f} s, peak memory {r['peak'] / 2**30:.2f} GiB "
                    f"(above the process's base {(r['peak'] - r['base']) / 2**30:.2f} GiB), {r['nodes']} nodes, "
                    f"valid {100 * r['valid']:.1f}%, {r['interpolated']} interpolated; error vs the known flow: "
                    f"median {r['median_error']:.3f} px, 95th percentile {r['p95_error']:.3f} px, "
                    f"RMSE {r['rmse']:.3f} px"
                )
                if r["parts"]:
                    print(
                        f"      peaks of the cluster's processes: "
                        f"{', '.join(f'{p / 2**30:.2f}' for p in r['parts'])} GiB"
                    )
            for path in (ref, sec):
                path.unlink()
        if not args.skip_batch:
            runs = run_batches(args.pairs, args.aoi_km, folder)
            print(f"(b) {args.pairs} demo pairs, {args.aoi_km:g} km areas, default parameters:")
            for r in runs:
                print(
                    f"    {r['workers']} worker(s), {r['threads']} Numba thread(s) each: {r['seconds']:.1f} s wall, "
                    f"first result after {r['first']:.1f} s, then {r['rate']:.2f} pairs/s ({r['done']} done, "
                    f"{r['failed']} failed; {r['task_seconds']:.1f} s in tasks)"
                )
            print(
                f"    speed-up 1 -> 2 workers: {runs[0]['seconds'] / runs[1]['seconds']:.2f} x wall, "
                f"{runs[1]['rate'] / runs[0]['rate']:.2f} x after the first result"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
