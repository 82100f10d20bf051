"""``python -m tracking``: the ``icetrack`` command."""

from __future__ import annotations

from tracking.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
