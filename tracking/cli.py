"""The ``icetrack`` command: ``demo``, ``track``, the data commands ``search``, ``fetch``, ``compare``,
``itslive`` (`tracking.cli_data`) and ``batch`` (`tracking.cli_batch`).

Every `TrackingParameters` parameter is a flag of ``icetrack track``, generated from the parameter objects (name,
type, default, bounds and help come from ``tracking.params``). Errors print one line,
``icetrack: error: <message>``, and exit with 2 (bad command line, bad parameter, missing input file) or 1 (a
scene, pair or run that fails); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, Self

import numpy as np
import pandas as pd
import param
import xarray as xr

from tracking.exceptions import ParameterError, TrackingError
from tracking.params import TrackingParameters

__all__ = ["EXIT_RUNTIME", "EXIT_USAGE", "build_parser", "main"]

EXIT_USAGE = 2
EXIT_RUNTIME = 1
_PROG = "icetrack"
_GROUPS = ((1.0, "kernel"), (2.0, "pre-filter"), (3.0, "outlier rejection"), (float("inf"), "hole filling"))


class UsageError(Exception):
    """A bad command line: exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and raise instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --- parser ---------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``icetrack`` argument parser, with its ``demo`` and ``track`` sub-commands."""
    from tracking.velocity import software_version

    parser = _Parser(prog=_PROG, description="Glacier surface velocity by feature tracking on image pairs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {software_version()}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    _add_demo(commands)
    _add_track(commands)
    from tracking.cli_data import add_data_commands

    add_data_commands(commands, date=_date, debug_flag=_debug_flag, usage_error=UsageError)
    from tracking.cli_batch import add_batch_command

    add_batch_command(commands, date=_date, debug_flag=_debug_flag, usage_error=UsageError)
    return parser


def _debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors")


def _add_demo(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="write the synthetic demo scenes as GeoTIFFs",
        description="Write the embedded synthetic demo glacier's scenes as GeoTIFFs (offline, known truth).",
    )
    demo.add_argument("-o", "--output", type=Path, default=Path("demo_scenes"), metavar="DIR",
                      help="directory to write to (created if needed; default: %(default)s)")
    demo.add_argument("--band", choices=("red", "pan"), default="red", help="band to write (default: %(default)s)")
    demo.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="write at most N scenes")
    demo.add_argument("--start", type=_date, default=None, metavar="DATE", help="first acquisition date to write")
    demo.add_argument("--end", type=_date, default=None, metavar="DATE", help="last acquisition date to write")
    _debug_flag(demo)
    demo.set_defaults(handler=run_demo)


def _add_track(commands: Any) -> None:
    track = commands.add_parser(
        "track", help="measure the velocity between two GeoTIFF scenes",
        description="Measure glacier surface velocity between a reference and a later secondary scene.",
    )
    track.add_argument("reference", type=Path, metavar="REF", help="reference (earlier) scene, a GeoTIFF")
    track.add_argument("secondary", type=Path, metavar="SEC", help="secondary (later) scene, a GeoTIFF")
    track.add_argument("-o", "--output", type=Path, required=True, metavar="OUT",
                       help="output file (.nc for NetCDF, .tif for a Cloud-Optimized GeoTIFF of vx, vy, v)")
    track.add_argument("--format", choices=("netcdf", "geotiff"), default=None,
                       help="output format (default: from OUT's suffix)")
    track.add_argument("--ref-time", type=_date, default=None, metavar="TIME",
                       help="acquisition time of REF, e.g. 2021-05-01 (default: TIFF tags, then the file name)")
    track.add_argument("--sec-time", type=_date, default=None, metavar="TIME", help="acquisition time of SEC")
    track.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    errors = track.add_argument_group("error estimates")
    errors.add_argument("--stable", type=Path, default=None, metavar="FILE",
                        help="stable-ground polygons (any vector file: shapefile, GeoPackage, GeoJSON; any CRS): "
                             "their median offset is removed and their spread is the error estimate (default: "
                             "the slowest 25%% of the vectors, for the error estimate only)")
    errors.add_argument("--on-ice", type=Path, default=None, metavar="FILE",
                        help="on-ice polygons for GLAFT's strain-rate metric (default: everywhere off --stable)")
    errors.add_argument("--no-offset-correction", action="store_true",
                        help="keep the median offset on the --stable polygons in vx, vy (it is measured and "
                             "recorded either way)")
    _debug_flag(track)
    add_parameter_flags(track)
    track.set_defaults(handler=run_track)


def add_parameter_flags(parser: argparse.ArgumentParser, cls: type[TrackingParameters] = TrackingParameters) -> None:
    """Add one flag per parameter of ``cls``, grouped by precedence; unset flags stay out of the namespace."""
    groups = {label: parser.add_argument_group(f"{label} parameters") for _, label in _GROUPS}
    items = sorted(
        ((name, p) for name, p in cls.param.objects("existing").items() if name != "name"),
        key=lambda item: item[1].precedence or 0.0,
    )
    for name, p in items:
        label = next(label for limit, label in _GROUPS if (p.precedence or 0.0) < limit)
        _add_parameter_flag(groups[label], name, p)


def _add_parameter_flag(group: Any, name: str, p: param.Parameter) -> None:
    flag = "--" + name.replace("_", "-")
    text = (p.doc or "").replace("%", "%%")
    common: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
    if isinstance(p, param.Boolean):
        group.add_argument(flag, action=argparse.BooleanOptionalAction,
                           help=f"{text} (default: {'yes' if p.default else 'no'})", **common)
        return
    if isinstance(p, param.Selector):
        group.add_argument(flag, choices=list(p.objects), help=f"{text} (default: {p.default})", **common)
        return
    kind = "integer" if isinstance(p, param.Integer) else "number"
    bounds = f" [{p.bounds[0]} to {p.bounds[1]}]" if p.bounds else ""
    none = "; 'none' for no limit" if p.allow_None else ""
    default = "none" if p.default is None else p.default
    group.add_argument(flag, type=_number_parser(int if kind == "integer" else float, p.allow_None),
                       metavar=name.upper(), help=f"{text}{bounds} (default: {default}{none})", **common)


def _number_parser(kind: type, allow_none: bool) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if allow_none and text.strip().lower() in ("none", "off"):
            return None
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None

    parse.__name__ = kind.__name__
    return parse


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers of at least ``minimum``, with a one-line error otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"must be at least 1, got {value}" if minimum == 1 else f"must be {minimum} or more, got {value}"
            )
        return value

    return parse


_positive_int = int_at_least(1)


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (give e.g. 2021-05-01)") from None


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
    from tracking.pipeline import track
    from tracking.quality import assess, polygon_mask, read_polygons
    from tracking.scenes import Pair, read_scene

    fmt = _output_format(args.output, args.format)
    params = _parameters(args)
    for role, path in (("REF", args.reference), ("SEC", args.secondary), ("--stable", args.stable),
                       ("--on-ice", args.on_ice)):
        if path is not None and not path.is_file():
            raise UsageError(f"{role} {path}: no such file")
    if not args.output.parent.is_dir():
        raise UsageError(f"{args.output.parent}: output directory does not exist")
    refuse_overwriting_inputs(args.output, {"REF": args.reference, "SEC": args.secondary, "--stable": args.stable,
                                            "--on-ice": args.on_ice})
    started = time.perf_counter()
    areas = {what: None if path is None else read_polygons(path, what)
             for what, path in (("stable-ground", args.stable), ("on-ice", args.on_ice))}
    reference = read_scene(args.reference, time=args.ref_time)
    secondary = read_scene(args.secondary, time=args.sec_time)
    pair = Pair.from_scenes(reference, secondary)
    params.check(pair.shape)
    step = int(params.step)
    coarse = (pair.transform * Affine.scale(step), (max(pair.shape[0] // step, 1), max(pair.shape[1] // step, 1)))
    for what, polygons in areas.items():  # fail before tracking, not after (on a grid about the field's)
        if polygons is not None:
            polygon_mask(polygons, pair.crs, *coarse, what)
    with _ProgressBar(disable=args.quiet) as bar:
        field = track(pair, params, progress=bar)
    field = assess(field, stable=areas["stable-ground"], on_ice=areas["on-ice"],
                   correct_offset=False if args.no_offset_correction else None)
    if fmt == "netcdf":
        write_netcdf(field, args.output)
    else:
        write_geotiff(field, args.output)
    if not args.quiet:
        print(summary(field, args.output, time.perf_counter() - started))
    return 0


def refuse_overwriting_inputs(output: Path, inputs: dict[str, Path | None]) -> None:
    """Raise `UsageError` if ``output`` is one of the ``inputs`` (role -> path): the same file by another name,
    a relative path, a symbolic or a hard link included. Nothing has been written when it raises."""
    if not output.exists():
        return
    for role, path in inputs.items():
        if path is not None and path.exists() and os.path.samefile(output, path):
            raise UsageError(f"-o {output} is the input {role} ({path}): writing there would destroy it; "
                             "choose another output file")


def _parameters(args: argparse.Namespace) -> TrackingParameters:
    names = [name for name in TrackingParameters.param if name != "name"]
    overrides = {name: getattr(args, name) for name in names if hasattr(args, name)}
    try:
        return TrackingParameters.from_overrides(**overrides)
    except ParameterError as err:
        raise UsageError(str(err)) from None


def _output_format(path: Path, fmt: str | None) -> str:
    from tracking.io import GEOTIFF_SUFFIXES, NETCDF_SUFFIXES

    if fmt is not None:
        return fmt
    suffix = path.suffix.lower()
    if suffix in NETCDF_SUFFIXES:
        return "netcdf"
    if suffix in GEOTIFF_SUFFIXES:
        return "geotiff"
    raise UsageError(f"cannot tell the output format from {path.name!r}: end it in .nc or .tif, or give --format")


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
    return "\n".join([
        f"grid:          {rows} x {cols} vectors, {spacing:g} m apart, dt {float(field.attrs['date_dt']):g} days",
        f"valid:         {100.0 * valid.mean():.1f}% ({int(valid.sum())} of {valid.size}), {n_interp} interpolated",
        f"median speed:  {median} (valid vectors)",
        *_quality_lines(field.attrs),
        f"written:       {path}",
        f"elapsed:       {elapsed_s:.1f} s",
    ])


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

    status = str(attrs.get("stable_shift_status", "removed" if int(attrs.get("stable_shift_applied", 0)) else "kept"))
    if status.startswith("kept: no stable ground"):
        status += "; give --stable"
    stable = (f"{int(attrs['stable_count'])} vectors ({attrs['stable_source']}), median offset "
              f"vx {num('stable_shift_x')}, vy {num('stable_shift_y')} m/yr ({status})")
    error = (f"vx {num('stable_spread_x')}, vy {num('stable_spread_y')} m/yr on stable ground, "
             f"speed {num('v_error')} m/yr")
    metrics = (f"static terrain {num('metric_static_terrain_x')} / {num('metric_static_terrain_y')} m/yr, "
               f"along-flow strain {num('metric_alongflow_normal', 3)} / {num('metric_alongflow_shear', 3)} 1/yr, "
               f"{num('metric_outlier_percent')}% outliers, {num('metric_invalid_percent')}% invalid")
    return [f"stable ground: {stable}", f"error (1 sd):  {error}", f"GLAFT metrics: {metrics}"]


class _ProgressBar:
    """A ``progress(done, total)`` callback drawing a tqdm bar on stderr (only on a terminal)."""

    def __init__(self, *, disable: bool = False, unit: str = "chip", desc: str = "tracking") -> None:
        self.disable = disable
        self.unit, self.desc = unit, desc
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.disable:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=self.unit, file=sys.stderr, disable=None, leave=False,
                             desc=self.desc, dynamic_ncols=True)
        self._bar.total = total
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()


# --- entry point ----------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``icetrack`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name.

    Returns
    -------
    int
        0 on success, 2 for a bad command line, 1 when the work fails, 130 when interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return int(args.handler(args))
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else 0
    except (UsageError, ParameterError) as err:
        return _fail(err, EXIT_USAGE, debug)
    except (TrackingError, OSError) as err:
        return _fail(err, EXIT_RUNTIME, debug)
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        return _fail(RuntimeError(f"unexpected {type(err).__name__}: {err} (run with --debug for the traceback)"),
                     EXIT_RUNTIME, debug)


def _fail(err: BaseException, code: int, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exception(err, file=sys.stderr)
    message = " ".join(str(err).split())
    print(f"{_PROG}: error: {message}", file=sys.stderr)
    return code
