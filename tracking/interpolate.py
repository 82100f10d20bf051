"""Hole filling of a displacement grid that records which nodes it filled.

Rejected vectors near valid ones are replaced by a *harmonic* (Laplace) interpolation of their valid
neighbours: every filled node equals the mean of its usable 3 x 3 neighbours (valid or filled), with the
valid nodes held fixed. It is the limit of iterating OpenPIV's "localmean" replacement, or of GIV's smoothing
fill, to convergence, and MATLAB ``inpaint_nans``'s spring/Laplace method. Two properties make it safe for
velocity fields: it reproduces linear (constant-strain-rate) flow exactly, and — by the maximum principle —
a filled value never leaves the range of the valid values around its hole, so it cannot extrapolate wildly.
The fill is restricted to nodes within ``max_distance`` grid nodes of valid data; farther nodes stay NaN.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import linalg

from tracking.exceptions import ParameterError

__all__ = ["fill_holes"]

_NEIGHBOURS = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]
_DIRECT_MAX = 200_000  # fill nodes up to which the system is solved directly (sparse LU)
_RTOL = 1e-9  # conjugate-gradient tolerance (larger systems), relative to the norm of the right-hand side
_MAXITER = 5000


def fill_holes(
    dx: np.ndarray,
    dy: np.ndarray,
    valid: np.ndarray,
    *,
    max_distance: int = 2,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate invalid vectors from their valid neighbours, up to ``max_distance`` nodes away.

    Which nodes are filled: the invalid nodes within ``max_distance`` grid nodes of a valid node, in the
    Chebyshev (chessboard) metric — a 3 x 3 dilation of the valid nodes repeated ``max_distance`` times,
    and only through invalid nodes (a geodesic dilation), so that every filled node is connected to valid
    data by a chain of filled nodes. Farther invalid nodes become NaN.

    How: the filled values solve the discrete Laplace equation on the filled nodes — each is the mean of
    its usable 8 neighbours (valid or filled; the grid edge, far nodes and valid-but-NaN nodes count as
    absent) — with the valid nodes as fixed boundary values. The sparse symmetric positive-definite system
    is solved directly (sparse LU) up to 200 000 filled nodes, by Jacobi-preconditioned conjugate gradients
    above. Linear fields are
    reproduced exactly, and filled values stay within the range of the valid values around each hole.

    Parameters
    ----------
    dx, dy : array_like, shape (rows, cols)
        Displacement components on the grid (any unit, e.g. px). Values at invalid nodes are ignored.
    valid : array_like of bool, shape (rows, cols)
        True for vectors to keep and to interpolate from. A valid node whose ``dx`` or ``dy`` is NaN is
        kept as it is and is not used as a neighbour.
    max_distance : int
        Fill invalid nodes at most this many grid nodes from a valid node (Chebyshev distance); 0 fills
        nothing.

    Returns
    -------
    dx_filled, dy_filled : ndarray of float, shape (rows, cols)
        Copies of ``dx`` and ``dy`` (float32 input stays float32, other dtypes become float64): valid nodes
        unchanged, filled nodes interpolated, other invalid nodes NaN.
    interpolated : ndarray of bool, shape (rows, cols)
        True exactly where a value was filled.
    """
    dx_out = _float_copy(dx)
    dy_out = _float_copy(dy)
    valid = np.asarray(valid, dtype=bool)
    if dx_out.ndim != 2 or dx_out.shape != dy_out.shape or valid.shape != dx_out.shape:
        raise ParameterError(
            f"dx, dy and valid must be 2-D grids of one shape; got {dx_out.shape}, {dy_out.shape} and "
            f"{valid.shape}."
        )
    max_distance = int(max_distance)
    if max_distance < 0:
        raise ParameterError(f"max_distance must be >= 0 grid nodes; got {max_distance}.")
    known = valid & np.isfinite(dx_out) & np.isfinite(dy_out)
    dx_out[~valid] = np.nan
    dy_out[~valid] = np.nan
    interpolated = np.zeros(valid.shape, dtype=bool)
    if max_distance == 0 or not known.any() or valid.all():
        return dx_out, dy_out, interpolated

    reach = ndimage.binary_dilation(
        known, structure=np.ones((3, 3), dtype=bool), iterations=max_distance, mask=known | ~valid
    )
    fill = reach & ~valid
    if not fill.any():
        return dx_out, dy_out, interpolated

    matrix, boundary, rows, cols = _laplace_system(fill, known)
    rhs = boundary @ np.column_stack([dx_out[known], dy_out[known]]).astype(np.float64)
    values = _solve(matrix, rhs)
    dx_out[rows, cols] = values[:, 0]
    dy_out[rows, cols] = values[:, 1]
    interpolated[rows, cols] = np.isfinite(dx_out[rows, cols]) & np.isfinite(dy_out[rows, cols])
    dx_out[rows, cols] = np.where(interpolated[rows, cols], dx_out[rows, cols], np.nan)
    dy_out[rows, cols] = np.where(interpolated[rows, cols], dy_out[rows, cols], np.nan)
    return dx_out, dy_out, interpolated


def _float_copy(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float64
    return values.astype(dtype, copy=True)


def _solve(matrix: sparse.csr_array, rhs: np.ndarray) -> np.ndarray:
    """Solve ``matrix @ x = rhs`` (symmetric positive definite) for the columns of ``rhs``.

    A sparse LU factorization (one factorization, every column) up to `_DIRECT_MAX` unknowns — exact and
    fastest there; above, where its fill-in grows too large, Jacobi-preconditioned conjugate gradients from
    the mean of the valid neighbours.
    """
    if matrix.shape[0] <= _DIRECT_MAX:
        return np.asarray(linalg.splu(sparse.csc_matrix(matrix)).solve(rhs)).reshape(rhs.shape)
    diagonal = matrix.diagonal()
    preconditioner = sparse.diags_array(1.0 / diagonal)
    values = np.empty_like(rhs)
    for k in range(rhs.shape[1]):
        values[:, k], _ = linalg.cg(
            matrix,
            rhs[:, k],
            x0=rhs[:, k] / diagonal,
            rtol=_RTOL,
            atol=0.0,
            maxiter=_MAXITER,
            M=preconditioner,
        )
    return values


def _laplace_system(
    fill: np.ndarray, known: np.ndarray
) -> tuple[sparse.csr_array, sparse.csr_array, np.ndarray, np.ndarray]:
    """The Laplace system of the fill nodes: ``matrix @ x = boundary @ known_values``.

    Row ``k`` (fill node ``k``) reads ``n_k x_k - sum(x_j, fill neighbours j) = sum(v_i, valid neighbours
    i)``, with ``n_k`` the number of usable neighbours. ``matrix`` is symmetric and, since every connected
    group of fill nodes touches a valid node, positive definite.

    Returns
    -------
    matrix : sparse array, shape (n_fill, n_fill)
    boundary : sparse array, shape (n_fill, n_known)
        Sums each fill node's valid neighbours out of ``values[known]`` (row-major order).
    rows, cols : ndarray of int, shape (n_fill,)
        Grid position of each fill node (row-major order).
    """
    shape = fill.shape
    rows, cols = np.nonzero(fill)
    fill_index = np.full(shape, -1, dtype=np.int64)
    fill_index[rows, cols] = np.arange(rows.size)
    known_index = np.full(shape, -1, dtype=np.int64)
    known_index[known] = np.arange(np.count_nonzero(known))

    degree = np.zeros(rows.size, dtype=np.float64)
    a_rows, a_cols, b_rows, b_cols = [], [], [], []
    for di, dj in _NEIGHBOURS:
        ni, nj = rows + di, cols + dj
        inside = (ni >= 0) & (ni < shape[0]) & (nj >= 0) & (nj < shape[1])
        here = np.nonzero(inside)[0]
        ni, nj = ni[inside], nj[inside]
        neighbour_fill = fill_index[ni, nj]
        neighbour_known = known_index[ni, nj]
        is_fill, is_known = neighbour_fill >= 0, neighbour_known >= 0
        degree[here[is_fill | is_known]] += 1.0
        a_rows.append(here[is_fill])
        a_cols.append(neighbour_fill[is_fill])
        b_rows.append(here[is_known])
        b_cols.append(neighbour_known[is_known])

    n_fill, n_known = rows.size, int(np.count_nonzero(known))
    off_rows, off_cols = np.concatenate(a_rows), np.concatenate(a_cols)
    diagonal = np.arange(n_fill)
    matrix = sparse.csr_array(
        (
            np.concatenate([degree, -np.ones(off_rows.size)]),
            (np.concatenate([diagonal, off_rows]), np.concatenate([diagonal, off_cols])),
        ),
        shape=(n_fill, n_fill),
    )
    b_r, b_c = np.concatenate(b_rows), np.concatenate(b_cols)
    boundary = sparse.csr_array((np.ones(b_r.size), (b_r, b_c)), shape=(n_fill, n_known))
    return matrix, boundary, rows, cols
