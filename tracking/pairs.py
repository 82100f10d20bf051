"""Candidate pairs: every (earlier, later) combination of a scene table within a range of time spans.

`candidate_pairs` turns a scene catalog (`tracking.sources.demo.catalog`, `tracking.sources.local.scene_table`)
into a table of pairs to choose from; `pair_label` names one for a menu.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from tracking.exceptions import ParameterError

__all__ = ["PAIR_COLUMNS", "candidate_pairs", "pair_label"]

#: Columns of a pair table, in order.
PAIR_COLUMNS = (
    "reference",
    "secondary",
    "t0",
    "t1",
    "dt_days",
    "mid_date",
    "sensors",
    "path_row",
    "cloud_cover",
)
_NEEDED = ("scene_id", "time", "sensor", "path", "row", "cloud_cover")
_DAY_NS = 86_400 * 10**9


def candidate_pairs(
    scenes: pd.DataFrame,
    *,
    min_dt_days: float = 1,
    max_dt_days: float = 120,
    same_path: bool = False,
) -> pd.DataFrame:
    """Every pair (earlier scene, later scene) of a scene table whose time span lies in a range.

    Parameters
    ----------
    scenes : pandas.DataFrame
        One row per scene with at least the columns ``scene_id``, ``time``, ``sensor``, ``path``, ``row`` and
        ``cloud_cover`` (a GeoDataFrame is fine).
    min_dt_days, max_dt_days : float
        Bounds of the time span, days, both inclusive; ``0 <= min_dt_days <= max_dt_days``. Two scenes taken
        at the same time never form a pair.
    same_path : bool
        Only pair scenes with the same ``path`` value (WRS-2 path for Landsat: the same viewing geometry).

    Returns
    -------
    pandas.DataFrame
        Columns `PAIR_COLUMNS`: ``reference`` and ``secondary`` (scene ids), ``t0``, ``t1``, ``dt_days``
        (float), ``mid_date``, ``sensors`` (one sensor name, or ``"<reference's> / <secondary's>"`` when they
        differ), ``path_row`` (``"009/011"``, or ``"008/011 · 009/011"`` when they differ; ``"–"`` for a scene
        whose path is unknown, i.e. negative or missing) and ``cloud_cover`` (the larger of the two, ignoring
        NaN). Sorted by ``t0``, then ``dt_days``.

    Raises
    ------
    ParameterError
        A negative bound, ``min_dt_days > max_dt_days``, or a missing column.

    Examples
    --------
    >>> scenes = pd.DataFrame({"scene_id": ["a", "b", "c"], "time": pd.to_datetime(["2021-05-01", "2021-05-17",
    ...     "2021-06-02"]), "sensor": "Landsat 8 OLI", "path": 9, "row": 11, "cloud_cover": [0.0, 10.0, 5.0]})
    >>> candidate_pairs(scenes, max_dt_days=16)[["reference", "secondary", "dt_days", "cloud_cover"]]
      reference secondary  dt_days  cloud_cover
    0         a         b     16.0         10.0
    1         b         c     16.0         10.0
    """
    min_dt, max_dt = float(min_dt_days), float(max_dt_days)
    if not (min_dt >= 0 and max_dt >= 0):
        raise ParameterError(
            f"the time-span bounds must be 0 or more days, got {min_dt_days} and {max_dt_days}."
        )
    if min_dt > max_dt:
        raise ParameterError(
            f"min_dt_days ({min_dt_days}) is larger than max_dt_days ({max_dt_days}): swap them."
        )
    missing = [c for c in _NEEDED if c not in scenes.columns]
    if missing:
        raise ParameterError(
            f"the scene table lacks the column(s) {', '.join(missing)}: it needs {', '.join(_NEEDED)} "
            "(as tracking.sources.demo.catalog() has)."
        )
    table = pd.DataFrame(scenes[list(_NEEDED)]).reset_index(drop=True)
    times = pd.to_datetime(table["time"])
    order = np.argsort(times.to_numpy(), kind="stable")
    table, times = table.iloc[order].reset_index(drop=True), times.iloc[order].reset_index(drop=True)
    stamps = _nanoseconds(times)
    i, j = _index_pairs(stamps, min_dt, max_dt)
    if same_path:
        paths = table["path"].to_numpy()
        keep = paths[i] == paths[j]
        i, j = i[keep], j[keep]
    dt_days = (stamps[j] - stamps[i]) / _DAY_NS
    key = np.lexsort((dt_days, stamps[i]))
    i, j, dt_days = i[key], j[key], dt_days[key]

    t0 = times.iloc[i].reset_index(drop=True)
    t1 = times.iloc[j].reset_index(drop=True)
    sensor = table["sensor"].astype(str).to_numpy(dtype=object)
    path_row = np.array(
        [_path_row_text(p, r) for p, r in zip(table["path"], table["row"], strict=True)], dtype=object
    )
    cloud = pd.to_numeric(table["cloud_cover"], errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        cover = np.fmax(cloud[i], cloud[j])
    ids = table["scene_id"].astype(str).to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "reference": ids[i],
            "secondary": ids[j],
            "t0": t0,
            "t1": t1,
            "dt_days": dt_days.astype(np.float64),
            "mid_date": t0 + (t1 - t0) / 2,
            "sensors": _joined(sensor[i], sensor[j], " / "),
            "path_row": _joined(path_row[i], path_row[j], " · "),
            "cloud_cover": cover,
        },
        columns=list(PAIR_COLUMNS),
    )


def _nanoseconds(times: pd.Series) -> np.ndarray:
    """Times as int64 nanoseconds since the epoch (UTC for timezone-aware times)."""
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _index_pairs(stamps: np.ndarray, min_dt: float, max_dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (i, j) into sorted ``stamps`` with min_dt <= t_j - t_i <= max_dt days and t_j > t_i."""
    if stamps.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    span = int(stamps[-1] - stamps[0]) + 1  # bounds beyond the table's span act as the span: no overflow
    lo_ns = np.int64(min(round(min_dt * _DAY_NS), span))
    hi_ns = np.int64(min(round(max_dt * _DAY_NS), span))
    first = np.searchsorted(stamps, stamps + lo_ns, side="left")
    later = np.searchsorted(stamps, stamps, side="right")  # strictly later scenes only
    first = np.maximum(first, later)
    stop = np.searchsorted(stamps, stamps + hi_ns, side="right")
    counts = np.maximum(stop - first, 0)
    i = np.repeat(np.arange(stamps.size), counts)
    starts = np.cumsum(counts) - counts
    j = first[i] + (np.arange(i.size) - starts[i])
    return i, j


def _path_row_text(path: Any, row: Any) -> str:
    try:
        p, r = int(path), int(row)
    except (TypeError, ValueError):
        return "–"
    return "–" if p < 0 else f"{p:03d}/{max(r, 0):03d}"


def _joined(first: np.ndarray, second: np.ndarray, separator: str) -> np.ndarray:
    """``first`` where it equals ``second``, else ``first + separator + second``."""
    same = first == second
    out = first.copy()
    if (~same).any():
        out[~same] = first[~same] + separator + second[~same]
    return out


def pair_label(row: Mapping[str, Any] | pd.Series) -> str:
    """A short name for a pair: its dates and its time span.

    Parameters
    ----------
    row : mapping or pandas.Series
        A row of `candidate_pairs` (``t0``, ``t1``; ``dt_days`` is used when present).

    Returns
    -------
    str

    Examples
    --------
    >>> pair_label({"t0": pd.Timestamp("2021-05-16"), "t1": pd.Timestamp("2021-06-01"), "dt_days": 16.0})
    '2021-05-16 → 2021-06-01 (16 d)'
    """
    t0, t1 = pd.Timestamp(row["t0"]), pd.Timestamp(row["t1"])
    dt = float(row["dt_days"]) if "dt_days" in row else (t1 - t0) / pd.Timedelta(days=1)
    span = f"{dt:.0f}" if dt >= 1 else f"{dt:.1f}"
    return f"{t0:%Y-%m-%d} → {t1:%Y-%m-%d} ({span} d)"
