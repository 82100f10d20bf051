"""The ``icetrack`` command: ``demo``, ``track`` (`tracking.cli.track`), the data commands ``search``, ``fetch``,
``compare``, ``itslive`` (`tracking.cli.data`) and ``batch`` (`tracking.cli.batch`); `main` (`tracking.cli.main`)
runs one. What they share (flags, argument types, the progress bar) is in `tracking.cli.common`.
"""

from tracking.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
