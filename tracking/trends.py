"""Time-series analysis at points: reject outlying speeds, fit a mean, a trend and a seasonal cycle.

`reject_outliers` flags the speeds of a series table (`tracking.schema.SERIES_COLUMNS`) that disagree with
the rest, per point and per bin of time separation, after ITS_LIVE's composites (``shared/docs/peers.md``
§2.3). `fit_series` fits, per point, ``v(t) = mean + trend (t - t_ref) + a cos 2πt + b sin 2πt`` (t in decimal
years) by iteratively reweighted least squares; `fitted_curve` evaluates a fit for plotting.

A pair measures the mean speed between its two dates, so the fit compares each speed with the model averaged
over the pair: the linear part at the mid date, the seasonal part damped by ``sinc(Δ) = sin(πΔ) / (πΔ)``
(Δ the separation in years): a pair a year long sees no seasonal cycle, a six-month one 64 % of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from tracking.exceptions import ParameterError

__all__ = ["DT_BINS", "FIT_COLUMNS", "fit_series", "fitted_curve", "reject_outliers"]

#: Edges (days) of the time-separation bins, as ITS_LIVE's ``cube_filter`` (its last edge is infinite).
DT_BINS = (0, 16, 32, 64, 128, 256, 10_000)
#: Columns of `fit_series`'s table, in order.
FIT_COLUMNS = (
    "point",
    "n",
    "n_outliers",
    "t_start",
    "t_end",
    "t_ref",
    "mean",
    "trend",
    "seasonal_amplitude",
    "seasonal_peak",
    "residual_spread",
    "mean_se",
    "trend_se",
    "seasonal_amplitude_se",
    "seasonal_peak_se",
)
MIN_POINTS = 6  #: fewer speeds than this at a point: no fit (NaN).
MIN_SPAN_YEARS = 1.0  #: speeds spanning less than this (years): no seasonal term (NaN).
MIN_BIN = 5  #: bins with fewer speeds are not tested.
_REF_BIN, _BIN_SPREAD = 50, 0.67  # ITS_LIVE's reference-bin size, and bin range median ± 0.67 · 1.4826 · MAD
_MAD, _HUBER, _YEAR = 1.4826, 1.345, 365.25  # MAD to σ, Huber's c, days per year
_TIMES = ("t_start", "t_end", "t_ref")


def _columns(series: pd.DataFrame) -> None:
    missing = [c for c in ("point", "mid_date", "dt_days", "v") if c not in series.columns]
    if missing:
        raise ParameterError(
            f"the series table lacks the column(s) {', '.join(missing)}: give a table like "
            "tracking.timeseries.sample_fields() returns."
        )


def reject_outliers(
    series: pd.DataFrame,
    *,
    dt_bins: Sequence[float] = DT_BINS,
    threshold: float = 6.0,
    window: int = 15,
    compare_bins: bool = True,
) -> pd.Series:
    """Flag outlying speeds, per point and per bin of time separation, as ITS_LIVE does.

    Within each point, speeds are grouped by ``dt_days`` into the bins ``[edge_i, edge_i+1)`` (a separation
    beyond the last edge, or missing, forms one more bin), whatever their ``source``: one source mixes sensors
    anyway, and the tests need many samples. Two tests, on bins of at least `MIN_BIN` finite speeds:

    1. ``compare_bins`` (ITS_LIVE's ``cube_filter``: long pairs over fast ice decorrelate and give a low,
       self-consistent speed): the reference bin is the shortest with at least 50 speeds (else the fullest).
       A bin whose range ``median ± 0.67 · 1.4826 · MAD`` misses the reference's is flagged whole, and so is
       every bin longer than the shortest such bin beyond the reference. It compares whole records: bins that
       sample different epochs of a fast-changing glacier may disagree.
    2. Residuals from the running median of ``window`` neighbours in time (``mid_date``) from all remaining
       bins, which keeps the neighbours of a sparse bin close in time; a speed is flagged where its residual
       is more than ``threshold · 1.4826 · MAD`` from the median residual of its bin, MAD of that bin's
       residuals (1.2533 · mean absolute deviation if 0): each bin has its own noise level.

    Parameters
    ----------
    series : pandas.DataFrame
        A series table (`tracking.schema.SERIES_COLUMNS`): ``point``, ``mid_date``, ``dt_days``, ``v``.
    dt_bins : sequence of float
        Increasing bin edges, days.
    threshold : float
        Residuals beyond this many robust standard deviations are outliers (ITS_LIVE: 6).
    window : int
        Length (speeds) of the running median, at least 3.
    compare_bins : bool
        Run test 1.

    Returns
    -------
    pandas.Series of bool
        Aligned with ``series``, True for an outlier; missing speeds (NaN) or dates never are.

    Examples
    --------
    >>> v = 100.0 + np.arange(40) % 3
    >>> v[7] = 900.0
    >>> s = pd.DataFrame({"point": "A", "mid_date": pd.date_range("2020-01-01", periods=40, freq="10D"),
    ...                   "dt_days": 16.0, "v": v})
    >>> np.flatnonzero(reject_outliers(s))
    array([7])
    """
    _columns(series)
    edges = np.asarray(dt_bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ParameterError(f"dt_bins must be at least two increasing edges (days), got {tuple(dt_bins)}.")
    if not threshold > 0 or window < 3:
        raise ParameterError(f"threshold must be > 0 and window >= 3, got {threshold} and {window}.")
    flags = np.zeros(len(series), dtype=bool)
    v = series["v"].to_numpy(dtype=np.float64)
    usable = np.isfinite(v) & series["mid_date"].notna().to_numpy()
    time = pd.to_datetime(series["mid_date"]).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    bins = np.digitize(series["dt_days"].to_numpy(dtype=np.float64), edges)
    residual = np.full(len(series), np.nan)
    for rows in series.groupby("point", sort=False, dropna=False).indices.values():
        rows = rows[usable[rows]]
        groups = {b: r for b in np.unique(bins[rows]) if (r := rows[bins[rows] == b]).size >= MIN_BIN}
        if compare_bins and groups:
            bad, cutoff = _disagreeing_bins({b: v[r] for b, r in groups.items()})
            flags[rows[np.isin(bins[rows], bad) | (bins[rows] >= cutoff)]] = True
            groups = {b: r for b, r in groups.items() if b not in bad and b < cutoff}
        kept = rows[np.isin(bins[rows], list(groups))]
        kept = kept[np.argsort(time[kept], kind="stable")]
        running = pd.Series(v[kept]).rolling(window, center=True, min_periods=1).median()
        residual[kept] = v[kept] - running.to_numpy()
        for r in groups.values():
            deviation = np.abs(residual[r] - np.median(residual[r]))
            scale = _MAD * float(np.median(deviation)) or 1.2533 * float(np.mean(deviation))
            flags[r] = deviation > threshold * scale
    return pd.Series(flags, index=series.index, name="outlier")


def _disagreeing_bins(speeds: dict[Any, np.ndarray]) -> tuple[list[Any], float]:
    """The bins that disagree with the reference bin, and the first bin beyond it that does (or inf)."""
    keys = sorted(speeds)
    median = np.array([np.median(speeds[b]) for b in keys])
    mad = np.array([np.median(np.abs(speeds[b] - m)) for b, m in zip(keys, median, strict=True)])
    spread, counts = _BIN_SPREAD * _MAD * mad, np.array([speeds[b].size for b in keys])
    full = np.flatnonzero(counts >= _REF_BIN)
    ref = int(full[0]) if full.size else int(np.argmax(counts))
    bad = (median - spread > median[ref] + spread[ref]) | (median + spread < median[ref] - spread[ref])
    beyond = np.flatnonzero(bad & (np.arange(len(keys)) > ref))
    return [keys[i] for i in np.flatnonzero(bad)], keys[beyond[0]] if beyond.size else np.inf


def _decimal_year(times: Any) -> np.ndarray:
    index = pd.DatetimeIndex(pd.to_datetime(times))
    day = index.day_of_year - 1 + (index - index.normalize()) / pd.Timedelta(days=1)
    return (index.year + day / (365.0 + index.is_leap_year)).to_numpy(dtype=np.float64)


def fit_series(
    series: pd.DataFrame,
    *,
    outliers: pd.Series | np.ndarray | None = None,
    weights: Literal["error", "equal"] = "error",
) -> pd.DataFrame:
    """Fit a mean, a linear trend and an annual sinusoid to each point's speeds, robustly.

    The model (module docstring; a missing ``dt_days`` counts as 0) is fitted by iteratively reweighted least
    squares, Huber weights (c = 1.345 robust standard deviations), on the speeds that are finite and not
    outliers. A point with fewer than `MIN_POINTS` of them gets NaN estimates; one whose speeds span less than
    `MIN_SPAN_YEARS` (or whose pairs are all a year long) gets no seasonal term: NaN seasonal columns, and a
    trend that includes part of the seasonal cycle.

    Parameters
    ----------
    series : pandas.DataFrame
        A series table (`tracking.schema.SERIES_COLUMNS`); ``point``, ``mid_date``, ``dt_days``, ``v``
        and, if present, ``v_error`` are used. Drop invalid or interpolated rows first if they should not
        count.
    outliers : pandas.Series or numpy.ndarray of bool, optional
        True for the rows to leave out, aligned with ``series``; default ``reject_outliers(series)``. Give an
        all-False array to keep every speed.
    weights : {"error", "equal"}
        ``"error"``: weights ``1 / v_error²`` (a missing or non-positive error takes the point's median error;
        equal weights when no error is known); ``"equal"``: all speeds weigh the same.

    Returns
    -------
    pandas.DataFrame
        One row per point, columns `FIT_COLUMNS`: ``point``; ``n`` speeds used, ``n_outliers`` left out;
        ``t_start``, ``t_end`` (first and last mid date used) and ``t_ref`` (halfway between) as Timestamps;
        ``mean`` (m/yr, at ``t_ref``), ``trend`` (m/yr per year), ``seasonal_amplitude`` (m/yr, half the
        peak-to-trough range), ``seasonal_peak`` (day of year of the maximum, 1 = 1 January, in [1, 366.25));
        ``residual_spread`` (1.4826 · MAD of the residuals, m/yr); and the standard errors ``mean_se``,
        ``trend_se``, ``seasonal_amplitude_se`` (m/yr) and ``seasonal_peak_se`` (days).

    Examples
    --------
    >>> t = pd.date_range("2018-01-01", "2022-01-01", freq="16D")
    >>> year = t.year + t.day_of_year / 365.25
    >>> s = pd.DataFrame({"point": "A", "mid_date": t, "dt_days": 0.0,
    ...                   "v": 500 + 10 * (year - 2020) + 50 * np.cos(2 * np.pi * (year - 0.5))})
    >>> fit = fit_series(s).iloc[0]
    >>> print(f"{fit['trend']:.1f} {fit['seasonal_amplitude']:.1f} {fit['seasonal_peak']:.0f}")
    10.0 50.0 183
    """
    _columns(series)
    if weights not in ("error", "equal"):
        raise ParameterError(f"weights must be 'error' or 'equal', not {weights!r}.")
    out = reject_outliers(series) if outliers is None else outliers
    if isinstance(out, pd.Series) and not out.index.equals(series.index):
        out = out.reindex(series.index, fill_value=False)
    out = np.asarray(out, dtype=bool)
    if out.shape != (len(series),):
        raise ParameterError(f"outliers must have one flag per row ({len(series)}), got shape {out.shape}.")
    use_errors = weights == "error" and "v_error" in series.columns
    groups = series.groupby("point", sort=True, dropna=False).indices
    rows = [_fit_point(name, series.iloc[idx], out[idx], use_errors) for name, idx in groups.items()]
    table = pd.DataFrame.from_records(rows, columns=list(FIT_COLUMNS))
    return table.astype({"n": int, "n_outliers": int} | dict.fromkeys(_TIMES, "datetime64[ns]"))


def _fit_point(name: Any, group: pd.DataFrame, out: np.ndarray, use_errors: bool) -> dict[str, Any]:
    v = group["v"].to_numpy(dtype=np.float64)
    mid = pd.to_datetime(group["mid_date"])
    finite = np.isfinite(v) & mid.notna().to_numpy()
    used = finite & ~out
    row: dict[str, Any] = dict.fromkeys(FIT_COLUMNS, np.nan) | dict.fromkeys(_TIMES, pd.NaT)
    row.update(point=name, n=int(used.sum()), n_outliers=int((finite & out).sum()))
    if not used.any():
        return row
    times = mid[used]
    row.update(t_start=times.min(), t_end=times.max(), t_ref=times.min() + (times.max() - times.min()) / 2)
    if row["n"] < MIN_POINTS:
        return row
    v, t = v[used], _decimal_year(times)
    dt = np.nan_to_num(group["dt_days"].to_numpy(dtype=np.float64)[used] / _YEAR)
    sigma = group["v_error"].to_numpy(dtype=np.float64)[used] if use_errors else np.ones(v.size)
    good = np.isfinite(sigma) & (sigma > 0)
    sigma = np.where(good, sigma, np.median(sigma[good]) if good.any() else 1.0)
    base = [np.ones(v.size), t - _decimal_year([row["t_ref"]])[0]]
    seasonal = [np.sinc(dt) * wave(2 * np.pi * t) for wave in (np.cos, np.sin)]
    for x in ([*base, *seasonal], base) if np.ptp(t) >= MIN_SPAN_YEARS else (base,):
        design = np.column_stack(x)
        if np.linalg.matrix_rank(design / sigma[:, None]) == design.shape[1]:
            break
    else:
        return row
    beta, cov, residual = _irls(design, v, sigma)
    se = np.sqrt(np.diag(cov))
    row.update(
        mean=beta[0],
        trend=beta[1],
        mean_se=se[0],
        trend_se=se[1],
        residual_spread=_MAD * float(np.median(np.abs(residual - np.median(residual)))),
    )
    if beta.size == 4:  # amplitude and phase of (a, b); their errors by the delta method
        a, b = beta[2:]
        amp = float(np.hypot(a, b))
        along, across = np.array([[a, b], [-b, a]]) / max(amp, 1e-300)
        phase_se = np.sqrt(across @ cov[2:, 2:] @ across) / max(amp, 1e-300)
        row.update(
            seasonal_amplitude=amp,
            seasonal_peak=1 + _YEAR * ((np.arctan2(b, a) / (2 * np.pi)) % 1.0),
            seasonal_amplitude_se=float(np.sqrt(along @ cov[2:, 2:] @ along)),
            seasonal_peak_se=float(phase_se) * _YEAR / (2 * np.pi),
        )
    return row


def _irls(design: np.ndarray, v: np.ndarray, sigma: np.ndarray, steps: int = 50) -> tuple[np.ndarray, ...]:
    """Huber M-estimate of ``v ≈ design @ beta``, errors ∝ ``sigma``: beta, its covariance, the residuals."""
    x, y = design / sigma[:, None], v / sigma
    w, beta, scale = np.ones(y.size), np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        root = np.sqrt(w)
        new = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)[0]
        z = y - x @ new
        scale = _MAD * float(np.median(np.abs(z)))
        done = np.allclose(new, beta, rtol=1e-9, atol=1e-9)
        beta = new
        if scale == 0 or done:
            break
        w = np.minimum(1.0, _HUBER * scale / np.maximum(np.abs(z), 1e-300))
    # Huber's asymptotic covariance: scale² · E[ψ²] / E[ψ']² · (XᵀX)⁻¹ in the standardised problem
    u = (y - x @ beta) / scale if scale > 0 else np.zeros(y.size)
    psi2 = float(np.sum(np.clip(u, -_HUBER, _HUBER) ** 2)) / (y.size - x.shape[1])
    inside = float(np.mean(np.abs(u) <= _HUBER))
    cov = scale**2 * psi2 / inside**2 * np.linalg.pinv(x.T @ x)
    return beta, cov, v - design @ beta


def fitted_curve(
    fit_row: Mapping[str, Any] | pd.Series, times: Any, *, dt_days: float | np.ndarray = 0.0
) -> np.ndarray:
    """The fitted speed at ``times``: a row of `fit_series`'s table evaluated for plotting.

    Parameters
    ----------
    fit_row : mapping or pandas.Series
        A row of `fit_series`'s table; a NaN seasonal amplitude counts as no seasonal cycle.
    times : array-like of datetime
        Where to evaluate.
    dt_days : float or numpy.ndarray
        Pair length(s), days: the model's mean over pairs centred on ``times`` (0: the instantaneous speed).

    Returns
    -------
    numpy.ndarray
        Speeds, m/yr; NaN everywhere when the fit failed.

    Examples
    --------
    >>> row = {"t_ref": pd.Timestamp("2020-07-02"), "mean": 500.0, "trend": 10.0,
    ...        "seasonal_amplitude": 50.0, "seasonal_peak": 183.0}
    >>> fitted_curve(row, pd.to_datetime(["2020-07-01", "2021-01-01"])).round()
    array([550., 455.])
    """
    t = _decimal_year(times)
    if pd.isna(fit_row["mean"]) or pd.isna(fit_row["t_ref"]):
        return np.full(t.shape, np.nan)
    trend = 0.0 if pd.isna(fit_row["trend"]) else float(fit_row["trend"])
    curve = float(fit_row["mean"]) + trend * (t - _decimal_year([fit_row["t_ref"]])[0])
    if not pd.isna(fit_row["seasonal_amplitude"]):
        peak = (float(fit_row["seasonal_peak"]) - 1) / _YEAR
        damp = np.sinc(np.asarray(dt_days, dtype=np.float64) / _YEAR)
        curve = curve + damp * float(fit_row["seasonal_amplitude"]) * np.cos(2 * np.pi * (t - peak))
    return curve
