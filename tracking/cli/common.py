"""What the ``icetrack`` sub-commands share: the parser class, common flags and argument types, the parameter
flags, the output format, the output checks (`check_output`: the folder exists and is writable, an input is not
overwritten, an existing output only with ``--overwrite``), C libraries' stderr held during writes, and the
progress bar.

Every `TrackingParameters` parameter becomes a flag (`add_parameter_flags`), generated from the parameter
objects (name, type, default, bounds and help come from ``tracking.params``). A bad command line raises
`tracking.exceptions.UsageError`, which `tracking.cli.main` turns into exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, Self

import pandas as pd
import param

from tracking.exceptions import ParameterError, UsageError
from tracking.params import TrackingParameters

__all__ = [
    "EXIT_RUNTIME",
    "EXIT_USAGE",
    "PROG",
    "Parser",
    "ProgressBar",
    "add_overwrite_flag",
    "add_parameter_flags",
    "check_output",
    "debug_flag",
    "held_c_stderr",
    "int_at_least",
    "output_format",
    "parameters_from_args",
    "parse_date",
    "positive_int",
    "refuse_overwriting_inputs",
]

EXIT_USAGE = 2
EXIT_RUNTIME = 1
PROG = "icetrack"
_GROUPS = ((1.0, "kernel"), (2.0, "pre-filter"), (3.0, "outlier rejection"), (float("inf"), "hole filling"))


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and raise `UsageError` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def debug_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug`` to a (sub-command) parser."""
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks on errors"
    )


def add_parameter_flags(
    parser: argparse.ArgumentParser, cls: type[TrackingParameters] = TrackingParameters
) -> None:
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
        group.add_argument(
            flag,
            action=argparse.BooleanOptionalAction,
            help=f"{text} (default: {'yes' if p.default else 'no'})",
            **common,
        )
        return
    if isinstance(p, param.Selector):
        group.add_argument(flag, choices=list(p.objects), help=f"{text} (default: {p.default})", **common)
        return
    kind = "integer" if isinstance(p, param.Integer) else "number"
    bounds = f" [{p.bounds[0]} to {p.bounds[1]}]" if p.bounds else ""
    none = "; 'none' for no limit" if p.allow_None else ""
    default = "none" if p.default is None else p.default
    group.add_argument(
        flag,
        type=_value_parser(name, int if kind == "integer" else float),
        metavar=name.upper(),
        help=f"{text}{bounds} (default: {default}{none})",
        **common,
    )


def _value_parser(name: str, kind: type) -> Callable[[str], Any]:
    """An argparse ``type`` for parameter ``name``: `TrackingParameters.parse_text`, errors as argparse's."""

    def parse(text: str) -> Any:
        try:
            return TrackingParameters.parse_text(name, text)
        except ParameterError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix(f"{name}: ")) from None

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
                f"must be at least 1, got {value}"
                if minimum == 1
                else f"must be {minimum} or more, got {value}"
            )
        return value

    return parse


positive_int = int_at_least(1)


def parse_date(text: str) -> pd.Timestamp:
    """An argparse ``type`` for dates and times (anything `pandas.Timestamp` reads), with a one-line error."""
    try:
        return pd.Timestamp(text)
    except (ValueError, TypeError):
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (give e.g. 2021-05-01)") from None


def refuse_overwriting_inputs(output: Path, inputs: dict[str, Path | None]) -> None:
    """Raise `UsageError` if ``output`` is one of the ``inputs`` (role -> path): the same file by another name,
    a relative path, a symbolic or a hard link included. Nothing has been written when it raises."""
    if not output.exists():
        return
    for role, path in inputs.items():
        if path is not None and path.exists() and os.path.samefile(output, path):
            raise UsageError(
                f"-o {output} is the input {role} ({path}): writing there would destroy it; "
                "choose another output file"
            )


def add_overwrite_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--overwrite``: without it an existing output file is left alone and the command refuses to run."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT if it exists (it is replaced only once the new file is complete: a "
        "failed or interrupted run leaves it as it was); without it, an existing OUT is an "
        "error and nothing is run",
    )


def check_output(output: Path, inputs: dict[str, Path | None], *, overwrite: bool) -> None:
    """Raise `UsageError` before any work when ``output`` cannot or must not be written: its folder is missing,
    not a folder or not writable, it is a folder, it is one of the ``inputs`` (`refuse_overwriting_inputs`), or
    it exists and ``overwrite`` is false."""
    folder = output.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "output directory does not exist"
        raise UsageError(f"{folder}: {what}: create the folder first, or choose another output path")
    if output.is_dir():
        raise UsageError(f"-o {output} is a folder: give a file name, e.g. {output / 'velocity.nc'}")
    refuse_overwriting_inputs(output, inputs)
    if output.exists() and not overwrite:
        raise UsageError(
            f"-o {output} already exists: give --overwrite to replace it, or choose another name"
        )
    try:  # the output is written to a temporary file in the same folder, then moved: can one be made there?
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UsageError(
            f"cannot write in {folder} ({err.strerror or err}): choose a folder you can write to"
        ) from None


@contextlib.contextmanager
def held_c_stderr(debug: bool = False) -> Iterator[None]:
    """Hold what C libraries print on stderr meanwhile (libtiff prints each failed write itself): shown after a
    success, dropped after a failure, which the error's one line tells. With ``debug``, nothing is held."""
    sys.stderr.flush()
    try:
        held = None if debug else tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    except OSError:
        held = None
    if held is None:
        yield
        return
    saved = os.dup(2)
    os.dup2(held.fileno(), 2)
    try:
        yield
    except BaseException:
        os.dup2(saved, 2)
        raise
    else:
        os.dup2(saved, 2)
        held.seek(0)
        sys.stderr.write(held.read().decode(errors="replace"))
    finally:
        os.close(saved)
        held.close()


def parameters_from_args(args: argparse.Namespace) -> TrackingParameters:
    """The `TrackingParameters` of the parameter flags given (`add_parameter_flags`); a bad value is a `UsageError`."""
    names = [name for name in TrackingParameters.param if name != "name"]
    overrides = {name: getattr(args, name) for name in names if hasattr(args, name)}
    try:
        return TrackingParameters.from_overrides(**overrides)
    except ParameterError as err:
        raise UsageError(str(err)) from None


def output_format(path: Path, fmt: str | None) -> str:
    """``fmt``, else ``"netcdf"`` or ``"geotiff"`` from the suffix of ``path``; a `UsageError` for another suffix."""
    from tracking.io import GEOTIFF_SUFFIXES, NETCDF_SUFFIXES

    if fmt is not None:
        return fmt
    suffix = path.suffix.lower()
    if suffix in NETCDF_SUFFIXES:
        return "netcdf"
    if suffix in GEOTIFF_SUFFIXES:
        return "geotiff"
    raise UsageError(
        f"cannot tell the output format from {path.name!r}: end it in .nc or .tif, or give --format"
    )


class ProgressBar:
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

            self._bar = tqdm(
                total=total,
                unit=self.unit,
                file=sys.stderr,
                disable=None,
                leave=False,
                desc=self.desc,
                dynamic_ncols=True,
            )
        self._bar.total = total
        self._bar.update(done - self._bar.n)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
