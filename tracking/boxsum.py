"""The machinery of the pre-filters (`tracking.preprocess`): images in blocks, and box sums as Numba kernels.

`Image` holds an input image with its centre, nodata mask and blocks of rows; `box_filter` runs box sums over
tiles of the image in parallel (running sums in float64 down the columns, the tile transposed, and down its
columns again), giving local means and, for Wallis, local standard deviations; `gaussian_boxes` picks the three
extended boxes whose variances add up to a Gaussian's (Gwosdek et al., 2011); `normalized` is a normalized
convolution, for filters that are not box sums.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cached_property

import numba
import numpy as np
from numba import njit, prange
from scipy import ndimage

from tracking.exceptions import ParameterError

__all__ = [
    "Image",
    "box",
    "box_filter",
    "checked",
    "divide_floored",
    "gaussian",
    "gaussian_boxes",
    "gaussian_radius",
    "normalized",
    "sample_stride",
    "subsample",
]

_SAMPLE = 1_000_000  # pixels sampled for the global statistics (centre, median local std)
_BLOCK_PIXELS = 2_000_000  # pixels per block (before the halo): ~16 MiB per float64 block temporary
_TRUNCATE = 4.0  # Gaussian kernels (of `naof`) reach int(4 sigma + 0.5) px
_BOXES = 3  # extended boxes in the Gaussian low-pass of `gaussian_highpass`
_TILE = 120  # side of the box filters' tiles, px, at least 4 x their reach (not a power of 2: row strides
# of a power of 2 make the transposes in a tile thrash the cache)
_TINY_WEIGHT = 1e-9  # below this, a normalized convolution has no valid pixel in reach


# --- block machinery ----------------------------------------------------------------------------------------------


class Image:
    """A 2-D input image with what every filter needs: centre, nodata mask and block iterator.

    ``centre`` is the mean of a sample of valid pixels; it is subtracted before filtering (in float64), which
    changes no filter's output but keeps the arithmetic accurate on raw digital numbers with a large offset.
    """

    def __init__(self, image: np.ndarray) -> None:
        image = checked(image)
        self.data = _numba_ready(image)
        self.shape: tuple[int, int] = image.shape
        count, total, absolute = _sample_sums(self.data, sample_stride(self.shape))
        self.centre = total / count if count else 0.0
        self.scale = absolute / count if count else 0.0  # mean |DN|, for absolute floors

    @cached_property
    def valid(self) -> np.ndarray | None:
        """The valid mask (a full-size bool array, made on first use), or None when every pixel is finite."""
        if not np.issubdtype(self.data.dtype, np.floating):
            return None
        valid = np.isfinite(self.data)
        return None if valid.all() else valid

    def blocks(self, halo: int) -> list[tuple[int, int, int, int]]:
        """Blocks of rows as ``(top, bottom, lo, hi)``: output rows ``top:bottom``, input rows ``lo:hi``."""
        rows, cols = self.shape
        step = max(4 * halo, 16, _BLOCK_PIXELS // max(cols, 1))
        return [
            (top, min(rows, top + step), max(0, top - halo), min(rows, top + step + halo))
            for top in range(0, rows, step)
        ]

    def block(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows ``lo:hi`` as centred float64 with nodata set to 0, and their valid mask (or None)."""
        values = self.data[lo:hi].astype(np.float64)
        values -= self.centre
        if self.valid is None:
            return values, None
        mask = self.valid[lo:hi]
        values[~mask] = 0.0
        return values, mask

    def finish(self, out: np.ndarray) -> np.ndarray:
        """Set nodata back to NaN in the output."""
        if self.valid is not None:
            out[~self.valid] = np.nan
        return out


def checked(image: np.ndarray) -> np.ndarray:
    """``image`` as an ndarray, or `ParameterError` if it is not a real 2-D array."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ParameterError(
            f"pre-filters need a 2-D image (rows, cols); got an array of shape {image.shape}."
        )
    if not (
        np.issubdtype(image.dtype, np.integer)
        or np.issubdtype(image.dtype, np.floating)
        or image.dtype == np.bool_
    ):
        raise ParameterError(f"pre-filters need a real-valued image; got dtype {image.dtype}.")
    return image


def _numba_ready(image: np.ndarray) -> np.ndarray:
    """``image`` in a dtype the Numba kernels take: bool as uint8 (a view), native byte order, float16 as
    float32 and extended precision as float64 (copies, for these rare dtypes only)."""
    if image.dtype == np.bool_:
        return image.view(np.uint8)
    if image.dtype == np.float16:
        return image.astype(np.float32)
    if image.dtype.itemsize > 8:
        return image.astype(np.float64)
    return image.astype(image.dtype.newbyteorder("="), copy=False)


def subsample(image: np.ndarray) -> np.ndarray:
    """A strided view of ``image`` holding at most about ``_SAMPLE`` pixels (no copy)."""
    stride = sample_stride(image.shape)
    return image[::stride, ::stride]


def sample_stride(shape: tuple[int, int]) -> int:
    """The stride of the regular sample that whole-image statistics of the pre-filters are taken from.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` of the image.

    Returns
    -------
    int
        Every ``stride``-th row and column, from the first, is sampled: at most about 1e6 pixels.
    """
    return max(1, math.ceil(math.sqrt(shape[0] * shape[1] / _SAMPLE)))


def normalized(
    smooth: Callable[[np.ndarray], np.ndarray], values: np.ndarray, mask: np.ndarray | None
) -> np.ndarray:
    """Normalized convolution: ``smooth(values) / smooth(mask)`` (0 where no valid pixel is in reach).

    ``smooth`` is a linear low-pass (weights summing to 1); ``values`` is 0 at nodata. With ``mask`` None
    (no nodata) this is ``smooth(values)``.
    """
    result = smooth(values)
    if mask is None:
        return result
    weights = smooth(mask.astype(np.float64))
    some = weights > _TINY_WEIGHT
    np.divide(result, weights, out=result, where=some)
    result[~some] = 0.0
    return result


def gaussian(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    def smooth(a: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(a, sigma, mode="reflect", truncate=_TRUNCATE)

    return smooth


def box(width: int) -> Callable[[np.ndarray], np.ndarray]:
    def smooth(a: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(a, width, mode="reflect")

    return smooth


def gaussian_radius(sigma: float) -> int:
    return int(_TRUNCATE * sigma + 0.5)


# --- box-sum kernels ----------------------------------------------------------------------------------------------


@njit(parallel=True, nogil=True, cache=True)
def _sample_sums(image: np.ndarray, stride: int) -> tuple[int, float, float]:
    """Count, sum and sum of absolute values of the finite pixels of ``image[::stride, ::stride]``."""
    rows = (image.shape[0] + stride - 1) // stride
    count, total, absolute = 0, 0.0, 0.0
    for k in prange(rows):
        for j in range(0, image.shape[1], stride):
            x = float(image[k * stride, j])
            if np.isfinite(x):
                count += 1
                total += x
                absolute += abs(x)
    return count, total, absolute


@njit(nogil=True, cache=True, fastmath={"contract"})
def _box_down(lines: np.ndarray, spare: np.ndarray, n: int, box: tuple[int, float, int]) -> np.ndarray:
    """Extended box means down the columns of ``lines``, by running sums (vectorized across the columns).

    ``box`` is ``(radius, tail, passes)``: each of the ``passes`` means at row ``i`` is the mean of rows
    ``i - radius`` to ``i + radius`` and of the two next rows weighted ``tail`` (in [0, 1]). The ``n`` rows
    are ``lines[pad : pad + n]``, ``pad = radius + 1``; the ``pad`` rows each side are filled by reflection.
    ``spare`` is a second buffer of the same shape; the result is in whichever of the two is returned.
    """
    radius, tail, passes = box
    pad, width = radius + 1, lines.shape[1]
    norm = 1.0 / (2 * radius + 1 + 2 * tail)
    total = np.empty(width)
    for _ in range(passes):
        for k in range(pad):  # reflect: period 2n, mirrored in its second half
            for row in (pad - 1 - k, pad + n + k):
                source = (row - pad) % (2 * n)
                source = pad + (source if source < n else 2 * n - 1 - source)
                lines[row] = lines[source]
        total[:] = 0.0
        for k in range(1, 2 * pad):
            total += lines[k]
        for i in range(n):  # row views: the loop over the columns vectorizes
            target, leaving, low, high = spare[pad + i], lines[i + 1], lines[i], lines[i + 2 * pad]
            for j in range(width):
                target[j] = (total[j] + tail * (low[j] + high[j])) * norm
                total[j] += high[j] - leaving[j]
        lines, spare = spare, lines
    return lines


@njit(nogil=True, cache=True)
def _fill(
    lines: np.ndarray,
    image: np.ndarray,
    rows: tuple[int, int],
    cols: tuple[int, int],
    centre: float,
    kind: int,
) -> int:
    """Fill ``lines[pad:-pad]`` with one channel of ``image[rows, cols]``; return the count of valid pixels.

    ``kind`` 0: the image minus ``centre``, 0 at nodata; 1: its square; 2: the valid mask (1.0 or 0.0).
    """
    pad = (lines.shape[0] - (rows[1] - rows[0])) // 2
    valid = 0
    for i in range(rows[0], rows[1]):
        target, source = lines[pad + i - rows[0]], image[i, cols[0] : cols[1]]
        for j in range(source.size):  # ``kind`` is loop-invariant: the loop is unswitched, and vectorizes
            x = float(source[j])
            if kind == 0:
                valid += np.isfinite(x)
                target[j] = x - centre if np.isfinite(x) else 0.0
            elif kind == 1:
                target[j] = (x - centre) ** 2 if np.isfinite(x) else 0.0
            else:
                target[j] = 1.0 if np.isfinite(x) else 0.0
    return valid


@njit(parallel=True, nogil=True, cache=True, error_model="numpy")
def _box_tiles(
    image: np.ndarray,
    tiles: np.ndarray,
    reach: int,
    centre: float,
    box: tuple[int, float, int],
    out: np.ndarray,
    std: np.ndarray,
) -> None:
    """Normalized box low-pass of ``image``: ``out = image - local mean`` and, if ``std`` is not empty, the
    local std; both NaN at nodata.

    Works tile by tile (``tiles`` rows: first and stop output row, first and stop output column), each tile
    reading ``reach`` more pixels each side. In a tile, channels — the image minus ``centre`` with nodata
    set to 0, its square (for the std) and the valid mask (when the tile has nodata) — are box-smoothed down
    the columns, transposed and smoothed down again, all in float64 (`_box_down`). Tile edges are reflected
    like the image's: only the halo, which is not written out, sees the difference.
    """
    pad = box[0] + 1
    squares = std.size > 0
    for t in prange(tiles.shape[0]):
        top, bottom, first, stop = tiles[t, 0], tiles[t, 1], tiles[t, 2], tiles[t, 3]
        rows = (max(0, top - reach), min(image.shape[0], bottom + reach))
        cols = (max(0, first - reach), min(image.shape[1], stop + reach))
        down = np.empty((rows[1] - rows[0] + 2 * pad, cols[1] - cols[0]))
        down_spare = np.empty_like(down)
        across = np.empty((cols[1] - cols[0] + 2 * pad, bottom - top))
        across_spare = np.empty_like(across)
        smooth = np.ones((3, bottom - top, stop - first))  # value, square, weight
        weights = False
        for kind in range(3):
            if kind == 0:
                valid = _fill(down, image, rows, cols, centre, kind)
                if valid == 0:  # nothing but nodata in reach
                    break
                weights = valid < (rows[1] - rows[0]) * (cols[1] - cols[0])  # else: all weights are 1
            elif (kind == 1 and not squares) or (kind == 2 and not weights):
                continue
            else:
                _fill(down, image, rows, cols, centre, kind)
            result = _box_down(down, down_spare, rows[1] - rows[0], box)
            for i in range(bottom - top):  # transpose the output rows
                for j in range(cols[1] - cols[0]):
                    across[pad + j, i] = result[pad + top - rows[0] + i, j]
            result = _box_down(across, across_spare, cols[1] - cols[0], box)
            for i in range(bottom - top):  # transpose back the output columns
                for j in range(stop - first):
                    smooth[kind, i, j] = result[pad + first - cols[0] + j, i]
        for i in range(bottom - top):  # selects, not branches, so that the loops vectorize
            source = image[top + i, first:stop]
            value, square, weight = smooth[0, i], smooth[1, i], smooth[2, i]  # weight > 0 at valid pixels
            if weights:
                value /= weight
                square /= weight
            target = out[top + i, first:stop]
            for j in range(source.size):
                x = float(source[j])
                target[j] = x - centre - value[j] if np.isfinite(x) else np.nan
            if squares:
                target = std[top + i, first:stop]
                for j in range(source.size):
                    deviation = math.sqrt(max(square[j] - value[j] * value[j], 0.0))
                    target[j] = deviation if np.isfinite(float(source[j])) else np.nan


@njit(parallel=True, nogil=True, cache=True, error_model="numpy")
def divide_floored(centred: np.ndarray, std: np.ndarray, floor: np.float32) -> None:
    """``centred /= max(std, floor)``, in place (NaN stays NaN)."""
    for i in prange(centred.shape[0]):
        target, divisor = centred[i], std[i]
        for j in range(target.size):
            target[j] /= max(divisor[j], floor)


def box_filter(img: Image, box: tuple[int, float, int], with_std: bool) -> tuple[np.ndarray, np.ndarray]:
    """The image minus its normalized box low-pass and, with ``with_std``, the local std (else an empty array).

    ``box`` is ``(radius, tail, passes)``: ``passes`` successive extended boxes (see `_box_down`) along both
    axes. Both outputs are float32, NaN at nodata.
    """
    out = np.empty(img.shape, dtype=np.float32)
    std = np.empty(img.shape if with_std else (0, 0), dtype=np.float32)
    radius, _, passes = box
    reach = passes * (radius + 1)
    side = max(_TILE, 4 * reach)  # the halo adds at most half along each axis: O(1) work per pixel
    rows, cols = img.shape
    tiles = np.array(
        [
            (top, min(rows, top + side), first, min(cols, first + side))
            for top in range(0, rows, side)
            for first in range(0, cols, side)
        ],
        dtype=np.int64,
    ).reshape(-1, 4)
    with numba.parallel_chunksize(1):  # one tile at a time: tiles of nodata cost next to nothing
        _box_tiles(img.data, tiles, reach, img.centre, box, out, std)
    return out, std


def gaussian_boxes(sigma: float) -> tuple[int, float, int]:
    """The `_BOXES` identical extended boxes whose variances add up to ``sigma ** 2``, as ``(radius, tail, passes)``.

    A box of radius ``r`` has variance ``r (r + 1) / 3``; tails of weight ``a`` at ``+-(r + 1)`` raise it
    continuously to ``(r + 1) (r + 2) / 3`` at ``a = 1`` (Gwosdek et al., 2011).
    """
    variance = sigma**2 / _BOXES
    radius = int((math.sqrt(12.0 * variance + 1.0) - 1.0) / 2.0)  # the widest plain box not above it
    tail = (2 * radius + 1) * (variance - radius * (radius + 1) / 3) / (2 * ((radius + 1) ** 2 - variance))
    return radius, tail, _BOXES
