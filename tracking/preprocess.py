"""Image pre-filters applied to both scenes of a pair before NCC matching, chosen by name.

Every filter takes a 2-D image (rows, cols) of any real dtype and a ``size`` in pixels, and returns a new
float32 array of the same shape. Nodata — NaN and +-inf — comes back as NaN and never leaks into valid
neighbours: local statistics are normalized convolutions (the NaN-zeroed image and the valid mask are
filtered alike and divided), so every output pixel is computed from valid input pixels only.

Memory: scenes can be 16000 x 16000 px (1 GiB per float32 copy). The filters run over blocks of rows with
a halo as wide as their kernel, in float64 inside a block (a few tens of MiB) and float32 outside, writing
straight into the float32 output. The only full-size arrays are the output, a boolean nodata mask when the
image has nodata, and, for Wallis alone, one float32 array of local standard deviations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from tracking.exceptions import ParameterError
from tracking.params import PREFILTER_NAMES

__all__ = [
    "PREFILTERS",
    "gaussian_highpass",
    "naof",
    "no_filter",
    "prefilter",
    "register_prefilter",
    "wallis",
]

Prefilter = Callable[[np.ndarray, float], np.ndarray]

_WALLIS_FLOOR = 0.25  # std floor, as a fraction of the image's median local std (see `wallis`)
_SAMPLE = 1_000_000  # pixels sampled for the global statistics (centre, median local std)
_BLOCK_PIXELS = 2_000_000  # pixels per block (before the halo): ~16 MiB per float64 block temporary
_TRUNCATE = 4.0  # Gaussian kernels reach int(4 sigma + 0.5) px
_SECOND = np.array([-1.0, 2.0, -1.0])
_DIAGONAL = np.diag(_SECOND)
_TINY_WEIGHT = 1e-9  # below this, a normalized convolution has no valid pixel in reach


# --- block machinery ----------------------------------------------------------------------------------------------


class _Image:
    """A 2-D input image with what every filter needs: nodata mask, centre and block iterator.

    ``centre`` is the mean of a sample of valid pixels; it is subtracted from each block (in float64), which
    changes no filter's output but keeps the arithmetic accurate on raw digital numbers with a large offset.
    ``valid`` is None when every pixel is finite (the fast path: no normalization by the mask).
    """

    def __init__(self, image: np.ndarray) -> None:
        image = _checked(image)
        self.data = image
        self.shape: tuple[int, int] = image.shape
        self.valid: np.ndarray | None = None
        if np.issubdtype(image.dtype, np.floating):
            valid = np.isfinite(image)
            if not valid.all():
                self.valid = valid
        sample = _subsample(image).astype(np.float64)
        sample = sample[np.isfinite(sample)]
        self.centre = float(sample.mean()) if sample.size else 0.0
        self.scale = float(np.abs(sample).mean()) if sample.size else 0.0  # mean |DN|, for absolute floors

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


def _subsample(image: np.ndarray) -> np.ndarray:
    """A strided view of ``image`` holding at most about ``_SAMPLE`` pixels (no copy)."""
    stride = max(1, int(np.ceil(np.sqrt(image.size / _SAMPLE))))
    return image[::stride, ::stride]


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
        the Gaussian-weighted mean of the valid pixels only (normalized convolution).
    """
    sigma = _positive(size, "gaussian_highpass")
    img = _Image(image)
    smooth = _gaussian(sigma)
    out = np.empty(img.shape, dtype=np.float32)
    for top, bottom, lo, hi in img.blocks(_gaussian_radius(sigma)):
        values, mask = img.block(lo, hi)
        values -= _normalized(smooth, values, mask)
        out[top:bottom] = values[top - lo: bottom - lo]
    return img.finish(out)


def wallis(image: np.ndarray, size: float = 5.0) -> np.ndarray:
    """Wallis filter: ``(image - local mean) / local std`` over a box window (autoRIFT's Landsat default).

    The local std is floored at ``0.25 x`` the median local std of the image's valid pixels (estimated on a
    regular sample of at most ~1e6 pixels; autoRIFT's ``StandardDeviationCutoff`` is also 0.25), so
    featureless areas — snow, saturated or cloud-covered ice — come out close to 0 instead of having their
    noise stretched to +-1. Extra floors of ``1e-3 x`` the global std and ``1e-6 x`` the mean absolute
    value only matter for (nearly) constant images, which come out ~0. All floors scale with the image, so
    the output is invariant to ``a * image + b`` for ``a > 0`` (except where the absolute ``1e-6 x`` floor
    binds). The std is the population std (no Bessel correction).

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
    width = _odd_width(size)
    img = _Image(image)
    smooth = _box(width)
    out = np.empty(img.shape, dtype=np.float32)  # image - local mean
    std = np.empty(img.shape, dtype=np.float32)  # local std: the one full-size temporary
    for top, bottom, lo, hi in img.blocks(width // 2):
        values, mask = img.block(lo, hi)
        mean = _normalized(smooth, values, mask)
        square = _normalized(smooth, np.square(values), mask)
        square -= np.square(mean)
        np.maximum(square, 0.0, out=square)  # rounding can make E[x^2] - mean^2 slightly negative
        keep = slice(top - lo, bottom - lo)
        out[top:bottom] = values[keep] - mean[keep]
        std[top:bottom] = np.sqrt(square[keep])
    std_sample, out_sample = _subsample(std), _subsample(out)
    if img.valid is not None:
        valid_sample = _subsample(img.valid)
        std_sample, out_sample = std_sample[valid_sample], out_sample[valid_sample]
    median_std = float(np.median(std_sample)) if std_sample.size else 0.0
    global_std = float(np.std(out_sample, dtype=np.float64)) if out_sample.size else 0.0
    floor = max(_WALLIS_FLOOR * median_std, 1e-3 * global_std, 1e-6 * img.scale, 1e-30)
    np.maximum(std, np.float32(floor), out=std)
    out /= std
    del std
    return img.finish(out)


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


def _odd_width(size: float) -> int:
    value = float(size)
    if not np.isfinite(value):
        raise ParameterError(f"wallis needs a finite window width; got {size!r}.")
    width = max(3, round(value))
    return width if width % 2 else width + 1
