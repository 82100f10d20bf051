"""Image pre-filters applied to both scenes of a pair before NCC matching, chosen by name.

Every filter takes a 2-D image (rows, cols) of any real dtype and a ``size`` in pixels, and returns a new
float32 array of the same shape. Nodata — NaN and +-inf — comes back as NaN and never leaks into valid
neighbours: local statistics are normalized convolutions (the NaN-zeroed image and the valid mask are
filtered alike and divided), so every output pixel is computed from valid input pixels only. Image edges are
reflected (``d c b a | a b c d``, scipy's ``mode="reflect"``), the valid mask with them.

Speed: `gaussian_highpass` and `wallis` cost O(1) per pixel whatever their size. Both are box sums, run as
Numba kernels over tiles of the image in parallel: in a tile, running sums in float64 smooth down the
columns, the tile is transposed, and they smooth down its columns again (vectorized across the columns both
times). Wallis' window statistics are box means; the Gaussian low-pass is three successive extended box
filters (Gwosdek et al., 2011: boxes with fractional end taps, so that the three variances add up to exactly
sigma^2). That kernel is a little flatter-topped than the Gaussian: on image texture the high-pass differs
from the exact one by 0.5-3 % RMS of its own std (a few % more at single pixels).

Memory: scenes can be 16000 x 16000 px (1 GiB per float32 copy). The box filters read a tile (120 x 120 px,
or 4 times the kernel's reach when wider) and its halo into float64 buffers of about 1 MiB per thread
(2 MiB at sigma 12, 31 MiB at sigma 50), and write straight into the float32 output. `naof` runs over blocks
of rows with a halo as wide as its kernel, in float64 inside a block (a few tens of MiB). The only full-size
arrays are the output and, for Wallis alone, one float32 array of local standard deviations (`naof` adds a
boolean nodata mask when the image has nodata).

Reference: Gwosdek, P., Grewenig, S., Bruhn, A., Weickert, J. (2011). Theoretical foundations of Gaussian
convolution by extended box filtering. Scale Space and Variational Methods in Computer Vision, LNCS 6667.
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
from tracking.params import PREFILTER_NAMES

__all__ = [
    "PREFILTERS",
    "ZERO_MEAN_PREFILTERS",
    "gaussian_highpass",
    "naof",
    "no_filter",
    "prefilter",
    "prefilter_reach",
    "register_prefilter",
    "sample_stride",
    "wallis",
    "wallis_floor",
    "wallis_parts",
    "wallis_standardize",
    "wallis_width",
]

Prefilter = Callable[[np.ndarray, float], np.ndarray]

_WALLIS_FLOOR = 0.25  # std floor, as a fraction of the image's median local std (see `wallis`)
_SAMPLE = 1_000_000  # pixels sampled for the global statistics (centre, median local std)
_BLOCK_PIXELS = 2_000_000  # pixels per block (before the halo): ~16 MiB per float64 block temporary
_TRUNCATE = 4.0  # Gaussian kernels (of `naof`) reach int(4 sigma + 0.5) px
_BOXES = 3  # extended boxes in the Gaussian low-pass of `gaussian_highpass`
_TILE = 120  # side of the box filters' tiles, px, at least 4 x their reach (not a power of 2: row strides
# of a power of 2 make the transposes in a tile thrash the cache)
_SECOND = np.array([-1.0, 2.0, -1.0])
_DIAGONAL = np.diag(_SECOND)
_TINY_WEIGHT = 1e-9  # below this, a normalized convolution has no valid pixel in reach


# --- block machinery ----------------------------------------------------------------------------------------------


class _Image:
    """A 2-D input image with what every filter needs: centre, nodata mask and block iterator.

    ``centre`` is the mean of a sample of valid pixels; it is subtracted before filtering (in float64), which
    changes no filter's output but keeps the arithmetic accurate on raw digital numbers with a large offset.
    """

    def __init__(self, image: np.ndarray) -> None:
        image = _checked(image)
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


def _checked(image: np.ndarray) -> np.ndarray:
    """``image`` as an ndarray, or `ParameterError` if it is not a real 2-D array."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ParameterError(f"pre-filters need a 2-D image (rows, cols); got an array of shape {image.shape}.")
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)
            or image.dtype == np.bool_):
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


def _subsample(image: np.ndarray) -> np.ndarray:
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


def _normalized(
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


def _gaussian(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    def smooth(a: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(a, sigma, mode="reflect", truncate=_TRUNCATE)

    return smooth


def _box(width: int) -> Callable[[np.ndarray], np.ndarray]:
    def smooth(a: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(a, width, mode="reflect")

    return smooth


def _gaussian_radius(sigma: float) -> int:
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
    lines: np.ndarray, image: np.ndarray, rows: tuple[int, int], cols: tuple[int, int], centre: float, kind: int
) -> int:
    """Fill ``lines[pad:-pad]`` with one channel of ``image[rows, cols]``; return the count of valid pixels.

    ``kind`` 0: the image minus ``centre``, 0 at nodata; 1: its square; 2: the valid mask (1.0 or 0.0).
    """
    pad = (lines.shape[0] - (rows[1] - rows[0])) // 2
    valid = 0
    for i in range(rows[0], rows[1]):
        target, source = lines[pad + i - rows[0]], image[i, cols[0]:cols[1]]
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
    image: np.ndarray, tiles: np.ndarray, reach: int, centre: float, box: tuple[int, float, int],
    out: np.ndarray, std: np.ndarray,
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
def _divide_floored(centred: np.ndarray, std: np.ndarray, floor: np.float32) -> None:
    """``centred /= max(std, floor)``, in place (NaN stays NaN)."""
    for i in prange(centred.shape[0]):
        target, divisor = centred[i], std[i]
        for j in range(target.size):
            target[j] /= max(divisor[j], floor)


def _box_filter(img: _Image, box: tuple[int, float, int], with_std: bool) -> tuple[np.ndarray, np.ndarray]:
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
        [(top, min(rows, top + side), first, min(cols, first + side))
         for top in range(0, rows, side) for first in range(0, cols, side)],
        dtype=np.int64,
    ).reshape(-1, 4)
    with numba.parallel_chunksize(1):  # one tile at a time: tiles of nodata cost next to nothing
        _box_tiles(img.data, tiles, reach, img.centre, box, out, std)
    return out, std


def _gaussian_boxes(sigma: float) -> tuple[int, float, int]:
    """The `_BOXES` identical extended boxes whose variances add up to ``sigma ** 2``, as ``(radius, tail, passes)``.

    A box of radius ``r`` has variance ``r (r + 1) / 3``; tails of weight ``a`` at ``+-(r + 1)`` raise it
    continuously to ``(r + 1) (r + 2) / 3`` at ``a = 1`` (Gwosdek et al., 2011).
    """
    variance = sigma**2 / _BOXES
    radius = int((math.sqrt(12.0 * variance + 1.0) - 1.0) / 2.0)  # the widest plain box not above it
    tail = (2 * radius + 1) * (variance - radius * (radius + 1) / 3) / (2 * ((radius + 1) ** 2 - variance))
    return radius, tail, _BOXES


# --- filters ------------------------------------------------------------------------------------------------------


def no_filter(image: np.ndarray, size: float = 0.0) -> np.ndarray:
    """No filtering: a float32 copy of ``image`` (NaN preserved, +-inf made NaN).

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Image of any real dtype; NaN and +-inf are nodata.
    size : float
        Ignored (present so that every filter has the same signature).

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        The image values, NaN at nodata.
    """
    out = _checked(image).astype(np.float32, copy=True)
    np.copyto(out, np.nan, where=np.isinf(out))  # +-inf, and float64 values beyond the float32 range
    return out


def gaussian_highpass(image: np.ndarray, size: float = 3.0) -> np.ndarray:
    """Gaussian high-pass: the image minus its Gaussian low-pass (CARST and pycorr_iceflow use sigma 3).

    The low-pass is three successive extended box filters whose variances add up to ``size ** 2`` (see the
    module docstring): O(1) work per pixel whatever ``size``, within a few % of the exact Gaussian high-pass.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Image of any real dtype; NaN and +-inf are nodata.
    size : float
        Standard deviation of the Gaussian low-pass, px (> 0).

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        High-passed image in the input's units (about zero-mean); NaN at nodata. Near nodata the low-pass is
        the weighted mean of the valid pixels only (normalized convolution).
    """
    sigma = _positive(size, "gaussian_highpass")
    out, _ = _box_filter(_Image(image), _gaussian_boxes(sigma), with_std=False)
    return out


def wallis(image: np.ndarray, size: float = 5.0) -> np.ndarray:
    """Wallis filter: ``(image - local mean) / local std`` over a box window (autoRIFT's Landsat default).

    The local std is floored at ``0.25 x`` the median local std of the image's valid pixels (estimated on a
    regular sample of at most ~1e6 pixels; autoRIFT's ``StandardDeviationCutoff`` is also 0.25), so
    featureless areas — snow, saturated or cloud-covered ice — come out close to 0 instead of having their
    noise stretched to +-1. Extra floors of ``1e-3 x`` the global std and ``1e-6 x`` the mean absolute
    value only matter for (nearly) constant images, which come out ~0. All floors scale with the image, so
    the output is invariant to ``a * image + b`` for ``a > 0`` (except where the absolute ``1e-6 x`` floor
    binds). The std is the population std (no Bessel correction). The window statistics are box sums: O(1)
    work per pixel whatever ``size``.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Image of any real dtype; NaN and +-inf are nodata.
    size : float
        Window width, px; rounded to the nearest odd integer >= 3 (autoRIFT uses 5).

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Locally standardized image (dimensionless, mostly within about +-3); NaN at nodata. Near nodata the
        window statistics use the valid pixels only.
    """
    width = wallis_width(size)
    img = _Image(image)
    centred, std = _box_filter(img, (width // 2, 0.0, 1), with_std=True)  # std: the one full-size temporary
    std_sample, centred_sample = _subsample(std), _subsample(centred)
    valid = np.isfinite(std_sample)
    floor = wallis_floor(std_sample[valid], centred_sample[valid], img.scale)
    return wallis_standardize(centred, std, floor)


def wallis_width(size: float) -> int:
    """The window width `wallis` uses for ``size``: the nearest odd integer >= 3.

    Parameters
    ----------
    size : float
        Window width asked for, px.

    Returns
    -------
    int
        Odd window width, px.

    Raises
    ------
    ParameterError
        If ``size`` is not finite.
    """
    value = float(size)
    if not np.isfinite(value):
        raise ParameterError(f"wallis needs a finite window width; got {size!r}.")
    width = max(3, round(value))
    return width if width % 2 else width + 1


def wallis_parts(
    image: np.ndarray, size: float, centre: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of `wallis` before its floor: ``image - local mean`` and the local std.

    With `wallis_floor` and `wallis_standardize` this runs `wallis` on a window of a larger image with the
    whole image's statistics (`tracking.tiles`).

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Image of any real dtype; NaN and +-inf are nodata.
    size : float
        Window width, px (rounded by `wallis_width`).
    centre : float, optional
        Value subtracted before the box sums, in the image's units; changes only the rounding. Defaults to
        the mean of a sample of the valid pixels.

    Returns
    -------
    centred, std : ndarray of float32, shape (rows, cols)
        The image minus its local mean and the local (population) std, in the image's units; NaN at nodata.
    """
    img = _Image(image)
    if centre is not None:
        img.centre = float(centre)
    width = wallis_width(size)
    return _box_filter(img, (width // 2, 0.0, 1), with_std=True)


def wallis_floor(std: np.ndarray, centred: np.ndarray, scale: float) -> float:
    """The floor `wallis` puts under the local std, from a sample of the valid pixels.

    Parameters
    ----------
    std, centred : ndarray
        The local std and ``image - local mean`` (`wallis_parts`) at the sampled valid pixels (any shape).
    scale : float
        The mean absolute value of the valid pixels, in the image's units.

    Returns
    -------
    float
        ``max(0.25 x median(std), 1e-3 x std(centred), 1e-6 x scale, 1e-30)``, in the image's units.
    """
    median_std = _median(std.ravel()) if std.size else 0.0
    global_std = float(np.std(centred, dtype=np.float64)) if centred.size else 0.0
    return max(_WALLIS_FLOOR * median_std, 1e-3 * global_std, 1e-6 * scale, 1e-30)


def _median(values: np.ndarray) -> float:
    """``np.median`` of a 1-D array with one partition instead of two (for an even count)."""
    middle = values.size // 2
    part = np.partition(values, middle)
    if values.size % 2:
        return float(part[middle])
    return float(np.mean([part[middle], part[:middle].max()], dtype=values.dtype))


def wallis_standardize(centred: np.ndarray, std: np.ndarray, floor: float) -> np.ndarray:
    """``centred / max(std, floor)``: the end of `wallis`. Overwrites ``centred``.

    Parameters
    ----------
    centred, std : ndarray of float32, shape (rows, cols)
        ``image - local mean`` and the local std (`wallis_parts`), NaN at nodata.
    floor : float
        The floor under the std (`wallis_floor`), in the image's units.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        ``centred``, standardized (dimensionless); NaN at nodata.
    """
    _divide_floored(centred, std, np.float32(floor))
    return centred


def prefilter_reach(name: str, size: float) -> int:
    """How far a built-in pre-filter reaches: no input pixel further away changes an output pixel.

    Whole-image statistics (the floor of `wallis`) aside, a window of an image filtered alone equals the
    whole image filtered, except within this distance of the window's edges (where they are not the image's).

    Parameters
    ----------
    name : str
        One of `tracking.params.PREFILTER_NAMES`.
    size : float
        The filter's size, px (as for `prefilter`).

    Returns
    -------
    int
        Distance, px, along rows and columns.

    Raises
    ------
    ParameterError
        If ``name`` is not a built-in pre-filter, or ``size`` is not valid for it.
    """
    if name == "none":
        return 0
    if name == "gaussian_highpass":
        radius, _, passes = _gaussian_boxes(_positive(size, name))
        return passes * (radius + 1)
    if name == "wallis":
        return wallis_width(size) // 2
    if name == "naof":
        sigma = float(size)
        return (_gaussian_radius(sigma) if sigma > 0 else 1) + 1  # + 1: the 3-tap differences
    raise ParameterError(f"no known reach for pre-filter {name!r}: built-in pre-filters are {PREFILTER_NAMES}.")


def naof(image: np.ndarray, size: float = 0.0) -> np.ndarray:
    """Normalized Angle Orientation Filter (GIV's ``NAOF2.m``, ported to Python as GLAFT's ``glaft.naof2``).

    The image is optionally smoothed with a light Gaussian (sigma = ``size`` px; ``size <= 0`` skips it, as
    GIV and GLAFT do), then filtered with four 3-tap second-difference kernels ``[-1, 2, -1]``: down the
    columns (``f1``), along the rows (``f2``), along the main diagonal (``f3``) and along the anti-diagonal
    (``f4``). The two orientation angles ``a1 = arctan2(f1, f2)`` and ``a2 = arctan2(f3, f4)`` are combined
    as in GIV::

        out = cos(a1) + cos(pi/2 - a1) + cos(a2) + cos(pi/2 - a2)
            = (f1 + f2) / hypot(f1, f2) + (f3 + f4) / hypot(f3, f4)

    The second form is what is computed (no trigonometry). Values lie in ``[-2 sqrt 2, 2 sqrt 2]``
    (about +-2.83). The output depends only on the orientation of the local curvature, so it is invariant
    to ``a * image + b`` for ``a > 0`` and insensitive to illumination and contrast. Where both differences
    of a pair are exactly 0 (a flat patch) that pair contributes 0 — GIV and GLAFT get 1 there from
    ``arctan2(0, 0) = 0``; 0 keeps featureless areas neutral for zero-mean NCC. Image edges repeat the
    edge pixel (GIV/GLAFT zero-pad). Nodata pixels are filled with the normalized Gaussian mean of their
    valid neighbours (sigma = ``size``, or a 3 x 3 mean when ``size <= 0``) so that the differences next to
    a hole stay finite, and are set back to NaN at the end.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Image of any real dtype; NaN and +-inf are nodata.
    size : float
        Sigma of the Gaussian pre-smoothing, px; ``<= 0`` for none. Keep it small (<= 1 px): NAOF works on
        the finest texture.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Orientation image, dimensionless, within about +-2.83; NaN at nodata.
    """
    sigma = float(size)
    if not np.isfinite(sigma):
        raise ParameterError(f"naof needs a finite smoothing sigma; got {size!r}.")
    img = _Image(image)
    smooth = _gaussian(sigma) if sigma > 0 else _box(3)
    reach = _gaussian_radius(sigma) if sigma > 0 else 1
    out = np.empty(img.shape, dtype=np.float32)
    for top, bottom, lo, hi in img.blocks(reach + 1):  # + 1: the 3-tap differences
        values, mask = img.block(lo, hi)
        if sigma > 0:
            values = _normalized(smooth, values, mask)
        elif mask is not None:
            values[~mask] = _normalized(smooth, values, mask)[~mask]
        term = _cos_plus_sin(
            ndimage.correlate1d(values, _SECOND, axis=0, mode="nearest"),
            ndimage.correlate1d(values, _SECOND, axis=1, mode="nearest"),
        )
        term += _cos_plus_sin(
            ndimage.correlate(values, _DIAGONAL, mode="nearest"),
            ndimage.correlate(values, _DIAGONAL[:, ::-1], mode="nearest"),
        )
        out[top:bottom] = term[top - lo: bottom - lo]
    return img.finish(out)


def _cos_plus_sin(f1: np.ndarray, f2: np.ndarray) -> np.ndarray:
    """``cos(a) + sin(a)`` with ``a = arctan2(f1, f2)``, i.e. ``(f1 + f2) / hypot(f1, f2)``; 0 where both are 0.

    Overwrites ``f1`` and ``f2`` (float64 differences of a centred image: squaring cannot overflow).
    """
    total = f1 + f2
    np.multiply(f1, f1, out=f1)
    np.multiply(f2, f2, out=f2)
    f1 += f2
    np.sqrt(f1, out=f1)
    with np.errstate(invalid="ignore", divide="ignore"):
        total /= f1
    total[f1 == 0] = 0.0
    return total


# --- registry -----------------------------------------------------------------------------------------------------


PREFILTERS: dict[str, Prefilter] = {
    "none": no_filter,
    "gaussian_highpass": gaussian_highpass,
    "wallis": wallis,
    "naof": naof,
}
"""Pre-filters by name; the built-in keys are `tracking.params.PREFILTER_NAMES`."""

#: Pre-filters whose output has a local mean of 0 (nodata can be filled with 0 after them).
ZERO_MEAN_PREFILTERS = ("gaussian_highpass", "wallis")

if tuple(PREFILTERS) != PREFILTER_NAMES:  # pragma: no cover - guards against the two lists drifting apart
    raise ImportError(f"PREFILTERS {tuple(PREFILTERS)} does not match PREFILTER_NAMES {PREFILTER_NAMES}.")


def register_prefilter(name: str, func: Prefilter) -> None:
    """Add (or replace) a pre-filter in `PREFILTERS`, so that `prefilter` can select it by name.

    Parameters
    ----------
    name : str
        Name of the filter.
    func : callable
        ``func(image, size) -> ndarray``: takes a 2-D image (rows, cols) of any real dtype, NaN for nodata,
        and a size in px; returns a float32 array of the same shape, NaN at nodata. Note that
        `TrackingParameters.prefilter` accepts only `PREFILTER_NAMES`; a registered filter is reached by
        calling `prefilter` directly.

    Returns
    -------
    None
    """
    if not isinstance(name, str) or not name:
        raise ParameterError(f"a pre-filter name must be a non-empty string; got {name!r}.")
    if not callable(func):
        raise ParameterError(f"pre-filter {name!r} must be callable as func(image, size); got {func!r}.")
    PREFILTERS[name] = func


def prefilter(image: np.ndarray, name: str = "gaussian_highpass", size: float = 3.0) -> np.ndarray:
    """Apply the pre-filter called ``name`` to ``image``.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Image of any real dtype; NaN and +-inf are nodata.
    name : str
        A key of `PREFILTERS`: ``"none"``, ``"gaussian_highpass"``, ``"wallis"``, ``"naof"``, or a name
        added with `register_prefilter`.
    size : float
        Filter size, px: Gaussian sigma of the high-pass, window width of Wallis, pre-smoothing sigma of
        NAOF (ignored by ``"none"``).

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Filtered image, NaN at nodata.

    Raises
    ------
    ParameterError
        If ``name`` is not a registered pre-filter, or ``image`` is not a real 2-D array.
    """
    try:
        func = PREFILTERS[name]
    except (KeyError, TypeError):
        known = ", ".join(repr(k) for k in PREFILTERS)
        raise ParameterError(f"unknown pre-filter {name!r}: known pre-filters are {known}.") from None
    return func(image, size)


def _positive(size: float, name: str) -> float:
    value = float(size)
    if not (np.isfinite(value) and value > 0):
        raise ParameterError(f"{name} needs a finite size > 0 px; got {size!r}.")
    return value

