"""Speed time series at sample points: a span bar per pair (t0 -> t1), a dot at the mid-date, error bars, the
demo's truth, robust fits and rejected outliers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import holoviews as hv
import numpy as np
import pandas as pd

from dashboard.plots.style import POINT_COLOURS
from tracking.timeseries import is_own

_TIME = hv.Dimension("time", label="date")
_SPEED = hv.Dimension("speed", label="speed", unit="m/yr")
_SERIES_OPTS: dict[str, Any] = {"responsive": True, "min_height": 250, "ylim": (0, None), "show_grid": True}
_SERIES_HOVER = [
    ("point", "@point"),
    ("dates", "@t0_text – @t1_text"),
    ("dt", "@dt_days{0.0} d"),
    ("speed", "@speed{0,0.0} m/yr"),
    ("source", "@source"),
]


def _finite(series: pd.DataFrame) -> pd.DataFrame:
    if series.empty or "v" not in series.columns:
        return series.iloc[0:0]
    return series[np.isfinite(pd.to_numeric(series["v"], errors="coerce"))]


def series_counts(series: pd.DataFrame, dt_range: tuple[float, float]) -> tuple[int, int]:
    """How many finite-speed rows fall in ``dt_range`` (inclusive), and how many there are.

    Examples
    --------
    >>> frame = pd.DataFrame({"v": [1.0, 2.0, np.nan, 4.0], "dt_days": [5, 16, 16, 200]})
    >>> series_counts(frame, (1, 120))
    (2, 3)
    """
    finite = _finite(series)
    low, high = dt_range
    return int(finite["dt_days"].between(low, high).sum()) if len(finite) else 0, len(finite)


def _prepare(series: pd.DataFrame, dt_range: tuple[float, float]) -> pd.DataFrame:
    finite = _finite(series)
    frame = finite[finite["dt_days"].between(*dt_range)].copy()
    for name in ("t0", "t1", "mid_date"):
        frame[name] = pd.to_datetime(frame[name])
    frame["point"] = frame["point"].astype(str)
    for name, default in (("v_error", np.nan), ("source", ""), ("label", "")):
        if name not in frame.columns:
            frame[name] = default
    frame["source"] = frame["source"].fillna("").astype(str)
    frame["v_error"] = pd.to_numeric(frame["v_error"], errors="coerce")
    frame["t0_text"] = frame["t0"].dt.strftime("%Y-%m-%d")
    frame["t1_text"] = frame["t1"].dt.strftime("%Y-%m-%d")
    frame["speed"] = frame["v"].astype(float)
    frame["speed_end"] = frame["speed"]
    frame["time"] = frame["mid_date"]
    return frame


def _layers_of(
    frame: pd.DataFrame, color: Any, label: str = "", marker: str = "circle", **style: Any
) -> list[hv.Element]:
    """Span bars t0 -> t1, error bars and a mid-date dot for one group of rows."""
    extra = ["point", "t0_text", "t1_text", "dt_days", "source"]
    segments = hv.Segments(
        frame, kdims=[hv.Dimension("t0", label="date"), _SPEED, "t1", "speed_end"], vdims=extra
    ).opts(color=color, line_width=2.5, alpha=0.7, show_legend=False, **style)
    layers: list[hv.Element] = [segments]
    with_error = frame[np.isfinite(frame["v_error"])]
    if len(with_error):
        layers.append(
            hv.ErrorBars(with_error, kdims=[_TIME], vdims=[_SPEED, "v_error"]).opts(
                color="#555555", line_width=1, show_legend=False
            )
        )
    scatter = hv.Scatter(frame, kdims=[_TIME], vdims=[_SPEED, *extra], label=label)
    layers.append(
        scatter.opts(
            color=color,
            size=6,
            line_color="white",
            tools=["hover"],
            marker=marker,
            hover_tooltips=_SERIES_HOVER,
            **style,
        )
    )
    return layers


def _by_dt(frame: pd.DataFrame, dt_range: tuple[float, float], cmap_dt: str) -> list[hv.Element]:
    ordered = frame.sort_values("dt_days", ascending=False, kind="stable")  # short dt drawn last, on top
    colour = {"cmap": cmap_dt, "clim": (float(dt_range[0]), float(dt_range[1]))}
    layers = _layers_of(ordered, hv.dim("dt_days"), **colour)
    layers[-1] = layers[-1].opts(colorbar=True, clabel="dt (days)")
    return layers


def _point_colour(name: str, order: Sequence[str]) -> str:
    return POINT_COLOURS[order.index(name) % len(POINT_COLOURS)] if name in order else "#444444"


def _by_point(frame: pd.DataFrame, order: Sequence[str]) -> list[hv.Element]:
    """One colour per point; series from other sources (ITS_LIVE) in the point's colour with square dots."""
    layers: list[hv.Element] = []
    for (name, source), group in frame.groupby(["point", "source"], sort=False):
        external = not is_own(source)
        label = f"{name} · {source}" if external else str(name)
        layers.extend(
            _layers_of(
                group, _point_colour(str(name), order), label=label, marker="square" if external else "circle"
            )
        )
    return layers


def _truth_layers(truth: pd.DataFrame, points: Sequence[str]) -> list[hv.Element]:
    layers: list[hv.Element] = []
    frame = truth.assign(
        time=pd.to_datetime(truth["time"]), speed=truth["v"].astype(float), point=truth["point"].astype(str)
    )
    for i, (name, group) in enumerate(frame.groupby("point", sort=False)):
        colour = _point_colour(str(name), points)
        curve = hv.Curve(group.sort_values("time"), kdims=[_TIME], vdims=[_SPEED], label="true speed (demo)")
        layers.append(curve.opts(color=colour, line_dash="dashed", line_width=1.5, show_legend=i == 0))
    return layers


def _placeholder(message: str) -> hv.Overlay:
    text = hv.Text(0.5, 0.5, message).opts(text_color="#666666", text_font_size="12pt")
    frame = hv.Curve([], kdims=["x"], vdims=["y"]).opts(xlim=(0, 1), ylim=(0, 1))
    return hv.Overlay([frame, text]).opts(
        responsive=True, min_height=250, xaxis=None, yaxis=None, toolbar=None, show_legend=False
    )


def _fit_layers(fits: pd.DataFrame, order: Sequence[str]) -> list[hv.Element]:
    """The robust fit of each series (`tracking.trends.fit_series`) as a thin line in the point's colour."""
    from tracking.trends import fitted_curve

    layers: list[hv.Element] = []
    for i, fit in enumerate(fits.itertuples(index=False)):
        if not np.isfinite(fit.mean) or pd.isna(fit.t_start):
            continue
        times = pd.date_range(fit.t_start, fit.t_end, periods=200)
        curve = hv.Curve(
            (times, fitted_curve(fit._asdict(), times)), kdims=[_TIME], vdims=[_SPEED], label="robust fit"
        )
        layers.append(
            curve.opts(
                color=_point_colour(str(fit.point).split(" · ")[0], order),
                line_width=1.5,
                alpha=0.9,
                show_legend=i == 0,
            )
        )
    return layers


def _outlier_layer(outliers: pd.DataFrame) -> hv.Element:
    frame = outliers.assign(time=pd.to_datetime(outliers["mid_date"]), speed=outliers["v"].astype(float))
    return hv.Scatter(frame, kdims=[_TIME], vdims=[_SPEED], label="rejected").opts(
        color="#999999", marker="x", size=7, alpha=0.8
    )


def series_plot(
    series: pd.DataFrame,
    *,
    colour_by: str = "point",
    dt_range: tuple[float, float] = (1, 120),
    truth: pd.DataFrame | None = None,
    cmap_dt: str = "viridis",
    outliers: pd.Series | None = None,
    fits: pd.DataFrame | None = None,
) -> hv.Overlay:
    """Speed time series at sample points: a span bar per pair (t0 -> t1), a dot at the mid-date, error bars.

    Parameters
    ----------
    series : pandas.DataFrame
        Columns ``point``, ``t0``, ``t1``, ``mid_date``, ``dt_days``, ``v`` (m/yr), and optionally
        ``v_error`` (may be NaN), ``source``, ``label``. Rows with NaN ``v`` or ``dt_days`` outside
        ``dt_range`` are not drawn.
    colour_by : {"point", "dt"}
        ``"point"``: one `POINT_COLOURS` colour per point, with a legend; ``"dt"``: colour by ``dt_days`` on
        ``cmap_dt`` (colour bar "dt (days)", range ``dt_range``), short pairs drawn on top. Point colours
        follow the order of first appearance in ``series`` (the points' order, as in `sample_points`).
    dt_range : (float, float)
        Inclusive range of ``dt_days`` to show.
    truth : pandas.DataFrame, optional
        Columns ``point``, ``time``, ``v``: the demo's true speed, drawn as dashed curves.
    cmap_dt : str
        Colour map for ``colour_by="dt"``.
    outliers : pandas.Series of bool, optional
        Rows of ``series`` rejected by `tracking.trends.reject_outliers`: drawn as grey crosses, not as pairs.
    fits : pandas.DataFrame, optional
        `tracking.trends.fit_series` rows, drawn as thin lines in their point's colour (a ``point`` of
        ``"P1 · ITS_LIVE"`` takes P1's colour).

    Returns
    -------
    holoviews.Overlay
        x "date", y "speed (m/yr)" from 0; a text prompt when there is nothing to show.
    """
    if colour_by not in ("point", "dt"):
        raise ValueError(f"colour_by must be 'point' or 'dt', not {colour_by!r}")
    if _finite(series).empty:
        return _placeholder("Click the map to add points")
    rejected = series.iloc[0:0]
    if outliers is not None and outliers.any():
        rejected = _prepare(series[outliers.reindex(series.index, fill_value=False)], dt_range)
        series = series[~outliers.reindex(series.index, fill_value=False)]
    frame = _prepare(series, dt_range)
    if frame.empty:
        return _placeholder(f"No pairs with dt in {dt_range[0]:g}–{dt_range[1]:g} days: widen the dt range")
    order = list(dict.fromkeys(series["point"].astype(str)))  # first appearance: the points' order
    layers = _by_dt(frame, dt_range, cmap_dt) if colour_by == "dt" else _by_point(frame, order)
    if len(rejected):
        layers.append(_outlier_layer(rejected))
    if fits is not None and len(fits):
        layers.extend(_fit_layers(fits, order))
    if truth is not None and len(truth):
        layers = _truth_layers(truth, order) + layers
    return hv.Overlay(layers).opts(
        hv.opts.Overlay(legend_position="top_left", **_SERIES_OPTS),
        hv.opts.Segments(ylim=(0, None)),
    )
