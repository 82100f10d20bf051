"""The ``icetrack`` command: its parser and `main`, which runs a sub-command and turns errors into exit codes.

Errors print one line, ``icetrack: error: <message>``, and exit with 2 (bad command line, bad parameter, missing
input file) or 1 (a scene, pair or run that fails); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from tracking.cli.batch import add_batch_command
from tracking.cli.common import EXIT_RUNTIME, EXIT_USAGE, PROG, Parser
from tracking.cli.data import add_data_commands
from tracking.cli.track import add_track_commands
from tracking.exceptions import ParameterError, TrackingError, UsageError
from tracking.schema import software_version

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``icetrack`` argument parser, with every sub-command."""
    parser = Parser(prog=PROG, description="Glacier surface velocity by feature tracking on image pairs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {software_version()}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    add_track_commands(commands)
    add_data_commands(commands)
    add_batch_command(commands)
    return parser


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
    if not debug:  # GDAL's messages (e.g. each failed write) would print beside the one error line
        logging.getLogger("rasterio").addHandler(logging.NullHandler())
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
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            raise
        return _fail(
            RuntimeError(f"unexpected {type(err).__name__}: {err} (run with --debug for the traceback)"),
            EXIT_RUNTIME,
            debug,
        )


def _fail(err: BaseException, code: int, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exception(err, file=sys.stderr)
    message = " ".join(str(err).split())
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code
