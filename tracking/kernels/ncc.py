"""The NCC feature tracker: coarse-to-fine zero-mean normalized cross-correlation with sub-pixel refinement.

How it spends its time
----------------------
1. A *coarse pass* searches the whole range exhaustively, but on images reduced by block averaging (4 x 4 for
   the default search range), so each chip costs 16 x fewer multiply-adds per offset and 16 x fewer offsets.
   It gives every chip a guess and its signal-to-noise ratio (peak over the strongest other peak).
2. The guesses are cleaned by a 3 x 3 median over the grid, so one bad coarse match does not mislead a chip.
3. A *fine pass* at full resolution hill-climbs the NCC surface from the median guess and from the chip's own
   coarse guess, evaluating a few dozen offsets instead of (2 search_range + 1)^2.
4. The integer peak is refined to sub-pixel precision, by default with an inverse-compositional Lucas-Kanade fit
   on bicubically interpolated pixels (gain- and offset-invariant), which avoids the "pixel locking" of peak
   fits on the correlation surface.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import xarray as xr

from tracking.kernels import _ncc
from tracking.kernels.grid import chip_grid, offsets_dataset
from tracking.params import TrackingParameters
from tracking.progress import ProgressCallback, check_cancel
from tracking.validate import peak_threshold

__all__ = ["MIN_DATA_SHARE", "centre_weights", "coarse_factor", "data_share", "fill_nodata", "ncc_offsets"]

#: Coarse matches below this NCC do not vote in the guesses of their neighbours.
_COARSE_MIN_PEAK = 0.15
#: A chip is matched only where at least this share of its pixels, and of the secondary window it matches, has data.
MIN_DATA_SHARE = 0.5
#: The fine pass searches the whole range at full resolution where its climb ends under this NCC (at a 32 px
#: chip; scaled to the chip size by `tracking.validate.peak_threshold`) ...
FALLBACK_PEAK = 0.3
#: ... or under twice that and further than one coarse cell plus this many px from the neighbours' median guess
#: (whose resolution is the coarse pass's block size).
FALLBACK_DISTANCE = 1


#: Width of the Gaussian weights of the sub-pixel fit, as a fraction of the chip size.
CENTRE_WEIGHT_SIGMA = 0.2


def centre_weights(chip_size: int) -> np.ndarray:
    """Gaussian weights toward the chip centre (sigma = chip_size / 5), used by the Lucas-Kanade refinement.

    Motion varies inside a chip (shear at glacier margins, stretching along flow); weighting the centre makes
    the estimate the motion *at* the centre rather than an average over the chip.
    """
    offsets = np.arange(chip_size) - (chip_size - 1) / 2
    sigma = CENTRE_WEIGHT_SIGMA * chip_size
    if sigma <= 0:
        return np.ones((chip_size, chip_size), np.float32)
    profile = np.exp(-0.5 * (offsets / sigma) ** 2)
    return np.outer(profile, profile).astype(np.float32)


def coarse_factor(search_range: int, chip_size: int) -> int:
    """Reduction of the coarse pass: 4 for wide searches, 2 for medium ones, 1 (no reduction) for short ones."""
    for factor in (4, 2):
        if search_range >= 3 * factor and chip_size >= 4 * factor:
            return factor
    return 1


def _guesses(
    tops: np.ndarray,
    lefts: np.ndarray,
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """Coarse pass: per node, two integer starting offsets (median of neighbours, own) and the SNR.

    Where chips overlap by half or more, one coarse chip serves each 2 x 2 block of nodes: it is centred on the
    block and covers all four chips.
    """
    chip, search, step = params.chip_size, params.search_range, params.step
    factor = coarse_factor(search, chip)
    stride = 2 if 2 * step <= chip and factor > 1 else 1
    if factor == 1:
        coarse_ref, coarse_sec = reference, secondary
        coarse_chip, reach = chip, search
    else:
        coarse_ref = _ncc.block_mean(reference, factor)
        coarse_sec = _ncc.block_mean(secondary, factor)
        coarse_chip = min(max(chip // factor, 16), *coarse_ref.shape)
        reach = math.ceil(search / factor)

    def coarse_corners(starts: np.ndarray, size: int) -> np.ndarray:
        blocks = np.arange(0, starts.size, stride)
        last = np.minimum(blocks + stride - 1, starts.size - 1)
        centres = (starts[blocks] + starts[last] + chip - 1) / 2  # centre of the block's chips, px
        corners = np.round((centres + 0.5) / factor - 0.5 - (coarse_chip - 1) / 2)
        return np.clip(corners, 0, size - coarse_chip).astype(np.int64)

    coarse_tops = coarse_corners(tops, coarse_ref.shape[0])
    coarse_lefts = coarse_corners(lefts, coarse_ref.shape[1])
    grid_t, grid_l = np.meshgrid(coarse_tops, coarse_lefts, indexing="ij")
    n = grid_t.size
    offsets = np.empty((n, 2), np.float32)
    peaks = np.empty(n, np.float32)
    ratios = np.empty(n, np.float32)
    norms = _ncc.window_norms(coarse_sec, coarse_chip)
    _ncc.coarse_search(
        coarse_ref,
        coarse_sec,
        norms,
        grid_t.ravel(),
        grid_l.ravel(),
        coarse_chip,
        reach,
        offsets,
        peaks,
        ratios,
    )
    coarse_shape = grid_t.shape
    offsets = offsets.reshape((*coarse_shape, 2)) * factor
    usable = (np.isfinite(peaks) & (peaks >= _COARSE_MIN_PEAK)).reshape(coarse_shape)
    median = _ncc.median_guess(offsets, usable, 1)
    wide = _ncc.median_guess(offsets, usable, 3)
    median = np.nan_to_num(np.where(np.isnan(median), wide, median), nan=0.0)
    own = np.where(usable[..., None], offsets, median)
    # every node takes the guesses of its block's coarse node
    rows = np.arange(tops.size) // stride
    cols = np.arange(lefts.size) // stride
    pick = np.ix_(rows, cols)
    guesses = np.stack([median[pick], own[pick]], axis=2).reshape(tops.size * lefts.size, 2, 2)
    return np.round(guesses).astype(np.int64), ratios.reshape(coarse_shape)[pick]


def fill_nodata(
    image: np.ndarray, reach: int, *, zero_mean: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """``image`` with nodata (NaN) replaced by the local mean of the data around it, and the data mask.

    Chips that straddle a cloud or a scene edge can then be matched on the part that has data, instead of being
    lost whole: each nodata pixel takes the mean of the data within ``reach`` px (a normalized box filter, O(1)
    per pixel), so the fill adds no edge and no texture for the correlation to lock on; pixels with no data that
    near take 0, the mean of a pre-filtered image. For an image that is zero-mean at that scale already (a
    Gaussian high-pass or a Wallis filter: ``zero_mean``), that local mean is 0 and the box filter is skipped.
    `ncc_offsets` keeps only the chips with at least `MIN_DATA_SHARE` of data. Returns ``(image, None)`` when
    nothing is missing.
    """
    from scipy import ndimage

    data = np.isfinite(image)
    if data.all():
        return image, None
    if zero_mean:
        return np.where(data, image, np.float32(0.0)).astype(np.float32, copy=False), data
    width = 2 * int(reach) + 1
    weights = ndimage.uniform_filter(data.astype(np.float32), width, mode="constant")
    sums = ndimage.uniform_filter(np.where(data, image, np.float32(0.0)), width, mode="constant")
    near = weights > 1e-3
    fill = np.where(near, sums / np.where(near, weights, 1), np.float32(0.0))
    return np.where(data, image, fill).astype(np.float32), data


def data_share(data: np.ndarray, tops: np.ndarray, lefts: np.ndarray, chip_size: int) -> np.ndarray:
    """Share of the ``chip_size`` square windows at (tops, lefts) that lies on data (0 where a window leaves it).

    Parameters
    ----------
    data : ndarray of bool, shape (rows, cols)
        True where the image has data.
    tops, lefts : ndarray of int, shape (n,)
        Top-left corners of the windows.
    chip_size : int
        Window size, px.

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    table = np.zeros((data.shape[0] + 1, data.shape[1] + 1), np.int64)
    table[1:, 1:] = data.cumsum(0).cumsum(1)
    t = np.clip(tops, 0, data.shape[0] - chip_size)
    left = np.clip(lefts, 0, data.shape[1] - chip_size)
    b, r = t + chip_size, left + chip_size
    inside = (table[b, r] - table[t, r] - table[b, left] + table[t, left]) / chip_size**2
    off = (tops < 0) | (lefts < 0) | (tops + chip_size > data.shape[0]) | (lefts + chip_size > data.shape[1])
    return np.where(off, 0.0, inside)


def ncc_offsets(
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> xr.Dataset:
    """The ``ncc`` grid kernel: match every chip of the pre-filtered images by NCC (see the module docstring).

    Parameters
    ----------
    reference, secondary : ndarray of float32, shape (rows, cols)
        Pre-filtered images on one grid, NaN = nodata (`tracking.pipeline.track_arrays` prepares them).
    params : TrackingParameters
        ``chip_size``, ``search_range``, ``step``, ``subpixel`` and ``oversampling`` are used.
    progress : callable, optional
        Called as ``progress(done, total)`` with chip counts while the fine pass runs.
    cancel : threading.Event, optional
        When set, matching stops at the next block of chips and raises `CancelledError`.

    Returns
    -------
    xarray.Dataset
        `tracking.kernels.offsets_dataset`, before the outlier tests: ``peak`` is the NCC at the integer peak,
        ``snr`` the peak over the strongest other peak (at least two cells away) of the coarse, full-range
        search, ``valid`` the chips that matched.
    """
    tops, lefts = chip_grid(reference.shape, params.chip_size, params.step)
    from tracking.preprocess import ZERO_MEAN_PREFILTERS

    zero_mean = params.prefilter in ZERO_MEAN_PREFILTERS
    reference, reference_data = fill_nodata(reference, params.chip_size // 2, zero_mean=zero_mean)
    secondary, secondary_data = fill_nodata(secondary, params.chip_size // 2, zero_mean=zero_mean)
    guesses, snr = _guesses(tops, lefts, reference, secondary, params)
    grid_t, grid_l = np.meshgrid(tops, lefts, indexing="ij")
    grid_t, grid_l = grid_t.ravel(), grid_l.ravel()
    total = grid_t.size
    offsets = np.full((total, 2), np.nan, np.float32)
    peaks = np.full(total, np.nan, np.float32)
    status = np.ones(total, np.int8)
    method = _ncc.SUBPIXEL_CODES[params.subpixel]
    norms = _ncc.window_norms(secondary, params.chip_size)
    weights = centre_weights(params.chip_size)
    block = max(lefts.size, total // 100)  # progress, cancel and pauses between blocks
    for start in range(0, total, block):
        check_cancel(cancel)
        part = slice(start, min(start + block, total))
        _ncc.fine_search(
            reference,
            secondary,
            norms,
            grid_t[part],
            grid_l[part],
            params.chip_size,
            params.search_range,
            guesses[part],
            method,
            params.oversampling,
            weights,
            offsets[part],
            peaks[part],
            status[part],
            peak_threshold(FALLBACK_PEAK, params.chip_size),
            coarse_factor(params.search_range, params.chip_size) + FALLBACK_DISTANCE,
        )
        if progress is not None:
            progress(part.stop, total)
    matched = np.isin(status, (0, 3))
    if reference_data is not None:
        share = data_share(reference_data, grid_t, grid_l, params.chip_size)
        matched &= share >= MIN_DATA_SHARE
    if secondary_data is not None:
        moved_t = grid_t + np.round(np.nan_to_num(offsets[:, 0])).astype(np.int64)
        moved_l = grid_l + np.round(np.nan_to_num(offsets[:, 1])).astype(np.int64)
        matched &= data_share(secondary_data, moved_t, moved_l, params.chip_size) >= MIN_DATA_SHARE
    field = offsets_dataset(tops, lefts, params.chip_size, offsets[:, 1], offsets[:, 0], peaks, snr, matched)
    field["peak"].attrs.update(long_name="peak normalized cross-correlation")
    return field
