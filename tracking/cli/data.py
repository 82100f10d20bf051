"""The data commands of ``icetrack``: ``search``, ``fetch``, ``compare`` and ``itslive``.

``icetrack search`` lists Landsat or Sentinel-2 scenes at a point (STAC APIs); ``icetrack fetch`` writes the area
of interest of chosen scenes as GeoTIFFs that ``icetrack track`` reads; ``icetrack itslive search|field|series``
finds ITS_LIVE image pairs, loads one as a velocity field, and reads a datacube point series;
``icetrack compare`` writes the difference of two velocity fields.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tracking.cli.common import (
    add_overwrite_flag,
    check_output,
    debug_flag,
    held_c_stderr,
    output_format,
    parse_date,
)
from tracking.exceptions import UsageError
from tracking.files import atomic_path
from tracking.sources.base import REGISTRY

__all__ = ["add_data_commands"]

#: The STAC sources of the registry, the ones ``search`` and ``fetch`` serve (read without importing them).
_SOURCES = tuple(name for name, factory in REGISTRY.items() if factory.startswith("tracking.sources.stac."))


def add_data_commands(commands: Any) -> None:
    """Add ``search``, ``fetch``, ``compare`` and ``itslive`` to the ``icetrack`` sub-command parsers."""
    search = commands.add_parser(
        "search",
        help="list Landsat / Sentinel-2 scenes at a point (STAC)",
        description="List the scenes that cover a point in a date range, with their cloud cover and how much of "
        "the area of interest they cover. Needs the internet.",
    )
    _place(search)
    search.add_argument(
        "--max-cloud",
        type=float,
        default=30.0,
        metavar="PCT",
        help="largest cloud cover, %% (default: %(default)s)",
    )
    search.add_argument(
        "--platform",
        nargs="+",
        default=None,
        metavar="NAME",
        help="keep only these platforms, e.g. landsat-8 landsat-9 or sentinel-2a",
    )
    search.add_argument("--csv", type=Path, default=None, metavar="FILE", help="also write the table as CSV")
    debug_flag(search)
    search.set_defaults(handler=run_search)

    fetch = commands.add_parser(
        "fetch",
        help="write the area of interest of scenes as GeoTIFFs",
        description="Read only the area of interest of the given scenes (windowed reads of cloud-optimized "
        "GeoTIFFs) and write each as a GeoTIFF for 'icetrack track'. Crops are cached on disk "
        "($ICETRACK_CACHE, default ~/.cache/icetrack).",
    )
    fetch.add_argument("scene_ids", nargs="+", metavar="SCENE_ID", help="scene ids from 'icetrack search'")
    _place(fetch, dates_required=False)
    fetch.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("scenes"),
        metavar="DIR",
        help="directory to write to (default: %(default)s)",
    )
    debug_flag(fetch)
    fetch.set_defaults(handler=run_fetch)

    compare = commands.add_parser(
        "compare",
        help="difference of two velocity fields (a - b on a's grid)",
        description="Resample field B onto field A's grid (vectors rotated between projections) and write the "
        "difference A - B (dvx, dvy, dv) as NetCDF; print the median and spread.",
    )
    compare.add_argument("field_a", type=Path, metavar="A", help="a velocity field (.nc or .tif)")
    compare.add_argument("field_b", type=Path, metavar="B", help="another velocity field (.nc or .tif)")
    compare.add_argument(
        "-o", "--output", type=Path, default=None, metavar="OUT", help="write the difference (.nc)"
    )
    add_overwrite_flag(compare)
    compare.add_argument(
        "--layer",
        choices=("raw", "masked", "filled"),
        default="masked",
        help="which vectors to compare (default: %(default)s)",
    )
    debug_flag(compare)
    compare.set_defaults(handler=run_compare)

    itslive = commands.add_parser(
        "itslive",
        help="ITS_LIVE velocities: search pairs, load a field, read a point series",
        description="Ready-made ITS_LIVE velocities (NASA MEaSUREs). Needs the internet.",
    )
    actions = itslive.add_subparsers(dest="action", metavar="ACTION", parser_class=type(itslive))
    actions.required = True
    found = actions.add_parser("search", help="list ITS_LIVE image pairs at a point")
    _place(found, area=False, source=False)
    found.add_argument(
        "--min-valid",
        type=float,
        default=20.0,
        metavar="PCT",
        help="smallest share of valid pixels, %% (default: %(default)s)",
    )
    found.add_argument(
        "--dt",
        type=float,
        nargs=2,
        default=(5.0, 120.0),
        metavar=("MIN", "MAX"),
        help="time separation range, days (default: 5 120)",
    )
    found.add_argument("--mission", choices=("landsat", "sentinel2", "sentinel1"), default=None)
    found.add_argument("--url", default=None, help="ITS_LIVE STAC API root (default: stac.itslive.cloud)")
    found.add_argument("--csv", type=Path, default=None, metavar="FILE", help="also write the table as CSV")
    debug_flag(found)
    found.set_defaults(handler=run_itslive_search)

    field = actions.add_parser("field", help="load one ITS_LIVE granule as a velocity field")
    field.add_argument(
        "granule", metavar="GRANULE", help="granule URL (from 'icetrack itslive search') or file"
    )
    field.add_argument("--lon", type=float, default=None, help="centre of the area of interest, degrees east")
    field.add_argument(
        "--lat", type=float, default=None, help="centre of the area of interest, degrees north"
    )
    field.add_argument(
        "--aoi-km", type=_aoi_km, default=30.0, help="side of the area of interest, km (default: 30)"
    )
    field.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="OUT",
        help="output file (.nc or .tif, as 'icetrack track' writes)",
    )
    add_overwrite_flag(field)
    debug_flag(field)
    field.set_defaults(handler=run_itslive_field)

    series = actions.add_parser("series", help="ITS_LIVE datacube speed series at a point, as CSV")
    series.add_argument("--lon", type=float, required=True, help="degrees east")
    series.add_argument("--lat", type=float, required=True, help="degrees north")
    series.add_argument("--name", default=None, help="point name in the table (default: the coordinates)")
    series.add_argument("--catalog", default=None, help="datacube catalog (GeoJSON file or URL)")
    series.add_argument("-o", "--output", type=Path, required=True, metavar="CSV", help="output CSV")
    add_overwrite_flag(series)
    debug_flag(series)
    series.set_defaults(handler=run_itslive_series)


def _place(
    parser: argparse.ArgumentParser, *, area: bool = True, source: bool = True, dates_required: bool = True
) -> None:
    if source:
        parser.add_argument(
            "--source",
            choices=_SOURCES,
            default="landsat",
            help="landsat: Landsat 8/9 red band, 30 m (Planetary Computer, anonymous); sentinel2: "
            "Sentinel-2 B08, 10 m (Earth Search); landsat-pan: Landsat 8/9 panchromatic, "
            "15 m (USGS, needs AWS requester-pays credentials) (default: %(default)s)",
        )
        parser.add_argument("--url", default=None, help="STAC API root (default: the source's)")
    parser.add_argument("--lon", type=float, required=True, help="point, degrees east")
    parser.add_argument("--lat", type=float, required=True, help="point, degrees north")
    if area:
        parser.add_argument(
            "--aoi-km",
            type=_aoi_km,
            default=30.0,
            help="side of the square area of interest, km (default: %(default)s)",
        )
    parser.add_argument(
        "--start",
        type=parse_date,
        required=dates_required,
        metavar="DATE",
        help="first date, e.g. 2021-04-01",
    )
    parser.add_argument(
        "--end", type=parse_date, required=dates_required, metavar="DATE", help="last date, e.g. 2021-07-31"
    )


def _aoi_km(text: str) -> float:
    """An argparse ``type`` for ``--aoi-km``: a side in (0, 1000] km, with a one-line error otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(
            f"the side of the area must be more than 0 and at most 1000 km, got {text}"
        )
    return value


def _print_table(frame: pd.DataFrame) -> None:
    if frame.empty:
        print("(nothing found)")
        return
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_colwidth", 60):
        print(frame.to_string(index=False))


def _write_csv(frame: pd.DataFrame, path: Path | None) -> None:
    if path is None:
        return
    with atomic_path(path, write_only=True) as tmp:
        frame.to_csv(tmp, index=False)
    print(f"wrote {path}", file=sys.stderr)


# --- search and fetch -----------------------------------------------------------------------------------------------


def _search(
    args: argparse.Namespace, start: pd.Timestamp, end: pd.Timestamp, max_cloud: float = 100.0
) -> Any:
    from shapely.geometry import box

    from tracking.aoi import aoi_bounds, local_crs
    from tracking.sources import stac

    table = stac.search(
        args.source,
        lon=args.lon,
        lat=args.lat,
        start=start,
        end=end,
        max_cloud=max_cloud,
        platforms=getattr(args, "platform", None),
        url=args.url,
    )
    if len(table):
        crs = local_crs(args.lon, args.lat)
        aoi = box(*aoi_bounds(args.lon, args.lat, args.aoi_km, crs))
        table["aoi_cover"] = (table.to_crs(crs).intersection(aoi).area / aoi.area * 100.0).round(1).to_numpy()
    return table


def run_search(args: argparse.Namespace) -> int:
    """``icetrack search``: the scenes at a point."""
    if args.end < args.start:
        raise UsageError(f"--end {args.end.date()} is before --start {args.start.date()}")
    table = _search(args, args.start, args.end, args.max_cloud)
    shown = pd.DataFrame(
        {
            "date": pd.to_datetime(table["time"]).dt.strftime("%Y-%m-%d") if len(table) else [],
            "scene_id": table["scene_id"] if len(table) else [],
            "platform": table["platform"] if len(table) else [],
            "path/row": [
                f"{p:03d}/{r:03d}" if p >= 0 else t
                for p, r, t in zip(table["path"], table["row"], table["tile"], strict=True)
            ]
            if len(table)
            else [],
            "cloud %": table["cloud_cover"].round(1) if len(table) else [],
            "aoi %": table["aoi_cover"] if len(table) else [],
        }
    )
    _print_table(shown)
    print(f"{len(table)} scene(s) from {args.source} at {args.lat:.4f} N, {args.lon:.4f} E", file=sys.stderr)
    _write_csv(pd.DataFrame(table.drop(columns="geometry")) if len(table) else shown, args.csv)
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """``icetrack fetch``: the area of interest of scenes, as GeoTIFFs."""
    from tracking.aoi import aoi_bounds, local_crs
    from tracking.scenes import date_from_name
    from tracking.sources import stac
    from tracking.sources.cache import DownloadCache

    dates = [date_from_name(scene_id) for scene_id in args.scene_ids]
    if (args.start is None or args.end is None) and any(d is None for d in dates):
        raise UsageError("cannot read a date from every scene id: give --start and --end")
    if args.output.exists() and not args.output.is_dir():  # before any network access
        raise UsageError(f"-o {args.output} is a file, not a folder: give a folder for the scenes")
    start = args.start or min(dates) - pd.Timedelta(days=1)
    end = args.end or max(dates) + pd.Timedelta(days=1)
    table = _search(args, start, end)
    missing = [s for s in args.scene_ids if s not in set(table["scene_id"])] if len(table) else args.scene_ids
    if missing:
        raise UsageError(
            f"not found at this point and these dates: {', '.join(missing)} (check the ids with "
            "'icetrack search')"
        )
    crs = local_crs(args.lon, args.lat)
    bbox = aoi_bounds(args.lon, args.lat, args.aoi_km, crs)
    args.output.mkdir(parents=True, exist_ok=True)
    cache = DownloadCache()
    rows = table.set_index("scene_id", drop=False)
    for scene_id in args.scene_ids:
        scene = stac.load_scene(
            rows.loc[scene_id].to_dict(), bbox, bbox_crs=crs, cache=cache, provider=args.source
        )
        path = args.output / f"{scene_id}_{scene.attrs['band']}.tif"
        _write_scene(scene, path)
        rows_, cols_ = scene.shape
        print(f"{path}  ({rows_} x {cols_} px, {np.isfinite(scene.values).mean() * 100:.0f}% valid)")
    return 0


def _write_scene(scene: Any, path: Path) -> None:
    """A Scene as a GeoTIFF with the tags `tracking.scenes.read_scene` reads back."""
    tags = {
        "ACQUISITION_TIME": scene.attrs["time"],
        "SENSOR": scene.attrs["sensor"],
        "BAND": scene.attrs["band"],
        "SCENE_ID": scene.attrs["scene_id"],
    }
    with atomic_path(path, write_only=True) as tmp:
        scene.rio.to_raster(tmp, driver="GTiff", compress="deflate", tiled=True, tags=tags)


# --- compare --------------------------------------------------------------------------------------------------------


def run_compare(args: argparse.Namespace) -> int:
    """``icetrack compare``: a - b on a's grid."""
    from tracking.compare import difference
    from tracking.io import read_field

    for role, path in (("A", args.field_a), ("B", args.field_b)):
        if not path.is_file():
            raise UsageError(f"{role} {path}: no such file")
    if args.output is not None:
        from tracking.io import NETCDF_SUFFIXES

        if args.output.suffix.lower() not in NETCDF_SUFFIXES:
            raise UsageError(f"-o {args.output}: the difference is written as NetCDF: end the name in .nc")
        check_output(args.output, {"A": args.field_a, "B": args.field_b}, overwrite=args.overwrite)
    diff = difference(read_field(args.field_a), read_field(args.field_b), layer=args.layer)
    attrs = diff.attrs
    print(
        f"a - b over {attrs['count']} nodes: median {attrs['median_dv']:+.1f} m/yr, spread (1.4826 MAD) "
        f"{attrs['mad_dv']:.1f} m/yr, rms {attrs['rms_dv']:.1f} m/yr"
    )
    if args.output is not None:
        with atomic_path(args.output, write_only=True) as tmp:
            diff.to_netcdf(tmp)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


# --- ITS_LIVE -------------------------------------------------------------------------------------------------------


def run_itslive_search(args: argparse.Namespace) -> int:
    """``icetrack itslive search``: image pairs at a point."""
    from tracking.sources import itslive

    if args.end < args.start:
        raise UsageError(f"--end {args.end.date()} is before --start {args.start.date()}")
    table = itslive.search_granules(
        lon=args.lon,
        lat=args.lat,
        start=args.start,
        end=args.end,
        min_valid=args.min_valid,
        dt_days=tuple(args.dt),
        mission=args.mission,
        url=args.url or itslive.STAC_URL,
    )
    shown = (
        pd.DataFrame(
            {
                "first": pd.to_datetime(table["t0"]).dt.strftime("%Y-%m-%d"),
                "second": pd.to_datetime(table["t1"]).dt.strftime("%Y-%m-%d"),
                "dt": table["dt_days"].round(0),
                "platform": table["platform"],
                "valid %": table["percent_valid"],
                "url": table["href"],
            }
        )
        if len(table)
        else pd.DataFrame()
    )
    _print_table(shown)
    print(f"{len(table)} ITS_LIVE pair(s) at {args.lat:.4f} N, {args.lon:.4f} E", file=sys.stderr)
    _write_csv(pd.DataFrame(table.drop(columns="geometry")) if len(table) else shown, args.csv)
    return 0


def run_itslive_field(args: argparse.Namespace) -> int:
    """``icetrack itslive field``: one granule as a velocity field file."""
    from tracking.io import write_geotiff, write_netcdf
    from tracking.sources import itslive

    if (args.lon is None) != (args.lat is None):
        raise UsageError("give both --lon and --lat (or neither, for the whole granule)")
    fmt = output_format(args.output, None)
    check_output(args.output, {"GRANULE": Path(args.granule)}, overwrite=args.overwrite)
    bbox = _lonlat_box(args) if args.lon is not None else None
    field = itslive.load_granule(args.granule, bbox=bbox)
    with held_c_stderr(getattr(args, "debug", False)):
        (write_netcdf if fmt == "netcdf" else write_geotiff)(field, args.output)
    valid = field["valid"].values
    speeds = field["v"].values[valid]
    median = f"{np.nanmedian(speeds):.1f} m/yr" if speeds.size else "n/a"
    print(
        f"{field.attrs.get('label', 'ITS_LIVE')}: {field.sizes['y']} x {field.sizes['x']} nodes, "
        f"{100 * valid.mean():.0f}% valid, median speed {median}; wrote {args.output}"
    )
    return 0


def _lonlat_box(args: argparse.Namespace) -> tuple[float, float, float, float]:
    """The area of interest as a lon/lat box (its square drawn in the local UTM zone)."""
    from pyproj import Transformer

    from tracking.aoi import aoi_bounds, local_crs

    crs = local_crs(args.lon, args.lat)
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform_bounds(
        *aoi_bounds(args.lon, args.lat, args.aoi_km, crs)
    )


def run_itslive_series(args: argparse.Namespace) -> int:
    """``icetrack itslive series``: a datacube point series as CSV."""
    from tracking.sources import itslive
    from tracking.timeseries import write_csv

    catalog = Path(args.catalog) if args.catalog else None
    check_output(args.output, {"--catalog": catalog}, overwrite=args.overwrite)
    name = (
        args.name
        or f"{abs(args.lat):.4f} {'N' if args.lat >= 0 else 'S'}, {abs(args.lon):.4f} "
        f"{'E' if args.lon >= 0 else 'W'}"
    )
    series = itslive.cube_series(args.lon, args.lat, name=name, catalog=args.catalog)
    write_csv(series, args.output)
    finite = series[np.isfinite(series["v"])]
    print(
        f"{name}: {len(finite)} measurements {finite['mid_date'].min():%Y-%m-%d} .. "
        f"{finite['mid_date'].max():%Y-%m-%d}, median {finite['v'].median():.0f} m/yr; wrote {args.output}"
    )
    return 0
