"""GLAFT's kernel-density thresholding and its metric 1, the static-terrain correct-match uncertainty.

GLAFT (Glacier Feature Tracking testkit, Zheng et al. 2023, ``glaft/metrics.py``) measures both of its metrics the
same way: the half-widths of the box that holds the core of a 2-D scatter, found by thresholding an Epanechnikov
kernel density estimate (`kde_box`). Metric 1 (`static_terrain_metric`) applies it to the (vx, vy) vectors on
stable ground; for Gaussian noise of standard deviation sigma the box half-width is about 2 sigma (95 %). Gross
mismatches, far from the core, are counted as outliers; they widen the box only through the kernel bandwidth,
which grows with the spread of all samples.
"""

from __future__ import annotations

import math

import numpy as np

from tracking.exceptions import NotEnoughSamplesError, ParameterError

__all__ = [
    "MAX_KDE_SAMPLES",
    "MIN_SAMPLES",
    "epanechnikov_on_mesh",
    "kde_box",
    "square_mesh",
    "static_terrain_metric",
]

#: Fewest finite sample pairs a metric accepts.
MIN_SAMPLES = 10
#: Largest number of samples the kernel density estimate is fitted to; larger sets are subsampled (a guard on time
#: and memory: a million samples take about a second).
MAX_KDE_SAMPLES = 1_000_000
#: Rule-of-thumb bandwidth factor of the Epanechnikov kernel in 2-D (GLAFT, after doi:10.1016/j.spl.2012.07.020).
_EPANECHNIKOV_FACTOR = 2.1991


def _check_kde_options(thres_sigma: float, kde_gridsize: int) -> int:
    if not (np.isfinite(thres_sigma) and thres_sigma > 0):
        raise ParameterError(f"thres_sigma must be a positive number; got {thres_sigma!r}.")
    if int(kde_gridsize) != kde_gridsize or kde_gridsize < 3:
        raise ParameterError(f"kde_gridsize must be an integer of at least 3; got {kde_gridsize!r}.")
    return int(kde_gridsize)


def epanechnikov_on_mesh(x: np.ndarray, y: np.ndarray, nodes: np.ndarray, bandwidth: float) -> np.ndarray:
    """Unnormalized Epanechnikov density ``sum(1 - d^2 / h^2)`` over the samples within ``h`` of each node.

    Exact (no approximation), for the square meshes of `square_mesh` (``nodes`` evenly spaced, equal spacing on both
    axes). Per mesh row, each sample within ``h`` of the row covers a run of nodes on which its kernel is a
    quadratic in the node index; the runs are summed with difference arrays, so the cost is linear in the number
    of (row, sample) pairs. The normalizing constant is left out: the metrics use only ratios of densities.
    """
    size = math.isqrt(len(nodes))
    xs, ys = nodes[:size, 0], nodes[::size, 1]
    step = float(xs[1] - xs[0])
    mid = (size - 1) / 2
    centre_x = float(xs[0]) + mid * step
    order = np.argsort(y, kind="stable")
    sorted_x, sorted_y = x[order] - centre_x, y[order]
    index = np.arange(size) - mid  # node index relative to the row's centre
    h2 = bandwidth * bandwidth
    density = np.zeros((size, size))
    for row, y_row in enumerate(ys):
        lo, hi = np.searchsorted(sorted_y, [y_row - bandwidth, y_row + bandwidth])
        if lo == hi:
            continue
        u = sorted_x[lo:hi] / step  # sample position in node units, from the row's centre
        r2 = (h2 - (sorted_y[lo:hi] - y_row) ** 2) / step**2
        keep = r2 > 0
        u, r2 = u[keep], r2[keep]
        r = np.sqrt(r2)
        first = np.maximum(np.ceil(u - r + mid), 0).astype(np.int64)
        last = np.minimum(np.floor(u + r + mid), size - 1).astype(np.int64)
        keep = first <= last
        first, last, u, r2 = first[keep], last[keep], u[keep], r2[keep]
        # the kernel at node k: r2 - (k - u)^2 = (r2 - u^2) + 2 u k - k^2
        sums = []
        for coefficient in (r2 - u * u, 2 * u, np.ones_like(u)):
            runs = np.bincount(first, coefficient, size + 1) - np.bincount(last + 1, coefficient, size + 1)
            sums.append(np.cumsum(runs[:size]))
        density[row] = sums[0] + sums[1] * index - sums[2] * index**2
    return np.clip(density.ravel() * (step**2 / h2), 0.0, None)


def square_mesh(mid_x: float, mid_y: float, half_width: float, size: int) -> np.ndarray:
    """``size`` x ``size`` evaluation nodes, (x, y) per row, x varying fastest (as GLAFT's meshgrid)."""
    xs = np.linspace(mid_x - half_width, mid_x + half_width, size)
    ys = np.linspace(mid_y - half_width, mid_y + half_width, size)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.column_stack([grid_x.ravel(), grid_y.ravel()])


def _kept(density: np.ndarray, thres_sigma: float) -> np.ndarray:
    """Nodes whose density is at least max / e^(thres_sigma^2 / 2): the +-thres_sigma contour of a Gaussian."""
    return density >= density.max() / math.exp(thres_sigma**2 / 2)


def kde_box(
    a: np.ndarray, b: np.ndarray, *, thres_sigma: float = 2.0, kde_gridsize: int = 60, what: str = "samples"
) -> dict[str, float]:
    """GLAFT's kernel-density thresholding of a 2-D scatter: the box that holds its core.

    Follows the steps GLAFT's ``Velocity.static_terrain_analysis`` and ``longitudinal_shear_analysis`` share:

    1. samples are the finite ``(a, b)`` pairs;
    2. ``xystd = (cov_aa * cov_bb) ** (1/4)``, the geometric mean of the two standard deviations;
    3. Epanechnikov kernel density with the rule-of-thumb bandwidth ``h = 2.1991 * xystd * n ** (-1/6)``;
    4. a crude ``kde_gridsize`` x ``kde_gridsize`` mesh centred on the per-axis median, half-width
       ``(thres_sigma + 1) * xystd``, is thresholded at ``max(density) / e ** (thres_sigma ** 2 / 2)``;
    5. a fine mesh of the same size, centred on the median, whose half-width is the mean of the a- and
       b-extents of the kept crude nodes, is evaluated and thresholded the same way;
    6. the result is half the a-extent and half the b-extent of the kept fine nodes; the KDE peak is the
       densest fine node; outliers are the samples outside the box of kept fine nodes.

    The density is computed exactly by `epanechnikov_on_mesh` (GLAFT uses scikit-learn's ``KernelDensity``,
    also exact; the two differ only by a constant factor, which the thresholds ignore).

    Parameters
    ----------
    a, b : array_like
        The two coordinates of the samples, any shape (flattened), same size; a pair where either is not
        finite is ignored.
    thres_sigma : float, default 2.0
        Threshold in Gaussian standard deviations (GLAFT's class default 2.0: the box is about +-2 sigma).
    kde_gridsize : int, default 60
        Nodes along each axis of the crude and of the fine evaluation mesh.
    what : str
        What the samples are, for the error message when there are too few.

    Returns
    -------
    dict
        ``half_a``, ``half_b`` (the box half-widths), ``peak_a``, ``peak_b`` (the densest fine node),
        ``outlier_percent`` (0-100, samples outside the box) and ``n`` (finite samples used).

    Raises
    ------
    NotEnoughSamplesError
        Fewer than `MIN_SAMPLES` finite pairs (also a ValueError).
    ParameterError
        ``a`` and ``b`` differ in size, or bad ``thres_sigma`` or ``kde_gridsize`` (also a ValueError).

    Notes
    -----
    Beyond `MAX_KDE_SAMPLES` finite samples the density is fitted to a deterministic, evenly spaced subsample of
    that many samples (every k-th sample in input order, no randomness), and the bandwidth uses the subsample's
    size. The covariance, the medians and the outlier percentage always use every sample. Where the kept crude
    region is a single node (an extremely peaked scatter), GLAFT's fine mesh would collapse to a point; the crude
    node spacing is used as the fine half-width instead.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ParameterError(
            f"the two components must have the same number of values; got {x.size} and {y.size}."
        )
    kde_gridsize = _check_kde_options(thres_sigma, kde_gridsize)
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    n = x.size
    if n < MIN_SAMPLES:
        raise NotEnoughSamplesError(
            f"the metric needs at least {MIN_SAMPLES} finite {what}; got {n}: "
            "use a larger area or a denser grid."
        )
    mid_x, mid_y = float(np.median(x)), float(np.median(y))
    cov = np.cov(np.vstack([x, y]))
    xystd = float((cov[0, 0] * cov[1, 1]) ** 0.25)
    if not xystd > 0:  # every sample identical along an axis: no spread to measure
        outside = (x != mid_x) | (y != mid_y)
        return {
            "half_a": 0.0,
            "half_b": 0.0,
            "peak_a": mid_x,
            "peak_b": mid_y,
            "outlier_percent": 100.0 * float(outside.mean()),
            "n": int(n),
        }

    fit_x, fit_y = x, y
    if n > MAX_KDE_SAMPLES:
        pick = np.linspace(0, n - 1, MAX_KDE_SAMPLES).round().astype(np.int64)
        fit_x, fit_y = x[pick], y[pick]
    bandwidth = _EPANECHNIKOV_FACTOR * xystd * fit_x.size ** (-1.0 / 6.0)

    crude_half = (thres_sigma + 1) * xystd
    crude = square_mesh(mid_x, mid_y, crude_half, kde_gridsize)
    kept = _kept(epanechnikov_on_mesh(fit_x, fit_y, crude, bandwidth), thres_sigma)
    fine_half = float(np.ptp(crude[kept, 0]) + np.ptp(crude[kept, 1])) / 2
    if fine_half <= 0:
        fine_half = 2 * crude_half / (kde_gridsize - 1)

    fine = square_mesh(mid_x, mid_y, fine_half, kde_gridsize)
    density = epanechnikov_on_mesh(fit_x, fit_y, fine, bandwidth)
    kept = _kept(density, thres_sigma)
    low_x, high_x = fine[kept, 0].min(), fine[kept, 0].max()
    low_y, high_y = fine[kept, 1].min(), fine[kept, 1].max()
    peak = int(np.argmax(density))
    outside = (x < low_x) | (x > high_x) | (y < low_y) | (y > high_y)
    return {
        "half_a": float(high_x - low_x) / 2,
        "half_b": float(high_y - low_y) / 2,
        "peak_a": float(fine[peak, 0]),
        "peak_b": float(fine[peak, 1]),
        "outlier_percent": 100.0 * float(outside.mean()),
        "n": int(n),
    }


def static_terrain_metric(
    vx: np.ndarray, vy: np.ndarray, *, thres_sigma: float = 2.0, kde_gridsize: int = 60
) -> dict[str, float]:
    """GLAFT's metric 1: the static-terrain correct-match uncertainty of vectors on stable ground.

    Follows ``glaft.Velocity.static_terrain_analysis`` (GLAFT ``glaft/metrics.py``, class defaults): `kde_box`
    applied to the finite ``(vx, vy)`` pairs. On GLAFT's Kaskawulsh demo data (bedrock_V2 polygons) it gives
    GLAFT's own numbers to the last digit.

    Parameters
    ----------
    vx, vy : array_like
        Velocity or offset components on stable ground, any shape (flattened), same size; NaN and inf are
        ignored, and so is a pair where either component is not finite. The metric is in their units.
    thres_sigma : float, default 2.0
        Threshold in Gaussian standard deviations: 2.0 (GLAFT's class default) makes the metric about
        2 sigma, a 95 % bound.
    kde_gridsize : int, default 60
        Nodes along each axis of the crude and of the fine evaluation mesh.

    Returns
    -------
    dict
        - ``metric_x``, ``metric_y``: half-widths of the box along x and y (GLAFT's delta_u, delta_v);
        - ``kdepeak_x``, ``kdepeak_y``: the densest fine-mesh node, i.e. the residual bias;
        - ``outlier_percent``: percentage (0-100) of the samples outside the box (GLAFT's attribute
          ``outlier_percent`` holds the same quantity as a fraction, 0-1);
        - ``n``: number of finite samples used.

    Raises
    ------
    NotEnoughSamplesError
        Fewer than `MIN_SAMPLES` finite pairs (a ValueError too).
    ParameterError
        ``vx`` and ``vy`` differ in size, bad ``thres_sigma`` or ``kde_gridsize`` (a ValueError too).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> result = static_terrain_metric(rng.normal(0, 0.1, 5000), rng.normal(0, 0.1, 5000))
    >>> bool(0.18 < result["metric_x"] < 0.22)
    True
    """
    box = kde_box(vx, vy, thres_sigma=thres_sigma, kde_gridsize=kde_gridsize, what="(vx, vy) pairs")
    return {
        "metric_x": box["half_a"],
        "metric_y": box["half_b"],
        "kdepeak_x": box["peak_a"],
        "kdepeak_y": box["peak_b"],
        "outlier_percent": box["outlier_percent"],
        "n": box["n"],
    }
