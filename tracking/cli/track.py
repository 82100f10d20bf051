"""``icetrack demo`` and ``icetrack track``: the demo scenes as GeoTIFFs, and the velocity between two scenes."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from tracking.cli.common import (
    ProgressBar,
    add_overwrite_flag,
    add_parameter_flags,
    check_output,
    debug_flag,
    held_c_stderr,
    output_format,
    parameters_from_args,
    parse_date,
    positive_int,
)
from tracking.exceptions import UsageError

__all__ = ["add_track_commands", "run_demo", "run_track", "summary"]


def add_track_commands(commands: Any) -> None:
    """Add ``demo`` and ``track`` to the ``icetrack`` sub-command parsers (from ``parser.add_subparsers()``)."""
    _add_demo(commands)
    _add_track(commands)


def _add_demo(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="write the synthetic demo scenes as GeoTIFFs",
        description="Write the embedded synthetic demo glacier's scenes as GeoTIFFs (offline, known truth).",
    )
    demo.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("demo_scenes"),
        metavar="DIR",
        help="directory to write to (created if needed; default: %(default)s)",
    )
    demo.add_argument(
        "--band", choices=("red", "pan"), default="red", help="band to write (default: %(default)s)"
    )
    demo.add_argument("--limit", type=positive_int, default=None, metavar="N", help="write at most N scenes")
    demo.add_argument(
        "--start", type=parse_date, default=None, metavar="DATE", help="first acquisition date to write"
    )
    demo.add_argument(
        "--end", type=parse_date, default=None, metavar="DATE", help="last acquisition date to write"
    )
    debug_flag(demo)
    demo.set_defaults(handler=run_demo)


def _add_track(commands: Any) -> None:
    track = commands.add_parser(
        "track",
        help="measure the velocity between two GeoTIFF scenes",
        description="Measure glacier surface velocity between a reference and a later secondary scene.",
    )
    track.add_argument("reference", type=Path, metavar="REF", help="reference (earlier) scene, a GeoTIFF")
    track.add_argument("secondary", type=Path, metavar="SEC", help="secondary (later) scene, a GeoTIFF")
    track.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="output file (.nc for NetCDF, .tif for a Cloud-Optimized GeoTIFF of vx, vy, v)",
    )
    add_overwrite_flag(track)
    track.add_argument(
        "--format",
        choices=("netcdf", "geotiff"),
        default=None,
        help="output format (default: from OUT's suffix)",
    )
    track.add_argument(
        "--ref-time",
        type=parse_date,
        default=None,
        metavar="TIME",
        help="acquisition time of REF, e.g. 2021-05-01 (default: TIFF tags, then the file name)",
    )
    track.add_argument(
        "--sec-time", type=parse_date, default=None, metavar="TIME", help="acquisition time of SEC"
    )
    track.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    errors = track.add_argument_group("error estimates")
    errors.add_argument(
        "--stable",
        type=Path,
        default=None,
        metavar="FILE",
        help="stable-ground polygons (any vector file: shapefile, GeoPackage, GeoJSON; any CRS): "
        "their median offset is removed and their spread is the error estimate (default: "
        "the slowest 25%% of the vectors, for the error estimate only)",
    )
    errors.add_argument(
        "--on-ice",
        type=Path,
        default=None,
        metavar="FILE",
        help="on-ice polygons for GLAFT's strain-rate metric (default: everywhere off --stable)",
    )
    errors.add_argument(
        "--no-offset-correction",
        action="store_true",
        help="keep the median offset on the --stable polygons in vx, vy (it is measured and "
        "recorded either way)",
    )
    debug_flag(track)
    add_parameter_flags(track)
    track.set_defaults(handler=run_track)


# --- commands -------------------------------------------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> int:
    """``icetrack demo``: write demo scenes as GeoTIFFs and list them."""
    from tracking.sources import demo

    if args.start is not None and args.end is not None and args.end < args.start:
        raise UsageError(f"--end {args.end.date()} is before --start {args.start.date()}")
    scene_ids = None
    if args.start is not None or args.end is not None:
        scene_ids = _demo_ids_between(demo.catalog(), args.start, args.end)
        if not scene_ids:
            raise UsageError("no demo scene between --start and --end: widen the dates")
    args.output.mkdir(parents=True, exist_ok=True)
    written = demo.write_geotiffs(args.output, band=args.band, scene_ids=scene_ids, limit=args.limit)
    for path in written:
        print(path)
    print(f"wrote {len(written)} demo scene(s) to {args.output}", file=sys.stderr)
    return 0


def _demo_ids_between(catalog: Any, start: pd.Timestamp | None, end: pd.Timestamp | None) -> list[str]:
    """Scene ids of the demo catalog acquired between ``start`` and ``end`` (inclusive, dates)."""
    column = next(c for c in ("time", "datetime", "date", "acquisition_time") if c in catalog.columns)
    times = pd.to_datetime(catalog[column])
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    keep = np.ones(len(catalog), dtype=bool)
    if start is not None:
        keep &= (times >= start.normalize()).to_numpy()
    if end is not None:
        keep &= (times < end.normalize() + pd.Timedelta(days=1)).to_numpy()
    ids = catalog["scene_id"] if "scene_id" in catalog.columns else catalog.index.to_series()
    return [str(i) for i in ids[keep]]


def run_track(args: argparse.Namespace) -> int:
    """``icetrack track``: track a pair of GeoTIFFs and write the VelocityField."""
    from affine import Affine

    from tracking.io import write_geotiff, write_netcdf
    from tracking.scene_checks import check_content
    from tracking.scenes import Pair, read_scene

    fmt = output_format(args.output, args.format)
    params = parameters_from_args(args)
    for role, path in (
        ("REF", args.reference),
        ("SEC", args.secondary),
        ("--stable", args.stable),
        ("--on-ice", args.on_ice),
    ):
        if path is not None and not path.is_file():
            raise UsageError(f"{role} {path}: {'a folder, not a file' if path.is_dir() else 'no such file'}")
    check_output(
        args.output,
        {"REF": args.reference, "SEC": args.secondary, "--stable": args.stable, "--on-ice": args.on_ice},
        overwrite=args.overwrite,
    )
    started = time.perf_counter()
    if args.stable is not None or args.on_ice is not None:
        from tracking.quality import read_polygons  # (tracking.quality is slow to import: only when needed)
    areas = {
        what: None if path is None else read_polygons(path, what)
        for what, path in (("stable-ground", args.stable), ("on-ice", args.on_ice))
    }
    reference = read_scene(args.reference, time=args.ref_time)
    secondary = read_scene(args.secondary, time=args.sec_time)
    for scene, path in ((reference, args.reference), (secondary, args.secondary)):
        check_content(scene, path)
    pair = Pair.from_scenes(reference, secondary)
    params.check(pair.shape)
    from tracking.quality import polygon_mask, track_and_assess

    step = int(params.step)
    coarse = (
        pair.transform * Affine.scale(step),
        (max(pair.shape[0] // step, 1), max(pair.shape[1] // step, 1)),
    )
    for what, polygons in areas.items():  # fail before tracking, not after (on a grid about the field's)
        if polygons is not None:
            polygon_mask(polygons, pair.crs, *coarse, what)
    with ProgressBar(disable=args.quiet) as bar:
        field = track_and_assess(
            pair,
            params,
            progress=bar,
            stable=areas["stable-ground"],
            on_ice=areas["on-ice"],
            correct_offset=False if args.no_offset_correction else None,
        )
    with held_c_stderr(getattr(args, "debug", False)):
        (write_netcdf if fmt == "netcdf" else write_geotiff)(field, args.output)
    if not args.quiet:
        print(summary(field, args.output, time.perf_counter() - started))
    return 0


def summary(field: xr.Dataset, path: Path, elapsed_s: float) -> str:
    """A few lines about a VelocityField: grid, valid share, speed, errors and metrics, output, time taken.

    The error-estimate and GLAFT-metric lines appear when `tracking.quality.assess` has run on the field.
    """
    rows, cols = field.sizes["y"], field.sizes["x"]
    valid = field["valid"].values
    n_interp = int(field["interpolated"].values.sum())
    speeds = field["v"].values[valid]
    median = f"{np.nanmedian(speeds):.1f} m/yr" if np.isfinite(speeds).any() else "n/a (no valid vector)"
    spacing = abs(float(field.rio.resolution()[0])) if cols > 1 else float("nan")
    return "\n".join(
        [
            f"grid:          {rows} x {cols} vectors, {spacing:g} m apart, dt {float(field.attrs['date_dt']):g} days",
            f"valid:         {100.0 * valid.mean():.1f}% ({int(valid.sum())} of {valid.size}), {n_interp} interpolated",
            f"median speed:  {median} (valid vectors)",
            *_quality_lines(field.attrs),
            f"written:       {path}",
            f"elapsed:       {elapsed_s:.1f} s",
        ]
    )


def _quality_lines(attrs: dict[str, Any]) -> list[str]:
    """The error-estimate and metric lines of `summary` (none for a field `assess` has not seen)."""
    if "stable_source" not in attrs:
        return []

    def num(key: str, digits: int = 1) -> str:
        value = float(attrs.get(key, np.nan))
        if not np.isfinite(value):
            return "n/a"
        text = f"{value:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0"

    status = str(
        attrs.get("stable_shift_status", "removed" if int(attrs.get("stable_shift_applied", 0)) else "kept")
    )
    if status.startswith("kept: no stable ground"):
        status += "; give --stable"
    stable = (
        f"{int(attrs['stable_count'])} vectors ({attrs['stable_source']}), median offset "
        f"vx {num('stable_shift_x')}, vy {num('stable_shift_y')} m/yr ({status})"
    )
    error = (
        f"vx {num('stable_spread_x')}, vy {num('stable_spread_y')} m/yr on stable ground, "
        f"speed {num('v_error')} m/yr"
    )
    metrics = (
        f"static terrain {num('metric_static_terrain_x')} / {num('metric_static_terrain_y')} m/yr, "
        f"along-flow strain {num('metric_alongflow_normal', 3)} / {num('metric_alongflow_shear', 3)} 1/yr, "
        f"{num('metric_outlier_percent')}% outliers, {num('metric_invalid_percent')}% invalid"
    )
    return [f"stable ground: {stable}", f"error (1 sd):  {error}", f"GLAFT metrics: {metrics}"]
