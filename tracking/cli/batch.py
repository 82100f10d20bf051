"""``icetrack batch``: track many pairs on a Dask cluster and stack them into a time series.

The pairs come from the demo catalog (``--demo``: every pair of scenes covering the area of interest between two
dates, a range of days apart) or from a CSV file (``--pairs``: columns ``reference`` and ``secondary``, GeoTIFF
paths). Each result is written to ``OUT_DIR/<pair key>.nc`` as it arrives; running the same command again skips
the pairs already there. ``--stack`` gathers the batch's fields into a Zarr cube.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from tracking.cli.common import (
    ProgressBar,
    add_parameter_flags,
    debug_flag,
    int_at_least,
    parameters_from_args,
    parse_date,
)
from tracking.exceptions import UsageError

__all__ = ["DEMO_CENTRE", "add_batch_command", "run_batch_command"]

#: The demo's default area centre (EPSG:32622 m): the trunk of the demo Jakobshavn, 25 km above the front.
DEMO_CENTRE = (572_000.0, 7_670_000.0)


def add_batch_command(commands: Any) -> None:
    """Add ``batch`` to the ``icetrack`` sub-command parsers.

    Parameters
    ----------
    commands : argparse sub-parsers
        From ``parser.add_subparsers()``.
    """
    batch = commands.add_parser(
        "batch",
        help="track many pairs on a Dask cluster, then stack them",
        description="Track many pairs, one task each, on local worker processes or a Dask cluster. Each result is "
        "written to OUT_DIR/<pair key>.nc as it arrives; running the command again skips the pairs "
        "already done. Pairs that fail are listed and the others go on.",
    )
    inputs = batch.add_argument_group("inputs (one of --demo, --pairs)")
    which = inputs.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--demo", action="store_true", help="pairs of demo scenes covering the area of interest (offline)"
    )
    which.add_argument(
        "--pairs",
        type=Path,
        metavar="CSV",
        help="a CSV file with columns reference, secondary: GeoTIFF paths (relative ones from the "
        "CSV's folder), the reference acquired first",
    )
    inputs.add_argument(
        "--start", type=parse_date, default=None, metavar="DATE", help="demo: first acquisition date"
    )
    inputs.add_argument(
        "--end", type=parse_date, default=None, metavar="DATE", help="demo: last acquisition date"
    )
    inputs.add_argument(
        "--dt-min",
        type=float,
        default=1.0,
        metavar="DAYS",
        help="demo: shortest time between the scenes of a pair (default: %(default)s)",
    )
    inputs.add_argument(
        "--dt-max",
        type=float,
        default=48.0,
        metavar="DAYS",
        help="demo: longest time between the scenes of a pair (default: %(default)s)",
    )
    inputs.add_argument(
        "--lon",
        type=float,
        default=None,
        help="demo: centre of the area of interest, degrees east (default: the demo trunk)",
    )
    inputs.add_argument("--lat", type=float, default=None, help="demo: centre of the area, degrees north")
    inputs.add_argument(
        "--aoi-km",
        type=float,
        default=10.0,
        help="demo: side of the square area of interest, km (default: %(default)s)",
    )
    inputs.add_argument(
        "--band", choices=("red", "pan"), default="red", help="demo: band (default: %(default)s)"
    )
    inputs.add_argument(
        "--max-cloud",
        type=float,
        default=None,
        metavar="PCT",
        help="demo: leave out scenes cloudier than this, %% (default: keep all)",
    )
    run = batch.add_argument_group("run")
    run.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT_DIR",
        help="folder of the per-pair NetCDF results (created if needed)",
    )
    run.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: local workers)",
    )
    run.add_argument(
        "--workers",
        type=int_at_least(1),
        default=2,
        metavar="N",
        help="local worker processes, without --scheduler (default: %(default)s)",
    )
    run.add_argument(
        "--retries",
        type=int_at_least(0),
        default=2,
        metavar="N",
        help="times a pair is tried again after its worker died (default: %(default)s)",
    )
    run.add_argument(
        "--tile-size",
        type=int_at_least(1),
        default=None,
        metavar="PX",
        help="track each pair tile by tile, reading the GeoTIFFs window by window (for large "
        "scenes; e.g. 4096)",
    )
    run.add_argument(
        "--stack",
        type=Path,
        default=None,
        metavar="ZARR",
        help="also stack the batch's fields into this Zarr time-series cube",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="track every pair again and replace its file once the new one is complete (default: skip the "
        "pairs whose file is in OUT_DIR, so a stopped batch resumes)",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    debug_flag(batch)
    add_parameter_flags(batch)
    batch.set_defaults(handler=run_batch_command)


def run_batch_command(args: argparse.Namespace) -> int:
    """``icetrack batch``: track the pairs, write each result, stack them; 1 when some pair failed."""
    from tracking.batch import run_batch
    from tracking.stack import stack

    params = parameters_from_args(args)
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"-o {args.output} is a file, not a folder: give a folder for the per-pair results")
    specs = _demo_specs(args) if args.demo else _csv_specs(args.pairs)
    if not specs:
        raise UsageError(
            "no pair to track: widen the dates (--start, --end) or the time span (--dt-min, --dt-max)"
        )
    started = time.perf_counter()
    if not args.quiet:
        where = args.scheduler or f"{args.workers} local worker(s)"
        print(f"{len(specs)} pair(s) to track on {where}, results in {args.output}", file=sys.stderr)
    with ProgressBar(disable=args.quiet, unit="pair", desc="batch") as bar:
        result = run_batch(
            specs,
            params,
            args.output,
            scheduler=args.scheduler,
            n_workers=args.workers,
            retries=args.retries,
            progress=bar,
            tile_size=args.tile_size,
            overwrite=args.overwrite,
        )
    if args.stack is not None and result.paths:
        stacked = stack(result.paths, args.stack)
        if not args.quiet:
            print(f"stacked {stacked.sizes['mid_date']} field(s) into {args.stack}", file=sys.stderr)
    if not args.quiet:
        print(result.summary())
        print(f"written:       {args.output}")
        print(f"elapsed:       {time.perf_counter() - started:.1f} s")
    return 1 if result.failed else 0


def _demo_specs(args: argparse.Namespace) -> list[Any]:
    from tracking.aoi import aoi_bounds
    from tracking.batch import demo_pair_specs
    from tracking.sources import demo

    if (args.lon is None) != (args.lat is None):
        raise UsageError("give both --lon and --lat, or neither (the demo trunk)")
    if not args.aoi_km > 0:
        raise UsageError(f"--aoi-km must be positive, got {args.aoi_km}")
    if args.start is not None and args.end is not None and args.end < args.start:
        raise UsageError(f"--end {args.end.date()} is before --start {args.start.date()}")
    if args.dt_min > args.dt_max or args.dt_min < 0:
        raise UsageError(f"--dt-min {args.dt_min} and --dt-max {args.dt_max}: need 0 <= dt-min <= dt-max")
    if args.lon is None:
        x, y = DEMO_CENTRE
        half = args.aoi_km * 500.0
        bbox = (x - half, y - half, x + half, y + half)
    else:
        bbox = aoi_bounds(args.lon, args.lat, args.aoi_km, demo.DEMO_CRS)
    return demo_pair_specs(
        bbox=bbox,
        start=args.start,
        end=args.end,
        min_dt_days=args.dt_min,
        max_dt_days=args.dt_max,
        band=args.band,
        max_cloud=args.max_cloud,
    )


def _csv_specs(path: Path) -> list[Any]:
    from tracking.batch import PairSpec

    if not path.is_file():
        raise UsageError(f"--pairs {path}: no such file")
    try:
        table = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except (ValueError, OSError) as err:
        raise UsageError(f"--pairs {path}: cannot read it as CSV ({err})") from None
    missing = [c for c in ("reference", "secondary") if c not in table.columns]
    if missing:
        raise UsageError(
            f"--pairs {path}: no column {', '.join(missing)}; give columns reference, secondary "
            "(GeoTIFF paths)"
        )
    table = table.dropna(subset=["reference", "secondary"])
    folder = path.parent
    for row, ref, sec in zip(table.index, table["reference"], table["secondary"], strict=True):
        for name in (
            ref,
            sec,
        ):  # before any worker starts: a missing or unreadable file is a bad command line
            _check_raster(folder / name.strip(), f"--pairs {path}, line {row + 2}")
    return [
        PairSpec.files(folder / ref.strip(), folder / sec.strip())
        for ref, sec in zip(table["reference"], table["secondary"], strict=True)
    ]


def _check_raster(path: Path, where: str) -> None:
    """Raise `UsageError` unless ``path`` is a raster file GDAL opens (its header only is read)."""
    import rasterio
    from rasterio.errors import RasterioError

    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise UsageError(
            f"{where}: {path}: {what}: fix the path (relative paths start from the CSV's folder)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. no geotransform: the worker's read_scene says so
            rasterio.open(path).close()
    except RasterioError as err:
        raise UsageError(f"{where}: {path}: not a raster GDAL can read ({err}): give GeoTIFF paths") from None
