"""Tables derived from a session's selections and results, for display: the speed series at the points (ours and
external), their robust fits and the demo's truth; the estimate of a run; file names.

Each function reads an `AppState` and sets nothing, so the views call them when they redraw and the tests call
them without widgets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from pyproj import Transformer

from dashboard.state import AppState
from tracking.estimate import chip_count, estimated_seconds, format_duration, max_detectable_speed
from tracking.schema import empty_series
from tracking.sources import demo
from tracking.timeseries import is_own, sample_fields

__all__ = ["demo_truth", "estimate", "file_stem", "point_series", "series_analysis"]


def point_series(state: AppState) -> pd.DataFrame:
    """Speed at every point in every result, then the external series (ITS_LIVE): one table, see
    `tracking.timeseries`; the points' order first (it sets their colours), then the mid-dates."""
    frames = []
    if len(state.points) and state.results:
        frames.append(sample_fields(list(state.results.values()), state.points, layer=state.layer))
    if state.external_series is not None and len(state.external_series):
        frames.append(state.external_series)
    if not frames:
        return empty_series()
    series = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    names = list(state.points["name"]) + [
        n for n in pd.unique(series["point"]) if n not in set(state.points["name"])
    ]
    order = {name: i for i, name in enumerate(names)}  # the points' order sets their colours
    rank = series["point"].map(order)
    return series.assign(_rank=rank).sort_values(["_rank", "mid_date"], kind="stable").drop(columns="_rank")


def series_analysis(state: AppState, series: pd.DataFrame) -> tuple[pd.Series | None, pd.DataFrame | None]:
    """Outliers and robust fits (`tracking.trends`) of the series rows shown (dt in ``state.series_dt``).

    Each point's own results and each external source (ITS_LIVE) are analysed apart: their fits are named
    ``"P1"`` and ``"P1 · ITS_LIVE"``.

    Returns
    -------
    (pandas.Series of bool, pandas.DataFrame) or (None, None)
        The outlier flags (indexed like ``series``) and one fit row per series; None when switched off
        (``state.analyse_series``) or when nothing is shown.
    """
    from tracking.trends import fit_series, reject_outliers

    if not state.analyse_series or series.empty:
        return None, None
    shown = series[series["dt_days"].between(*state.series_dt) & np.isfinite(series["v"].astype(float))]
    if shown.empty:
        return None, None
    external = ~shown["source"].map(is_own).astype(bool)
    named = shown.assign(
        point=np.where(
            external,
            shown["point"].astype(str) + " · " + shown["source"].astype(str),
            shown["point"].astype(str),
        )
    )
    outliers = reject_outliers(named)
    return outliers, fit_series(named, outliers=outliers)


def demo_truth(state: AppState) -> pd.DataFrame | None:
    """For the demo: the true speed at each point, sampled every 4 days over the results' span (8 days more each
    side); None for other sources, or without points or results."""
    if not state.source_obj.has_truth or not len(state.points) or not state.results:
        return None
    fields = list(state.results.values())
    t_min = min(pd.Timestamp(f.attrs["acquisition_date_img1"]) for f in fields) - pd.Timedelta(days=8)
    t_max = max(pd.Timestamp(f.attrs["acquisition_date_img2"]) for f in fields) + pd.Timedelta(days=8)
    times = pd.date_range(t_min, t_max, freq="4D")
    to_xy = Transformer.from_crs("EPSG:4326", demo.DEMO_CRS, always_xy=True)
    frames = []
    for p in state.points.itertuples():
        x, y = to_xy.transform(p.lon, p.lat)
        speeds = [np.hypot(*demo.true_velocity(t, t + pd.Timedelta(days=1), x, y)) for t in times]
        frames.append(
            pd.DataFrame(
                {
                    "point": p.name,
                    "time": times + pd.Timedelta(hours=12),
                    "v": np.asarray(speeds, dtype=float).ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def estimate(state: AppState) -> dict[str, Any]:
    """Live parameter physics for the chosen pairs: chips, run time and the largest detectable speed.

    Returns
    -------
    dict
        ``chips`` per pair, ``pairs``, ``seconds`` and ``duration`` (text) of the run, ``max_speed`` (m/yr) at
        the shortest ``dt_days`` chosen (16 without pairs).
    """
    pairs = state.pairs_to_run()
    n_pairs = max(1, len(pairs))
    chips = chip_count(state.aoi_shape(), state.params)
    seconds = estimated_seconds(chips, state.params) * n_pairs
    dt_days = float(pairs["dt_days"].min()) if len(pairs) else 16.0
    fastest = max_detectable_speed(state.params.search_range, state.pixel_size(), dt_days)
    return {
        "chips": chips,
        "pairs": len(pairs),
        "seconds": seconds,
        "duration": format_duration(seconds),
        "max_speed": fastest,
        "dt_days": dt_days,
    }


def file_stem(state: AppState, field: xr.Dataset) -> str:
    """A file name stem carrying the place and the two dates: ``jakobshavn-demo_20210516_20210601``."""
    place = "".join(c if c.isalnum() else "-" for c in state.place().lower()).strip("-")
    d0 = pd.Timestamp(field.attrs["acquisition_date_img1"]).strftime("%Y%m%d")
    d1 = pd.Timestamp(field.attrs["acquisition_date_img2"]).strftime("%Y%m%d")
    return f"{place}_{d0}_{d1}"
