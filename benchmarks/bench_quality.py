"""icetrack's quality metrics against GLAFT's own implementation on GLAFT's Kaskawulsh demo data.

GLAFT (Zheng et al. 2023, PyPI ``glaft``) ships a raw CARST velocity map of Kaskawulsh Glacier (Landsat 8,
2018-03-04 to 2018-04-05, 60 m, m/day), stable-ground polygons (``bedrock_V2``) and the glacier outline buffered
600 m inwards. This script runs

- GLAFT: ``glaft.Velocity(vx, vy, static_area=bedrock, on_ice_area=outline, velocity_unit="m/day")`` with
  ``static_terrain_analysis()`` (metric 1: delta_u, delta_v) and ``longitudinal_shear_analysis()`` (metric 2:
  delta_x'x', delta_x'y'), when ``glaft`` is installed (``pip install glaft``: it needs scikit-learn);
- icetrack: `tracking.quality.static_terrain_metric` and `tracking.quality.strain_rate_metric` on the same arrays
  (m/day), and `tracking.quality.assess` on the field converted to m/yr (its attrs divided by 365.25 to compare);

and prints both, their ratio and the times. Without ``glaft`` the GLAFT column holds the numbers recorded in
``tests/test_quality.py`` (glaft 1.0.0).

Run: ``python benchmarks/bench_quality.py``. Reads the fixture from ``../shared/fixtures/real`` (or
``$ICETRACK_FIXTURES/real``) and exits cleanly when it is absent.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import xarray as xr
from rasterio.features import geometry_mask

from tracking.quality import assess, static_terrain_metric, strain_rate_metric
from tracking.times import DAYS_PER_YEAR

FIXTURES = Path(
    os.environ.get("ICETRACK_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
)
KASKAWULSH = FIXTURES / "real" / "glaft-kaskawulsh-ref"
VX_TIF = KASKAWULSH / "20180304-20180405_velo-raw_vx.tif"
VY_TIF = KASKAWULSH / "20180304-20180405_velo-raw_vy.tif"
BEDROCK = KASKAWULSH / "bedrock_V2.shp"
ON_ICE = KASKAWULSH / "glacier_V1_Kaskawulsh_s_inwardBuffer600m.shp"
#: glaft 1.0.0's numbers (see tests/test_quality.py), used when glaft is not installed.
RECORDED = {
    "du": 0.15013002671482284,
    "dv": 0.1598158348899727,
    "dx'x'": 0.0017554284768520139,
    "dx'y'": 0.0016457141970487633,
}


def read(path: Path) -> tuple[np.ndarray, Any, Any]:
    with rasterio.open(path) as src:
        values = src.read(1).astype(np.float64)
        return np.where(values > -9998, values, np.nan), src.transform, src.crs


def timed(function: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def glaft_metrics() -> tuple[dict[str, float], dict[str, float], str]:
    try:
        import glaft
    except ImportError:
        return RECORDED, {}, "recorded (glaft 1.0.0; glaft not installed here)"
    from importlib.metadata import version

    velocity = glaft.Velocity(
        vxfile=str(VX_TIF),
        vyfile=str(VY_TIF),
        static_area=str(BEDROCK),
        on_ice_area=str(ON_ICE),
        velocity_unit="m/day",
    )
    with contextlib.redirect_stdout(io.StringIO()):  # GLAFT prints every step
        _, static_s = timed(velocity.static_terrain_analysis)
        _, strain_s = timed(velocity.longitudinal_shear_analysis)
    values = {
        "du": velocity.metric_static_terrain_x,
        "dv": velocity.metric_static_terrain_y,
        "dx'x'": velocity.metric_alongflow_normal,
        "dx'y'": velocity.metric_alongflow_shear,
    }
    return (
        {k: float(v) for k, v in values.items()},
        {"metric 1": static_s, "metric 2": strain_s},
        f"live, glaft {version('glaft')}",
    )


def main() -> int:
    if not all(path.is_file() for path in (VX_TIF, VY_TIF, BEDROCK, ON_ICE)):
        print(f"GLAFT's Kaskawulsh fixture is not at {KASKAWULSH}: nothing to do.")
        return 0
    machine = platform.processor() or platform.machine()
    print(f"{machine}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}")
    vx, transform, crs = read(VX_TIF)
    vy, _, _ = read(VY_TIF)
    bedrock = ~geometry_mask(gpd.read_file(BEDROCK).geometry, vx.shape, transform)
    ice = ~geometry_mask(gpd.read_file(ON_ICE).geometry, vx.shape, transform)

    theirs, their_times, how = glaft_metrics()
    static, static_s = timed(lambda: static_terrain_metric(vx[bedrock], vy[bedrock]))
    strain, strain_s = timed(
        lambda: strain_rate_metric(vx, vy, spacing=(transform.a, -transform.e), on_ice=ice)
    )
    ours = {
        "du": static["metric_x"],
        "dv": static["metric_y"],
        "dx'x'": strain["metric_normal"],
        "dx'y'": strain["metric_shear"],
    }

    rows, cols = vx.shape
    x = transform.c + transform.a * (np.arange(cols) + 0.5)
    y = transform.f + transform.e * (np.arange(rows) + 0.5)
    field = xr.Dataset(
        {
            "vx": (("y", "x"), vx * DAYS_PER_YEAR),
            "vy": (("y", "x"), vy * DAYS_PER_YEAR),
            "v": (("y", "x"), np.hypot(vx, vy) * DAYS_PER_YEAR),
        },
        coords={"y": y, "x": x},
    )
    field = field.rio.write_crs(crs).rio.write_transform(transform)
    raw, raw_s = timed(lambda: assess(field, stable=BEDROCK, on_ice=ON_ICE, correct_offset=False))
    corrected, corrected_s = timed(lambda: assess(field, stable=BEDROCK, on_ice=ON_ICE))
    fallback, fallback_s = timed(lambda: assess(field))
    keys = {
        "du": "metric_static_terrain_x",
        "dv": "metric_static_terrain_y",
        "dx'x'": "metric_alongflow_normal",
        "dx'y'": "metric_alongflow_shear",
    }

    print(
        f"\nGLAFT numbers: {how}. Units: m/day (du, dv), 1/day with GLAFT's 8x Sobel scaling (dx'x', dx'y')."
    )
    print(f"{'metric':8}{'GLAFT':>12}{'icetrack':>12}{'ratio':>10}{'diff %':>9}{'assess':>12}{'ratio':>10}")
    for name, glaft_value in theirs.items():
        via_assess = raw.attrs[keys[name]] / DAYS_PER_YEAR
        print(
            f"{name:8}{glaft_value:12.6g}{ours[name]:12.6g}{ours[name] / glaft_value:10.5f}"
            f"{100 * (ours[name] / glaft_value - 1):9.3f}{via_assess:12.6g}{via_assess / glaft_value:10.5f}"
        )
    print("\ntimes, s:")
    for name, seconds in their_times.items():
        print(f"  GLAFT {name}: {seconds:.2f}")
    print(f"  icetrack metric 1: {static_s:.3f} ({static['n']} samples)")
    print(
        f"  icetrack metric 2: {strain_s:.3f} ({strain['n']} samples, flow-direction kernel "
        f"{strain['kernel_size']})"
    )
    print(f"  icetrack assess (polygons, reading them included): {raw_s:.2f}")

    print("\nassess, m/yr:")
    for label, result, seconds in (
        ("bedrock polygons, offset removed", corrected, corrected_s),
        ("no polygons (slowest 25%)", fallback, fallback_s),
    ):
        a = result.attrs
        print(
            f"  {label} ({seconds:.2f} s): {a['stable_count']} stable vectors, shift "
            f"{a['stable_shift_x']:.2f} / {a['stable_shift_y']:.2f} ({a['stable_shift_status']}), "
            f"spread {a['stable_spread_x']:.2f} / {a['stable_spread_y']:.2f}, v_error {a['v_error']:.2f}, "
            f"du/dv {a['metric_static_terrain_x']:.2f} / {a['metric_static_terrain_y']:.2f}, "
            f"dx'x'/dx'y' {a['metric_alongflow_normal']:.4f} / {a['metric_alongflow_shear']:.4f} 1/yr, "
            f"outliers {a['metric_outlier_percent']:.2f}%, invalid {a['metric_invalid_percent']:.2f}%"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
