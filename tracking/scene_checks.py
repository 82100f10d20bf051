"""Checks of a scene before it is tracked: would a pair of its size fit in memory (from the header, before any
pixel is read), and has it anything to track (`check_content`: not all nodata, not one value everywhere).

`tracking.scenes.read_scene` runs `check_memory`; the CLI and the dashboard's uploads run `check_content` on the
scenes they read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from tracking.exceptions import SceneReadError

__all__ = ["BYTES_PER_PIXEL", "check_content", "check_memory", "memory_budget"]


#: Bytes a tracking run holds per pixel of a scene: the float32 scene, its pre-filtered copy and the kernel's
#: working arrays (measured: 2.66 x the two float32 inputs at the peak, benchmarks/bench_memory.py), rounded up.
BYTES_PER_PIXEL = 12


def memory_budget() -> int:
    """Bytes a tracking run may take: ``ICETRACK_MEMORY_BUDGET`` (in GB, e.g. ``8``), else half of the memory
    available now."""
    setting = os.environ.get("ICETRACK_MEMORY_BUDGET")
    if setting:
        try:
            return int(float(setting) * 1e9)
        except ValueError:
            raise SceneReadError(
                f"ICETRACK_MEMORY_BUDGET={setting!r}: give a number of GB, e.g. 8."
            ) from None
    import psutil

    return int(psutil.virtual_memory().available // 2)


def check_memory(path: Path, rows: int, cols: int) -> None:
    """Raise `SceneReadError` if a pair of ``rows`` x ``cols`` rasters would not fit in `memory_budget` when tracked.

    Called with the header's size, before any pixel is read, so that a file declaring a huge raster ends with a
    message, not with a MemoryError or the system's out-of-memory killer.
    """
    need = 2 * int(rows) * int(cols) * BYTES_PER_PIXEL
    budget = memory_budget()
    if need > budget:
        raise SceneReadError(
            f"{path}: a pair of {rows:,} x {cols:,} px rasters needs about {need / 1e9:.1f} GB to track, more than "
            f"the {budget / 1e9:.1f} GB budget (half the free memory, or ICETRACK_MEMORY_BUDGET in GB): crop it to "
            "the area of interest, or track it tile by tile (icetrack batch --tile-size 4096)."
        )


def check_content(scene: xr.DataArray, name: str | os.PathLike[str] | None = None) -> None:
    """Raise `SceneReadError` when a scene has nothing to track: no valid pixel, or one value at every pixel.

    Parameters
    ----------
    scene : xarray.DataArray
        A `Scene`.
    name : str or path-like, optional
        How to name it in the message (default: its ``scene_id``).
    """
    name = name if name is not None else scene.attrs.get("scene_id", "the scene")
    values = scene.values
    low, high = np.fmin.reduce(values, axis=None), np.fmax.reduce(values, axis=None)  # NaN only if all are
    if not np.isfinite(low):
        raise SceneReadError(
            f"{name}: every pixel is nodata (NaN or the file's nodata value): there is nothing to track; check "
            "the file, or its nodata value ('gdalinfo -stats')."
        )
    if low == high:
        raise SceneReadError(
            f"{name}: every valid pixel has the same value ({low:g}): a constant image has no features to track; "
            "check the band (a mask, an empty band?)."
        )
