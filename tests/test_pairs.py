"""Tests of tracking.pairs: candidate pairs of a scene table."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from tracking.exceptions import ParameterError
from tracking.pairs import PAIR_COLUMNS, candidate_pairs, pair_label
from tracking.sources import demo


def table() -> pd.DataFrame:
    """Five scenes: days 0, 7, 16, 23, 32 (alternating paths 8 and 9), one Landsat 9."""
    return pd.DataFrame(
        {
            "scene_id": ["s4", "s0", "s1", "s2", "s3"],  # not in time order on purpose
            "time": pd.to_datetime(["2021-06-02", "2021-05-01", "2021-05-08", "2021-05-17", "2021-05-24"]),
            "sensor": ["Landsat 8 OLI", "Landsat 8 OLI", "Landsat 9 OLI-2", "Landsat 8 OLI", "Landsat 8 OLI"],
            "path": [8, 8, 9, 8, 9],
            "row": 11,
            "cloud_cover": [5.0, 0.0, 40.0, np.nan, 10.0],
        }
    )


def test_counts_columns_and_order():
    pairs = candidate_pairs(table(), min_dt_days=1, max_dt_days=120)
    assert list(pairs.columns) == list(PAIR_COLUMNS)
    assert len(pairs) == 10  # every ordered pair of 5 scenes
    assert (pairs.t1 > pairs.t0).all()
    assert list(zip(pairs.t0, pairs.dt_days, strict=True)) == sorted(
        zip(pairs.t0, pairs.dt_days, strict=True)
    )
    first = pairs.iloc[0]
    assert (first.reference, first.secondary, first.dt_days) == ("s0", "s1", 7.0)
    assert first.sensors == "Landsat 8 OLI / Landsat 9 OLI-2"
    assert first.path_row == "008/011 · 009/011"
    assert first.cloud_cover == 40.0
    assert first.mid_date == pd.Timestamp("2021-05-04T12:00")
    same = pairs[(pairs.reference == "s0") & (pairs.secondary == "s2")].iloc[0]
    assert same.sensors == "Landsat 8 OLI" and same.path_row == "008/011"
    assert same.cloud_cover == 0.0  # NaN is ignored in the maximum


def test_dt_bounds_are_inclusive():
    pairs = candidate_pairs(table(), min_dt_days=7, max_dt_days=16)
    spans = sorted(pairs.dt_days)
    assert spans == [7.0, 7.0, 9.0, 9.0, 16.0, 16.0, 16.0]  # days 0, 7, 16, 23, 32
    assert len(candidate_pairs(table(), min_dt_days=32, max_dt_days=32)) == 1
    assert candidate_pairs(table(), min_dt_days=40, max_dt_days=50).empty


def test_same_path_and_same_time():
    pairs = candidate_pairs(table(), same_path=True)
    assert set(zip(pairs.reference, pairs.secondary, strict=True)) == {
        ("s0", "s2"),
        ("s0", "s4"),
        ("s2", "s4"),
        ("s1", "s3"),
    }
    scenes = table()
    scenes.loc[0, "time"] = scenes.loc[1, "time"]  # two scenes at the same instant never pair
    pairs = candidate_pairs(scenes, min_dt_days=0)
    assert (pairs.dt_days > 0).all() and len(pairs) == 9


def test_bad_arguments():
    with pytest.raises(ParameterError, match="swap"):
        candidate_pairs(table(), min_dt_days=20, max_dt_days=10)
    with pytest.raises(ParameterError, match="0 or more"):
        candidate_pairs(table(), min_dt_days=-1)
    with pytest.raises(ParameterError, match="cloud_cover"):
        candidate_pairs(table().drop(columns="cloud_cover"))


def test_empty_table():
    pairs = candidate_pairs(table().iloc[:0])
    assert pairs.empty and list(pairs.columns) == list(PAIR_COLUMNS)


def test_demo_catalog_is_fast():
    catalog = demo.catalog()
    scenes = pd.concat([catalog, catalog.assign(time=catalog.time + pd.Timedelta(hours=3))])
    scenes = scenes.iloc[:400]
    start = time.perf_counter()
    pairs = candidate_pairs(scenes, min_dt_days=0, max_dt_days=100_000)
    elapsed = time.perf_counter() - start
    assert len(pairs) == 400 * 399 // 2
    assert elapsed < 1.0
    assert set(pairs.sensors) <= {
        "Landsat 8 OLI",
        "Landsat 9 OLI-2",
        "Landsat 8 OLI / Landsat 9 OLI-2",
        "Landsat 9 OLI-2 / Landsat 8 OLI",
    }


def test_pair_label():
    row = {"t0": pd.Timestamp("2021-05-16T14:50"), "t1": pd.Timestamp("2021-06-01T14:49"), "dt_days": 15.9993}
    assert pair_label(row) == "2021-05-16 → 2021-06-01 (16 d)"
    pairs = candidate_pairs(table())
    assert pair_label(pairs.iloc[0]) == "2021-05-01 → 2021-05-08 (7 d)"
    assert pair_label({"t0": pd.Timestamp("2021-05-01"), "t1": pd.Timestamp("2021-05-01T12:00")}) == (
        "2021-05-01 → 2021-05-01 (0.5 d)"
    )
