"""Points and time series: speed at each point across all results, each pair a span from t0 to t1."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from panel import ui

from dashboard import plots
from dashboard.derived import demo_truth, point_series, series_analysis
from dashboard.views.base import StateView


class SeriesView(StateView):
    """The time-series plot with its dt filter and shown/total count, and the removable list of points."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        s = self.state
        self.dt_filter = ui.RangeSlider.from_param(
            s.param.series_dt, start=1, end=545, step=1, label="Pairs shown: dt (days)"
        )
        self.colour_by = ui.RadioButtonGroup.from_param(
            s.param.colour_by,
            options={"Point": "point", "dt": "dt"},
            label="Colour by",
        )
        self.count = pn.pane.Markdown("", name="series count")
        self.analyse = ui.Switch.from_param(s.param.analyse_series, label="Robust fit, outliers rejected")
        self.fit_table = pn.pane.Markdown("", name="series fit", styles={"font-size": "0.85em"})
        self.points = pn.widgets.Tabulator(
            self._points_frame(),
            show_index=False,
            height=180,
            sizing_mode="stretch_width",
            buttons={"remove": '<i class="fa fa-times" title="Remove this point"></i>'},
            disabled=True,
        )
        self.points.on_click(self._remove)
        self.clear = ui.Button(label="Clear points", variant="outlined", icon="delete")
        self.clear.on_click(lambda _e: setattr(self.state, "points", self.state.points.iloc[0:0]))
        s.param.watch(lambda _e: setattr(self.points, "value", self._points_frame()), "points")
        self.plot = pn.pane.HoloViews(
            self._plot, sizing_mode="stretch_width", height=380, name="series plot", linked_axes=False
        )

    def _points_frame(self) -> pd.DataFrame:
        points = self.state.points
        return pd.DataFrame(
            {"name": points["name"], "lat": points["lat"].round(4), "lon": points["lon"].round(4)}
        )

    def _remove(self, event) -> None:
        if event.column == "remove":
            name = self.points.value.iloc[event.row]["name"]
            self.state.remove_point(name)

    @param.depends(
        "state.results",
        "state.points",
        "state.layer",
        "state.series_dt",
        "state.colour_by",
        "state.external_series",
        "state.analyse_series",
    )
    def _plot(self):
        s = self.state
        series = point_series(s)
        shown, total = plots.series_counts(series, s.series_dt)
        self.count.object = (
            f"**{shown}** of {total} measurements shown (dt {s.series_dt[0]:.0f}-{s.series_dt[1]:.0f} d)"
        )
        truth = demo_truth(s)
        outliers, fits = series_analysis(s, series)
        self.fit_table.object = fit_table(fits, outliers)
        plot = plots.series_plot(
            series, colour_by=s.colour_by, dt_range=s.series_dt, truth=truth, outliers=outliers, fits=fits
        )
        shown_rows = series[series["dt_days"].between(*s.series_dt)] if len(series) else series
        top_shown = shown_rows["v"].quantile(0.99) if len(shown_rows) else 0.0  # robust to a few wild pairs
        speeds = [top_shown, 0.0 if truth is None else truth["v"].max()]
        top = np.nanmax(speeds) if np.isfinite(speeds).any() else 0.0
        if top > 0:  # room above the data for the legend
            plot = plot.opts(
                hv.opts.Overlay(legend_position="top_left"),
                hv.opts.Curve(ylim=(0, top * 1.4)),
                hv.opts.Scatter(ylim=(0, top * 1.4)),
            )
        return plot

    def controls(self) -> pn.viewable.Viewable:
        """The series controls."""
        return pn.Column(self.dt_filter, self.colour_by, self.count, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.dt_filter,
            pn.Row(self.colour_by, self.analyse, self.count),
            self.plot,
            self.fit_table,
            pn.pane.Markdown(
                "Bars span each pair's two dates; dots mark the mid-date. Click the speed map to add "
                "a point.",
                styles={"font-size": "0.85em"},
            ),
            pn.Row(self.points, self.clear, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )


def fit_table(fits: pd.DataFrame | None, outliers: pd.Series | None) -> str:
    """The robust fits as a Markdown table: mean, trend, seasonal amplitude and peak per series.

    Examples
    --------
    >>> fits = pd.DataFrame({"point": ["P1"], "n": [40], "n_outliers": [2], "mean": [4500.0], "mean_se": [12.0],
    ...                      "trend": [-150.0], "trend_se": [8.0], "seasonal_amplitude": [300.0],
    ...                      "seasonal_peak": [200.0]})
    >>> print(fit_table(fits, None))
    | series | pairs (rejected) | mean (m/yr) | trend (m/yr per yr) | seasonal amplitude (m/yr), peak |
    |---|---|---|---|---|
    | P1 | 40 (2) | 4,500 ± 12 | -150 ± 8 | 300, day 200 |
    """
    if fits is None or fits.empty:
        return ""
    rows = [
        "| series | pairs (rejected) | mean (m/yr) | trend (m/yr per yr) | seasonal amplitude (m/yr), peak |",
        "|---|---|---|---|---|",
    ]
    for fit in fits.itertuples(index=False):
        if not np.isfinite(fit.mean):
            rows.append(f"| {fit.point} | {fit.n} ({fit.n_outliers}) | too few pairs | | |")
            continue
        seasonal = (
            f"{fit.seasonal_amplitude:,.0f}, day {fit.seasonal_peak:.0f}"
            if np.isfinite(fit.seasonal_amplitude)
            else "– (under a year)"
        )
        rows.append(
            f"| {fit.point} | {fit.n} ({fit.n_outliers}) | {fit.mean:,.0f} ± {fit.mean_se:,.0f} | "
            f"{fit.trend:,.0f} ± {fit.trend_se:,.0f} | {seasonal} |"
        )
    return "\n".join(rows)
