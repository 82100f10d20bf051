"""Calibrate `tracking.estimate.estimated_seconds`: time the NCC kernel per chip and fit the throughput model.

For chip sizes 16/32/64, search ranges 10/20/40 and the three sub-pixel methods (other parameters at their
defaults: step 16, Wallis pre-filter, oversampling 16), time `tracking.track_arrays` on a
`tracking.testing.synthetic_pair` image after a warm-up call (so numba compilation is excluded), keep the best
of ``--repeat`` runs, and fit by least squares on relative error::

    seconds = overhead + n_chips * (e + e_prefilter) * step^2                              (serial part)
              + n_chips * (a_method + b_method * chip^2 + d * coarse_ops) * 2 / threads    (parallel kernel)

where ``coarse_ops`` is the multiply-add count per chip of the kernel's coarse pass (its own reduction factor,
search reach and chip-sharing stride), ``a_method``/``b_method`` the fixed and per-pixel cost of each sub-pixel
method's fine pass, ``(e + e_prefilter) * step^2`` the per-image work (pre-filter, window norms: step^2 image
pixels per chip), and ``overhead`` a fixed cost per call. Extra runs at steps 8 and 32, with each pre-filter and
at two image sizes pin those terms down. Run it on a quiet machine: another busy process inflates the timings of
the two-thread kernel several times.

Run: ``python benchmarks/calibrate_estimate.py [--sizes 512 1024] [--repeat 3]``; paste the printed constants into
``tracking/estimate.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time

import numba
import numpy as np

from tracking import track_arrays
from tracking.estimate import coarse_ops
from tracking.kernels import chip_grid
from tracking.params import PREFILTER_NAMES, SUBPIXEL_METHODS, TrackingParameters
from tracking.testing import synthetic_pair

CHIPS = (16, 32, 64)
#: Pre-filters with a cost of their own (``none`` is the reference).
PREFILTERS = tuple(name for name in PREFILTER_NAMES if name != "none")
SEARCHES = (10, 20, 40)


#: Extra (method, chip, search, step, prefilter) runs that vary the step and the pre-filter.
EXTRA_RUNS = (
    ("parabolic", 32, 20, 8, "wallis"),
    ("parabolic", 32, 20, 32, "wallis"),
    ("lucas-kanade", 32, 20, 8, "wallis"),
    ("lucas-kanade", 32, 20, 32, "wallis"),
    *(
        ("lucas-kanade", 32, 20, step, name)
        for name in PREFILTER_NAMES
        if name != "wallis"
        for step in (8, 16)
    ),
)


def measure(size: int, repeat: int) -> list[dict]:
    """One row per configuration: parameters, chip count, best seconds."""
    pair = synthetic_pair((size, size), max_displacement=6.0, seed=1)
    warm = synthetic_pair((160, 160), seed=2)
    for method in SUBPIXEL_METHODS:
        track_arrays(warm.reference, warm.secondary, subpixel=method, search_range=8)  # compile
    configs = [(m, c, s, 16, "wallis") for m in SUBPIXEL_METHODS for c in CHIPS for s in SEARCHES]
    rows = []
    for method, chip, search, step, prefilter in [*configs, *EXTRA_RUNS]:
        params = TrackingParameters.from_overrides(
            chip_size=chip, search_range=search, subpixel=method, step=step, prefilter=prefilter
        )
        tops, lefts = chip_grid(pair.reference.shape, chip, step)
        n = tops.size * lefts.size
        best = np.inf
        for _ in range(repeat):
            start = time.perf_counter()
            track_arrays(pair.reference, pair.secondary, params)
            best = min(best, time.perf_counter() - start)
        rows.append(
            {
                "method": method,
                "chip": chip,
                "search": search,
                "step": step,
                "prefilter": prefilter,
                "n": n,
                "seconds": best,
                "coarse": coarse_ops(params),
                "size": size,
            }
        )
        print(f"{_label(rows[-1])}: {n:>6} chips {best:7.3f} s {n / best:8.0f} chips/s", flush=True)
    return rows


def _label(r: dict) -> str:
    return (
        f"{r['size']:>5} px {r['method']:>12} chip {r['chip']:>2} search {r['search']:>2} step {r['step']:>2} "
        f"{r['prefilter']:>17}"
    )


def fit(rows: list[dict]) -> dict[str, float]:
    """Least squares on relative error of the per-chip time; returns the constants."""
    methods = list(SUBPIXEL_METHODS)
    design, target = [], []
    for r in rows:
        per_chip = r["seconds"] / r["n"]
        area = r["chip"] ** 2
        filters = [r["step"] ** 2 * (r["prefilter"] == f) for f in PREFILTERS]
        features = [
            *[float(r["method"] == m) for m in methods],
            *[area * (r["method"] == m) for m in methods],
            r["coarse"],
            r["step"] ** 2,
            *filters,
            1.0 / r["n"],
        ]
        design.append(np.array(features) / per_chip)  # relative residuals
        target.append(1.0)
    from scipy.optimize import nnls

    coef, _ = nnls(np.array(design), np.array(target))
    names = [
        *[f"base_{m}" for m in methods],
        *[f"per_pixel_{m}" for m in methods],
        "per_coarse_op",
        "per_image_pixel",
        *[f"per_image_pixel_{f}" for f in PREFILTERS],
        "per_call",
    ]
    return dict(zip(names, coef, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024], help="image sides, px")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per configuration (best kept)")
    args = parser.parse_args()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numba threads "
        f"{numba.get_num_threads()}, {dt.date.today()}"
    )
    rows = [row for size in args.sizes for row in measure(size, args.repeat)]
    constants = fit(rows)
    print("\nfitted constants (seconds per chip; per_call: seconds per call):")
    for name, value in constants.items():
        print(f"    {name} = {value:.4g}")
    from tracking import estimate

    print("\nmodel vs measurement with these constants:")
    errors = []
    for r in rows:
        params = TrackingParameters.from_overrides(
            chip_size=r["chip"],
            search_range=r["search"],
            subpixel=r["method"],
            step=r["step"],
            prefilter=r["prefilter"],
        )
        model = estimate._model_seconds(r["n"], params, constants, estimate.CALIBRATION_THREADS)
        errors.append(model / r["seconds"])
        print(
            f"{_label(r)}: measured {r['seconds']:7.3f} s, model {model:7.3f} s (x{model / r['seconds']:.2f})"
        )
    print(f"model / measured: min {min(errors):.2f}, median {np.median(errors):.2f}, max {max(errors):.2f}")


if __name__ == "__main__":
    main()
