"""The link that restores the view (``dashboard.urls``), browserless."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from dashboard.state import AppState
from dashboard.urls import from_query, to_query
from tracking.exceptions import ParameterError
from tracking.store import ResultStore


@pytest.fixture
def state() -> AppState:
    """A session on the demo, a 10 km area on the trunk, May-June 2021."""
    return AppState(store=ResultStore(), aoi_km=10.0, start=dt.date(2021, 5, 1), end=dt.date(2021, 6, 30))


def _first_16_day_pair(state: AppState) -> None:
    state.search()
    rows = np.flatnonzero(state.pairs["dt_days"].round() == 16)
    state.selected = [int(rows[0])]


def test_link_restores_place_pair_parameters_and_points(state):
    _first_16_day_pair(state)
    state.params.step = 24
    state.params.prefilter = "gaussian_highpass"
    state.add_point(-49.2, 69.13, "front")
    query = to_query(state)
    assert query["p.step"] == "24" and "points" in query and "~" in query["pair"]

    restored = AppState(store=ResultStore())
    from_query(restored, query)
    assert (restored.lon, restored.lat, restored.aoi_km) == (state.lon, state.lat, state.aoi_km)
    assert restored.params.step == 24 and restored.params.prefilter == "gaussian_highpass"
    assert restored.params.prefilter_size == state.params.prefilter_size
    assert list(restored.points["name"]) == ["front"]
    row_a, row_b = restored.pairs_to_run().iloc[0], state.pairs_to_run().iloc[0]
    assert (row_a["reference"], row_a["secondary"]) == (row_b["reference"], row_b["secondary"])


def test_a_bad_link_says_so(state):
    with pytest.raises(ParameterError, match="link"):
        from_query(state, {"lon": "east"})
