"""Image sources for icetrack: where scenes come from.

``tracking.sources.demo``
    The embedded synthetic Jakobshavn Isbræ demo glacier (no network needed), with its exact true motion.
"""

from __future__ import annotations

__all__: list[str] = []
