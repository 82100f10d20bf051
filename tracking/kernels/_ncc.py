"""Numba kernels of the NCC tracker: correlation, peak search and sub-pixel refinement.

Everything here works on float32 images in which NaN marks nodata, and on chips given by their top-left
corner. A NaN anywhere in a window makes its correlation NaN, and NaN never wins a comparison, so nodata can
neither crash a kernel nor produce a fake match. Offsets are (rows down, columns right) in pixels.

The kernels are compiled once (``cache=True``) and release the GIL (``nogil=True``); the two ``prange`` drivers
spread chips over every core.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from tracking.kernels._subpixel import FASTMATH as _FASTMATH
from tracking.kernels._subpixel import FLAT as _FLAT
from tracking.kernels._subpixel import lucas_kanade, oversampled_peak

_UNSEEN = -9.0  # marks a correlation-surface cell not evaluated yet (NCC lies in [-1, 1] or is NaN)

SUBPIXEL_CODES = {"parabolic": 0, "oversampled": 1, "lucas-kanade": 2}


@njit(nogil=True, cache=True)
def _fits(image, top, left, n):
    return top >= 0 and left >= 0 and top + n <= image.shape[0] and left + n <= image.shape[1]


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _chip(image, top, left, n):
    """The ``n`` x ``n`` chip at (top, left) minus its mean, and its root sum of squares.

    The norm is 0 (no usable chip) when the chip leaves the image, holds NaN or is flat.
    """
    out = np.empty((n, n), np.float32)
    if not _fits(image, top, left, n):
        return out, np.float32(0.0)
    total = np.float32(0.0)
    for i in range(n):
        for j in range(n):
            total += image[top + i, left + j]
    mean = total / np.float32(n * n)
    squares = np.float32(0.0)
    for i in range(n):
        for j in range(n):
            value = image[top + i, left + j] - mean
            out[i, j] = value
            squares += value * value
    if not squares > _FLAT * n * n:  # NaN or flat
        return out, np.float32(0.0)
    return out, np.float32(math.sqrt(squares))


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def window_norms(image, n):
    """Root sum of squares about the mean of every ``n`` x ``n`` window, indexed by its top-left corner.

    Streaming box sums in float64 (one row of column sums in memory); NaN pixels count as zero here, and the
    correlation itself turns NaN on them. Shape ``(rows - n + 1, cols - n + 1)``, float32.
    """
    rows, cols = image.shape
    out = np.empty((rows - n + 1, cols - n + 1), np.float32)
    sums = np.zeros(cols, np.float64)
    squares = np.zeros(cols, np.float64)
    count = n * n
    for r in range(rows):
        for c in range(cols):
            value = image[r, c]
            if not math.isnan(value):
                sums[c] += value
                squares[c] += value * value
            if r >= n:
                old = image[r - n, c]
                if not math.isnan(old):
                    sums[c] -= old
                    squares[c] -= old * old
        if r >= n - 1:
            total = 0.0
            total_sq = 0.0
            for c in range(n):
                total += sums[c]
                total_sq += squares[c]
            for c in range(cols - n + 1):
                if c > 0:
                    total += sums[c + n - 1] - sums[c - 1]
                    total_sq += squares[c + n - 1] - squares[c - 1]
                variance = total_sq - total * total / count
                out[r - n + 1, c] = math.sqrt(variance) if variance > _FLAT * count else 0.0
    return out


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _zncc(template, norm, image, norms, top, left, columns):
    """Zero-mean NCC of a zero-mean ``template`` (root sum of squares ``norm``) with the window at (top, left).

    The template is zero-mean, so the window's mean drops out of the cross product, and the window's own norm
    comes precomputed from ``norms`` (see `window_norms`): one multiply-add per pixel. The products are summed
    down the columns first (``columns`` is scratch of the chip's width), which vectorizes without a horizontal
    reduction per row: about 3 x faster than a plain double loop.
    """
    n = template.shape[0]
    columns[:] = 0.0
    for i in range(n):
        row = image[top + i, left : left + n]
        for j in range(n):
            columns[j] += template[i, j] * row[j]
    window = norms[top, left]
    if not window > 0.0:
        return np.nan
    return columns.sum() / (norm * window)


@njit(nogil=True, cache=True, inline="always")
def finite_around(surface, i, j, half):
    """Whether the ``2 half + 1`` square of ``surface`` centred on (i, j) holds no NaN."""
    for a in range(i - half, i + half + 1):
        for b in range(j - half, j + half + 1):
            if math.isnan(surface[a, b]):
                return False
    return True


@njit(nogil=True, cache=True)
def parabolic(minus, centre, plus):
    """Vertex of the parabola through three equally spaced samples, relative to the centre (in [-0.5, 0.5])."""
    curvature = minus - 2.0 * centre + plus
    if not curvature < 0.0:
        return 0.0
    delta = 0.5 * (minus - plus) / curvature
    return min(0.5, max(-0.5, delta))


@njit(nogil=True, cache=True)
def second_peak_ratio(surface, pi, pj, peak):
    """Peak over the highest *other local maximum* of the surface (1 / 0.05 floor if there is none).

    A cell counts as a second peak only if no evaluated neighbour is higher, so the flanks of a broad main peak
    (smooth images, large chips) are not mistaken for a rival match; cells next to the main peak are skipped.
    """
    rows, cols = surface.shape
    second = -1.0
    for i in range(rows):
        for j in range(cols):
            if abs(i - pi) <= 1 and abs(j - pj) <= 1:
                continue
            value = surface[i, j]
            if not value > second:  # NaN and unseen cells never win
                continue
            highest = True
            for a in range(max(0, i - 1), min(rows, i + 2)):
                for b in range(max(0, j - 1), min(cols, j + 2)):
                    if surface[a, b] > value:
                        highest = False
            if highest:
                second = value
    return peak / max(second, 0.05)


@njit(parallel=True, nogil=True, cache=True, fastmath=_FASTMATH)
def coarse_search(reference, secondary, norms, tops, lefts, chip, reach, offsets, peaks, ratios):
    """Exhaustive NCC search of each chip over +-``reach`` px (the coarse pass).

    Parameters
    ----------
    reference, secondary : float32 arrays (rows, cols)
        Images, NaN = nodata.
    tops, lefts : int64 arrays (n,)
        Top-left corners of the chips in ``reference``.
    chip, reach : int
        Chip size and search range, px.
    offsets : float32 array (n, 2), out
        Best offset (rows, cols) with a parabolic sub-pixel estimate; NaN where no match.
    peaks, ratios : float32 arrays (n,), out
        Peak NCC, and peak over the strongest other peak of the surface (the signal-to-noise ratio).
    """
    width = 2 * reach + 1
    for k in prange(tops.shape[0]):
        offsets[k, 0] = np.nan
        offsets[k, 1] = np.nan
        peaks[k] = np.nan
        ratios[k] = np.nan
        top = tops[k]
        left = lefts[k]
        template, norm = _chip(reference, top, left, chip)
        if not norm > 0.0:
            continue
        columns = np.empty(chip, np.float32)
        surface = np.full((width, width), _UNSEEN, np.float32)
        best = -2.0
        bi = -1
        bj = -1
        for i in range(width):
            for j in range(width):
                t = top + i - reach
                s = left + j - reach
                if _fits(secondary, t, s, chip):
                    value = _zncc(template, norm, secondary, norms, t, s, columns)
                    surface[i, j] = value
                    if value > best:
                        best = value
                        bi = i
                        bj = j
        if bi < 0:
            continue
        peaks[k] = best
        ratios[k] = second_peak_ratio(surface, bi, bj, best)
        di = 0.0
        dj = 0.0
        if 0 < bi < width - 1:
            di = parabolic(surface[bi - 1, bj], best, surface[bi + 1, bj])
        if 0 < bj < width - 1:
            dj = parabolic(surface[bi, bj - 1], best, surface[bi, bj + 1])
        offsets[k, 0] = bi - reach + di
        offsets[k, 1] = bj - reach + dj


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _evaluate(surface, reach, i, j, template, norm, secondary, norms, top, left, columns):
    """NCC at offset (i, j) (cells of ``surface``, centre = zero offset), computed once and memoized."""
    value = surface[i, j]
    if value == _UNSEEN:
        n = template.shape[0]
        t = top + i - reach
        s = left + j - reach
        value = (
            _zncc(template, norm, secondary, norms, t, s, columns) if _fits(secondary, t, s, n) else np.nan
        )
        surface[i, j] = value
    return value


@njit(nogil=True, cache=True, fastmath=_FASTMATH)
def _climb(surface, reach, i, j, template, norm, secondary, norms, top, left, columns):
    """Hill-climb the NCC surface from cell (i, j) to a local maximum; return (i, j, value)."""
    width = surface.shape[0]
    for _ in range(4 * width):
        best = _evaluate(surface, reach, i, j, template, norm, secondary, norms, top, left, columns)
        bi = i
        bj = j
        for a in range(max(0, i - 1), min(width, i + 2)):
            for b in range(max(0, j - 1), min(width, j + 2)):
                value = _evaluate(surface, reach, a, b, template, norm, secondary, norms, top, left, columns)
                if value > best or (math.isnan(best) and not math.isnan(value)):
                    best = value
                    bi = a
                    bj = b
        if bi == i and bj == j:
            return i, j, best
        i = bi
        j = bj
    return i, j, surface[i, j]


@njit(parallel=True, nogil=True, cache=True, fastmath=_FASTMATH)
def fine_search(
    reference,
    secondary,
    norms,
    tops,
    lefts,
    chip,
    reach,
    guesses,
    method,
    oversampling,
    weights,
    offsets,
    peaks,
    status,
    fallback_peak,
    fallback_distance,
):
    """Local NCC search around guessed offsets, then sub-pixel refinement.

    Each chip hill-climbs the correlation surface from each of its guesses and keeps the best local maximum,
    so only a few dozen offsets are evaluated instead of the whole (2 reach + 1)^2 search area. Where the climb
    ends low (peak under ``fallback_peak``), or not high (under twice that) and more than ``fallback_distance``
    px from the first guess (the neighbours' median), the whole search area is evaluated at full resolution
    (every other offset for ranges beyond 32 px) and the best offset climbed: a climb can stop on a local
    maximum, and the coarse pass can miss texture that block averaging blurs away.

    Parameters
    ----------
    reference, secondary : float32 arrays (rows, cols)
        Images, NaN = nodata.
    tops, lefts : int64 arrays (n,)
        Top-left corners of the chips.
    chip, reach : int
        Chip size and search range, px.
    guesses : int64 array (n, g, 2)
        Starting offsets (rows, cols) for the climb; any out of +-reach are clamped.
    method : int
        0 parabolic, 1 oversampled, 2 Lucas-Kanade (see ``SUBPIXEL_CODES``).
    oversampling : int
        Interpolation factor of the oversampled peak.
    offsets : float32 array (n, 2), out
        Sub-pixel offset (rows, cols); NaN where no match.
    peaks : float32 array (n,), out
        NCC at the integer peak.
    status : int8 array (n,), out
        0 matched; 1 chip has nodata or no texture; 2 peak on the edge of the search range or next to
        nodata; 3 sub-pixel refinement failed and fell back to the parabolic estimate (still a match).
    fallback_peak, fallback_distance : float
        When the full-resolution search takes over (see above).
    """
    width = 2 * reach + 1
    for k in prange(tops.shape[0]):
        offsets[k, 0] = np.nan
        offsets[k, 1] = np.nan
        peaks[k] = np.nan
        status[k] = 1
        top = tops[k]
        left = lefts[k]
        template, norm = _chip(reference, top, left, chip)
        if not norm > 0.0:
            continue
        columns = np.empty(chip, np.float32)
        surface = np.full((width, width), _UNSEEN, np.float32)
        best = -2.0
        bi = -1
        bj = -1
        for g in range(guesses.shape[1]):
            gi = min(max(guesses[k, g, 0] + reach, 0), width - 1)
            gj = min(max(guesses[k, g, 1] + reach, 0), width - 1)
            if g > 0 and surface[gi, gj] != _UNSEEN:
                continue  # this guess lies on a path already climbed
            i, j, value = _climb(surface, reach, gi, gj, template, norm, secondary, norms, top, left, columns)
            if value > best:
                best = value
                bi = i
                bj = j
        far = abs(bi - reach - guesses[k, 0, 0]) > fallback_distance or abs(bj - reach - guesses[k, 0, 1]) > (
            fallback_distance
        )
        if bi < 0 or best < fallback_peak or (far and best < 2.0 * fallback_peak):
            # every offset of the whole range (every other one beyond 32 px, where the search would cost more
            # than the rest of the run: a peak is about 2 px wide after the pre-filter), then a climb from the best
            stride = 1 if reach <= 32 else 2
            gi = -1
            gj = -1
            top_value = -2.0
            for i in range(0, width, stride):
                for j in range(0, width, stride):
                    value = _evaluate(
                        surface, reach, i, j, template, norm, secondary, norms, top, left, columns
                    )
                    if value > top_value:
                        top_value = value
                        gi = i
                        gj = j
            if gi >= 0:
                i, j, value = _climb(
                    surface, reach, gi, gj, template, norm, secondary, norms, top, left, columns
                )
                if value > best:
                    best = value
                    bi = i
                    bj = j
        status[k] = 2
        if bi < 0 or bi == 0 or bj == 0 or bi == width - 1 or bj == width - 1:
            continue
        if not finite_around(surface, bi, bj, 1):
            continue
        status[k] = 0
        peaks[k] = best
        di = parabolic(surface[bi - 1, bj], best, surface[bi + 1, bj])
        dj = parabolic(surface[bi, bj - 1], best, surface[bi, bj + 1])
        if method == 1:
            if 2 <= bi <= width - 3 and 2 <= bj <= width - 3:
                finite = True
                for a in range(bi - 2, bi + 3):
                    for b in range(bj - 2, bj + 3):
                        value = _evaluate(
                            surface, reach, a, b, template, norm, secondary, norms, top, left, columns
                        )
                        if math.isnan(value):
                            finite = False
                if finite:
                    di, dj = oversampled_peak(surface, bi, bj, oversampling)
                else:
                    status[k] = 3
            else:
                status[k] = 3
        elif method == 2:
            ri, rj, converged = lucas_kanade(
                reference, secondary, top, left, chip, weights, bi - reach + di, bj - reach + dj
            )
            if converged:
                di = ri - (bi - reach)
                dj = rj - (bj - reach)
            else:
                status[k] = 3
        offsets[k, 0] = bi - reach + di
        offsets[k, 1] = bj - reach + dj


@njit(nogil=True, cache=True)
def block_mean(image, factor):
    """Mean of ``factor`` x ``factor`` blocks (NaN if any pixel of the block is NaN); trailing pixels dropped."""
    rows = image.shape[0] // factor
    cols = image.shape[1] // factor
    out = np.empty((rows, cols), np.float32)
    scale = np.float32(1.0 / (factor * factor))
    for i in range(rows):
        for j in range(cols):
            total = np.float32(0.0)
            for a in range(factor):
                for b in range(factor):
                    total += image[i * factor + a, j * factor + b]
            out[i, j] = total * scale
    return out


@njit(nogil=True, cache=True)
def median_guess(offsets, usable, radius):
    """Median of the usable offsets in each node's (2 radius + 1)^2 neighbourhood (NaN where none is usable).

    ``offsets`` is (rows, cols, 2) on the node grid; ``usable`` is a boolean (rows, cols) array.
    """
    rows, cols = usable.shape
    out = np.full((rows, cols, 2), np.nan, np.float32)
    size = (2 * radius + 1) ** 2
    buffer_i = np.empty(size, np.float32)
    buffer_j = np.empty(size, np.float32)
    for i in range(rows):
        for j in range(cols):
            count = 0
            for a in range(max(0, i - radius), min(rows, i + radius + 1)):
                for b in range(max(0, j - radius), min(cols, j + radius + 1)):
                    if usable[a, b]:
                        buffer_i[count] = offsets[a, b, 0]
                        buffer_j[count] = offsets[a, b, 1]
                        count += 1
            if count > 0:
                out[i, j, 0] = np.median(buffer_i[:count])
                out[i, j, 1] = np.median(buffer_j[:count])
    return out
