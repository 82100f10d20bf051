"""Numba sub-pixel fits of the NCC tracker: Lucas-Kanade on the images, and the oversampled correlation peak.

Works on float32 images with NaN for nodata, as `tracking.kernels._ncc`, which calls these on each chip's
integer peak. Offsets are (rows down, columns right) in pixels.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["FASTMATH", "FLAT", "LK_REACH", "lucas_kanade", "oversampled_peak"]

#: Fast-math flags that allow vectorized reductions but keep NaN semantics (no "nnan"/"ninf").
FASTMATH = {"reassoc", "contract", "arcp", "nsz", "afn"}
#: Chips whose variance per pixel is below this are featureless.
FLAT = 1e-12
#: px: a Lucas-Kanade fit that moves further than this from the peak estimate has lost its way.
LK_REACH = 1.5


@njit(nogil=True, cache=True)
def _keys_weights(t, w):
    """Keys (a = -0.5) cubic-convolution weights of the samples at -1, 0, 1, 2 for a fraction t in [0, 1)."""
    a = -0.5
    u = t + 1.0
    w[0] = a * u * u * u - 5.0 * a * u * u + 8.0 * a * u - 4.0 * a
    w[1] = (a + 2.0) * t * t * t - (a + 3.0) * t * t + 1.0
    u = 1.0 - t
    w[2] = (a + 2.0) * u * u * u - (a + 3.0) * u * u + 1.0
    u = 2.0 - t
    w[3] = a * u * u * u - 5.0 * a * u * u + 8.0 * a * u - 4.0 * a


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def lucas_kanade(reference, secondary, top, left, n, weights, start_i, start_j):
    """Refine an offset by inverse-compositional Gauss-Newton on the zero-mean normalized SSD.

    Fits a translation of the secondary window to the zero-mean reference chip ``template``, invariant to gain
    and offset. The secondary window is resampled with Keys bicubic convolution; the shift is the same for every
    pixel, so the resampling is separable (8 multiply-adds per pixel). The Hessian comes from the reference
    chip's gradients and is fixed, so an iteration is one resampling fused with four column sums. Returns
    ``(rows, cols, converged)``; it gives up when the fit leaves the image or wanders over 1.5 px.
    """
    gy = np.empty((n, n), np.float32)
    gx = np.empty((n, n), np.float32)
    rows_max = reference.shape[0] - 1
    cols_max = reference.shape[1] - 1
    interior = top >= 1 and left >= 1 and top + n <= rows_max and left + n <= cols_max
    for i in range(n):
        r = top + i
        if interior:
            for j in range(n):
                c = left + j
                gy[i, j] = 0.5 * (reference[r + 1, c] - reference[r - 1, c])
                gx[i, j] = 0.5 * (reference[r, c + 1] - reference[r, c - 1])
        else:
            up = max(r - 1, 0)
            down = min(r + 1, rows_max)
            for j in range(n):
                c = left + j
                lft = max(c - 1, 0)
                rgt = min(c + 1, cols_max)
                gy[i, j] = (reference[down, c] - reference[up, c]) / (down - up)
                gx[i, j] = (reference[r, rgt] - reference[r, lft]) / (rgt - lft)
    # weighted zero-mean template and its norm; gradients pre-multiplied by the weights
    acc = np.zeros((6, n), np.float32)
    for i in range(n):
        for j in range(n):
            acc[0, j] += weights[i, j]
            acc[1, j] += weights[i, j] * reference[top + i, left + j]
    weight_total = acc[0].sum()
    mean_f = acc[1].sum() / weight_total
    template = np.empty((n, n), np.float32)
    acc[:] = 0.0
    for i in range(n):
        for j in range(n):
            w = weights[i, j]
            f = reference[top + i, left + j] - mean_f
            template[i, j] = f
            y = gy[i, j]
            x = gx[i, j]
            acc[0, j] += w * y * y
            acc[1, j] += w * x * x
            acc[2, j] += w * x * y
            acc[3, j] += w * y * f
            acc[4, j] += w * x * f
            acc[5, j] += w * f * f
            gy[i, j] = w * y
            gx[i, j] = w * x
    hyy = acc[0].sum()
    hxx = acc[1].sum()
    hxy = acc[2].sum()
    gy_t = acc[3].sum()
    gx_t = acc[4].sum()
    norm = math.sqrt(acc[5].sum())
    sum_gy = gy.sum()
    sum_gx = gx.sum()
    det = hyy * hxx - hxy * hxy
    if not det > 0.0:
        return start_i, start_j, False
    weights_r = np.empty(4, np.float64)
    weights_c = np.empty(4, np.float64)
    rows = np.empty((n + 3, n), np.float32)
    pi = start_i
    pj = start_j
    for _ in range(20):
        t = top + pi
        s = left + pj
        base_t = math.floor(t)
        base_l = math.floor(s)
        if (
            base_t < 1
            or base_l < 1
            or base_t + n + 2 > secondary.shape[0]
            or base_l + n + 2 > secondary.shape[1]
        ):
            return start_i, start_j, False
        _keys_weights(t - base_t, weights_r)
        _keys_weights(s - base_l, weights_c)
        c0 = np.float32(weights_c[0])
        c1 = np.float32(weights_c[1])
        c2 = np.float32(weights_c[2])
        c3 = np.float32(weights_c[3])
        r0 = np.float32(weights_r[0])
        r1 = np.float32(weights_r[1])
        r2 = np.float32(weights_r[2])
        r3 = np.float32(weights_r[3])
        t0 = int(base_t) - 1
        l0 = int(base_l) - 1
        for i in range(n + 3):
            line = secondary[t0 + i, l0 : l0 + n + 3]
            for j in range(n):
                rows[i, j] = c0 * line[j] + c1 * line[j + 1] + c2 * line[j + 2] + c3 * line[j + 3]
        acc[:4] = 0.0
        for i in range(n):
            for j in range(n):
                v = r0 * rows[i, j] + r1 * rows[i + 1, j] + r2 * rows[i + 2, j] + r3 * rows[i + 3, j]
                w = weights[i, j] * v
                acc[0, j] += w
                acc[1, j] += w * v
                acc[2, j] += gy[i, j] * v
                acc[3, j] += gx[i, j] * v
        total = acc[0].sum()
        mean = total / weight_total
        squares = acc[1].sum() - total * mean
        if not squares > FLAT * weight_total:
            return start_i, start_j, False
        ratio = norm / math.sqrt(squares)
        # b = sum g (template - ratio (w - mean)), from the fused sums
        by = gy_t - ratio * (acc[2].sum() - mean * sum_gy)
        bx = gx_t - ratio * (acc[3].sum() - mean * sum_gx)
        step_i = -(hxx * by - hxy * bx) / det
        step_j = -(hyy * bx - hxy * by) / det
        pi -= step_i
        pj -= step_j
        if abs(pi - start_i) > LK_REACH or abs(pj - start_j) > LK_REACH:
            return start_i, start_j, False
        if step_i * step_i + step_j * step_j < 1e-4:  # steps under 0.01 px: converged
            return pi, pj, True
    return pi, pj, True


@njit(nogil=True, cache=True)
def _cubic(p0, p1, p2, p3, t):
    """Keys cubic convolution of four equally spaced samples at fraction t between p1 and p2."""
    return p1 + 0.5 * t * (
        p2 - p0 + t * (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3 + t * (3.0 * (p1 - p2) + p3 - p0))
    )


@njit(nogil=True, cache=True)
def oversampled_peak(surface, bi, bj, factor):
    """Peak of the correlation surface interpolated bicubically on a 1/factor px lattice within +-1 px.

    Needs the 5 x 5 cells around (bi, bj) evaluated and finite; returns (d_rows, d_cols) from the cell.
    """
    best = -np.inf
    best_i = 0.0
    best_j = 0.0
    column = np.empty(4, np.float64)
    for a in range(-factor, factor + 1):
        fi = a / factor
        base_i = bi + math.floor(fi)
        ti = fi - math.floor(fi)
        for b in range(-factor, factor + 1):
            fj = b / factor
            base_j = bj + math.floor(fj)
            tj = fj - math.floor(fj)
            for m in range(4):
                row = base_i - 1 + m
                column[m] = _cubic(
                    surface[row, base_j - 1],
                    surface[row, base_j],
                    surface[row, base_j + 1],
                    surface[row, base_j + 2],
                    tj,
                )
            value = _cubic(column[0], column[1], column[2], column[3], ti)
            if value > best:
                best = value
                best_i = fi
                best_j = fj
    return best_i, best_j
