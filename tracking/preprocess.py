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

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from tracking.boxsum import (
    Image,
    box,
    box_filter,
    checked,
    divide_floored,
    gaussian,
    gaussian_boxes,
    gaussian_radius,
    normalized,
    subsample,
)
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
    "wallis",
    "wallis_floor",
    "wallis_parts",
    "wallis_standardize",
    "wallis_width",
]

Prefilter = Callable[[np.ndarray, float], np.ndarray]

_WALLIS_FLOOR = 0.25  # std floor, as a fraction of the image's median local std (see `wallis`)
_SECOND = np.array([-1.0, 2.0, -1.0])
_DIAGONAL = np.diag(_SECOND)


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
    out = checked(image).astype(np.float32, copy=True)
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
    out, _ = box_filter(Image(image), gaussian_boxes(sigma), with_std=False)
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
    img = Image(image)
    centred, std = box_filter(img, (width // 2, 0.0, 1), with_std=True)  # std: the one full-size temporary
    std_sample, centred_sample = subsample(std), subsample(centred)
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
    img = Image(image)
    if centre is not None:
        img.centre = float(centre)
    width = wallis_width(size)
    return box_filter(img, (width // 2, 0.0, 1), with_std=True)


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
    divide_floored(centred, std, np.float32(floor))
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
        radius, _, passes = gaussian_boxes(_positive(size, name))
        return passes * (radius + 1)
    if name == "wallis":
        return wallis_width(size) // 2
    if name == "naof":
        sigma = float(size)
        return (gaussian_radius(sigma) if sigma > 0 else 1) + 1  # + 1: the 3-tap differences
    raise ParameterError(
        f"no known reach for pre-filter {name!r}: built-in pre-filters are {PREFILTER_NAMES}."
    )


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
    img = Image(image)
    smooth = gaussian(sigma) if sigma > 0 else box(3)
    reach = gaussian_radius(sigma) if sigma > 0 else 1
    out = np.empty(img.shape, dtype=np.float32)
    for top, bottom, lo, hi in img.blocks(reach + 1):  # + 1: the 3-tap differences
        values, mask = img.block(lo, hi)
        if sigma > 0:
            values = normalized(smooth, values, mask)
        elif mask is not None:
            values[~mask] = normalized(smooth, values, mask)[~mask]
        term = _cos_plus_sin(
            ndimage.correlate1d(values, _SECOND, axis=0, mode="nearest"),
            ndimage.correlate1d(values, _SECOND, axis=1, mode="nearest"),
        )
        term += _cos_plus_sin(
            ndimage.correlate(values, _DIAGONAL, mode="nearest"),
            ndimage.correlate(values, _DIAGONAL[:, ::-1], mode="nearest"),
        )
        out[top:bottom] = term[top - lo : bottom - lo]
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
