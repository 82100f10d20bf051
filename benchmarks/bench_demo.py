"""Accuracy of `tracking.track` on demo-glacier pairs against the demo's exact truth.

For a few pairs (dates and dt), prints the time, the valid fraction, and on the fast trunk (true speed at least
half the pair's 99th-percentile speed) the median relative speed error and the median vector error, and the same
on stable ground. Run: ``python benchmarks/bench_demo.py``.
"""

from __future__ import annotations

import time

import numpy as np

from tracking.pipeline import track
from tracking.scenes import Pair
from tracking.sources import demo

#: The trunk moves up to about 40 m/day: 21 px of 30 m in 16 days, more than the default 20 px each way.
SEARCH_RANGE = 40

CASES = [
    ("2016-06-01", 16, "red"),
    ("2018-06-01", 16, "red"),
    ("2021-05-01", 16, "red"),
    ("2021-05-01", 32, "red"),
]


def evaluate(t0: str, dt_days: int, band: str) -> dict[str, float]:
    """Track one demo pair with the default parameters and score it against the truth."""
    reference, secondary = demo.demo_pair(t0, dt_days=dt_days, band=band)
    pair = Pair.from_scenes(reference, secondary)
    start = time.perf_counter()
    field = track(pair, search_range=SEARCH_RANGE)
    seconds = time.perf_counter() - start
    truth = demo.true_velocity_field(reference, secondary, x=field.x.values, y=field.y.values)
    measured = field.valid.values
    v_true = truth.v.values
    seen = np.ones(v_true.shape, bool)  # nodes where both scenes have data (path 8 covers only the east)
    for scene in (reference, secondary):
        seen &= np.isfinite(scene.sel(x=field.x, y=field.y, method="nearest").values)
    fast = seen & (v_true >= 0.5 * np.nanpercentile(np.where(seen, v_true, np.nan), 99))
    stable = seen & (v_true < 1.0)
    relative = np.abs(field.v.values - v_true) / v_true
    vector = np.hypot(field.vx.values - truth.vx.values, field.vy.values - truth.vy.values)
    on_trunk = fast & measured
    on_rock = stable & measured
    return {
        "seconds": seconds,
        "valid": 100 * float(measured.mean()),
        "trunk_valid": 100 * float(measured[fast].mean()),
        "trunk_median_speed": float(np.median(v_true[on_trunk])),
        "trunk_median_rel_error": 100 * float(np.median(relative[on_trunk])),
        "trunk_median_vector_error": float(np.median(vector[on_trunk])),
        "stable_median_speed": float(np.median(field.v.values[on_rock])) if on_rock.any() else float("nan"),
    }


def main() -> None:
    print(
        f"{'pair':<22} {'time s':>6} {'valid %':>8} {'trunk valid %':>13} {'trunk v m/yr':>12} "
        f"{'speed err %':>11} {'vector err m/yr':>15} {'stable v m/yr':>13}"
    )
    for t0, dt_days, band in CASES:
        r = evaluate(t0, dt_days, band)
        print(
            f"{t0} +{dt_days:>3} d {band:<4} {r['seconds']:6.1f} {r['valid']:8.1f} {r['trunk_valid']:13.1f} "
            f"{r['trunk_median_speed']:12.0f} {r['trunk_median_rel_error']:11.2f} "
            f"{r['trunk_median_vector_error']:15.1f} {r['stable_median_speed']:13.1f}"
        )


if __name__ == "__main__":
    main()
