"""Run a chip-level kernel, ``match(chip, window) -> (dx, dy, score[, snr])``, over the whole chip grid.

The loop hands each reference chip and its search window to ``match`` (in row blocks, so that progress is
reported and cancelling stops at the next block), then rejects what the function cannot know is wrong: chips
with nodata, offsets beyond the search range and matches that land on nodata or off the image.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from tracking.exceptions import KernelError
from tracking.kernels.grid import chip_grid, offsets_dataset
from tracking.kernels.registry import Kernel
from tracking.params import TrackingParameters
from tracking.progress import ProgressCallback, check_cancel

__all__ = ["track_chips"]


def track_chips(
    kernel: Kernel,
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> xr.Dataset:
    """Match every chip of the grid with the chip-level function of ``kernel``.

    Parameters
    ----------
    kernel : Kernel
        A ``kind="chip"`` kernel (`tracking.kernels.register_kernel`).
    reference, secondary : ndarray of float32, shape (rows, cols)
        Pre-filtered images, NaN = nodata.
    params : TrackingParameters
        ``chip_size``, ``search_range`` and ``step`` are used.
    progress, cancel
        As in `tracking.kernels.match`.

    Returns
    -------
    xarray.Dataset
        The kernel's offsets (`tracking.kernels.offsets_dataset`), before the outlier tests; ``snr`` is NaN
        everywhere when ``match`` returns no SNR.

    Raises
    ------
    KernelError
        ``match`` returned something other than 3 or 4 numbers.
    """
    chip, reach = params.chip_size, params.search_range
    tops, lefts = chip_grid(reference.shape, chip, params.step)
    padded = np.pad(secondary, reach, constant_values=np.nan)
    values = np.full((tops.size, lefts.size, 4), np.nan)
    size = chip + 2 * reach

    def one_row(r: int) -> None:
        top = tops[r]
        for c, left in enumerate(lefts):
            template = reference[top : top + chip, left : left + chip]
            if not np.isfinite(template).all():
                continue
            window = padded[
                top : top + size, left : left + size
            ]  # the chip sits at [reach:reach + chip] in it
            values[r, c] = _checked(kernel.name, kernel.function(template, window))
            dx, dy = values[r, c, :2]
            if not (abs(dx) <= reach and abs(dy) <= reach):
                values[r, c, :2] = np.nan  # beyond the search range, or no match (NaN)
                continue
            # the matched window (integer pixels it touches) must hold no nodata
            i0, j0 = reach + math.floor(dy), reach + math.floor(dx)
            i1, j1 = reach + math.ceil(dy) + chip, reach + math.ceil(dx) + chip
            if not np.isfinite(window[i0:i1, j0:j1]).all():
                values[r, c, :2] = np.nan

    block = max(1, min(tops.size, math.ceil(tops.size / 20)))
    pool = ThreadPoolExecutor(kernel.threads) if kernel.threads > 1 else None
    try:
        for start in range(0, tops.size, block):
            check_cancel(cancel)
            stop = min(start + block, tops.size)
            if pool is None:
                for r in range(start, stop):
                    one_row(r)
            else:
                list(pool.map(one_row, range(start, stop)))
            if progress is not None:
                progress(stop * lefts.size, tops.size * lefts.size)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    matched = np.isfinite(values[..., 0]) & np.isfinite(values[..., 1])
    values[~matched, :2] = np.nan
    return offsets_dataset(
        tops, lefts, chip, values[..., 0], values[..., 1], values[..., 2], values[..., 3], matched
    )


def _checked(name: str, result: object) -> tuple[float, float, float, float]:
    """``(dx, dy, score, snr)`` from what a chip function returned; NaN snr when it gave none."""
    try:
        numbers = [float(v) for v in result]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) not in (3, 4):
        raise KernelError(
            f"kernel {name!r} broke the kernel contract (see tracking.kernels): a chip function "
            f"must return (dx, dy, score) or (dx, dy, score, snr) as numbers; it returned "
            f"{result!r:.200}."
        )
    return (*numbers, np.nan)[:4]  # type: ignore[return-value]
