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
from collections.abc import Callable

import numpy as np
import xarray as xr

from tracking.exceptions import CancelledError, ParameterError
from tracking.kernels import _ncc
from tracking.params import TrackingParameters

__all__ = ["chip_grid", "track_arrays"]

ProgressCallback = Callable[[int, int], None]

#: Coarse matches below this NCC do not vote in the guesses of their neighbours.
_COARSE_MIN_PEAK = 0.15


def chip_grid(shape: tuple[int, int], chip_size: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners of the chips along rows and along columns.

    Chips start at multiples of ``step`` and lie wholly inside the image, so grids of different images with the
    same parameters line up.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` of the reference image.
    chip_size, step : int
        Chip size and grid spacing, px.

    Returns
    -------
    tops, lefts : ndarray of int64
        First row and first column of each chip; chip centres are ``tops + (chip_size - 1) / 2``.

    Examples
    --------
    >>> chip_grid((100, 70), 32, 16)
    (array([ 0, 16, 32, 48, 64]), array([ 0, 16, 32]))
    """
    rows, cols = shape
    tops = np.arange(0, rows - chip_size + 1, step, dtype=np.int64)
    lefts = np.arange(0, cols - chip_size + 1, step, dtype=np.int64)
    return tops, lefts


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


def _coarse_factor(search_range: int, chip_size: int) -> int:
    """Reduction of the coarse pass: 4 for wide searches, 2 for medium ones, 1 (no reduction) for short ones."""
    for factor in (4, 2):
        if search_range >= 3 * factor and chip_size >= 4 * factor:
            return factor
    return 1


def _as_image(values: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(values)
    if image.ndim != 2:
        raise ParameterError(f"{name} must be a 2-D image (rows, cols); got shape {image.shape}.")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ParameterError(f"{name} must hold real numbers; got dtype {image.dtype}.")
    image = image.astype(np.float32, copy=False)
    if not np.isfinite(image).all():
        image = np.where(np.isfinite(image), image, np.float32(np.nan))
    return np.ascontiguousarray(image)


def _guesses(
    tops: np.ndarray, lefts: np.ndarray, reference: np.ndarray, secondary: np.ndarray, params: TrackingParameters
) -> tuple[np.ndarray, np.ndarray]:
    """Coarse pass: per node, two integer starting offsets (median of neighbours, own) and the SNR.

    Where chips overlap by half or more, one coarse chip serves each 2 x 2 block of nodes: it is centred on the
    block and covers all four chips.
    """
    chip, search, step = params.chip_size, params.search_range, params.step
    factor = _coarse_factor(search, chip)
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
    _ncc.coarse_search(coarse_ref, coarse_sec, norms, grid_t.ravel(), grid_l.ravel(), coarse_chip, reach,
                       offsets, peaks, ratios)
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


def track_arrays(
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    **overrides,
) -> xr.Dataset:
    """Track features from ``reference`` to ``secondary``: pixel offsets on a regular grid of chips.

    Both images are pre-filtered, matched chip by chip with zero-mean normalized cross-correlation, refined to
    sub-pixel precision and screened by the outlier tests of `tracking.validate`.

    Parameters
    ----------
    reference, secondary : ndarray of shape (rows, cols)
        The two images on the same grid, any real dtype; NaN (or inf) marks nodata.
    params : TrackingParameters, optional
        Parameters; defaults to ``TrackingParameters()``.
    progress : callable, optional
        Called as ``progress(done, total)`` with chip counts while the fine pass runs.
    cancel : threading.Event, optional
        When set, tracking stops at the next block of chips and raises `CancelledError`.
    **overrides
        Parameter values that replace those of ``params`` (``chip_size=64``, ...).

    Returns
    -------
    xarray.Dataset
        On dims ``("row", "col")``, whose coordinates are the chip centres in the reference image in pixel-index
        units (pixel i's centre is i):

        - ``dx``, ``dy`` (float32, px): offset of the match, + columns right and + rows down; NaN where no match
          was found (nodata, no texture, peak at the edge of the search range);
        - ``peak`` (float32): NCC at the correlation peak;
        - ``snr`` (float32): the peak over the strongest other peak of the full-range (coarse) search;
        - ``valid`` (bool): matched and not flagged by any outlier test.

        ``attrs`` hold every parameter value.

    Raises
    ------
    ParameterError
        Images of different shapes, or parameters that do not fit the images.
    CancelledError
        ``cancel`` was set.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> from scipy import ndimage
    >>> image = ndimage.gaussian_filter(rng.normal(size=(160, 160)), 1.5)
    >>> moved = ndimage.shift(image, (1.25, -2.5), order=3)
    >>> field = track_arrays(image, moved, search_range=6)
    >>> bool(abs(float(field.dx.median()) + 2.5) < 0.05 and abs(float(field.dy.median()) - 1.25) < 0.05)
    True
    """
    from tracking.preprocess import prefilter
    from tracking.validate import apply_outlier_tests

    params = TrackingParameters.from_overrides(params, **overrides)
    reference = _as_image(reference, "reference")
    secondary = _as_image(secondary, "secondary")
    if reference.shape != secondary.shape:
        raise ParameterError(
            f"reference {reference.shape} and secondary {secondary.shape} images differ in shape: bring them onto "
            "one grid first (tracking.scenes.Pair.from_scenes does this for georeferenced scenes)."
        )
    params.check(reference.shape)
    reference = prefilter(reference, params.prefilter, params.prefilter_size)
    secondary = prefilter(secondary, params.prefilter, params.prefilter_size)

    tops, lefts = chip_grid(reference.shape, params.chip_size, params.step)
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
    block = max(lefts.size, total // 20)
    for start in range(0, total, block):
        if cancel is not None and cancel.is_set():
            raise CancelledError("tracking was cancelled before it finished; no result was written.")
        part = slice(start, min(start + block, total))
        _ncc.fine_search(
            reference, secondary, norms, grid_t[part], grid_l[part], params.chip_size, params.search_range,
            guesses[part], method, params.oversampling, weights, offsets[part], peaks[part], status[part],
        )
        if progress is not None:
            progress(part.stop, total)

    shape = (tops.size, lefts.size)
    centre = (params.chip_size - 1) / 2
    field = xr.Dataset(
        {
            "dx": (("row", "col"), offsets[:, 1].reshape(shape)),
            "dy": (("row", "col"), offsets[:, 0].reshape(shape)),
            "peak": (("row", "col"), peaks.reshape(shape)),
            "snr": (("row", "col"), snr.astype(np.float32)),
            "valid": (("row", "col"), np.isin(status, (0, 3)).reshape(shape)),
        },
        coords={"row": tops + centre, "col": lefts + centre},
        attrs={k: ("none" if v is None else v) for k, v in params.to_dict().items()},
    )
    field["dx"].attrs.update(units="pixel", long_name="offset along columns (+ right)")
    field["dy"].attrs.update(units="pixel", long_name="offset along rows (+ down)")
    field["peak"].attrs.update(long_name="peak normalized cross-correlation")
    field["snr"].attrs.update(long_name="correlation peak over the strongest other peak")
    field["valid"].attrs.update(long_name="matched and passed the outlier tests")
    return apply_outlier_tests(field, params)
