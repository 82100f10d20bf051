"""Numba kernel shared by the FFT kernels: integer peak, SNR and sub-pixel refinement of whole correlation surfaces.

The sub-pixel methods are those of the NCC tracker (`tracking.kernels._ncc`): a three-point fit (parabola or
Gaussian) or a bicubic ``oversampled`` peak on the kernel's own correlation surface, or the ``lucas-kanade``
image fit started from the kernel's integer peak.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from tracking.kernels._ncc import finite_around, parabolic, second_peak_ratio
from tracking.kernels._subpixel import lucas_kanade, oversampled_peak

__all__ = ["surface_peaks"]


@njit(nogil=True, cache=True)
def _gaussian(minus, centre, plus):
    """Vertex of the Gaussian through three equally spaced samples (the parabola of their logarithms).

    Suits sharp peaks better than a parabola; falls back to the parabola where a sample is not positive.
    """
    if not (minus > 0.0 and centre > 0.0 and plus > 0.0):
        return parabolic(minus, centre, plus)
    return parabolic(math.log(minus), math.log(centre), math.log(plus))


@njit(parallel=True, nogil=True, cache=True)
def surface_peaks(
    surfaces,
    reference,
    secondary,
    tops,
    lefts,
    chip,
    reach,
    method,
    gaussian,
    oversampling,
    weights,
    offsets,
    peaks,
    ratios,
    status,
):
    """Peak, SNR and sub-pixel offset of each chip's correlation surface.

    Parameters
    ----------
    surfaces : float32 array (n, 2 reach + 1, 2 reach + 1)
        Correlation of each chip at integer offsets (rows, cols) from -reach to +reach; NaN where the offset
        cannot be used (nodata, off the image).
    reference, secondary : float32 arrays (rows, cols)
        The pre-filtered images, for the Lucas-Kanade fit.
    tops, lefts : int64 arrays (n,)
        Top-left corners of the chips.
    chip, reach : int
        Chip size and search range, px.
    method : int
        0 three-point fit, 1 oversampled (bicubic), 2 Lucas-Kanade (``_ncc.SUBPIXEL_CODES``).
    gaussian : bool
        Make the three-point fit (of method 0, and the fallback of the others) a Gaussian, not a parabola.
    oversampling : int
        Interpolation factor of the oversampled peak.
    weights : float32 array (chip, chip)
        Centre weights of the Lucas-Kanade fit.
    offsets : float32 array (n, 2), out
        Sub-pixel offset (rows, cols); NaN where no match.
    peaks, ratios : float32 arrays (n,), out
        Surface value at the integer peak; peak over the highest value at least two cells away from it.
    status : int8 array (n,), out
        0 matched; 1 no usable offset; 2 peak on the edge of the search range or next to an unusable offset;
        3 sub-pixel refinement failed and fell back to the three-point estimate (still a match).
    """
    width = 2 * reach + 1
    for k in prange(surfaces.shape[0]):
        surface = surfaces[k]
        offsets[k, 0] = np.nan
        offsets[k, 1] = np.nan
        peaks[k] = np.nan
        ratios[k] = np.nan
        status[k] = 1
        best = -np.inf
        bi = -1
        bj = -1
        for i in range(width):
            for j in range(width):
                if surface[i, j] > best:
                    best = surface[i, j]
                    bi = i
                    bj = j
        if bi < 0:
            continue
        peaks[k] = best
        ratios[k] = second_peak_ratio(surface, bi, bj, best)
        status[k] = 2
        if bi == 0 or bj == 0 or bi == width - 1 or bj == width - 1:
            continue
        if not finite_around(surface, bi, bj, 1):
            continue
        status[k] = 0
        if gaussian:
            di = _gaussian(surface[bi - 1, bj], best, surface[bi + 1, bj])
            dj = _gaussian(surface[bi, bj - 1], best, surface[bi, bj + 1])
        else:
            di = parabolic(surface[bi - 1, bj], best, surface[bi + 1, bj])
            dj = parabolic(surface[bi, bj - 1], best, surface[bi, bj + 1])
        if method == 1:
            if 2 <= bi <= width - 3 and 2 <= bj <= width - 3 and finite_around(surface, bi, bj, 2):
                di, dj = oversampled_peak(surface, bi, bj, oversampling)
            else:
                status[k] = 3
        elif method == 2:
            ri, rj, converged = lucas_kanade(
                reference, secondary, tops[k], lefts[k], chip, weights, bi - reach + di, bj - reach + dj
            )
            if converged:
                di = ri - (bi - reach)
                dj = rj - (bj - reach)
            else:
                status[k] = 3
        offsets[k, 0] = bi - reach + di
        offsets[k, 1] = bj - reach + dj
