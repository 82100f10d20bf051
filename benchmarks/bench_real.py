"""icetrack's NCC tracker against an OpenCV ``matchTemplate`` loop on real image pairs, on identical chips.

a) Sentinel-2 pair with no surface motion (``real/arosics-s2-t33uuu``): every vector measures the same global
   co-registration shift plus noise, so the spread of the vectors is the tracker's stable-ground noise,
   measured with GLAFT's static-terrain metric (`tracking.quality.static_terrain_metric`), per pre-filter.
b) Sentinel-1 EW sea-ice pair (``real/seaice-s1-ew``): a large (about 45 px) drift; valid share, median drift,
   its spatial spread, and the agreement of the two trackers.

The OpenCV loop (``TM_CCOEFF_NORMED`` with a 3-point parabolic peak over 2 threads, from
``bench_kernel.py``) runs on the same pre-filtered images and the same chips as icetrack.

Run: ``python benchmarks/bench_real.py``. Reads the fixtures from ``../shared/fixtures/real`` (or
``$ICETRACK_FIXTURES/real``) and skips cleanly when they are absent.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_kernel, which holds the OpenCV loop

import bench_kernel

from tracking import track_arrays
from tracking.kernels import chip_grid
from tracking.params import PREFILTER_NAMES, PREFILTER_SIZES
from tracking.preprocess import prefilter
from tracking.quality import static_terrain_metric

FIXTURES = Path(
    os.environ.get("ICETRACK_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
)
AROSICS = FIXTURES / "real" / "arosics-s2-t33uuu"
SEAICE = FIXTURES / "real" / "seaice-s1-ew"
#: Window of the 2016-06-08 ("ref") grid, rows then columns, where both Sentinel-2 images have data and the
#: clouds of the 05-29 image (NE corner) are left out: 1800 x 1500 px.
AROSICS_WINDOW = (slice(900, 2700), slice(900, 2400))
CHIP, STEP, SEARCH = 32, 16, 20


@contextlib.contextmanager
def search_range(value: int) -> Iterator[None]:
    """Set the search range of ``bench_kernel.peer_loop`` (a module constant there) for a while."""
    saved = bench_kernel.SEARCH
    bench_kernel.SEARCH = value
    try:
        yield
    finally:
        bench_kernel.SEARCH = saved


def machine_facts() -> str:
    import cv2
    import scipy

    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"# machine: {model}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, opencv {cv2.__version__}"
    )


def inner_chips(shape: tuple[int, int], chip: int, step: int, search: int):
    """icetrack's chip grid, and the index of the chips whose whole search area lies inside the image."""
    tops, lefts = chip_grid(shape, chip, step)
    keep_t = np.flatnonzero((tops >= search) & (tops + chip + search <= shape[0]))
    keep_l = np.flatnonzero((lefts >= search) & (lefts + chip + search <= shape[1]))
    return tops[keep_t], lefts[keep_l], np.ix_(keep_t, keep_l)


def opencv_loop(reference: np.ndarray, secondary: np.ndarray, tops, lefts, chip: int, search: int):
    """The OpenCV loop of ``bench_kernel`` on pre-filtered float32 images; (dx, dy, seconds)."""
    import cv2

    cv2.setNumThreads(1)
    ref = np.ascontiguousarray(reference, np.float32)
    sec = np.ascontiguousarray(secondary, np.float32)
    with search_range(search):
        start = time.perf_counter()
        dx, dy = bench_kernel.peer_loop(bench_kernel.opencv_match, ref, sec, tops, lefts, chip)
        seconds = time.perf_counter() - start
    # a peak on the edge of the search area is no match (icetrack rejects those too)
    edge = (np.abs(dx) >= search - 0.5) | (np.abs(dy) >= search - 0.5)
    dx[edge] = dy[edge] = np.nan
    return dx, dy, seconds


def load_arosics() -> tuple[np.ndarray, np.ndarray]:
    """The 05-29 image (reference, earlier) put onto the 06-08 grid, and the 06-08 image; 0 -> NaN; windowed."""
    import rasterio

    (ref_path,), (tgt_path,) = sorted(AROSICS.glob("ref_*.jp2")), sorted(AROSICS.glob("tgt_*.jp2"))
    with rasterio.open(ref_path) as src:
        later, grid = src.read(1).astype(np.float32), src.transform
    with rasterio.open(tgt_path) as src:
        earlier_raw, own = src.read(1).astype(np.float32), src.transform
    col0 = (own.c - grid.c) / grid.a
    row0 = (own.f - grid.f) / grid.e
    if abs(col0 - round(col0)) > 1e-6 or abs(row0 - round(row0)) > 1e-6 or own.a != grid.a:
        raise RuntimeError("the two Sentinel-2 images are not on one lattice")
    col0, row0 = round(col0), round(row0)
    earlier = np.full_like(later, np.nan)
    rows, cols = earlier_raw.shape
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + rows, later.shape[0]), min(col0 + cols, later.shape[1])
    earlier[r0:r1, c0:c1] = earlier_raw[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0]
    later[later == 0] = np.nan
    earlier[earlier == 0] = np.nan
    return earlier[AROSICS_WINDOW], later[AROSICS_WINDOW]


def metric_px(dx: np.ndarray, dy: np.ndarray) -> dict[str, float]:
    result = static_terrain_metric(dx, dy)
    result["mean"] = (result["metric_x"] + result["metric_y"]) / 2
    return result


def run_arosics(rows: list[str]) -> None:
    earlier, later = load_arosics()
    print(
        f"\n## a) Sentinel-2 stable ground (arosics-s2-t33uuu): window {earlier.shape[0]} x {earlier.shape[1]} px, "
        f"{100 * np.mean(np.isfinite(earlier) & np.isfinite(later)):.1f}% with data in both; chip {CHIP}, "
        f"search {SEARCH}, step {STEP}; reference 2016-05-29, secondary 2016-06-08"
    )
    print("expected shift: dx ~ -0.5 px, dy ~ +1.65 px (features move west and south from 05-29 to 06-08)")
    tops, lefts, sel = inner_chips(earlier.shape, CHIP, STEP, SEARCH)
    print(f"{tops.size * lefts.size} chips whose search area lies in the window")
    header = (
        f"{'prefilter':<18} {'tracker':<14} {'chips':>6} {'valid %':>8} {'median dx,dy px':>16} "
        f"{'metric x,y px':>14} {'mean':>6} {'kde peak':>14} {'outl %':>7} {'s':>5}"
    )
    print(header)
    rows.append(
        "| prefilter | tracker | chips | valid % | median dx, dy (px) | GLAFT metric x, y (px) | mean (px) "
        "| outliers % |"
    )
    rows.append("|---|---|---|---|---|---|---|---|")
    for name in PREFILTER_NAMES:
        size = PREFILTER_SIZES[name]
        start = time.perf_counter()
        field = track_arrays(
            earlier,
            later,
            prefilter=name,
            prefilter_size=size,
            chip_size=CHIP,
            search_range=SEARCH,
            step=STEP,
        )
        ours_s = time.perf_counter() - start
        dx, dy = field.dx.values[sel], field.dy.values[sel]
        valid = field.valid.values[sel] & np.isfinite(dx)
        cv_dx, cv_dy, cv_s = opencv_loop(
            prefilter(earlier, name, size), prefilter(later, name, size), tops, lefts, CHIP, SEARCH
        )
        found = np.isfinite(cv_dx)
        cases = [
            ("icetrack", dx[valid], dy[valid], valid, ours_s),
            ("opencv same", cv_dx[valid & found], cv_dy[valid & found], valid & found, cv_s),
            ("opencv all", cv_dx[found], cv_dy[found], found, cv_s),
        ]
        for label, x, y, mask, seconds in cases:
            m = metric_px(x, y)
            share = 100 * mask.mean()
            print(
                f"{name:<18} {label:<14} {int(mask.sum()):>6} {share:8.1f} "
                f"{np.median(x):+7.3f},{np.median(y):+7.3f}  {m['metric_x']:6.3f},{m['metric_y']:6.3f} "
                f"{m['mean']:6.3f} {m['kdepeak_x']:+6.3f},{m['kdepeak_y']:+6.3f} {m['outlier_percent']:7.2f} "
                f"{seconds:5.2f}"
            )
            rows.append(
                f"| {name} | {label} | {int(mask.sum())} | {share:.1f} | {np.median(x):+.3f}, "
                f"{np.median(y):+.3f} | {m['metric_x']:.3f}, {m['metric_y']:.3f} | {m['mean']:.3f} | "
                f"{m['outlier_percent']:.1f} |"
            )


def seaice_days(paths: list[Path]) -> float:
    stamps = []
    for path in paths:
        found = re.search(r"_(\d{8}T\d{6})_", path.name)
        if found is None:
            raise RuntimeError(f"no acquisition time in {path.name}")
        stamps.append(datetime.strptime(found.group(1), "%Y%m%dT%H%M%S"))
    return (stamps[1] - stamps[0]).total_seconds() / 86400


def mad(values: np.ndarray) -> float:
    return float(np.median(np.abs(values - np.median(values)))) if values.size else float("nan")


def run_seaice(rows: list[str]) -> None:
    import rasterio

    paths = sorted(SEAICE.glob("*.tif"))
    images = []
    for path in paths:
        with rasterio.open(path) as src:
            images.append(src.read(1).astype(np.float32))
            pixel_m = abs(src.transform.a)
    days = seaice_days(paths)
    search = 64
    print(
        f"\n## b) Sentinel-1 EW sea ice (seaice-s1-ew): {images[0].shape[0]} x {images[0].shape[1]} px at "
        f"{pixel_m:.0f} m, dt {days * 24:.2f} h; search {search}, step {STEP}, prefilter gaussian_highpass (3)"
    )
    print(
        f"{'chip':>4} {'tracker':<9} {'chips':>6} {'valid %':>8} {'median dx,dy px':>16} {'km/day':>7} "
        f"{'MAD dx,dy px':>13} {'both':>6} {'med |diff| dx,dy':>17} {'>1px %':>7} {'s':>5}"
    )
    if rows:
        rows.append("")
    rows.append(
        "| chip | tracker | chips | valid % | median dx, dy (px) | km/day | MAD dx, dy (px) "
        "| both | median abs diff dx, dy (px) |"
    )
    rows.append("|---|---|---|---|---|---|---|---|---|")
    for chip in (32, 64):
        tops, lefts, sel = inner_chips(images[0].shape, chip, STEP, search)
        start = time.perf_counter()
        field = track_arrays(images[0], images[1], chip_size=chip, search_range=search, step=STEP)
        ours_s = time.perf_counter() - start
        dx, dy = field.dx.values[sel], field.dy.values[sel]
        valid = field.valid.values[sel] & np.isfinite(dx)
        filtered = [
            prefilter(image, "gaussian_highpass", PREFILTER_SIZES["gaussian_highpass"]) for image in images
        ]
        cv_dx, cv_dy, cv_s = opencv_loop(*filtered, tops, lefts, chip, search)
        found = np.isfinite(cv_dx)
        both = valid & found
        diff_x = float(np.median(np.abs(dx - cv_dx)[both]))
        diff_y = float(np.median(np.abs(dy - cv_dy)[both]))
        far = 100 * float(np.mean(np.hypot(dx - cv_dx, dy - cv_dy)[both] > 1))
        for label, x, y, mask, seconds in (
            ("icetrack", dx, dy, valid, ours_s),
            ("opencv", cv_dx, cv_dy, found, cv_s),
        ):
            mx, my = float(np.median(x[mask])), float(np.median(y[mask]))
            speed = np.hypot(mx, my) * pixel_m / 1000 / days
            print(
                f"{chip:>4} {label:<9} {int(mask.sum()):>6} {100 * mask.mean():8.1f} {mx:+7.2f},{my:+7.2f}  "
                f"{speed:7.2f} {mad(x[mask]):6.2f},{mad(y[mask]):6.2f} {int(both.sum()):>6} "
                f"{diff_x:8.3f},{diff_y:8.3f} {far:7.1f} {seconds:5.2f}"
            )
            rows.append(
                f"| {chip} | {label} | {int(mask.sum())} | {100 * mask.mean():.1f} | {mx:+.2f}, {my:+.2f} | "
                f"{speed:.2f} | {mad(x[mask]):.2f}, {mad(y[mask]):.2f} | {int(both.sum())} | "
                f"{diff_x:.3f}, {diff_y:.3f} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("arosics", "seaice"), help="run one of the two comparisons")
    args = parser.parse_args()
    have = {"arosics": AROSICS.is_dir(), "seaice": SEAICE.is_dir()}
    wanted = [args.only] if args.only else ["arosics", "seaice"]
    if not any(have[name] for name in wanted):
        print(f"skipped: no real-image fixtures under {FIXTURES / 'real'}")
        return 0
    print(machine_facts())
    rows: list[str] = []
    for name in wanted:
        if not have[name]:
            print(f"\nskipped {name}: fixtures absent")
            continue
        (run_arosics if name == "arosics" else run_seaice)(rows)
    print("\n### markdown for benchmarks/RESULTS.md\n")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
