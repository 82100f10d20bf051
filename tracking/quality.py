"""Quality metrics of velocity fields, after GLAFT (Glacier Feature Tracking testkit, Zheng et al. 2023).

`static_terrain_metric` reproduces GLAFT's *static-terrain correct-match uncertainty* (``Velocity``
attributes ``metric_static_terrain_x/_y``, ``glaft/metrics.py``): the half-widths of the box that holds the
core of the (vx, vy) scatter of vectors on stable ground, found by thresholding an Epanechnikov kernel density
estimate. For Gaussian noise of standard deviation sigma the box half-width is about 2 sigma (95 %). Gross
mismatches, far from the core, are counted as outliers; they widen the box only through the kernel bandwidth,
which grows with the spread of all samples.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["MAX_KDE_SAMPLES", "MIN_SAMPLES", "static_terrain_metric"]

#: Fewest finite (vx, vy) pairs the static-terrain metric accepts.
MIN_SAMPLES = 10
#: Largest number of samples the kernel density estimate is fitted to; larger sets are subsampled.
MAX_KDE_SAMPLES = 20_000
#: Rule-of-thumb bandwidth factor of the Epanechnikov kernel in 2-D (GLAFT, after doi:10.1016/j.spl.2012.07.020).
_EPANECHNIKOV_FACTOR = 2.1991


def _mesh(mid_x: float, mid_y: float, half_width: float, size: int) -> np.ndarray:
    """``size`` x ``size`` evaluation nodes, (x, y) per row, x varying fastest (as GLAFT's meshgrid)."""
    xs = np.linspace(mid_x - half_width, mid_x + half_width, size)
    ys = np.linspace(mid_y - half_width, mid_y + half_width, size)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.column_stack([grid_x.ravel(), grid_y.ravel()])


def _epanechnikov_density(tree: cKDTree, nodes: np.ndarray, bandwidth: float) -> np.ndarray:
    """Unnormalized Epanechnikov density ``sum(1 - d^2 / h^2)`` over samples within ``h`` of each node.

    The normalizing constant is left out: the metric uses only ratios of densities.
    """
    node_tree = cKDTree(nodes)
    pairs = node_tree.sparse_distance_matrix(tree, bandwidth, output_type="coo_matrix")
    weights = 1.0 - (pairs.data / bandwidth) ** 2
    return np.bincount(pairs.row, weights=np.clip(weights, 0.0, None), minlength=len(nodes))


def _kept(density: np.ndarray, thres_sigma: float) -> np.ndarray:
    """Nodes whose density is at least max / e^(thres_sigma^2 / 2): the +-thres_sigma contour of a Gaussian."""
    return density >= density.max() / math.exp(thres_sigma**2 / 2)


def static_terrain_metric(
    vx: np.ndarray, vy: np.ndarray, *, thres_sigma: float = 2.0, kde_gridsize: int = 60
) -> dict[str, float]:
    """GLAFT's static-terrain correct-match uncertainty of vectors on stable ground.

    Follows ``glaft.Velocity.static_terrain_analysis`` (GLAFT ``glaft/metrics.py``, class defaults):

    1. samples are the finite ``(vx, vy)`` pairs;
    2. ``xystd = (cov_xx * cov_yy) ** (1/4)``, the geometric mean of the two standard deviations;
    3. Epanechnikov kernel density with the rule-of-thumb bandwidth ``h = 2.1991 * xystd * n ** (-1/6)``;
    4. a crude ``kde_gridsize`` x ``kde_gridsize`` mesh centred on the per-axis median, half-width
       ``(thres_sigma + 1) * xystd``, is thresholded at ``max(density) / e ** (thres_sigma ** 2 / 2)``;
    5. a fine mesh of the same size, centred on the median, whose half-width is the mean of the x- and
       y-extents of the kept crude nodes, is evaluated and thresholded the same way;
    6. the metric is half the x-extent and half the y-extent of the kept fine nodes; the KDE peak is the
       densest fine node; outliers are the samples outside the box of kept fine nodes.

    The kernel density is computed with `scipy.spatial.cKDTree` (GLAFT uses scikit-learn's
    ``KernelDensity``; the densities differ only by a constant factor, which the thresholds ignore).

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
    ValueError
        ``vx`` and ``vy`` differ in size, fewer than `MIN_SAMPLES` finite pairs, bad ``thres_sigma`` or
        ``kde_gridsize``.

    Notes
    -----
    Beyond `MAX_KDE_SAMPLES` (20 000) finite samples the density is fitted to a deterministic, evenly spaced
    subsample of that many samples (every k-th sample in input order, no randomness), and the bandwidth uses
    the subsample's size. The covariance, the medians and the outlier percentage always use every sample.
    Where the kept crude region is a single node (an extremely peaked scatter), GLAFT's fine mesh would
    collapse to a point; the crude node spacing is used as the fine half-width instead.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> result = static_terrain_metric(rng.normal(0, 0.1, 5000), rng.normal(0, 0.1, 5000))
    >>> bool(0.18 < result["metric_x"] < 0.22)
    True
    """
    x = np.asarray(vx, dtype=np.float64).ravel()
    y = np.asarray(vy, dtype=np.float64).ravel()
    if x.size != y.size:
        raise ValueError(f"vx and vy must have the same number of values; got {x.size} and {y.size}.")
    if not (np.isfinite(thres_sigma) and thres_sigma > 0):
        raise ValueError(f"thres_sigma must be a positive number; got {thres_sigma!r}.")
    if int(kde_gridsize) != kde_gridsize or kde_gridsize < 3:
        raise ValueError(f"kde_gridsize must be an integer of at least 3; got {kde_gridsize!r}.")
    kde_gridsize = int(kde_gridsize)
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    n = x.size
    if n < MIN_SAMPLES:
        raise ValueError(
            f"the static-terrain metric needs at least {MIN_SAMPLES} finite (vx, vy) pairs; got {n}: "
            "use a larger stable-ground area or a denser grid."
        )
    mid_x, mid_y = float(np.median(x)), float(np.median(y))
    cov = np.cov(np.vstack([x, y]))
    xystd = float((cov[0, 0] * cov[1, 1]) ** 0.25)
    if not xystd > 0:  # every sample identical along an axis: no spread to measure
        outside = (x != mid_x) | (y != mid_y)
        return {"metric_x": 0.0, "metric_y": 0.0, "kdepeak_x": mid_x, "kdepeak_y": mid_y,
                "outlier_percent": 100.0 * float(outside.mean()), "n": int(n)}

    samples = np.column_stack([x, y])
    if n > MAX_KDE_SAMPLES:
        samples = samples[np.linspace(0, n - 1, MAX_KDE_SAMPLES).round().astype(np.int64)]
    bandwidth = _EPANECHNIKOV_FACTOR * xystd * len(samples) ** (-1.0 / 6.0)
    tree = cKDTree(samples)

    crude_half = (thres_sigma + 1) * xystd
    crude = _mesh(mid_x, mid_y, crude_half, kde_gridsize)
    kept = _kept(_epanechnikov_density(tree, crude, bandwidth), thres_sigma)
    extent_x = np.ptp(crude[kept, 0])
    extent_y = np.ptp(crude[kept, 1])
    fine_half = float(extent_x + extent_y) / 2
    if fine_half <= 0:
        fine_half = 2 * crude_half / (kde_gridsize - 1)

    fine = _mesh(mid_x, mid_y, fine_half, kde_gridsize)
    density = _epanechnikov_density(tree, fine, bandwidth)
    kept = _kept(density, thres_sigma)
    low_x, high_x = fine[kept, 0].min(), fine[kept, 0].max()
    low_y, high_y = fine[kept, 1].min(), fine[kept, 1].max()
    peak = int(np.argmax(density))
    outside = (x < low_x) | (x > high_x) | (y < low_y) | (y > high_y)
    return {
        "metric_x": float(high_x - low_x) / 2,
        "metric_y": float(high_y - low_y) / 2,
        "kdepeak_x": float(fine[peak, 0]),
        "kdepeak_y": float(fine[peak, 1]),
        "outlier_percent": 100.0 * float(outside.mean()),
        "n": int(n),
    }
