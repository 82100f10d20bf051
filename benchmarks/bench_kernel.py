"""Speed and accuracy of icetrack's NCC tracker against peers, on identical chips, in one run.

Peers:

- an OpenCV ``matchTemplate`` loop (``TM_CCOEFF_NORMED``, the core of autoRIFT, PyTrx and pycorr) with a
  3-point parabolic peak, over 2 threads;
- scikit-image ``match_template`` with the same parabolic peak, over 2 threads (on a subset: it is slow).

And icetrack's own kernels against each other (``--kernels``): NCC against orientation correlation (OC) on the
same pair, for each sub-pixel method, then on a copy of the secondary whose brightness is changed nonlinearly and
shaded across the scene (an illumination change between the dates).

Run: ``python benchmarks/bench_kernel.py [--size 2048] [--repeat 3] [--kernels]``. Needs the ``bench`` extra
(without ``--kernels``).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tracking import track_arrays
from tracking.kernels import chip_grid
from tracking.testing import synthetic_pair

SEARCH = 20
STEP = 16
THREADS = 2


def parabolic(surface: np.ndarray, i: int, j: int) -> tuple[float, float]:
    """3-point parabolic sub-pixel peak along each axis (the usual companion of matchTemplate)."""

    def vertex(a: float, b: float, c: float) -> float:
        curvature = a - 2 * b + c
        return 0.0 if curvature >= 0 or not np.isfinite(curvature) else 0.5 * (a - c) / curvature

    di = vertex(surface[i - 1, j], surface[i, j], surface[i + 1, j]) if 0 < i < surface.shape[0] - 1 else 0.0
    dj = vertex(surface[i, j - 1], surface[i, j], surface[i, j + 1]) if 0 < j < surface.shape[1] - 1 else 0.0
    return di, dj


def peer_loop(match, reference, secondary, tops, lefts, chip):
    """Run ``match(search_area, template) -> surface`` on every chip over THREADS threads; (dx, dy) arrays."""

    def one_row(top: int) -> list[tuple[float, float]]:
        out = []
        for left in lefts:
            area = secondary[top - SEARCH : top + chip + SEARCH, left - SEARCH : left + chip + SEARCH]
            template = reference[top : top + chip, left : left + chip]
            surface = match(area, template)
            if not np.isfinite(surface).any():
                out.append((np.nan, np.nan))
                continue
            i, j = np.unravel_index(np.nanargmax(surface), surface.shape)
            di, dj = parabolic(surface, i, j)
            out.append((j + dj - SEARCH, i + di - SEARCH))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        rows = list(pool.map(one_row, tops))
    result = np.array(rows, dtype=np.float64)
    return result[..., 0], result[..., 1]


def opencv_match(area, template):
    import cv2

    return cv2.matchTemplate(area, template, cv2.TM_CCOEFF_NORMED)


def skimage_match(area, template):
    from skimage.feature import match_template

    return match_template(area, template)


def best_time(func, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def compile_seconds() -> tuple[float, float]:
    """Seconds for a first call in a fresh process: with an empty Numba cache, and with the cache filled."""
    code = (
        "import time, numpy as np; t = time.perf_counter();"
        "from tracking import track_arrays;"
        "track_arrays(np.random.default_rng(0).normal(size=(128, 128)), np.random.default_rng(1)"
        ".normal(size=(128, 128)), search_range=8); print(time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = float(subprocess.check_output([sys.executable, "-c", code], env=env, text=True).split()[-1])
        warm = float(subprocess.check_output([sys.executable, "-c", code], env=env, text=True).split()[-1])
    return cold, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skimage-rows", type=int, default=12, help="chip rows scikit-image runs on")
    parser.add_argument("--kernels", action="store_true", help="only compare icetrack's kernels (ncc, oc)")
    args = parser.parse_args()
    if args.kernels:
        compare_kernels(args)
        return
    import cv2

    cv2.setNumThreads(1)  # the loop itself spreads chips over THREADS threads
    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, opencv {cv2.__version__}"
    )
    cold, warm = compile_seconds()
    print(f"compile: first call {cold:.1f} s with an empty cache, {warm:.2f} s with the cache filled")

    pair = synthetic_pair((args.size, args.size), max_displacement=12.0, seed=1)
    print(
        f"pair: {args.size} x {args.size}, glacier-like flow up to 12 px, 5% noise, featureless and NaN patches; "
        f"search_range {SEARCH}, step {STEP}"
    )
    header = (
        f"{'chip':>4} {'tracker':<26} {'chips/s':>9} {'ratio':>6} {'RMSE px':>8} {'>2px %':>7} "
        f"{'valid %':>8} {'blank valid %':>14}"
    )
    print(header)
    for chip in (32, 64):
        run_chip(pair, chip, args)


def run_chip(pair, chip: int, args: argparse.Namespace) -> None:
    """Time and score every tracker on the chips of one chip size whose search area fits in the image."""
    from scipy import ndimage

    size = pair.reference.shape[0]
    tops, lefts = chip_grid(pair.reference.shape, chip, STEP)
    keep_t = (tops >= SEARCH) & (tops + chip + SEARCH <= size)
    keep_l = (lefts >= SEARCH) & (lefts + chip + SEARCH <= size)
    tops, lefts = tops[keep_t], lefts[keep_l]
    n = tops.size * lefts.size
    centre = (chip - 1) / 2
    rr, cc = np.meshgrid(tops + centre, lefts + centre, indexing="ij")
    true_dx, true_dy = pair.truth_at(rr, cc)
    middle = np.ix_(tops + chip // 2, lefts + chip // 2)
    # textured: chip and search area all textured; blank: chip wholly featureless or nodata
    textured = ndimage.minimum_filter(pair.textured, size=chip + 2 * SEARCH, mode="constant", cval=False)[
        middle
    ]
    blank = ndimage.minimum_filter(~pair.textured, size=chip, mode="constant", cval=False)[middle]
    sel = np.ix_(np.flatnonzero(keep_t), np.flatnonzero(keep_l))

    def report(name, seconds, dx, dy, valid, base_rate=None):
        rate = n / seconds
        err = np.hypot(dx - true_dx, dy - true_dy)
        use = textured & valid & np.isfinite(err)
        rmse = float(np.sqrt(np.mean(err[use] ** 2)))
        gross = 100 * float(np.mean(err[valid & np.isfinite(err)] > 2)) if valid.any() else float("nan")
        valid_pct = 100 * float(np.mean(valid[textured]))
        flat = 100 * float(np.mean(valid[blank])) if blank.any() else float("nan")
        ratio = "" if base_rate is None else f"{rate / base_rate:5.2f}x"
        print(
            f"{chip:>4} {name:<26} {rate:9.0f} {ratio:>6} {rmse:8.4f} {gross:7.2f} {valid_pct:8.1f} {flat:14.1f}"
        )
        return rate, use

    t_cv, (cv_dx, cv_dy) = best_time(
        lambda: peer_loop(opencv_match, pair.reference, pair.secondary, tops, lefts, chip), args.repeat
    )
    cv_rate, _ = report("opencv loop (2 threads)", t_cv, cv_dx, cv_dy, np.isfinite(cv_dx))
    results = {}
    for method in ("lucas-kanade", "parabolic"):
        t_ours, field = best_time(
            lambda m=method: track_arrays(
                pair.reference,
                pair.secondary,
                chip_size=chip,
                search_range=SEARCH,
                step=STEP,
                prefilter="none",
                subpixel=m,
            ),
            args.repeat,
        )
        valid = field.valid.values[sel]
        _, use = report(
            f"icetrack ({method})", t_ours, field.dx.values[sel], field.dy.values[sel], valid, cv_rate
        )
        results[method] = (field.dx.values[sel], field.dy.values[sel], use)
    dx, dy, use = results["lucas-kanade"]
    ours = np.sqrt(np.mean(((dx - true_dx) ** 2 + (dy - true_dy) ** 2)[use]))
    theirs = np.sqrt(np.mean(((cv_dx - true_dx) ** 2 + (cv_dy - true_dy) ** 2)[use]))
    print(
        f"{chip:>4} same-chip RMSE: icetrack {ours:.4f} px vs opencv+parabolic {theirs:.4f} px "
        f"({100 * (1 - ours / theirs):.0f}% lower) on {int(use.sum())} textured chips"
    )
    sub = np.linspace(0, tops.size - 1, min(args.skimage_rows, tops.size)).astype(int)
    t_sk, (sk_dx, sk_dy) = best_time(
        lambda: peer_loop(skimage_match, pair.reference, pair.secondary, tops[sub], lefts, chip), 1
    )
    use = textured[sub]
    sk_rmse = np.sqrt(np.nanmean(((sk_dx - true_dx[sub]) ** 2 + (sk_dy - true_dy[sub]) ** 2)[use]))
    cv_rmse = np.sqrt(np.nanmean(((cv_dx - true_dx)[sub] ** 2 + (cv_dy - true_dy)[sub] ** 2)[use]))
    print(
        f"{chip:>4} {'scikit-image (2 threads)':<26} {sub.size * lefts.size / t_sk:9.0f} "
        f"{sub.size * lefts.size / t_sk / cv_rate:5.2f}x {sk_rmse:8.4f}   "
        f"({sub.size} chip rows spread over the image; opencv RMSE on them {cv_rmse:.4f})"
    )


def compare_kernels(args: argparse.Namespace) -> None:
    """NCC against OC, per sub-pixel method, on the synthetic pair and on an illumination-changed copy."""
    from scipy import ndimage

    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    pair = synthetic_pair((args.size, args.size), max_displacement=12.0, seed=1)
    rows, cols = np.mgrid[0 : args.size, 0 : args.size] / args.size
    lit = np.exp(1.5 * pair.secondary) * (0.3 + 1.4 * cols) + 5 * rows  # brighter, nonlinear, shaded
    track_arrays(
        pair.reference[:256, :256], pair.secondary[:256, :256], kernel="oc", search_range=8
    )  # compile
    print(
        f"pair: {args.size} x {args.size}, glacier-like flow up to 12 px, 5% noise, featureless and NaN "
        f"patches; search_range {SEARCH}, step {STEP}; 'lit': secondary -> exp(1.5 s) (0.3 + 1.4 x) + 5 y"
    )
    print(
        f"{'chip':>4} {'scene':<5} {'prefilter':<9} {'kernel':<4} {'subpixel':<12} {'chips/s':>8} {'ratio':>6} "
        f"{'median px':>9} {'RMSE px':>8} {'>2px %':>7} {'valid %':>8} {'blank valid %':>13} {'peak':>5}"
    )
    cases = [("plain", "none", m) for m in ("lucas-kanade", "parabolic", "oversampled")]
    cases += [("lit", f, m) for f in ("none", "wallis") for m in ("lucas-kanade", "parabolic")]
    for chip in (32, 64):
        tops, lefts = chip_grid(pair.reference.shape, chip, STEP)
        centre = (chip - 1) / 2
        rr, cc = np.meshgrid(tops + centre, lefts + centre, indexing="ij")
        true_dx, true_dy = pair.truth_at(rr, cc)
        middle = np.ix_(tops + chip // 2, lefts + chip // 2)
        textured = ndimage.minimum_filter(pair.textured, size=chip + 2 * SEARCH, mode="constant", cval=False)
        textured = textured[middle]
        blank = ndimage.minimum_filter(~pair.textured, size=chip, mode="constant", cval=False)[middle]
        for scene, prefilter, method in cases:
            secondary = pair.secondary if scene == "plain" else lit
            base = None
            for kernel in ("ncc", "oc"):
                options = {
                    "kernel": kernel,
                    "chip_size": chip,
                    "search_range": SEARCH,
                    "step": STEP,
                    "prefilter": prefilter,
                    "subpixel": method,
                }
                seconds, field = best_time(
                    lambda sec=secondary, o=options: track_arrays(pair.reference, sec, **o), args.repeat
                )
                rate = field.dx.size / seconds
                base = base or rate
                valid = field.valid.values
                err = np.hypot(field.dx.values - true_dx, field.dy.values - true_dy)
                use = textured & valid
                print(
                    f"{chip:>4} {scene:<5} {prefilter:<9} {kernel:<4} {method:<12} {rate:8.0f} "
                    f"{rate / base:5.2f}x {np.median(err[use]):9.4f} {np.sqrt(np.mean(err[use] ** 2)):8.4f} "
                    f"{100 * np.mean(err[valid] > 2):7.2f} {100 * valid[textured].mean():8.1f} "
                    f"{100 * valid[blank].mean():13.1f} {np.nanmedian(field.peak.values[textured]):5.2f}"
                )


if __name__ == "__main__":
    main()
