"""Browserless tests of the dashboard's session state and job runner (no widgets, no browser)."""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from dashboard.derived import demo_truth, estimate, file_stem, point_series
from dashboard.jobs import run_pairs
from dashboard.state import DEFAULT_LAT, DEFAULT_LON, AppState
from tracking.exceptions import ParameterError
from tracking.sources import demo
from tracking.store import ResultStore


def _run(coroutine):
    """Run a coroutine to completion on a fresh event loop in its own thread (a loop may already run here)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def state() -> AppState:
    """A session on the demo, a 10 km area on the trunk, May-June 2021."""
    return AppState(store=ResultStore(), aoi_km=10.0, start=dt.date(2021, 5, 1), end=dt.date(2021, 6, 30))


def test_default_marker_is_on_the_demo_trunk():
    state = AppState()
    x, y = state.aoi_bounds()[0] + 15_000, state.aoi_bounds()[1] + 15_000
    vx, vy = demo.true_velocity("2021-05-01", "2021-05-17", x, y)
    assert np.hypot(vx, vy) > 3000  # m/yr: the fast trunk, not rock
    assert (state.lon, state.lat) == (DEFAULT_LON, DEFAULT_LAT)


def test_search_finds_dated_cloud_limited_scenes_under_the_marker(state):
    found = state.search()
    assert len(found) >= 4
    times = pd.to_datetime(found["time"]).dt.tz_localize(None)
    assert times.min() >= pd.Timestamp("2021-05-01") and times.max() < pd.Timestamp("2021-07-01")
    assert (found["cloud_cover"] <= state.max_cloud).all()
    assert times.is_monotonic_increasing
    assert len(state.pairs) > 0 and len(state.selected) == 1
    chosen = state.pairs_to_run().iloc[0]
    assert "·" not in chosen["path_row"] and chosen["dt_days"] <= 32  # same path, short dt
    assert found.set_index("scene_id").loc[[chosen["reference"], chosen["secondary"]], "aoi_cover"].min() > 99
    assert found["aoi_cover"].between(0, 100).all() and found["aoi_cover"].max() > 99
    assert state.log[-1].split("  ", 1)[1].startswith(f"Search: {len(found)} scenes")


def test_search_with_reversed_dates_says_what_to_do(state):
    state.param.update(start=dt.date(2021, 7, 1), end=dt.date(2021, 5, 1))
    with pytest.raises(ParameterError, match="swap"):
        state.search()


def test_marker_outside_the_demo_finds_nothing(state):
    state.move_marker(10.0, 45.0)
    assert state.search().empty
    assert state.pairs.empty and state.selected == []


def test_dt_window_bounds_the_pairs(state):
    state.search()
    state.dt_window = (10.0, 20.0)
    assert len(state.pairs) and state.pairs["dt_days"].between(10, 20).all()
    state.pair_mode = "many"
    assert len(state.pairs_to_run()) == len(state.pairs)
    state.pair_mode = "one"
    state.selected = [len(state.pairs) - 1]
    assert state.pairs_to_run().iloc[0]["reference"] == state.pairs.iloc[-1]["reference"]


def test_presets_set_parameters_and_a_manual_change_makes_it_custom(state):
    state.preset = "quick look"
    assert (state.params.step, state.params.subpixel) == (32, "parabolic")
    state.preset = "fine"
    assert state.params.step == 8
    state.params.search_range = 30  # not part of a preset
    assert state.preset == "fine"
    state.params.step = 12
    assert state.preset == "custom"


def test_estimate_follows_the_parameters(state):
    state.search()
    before = estimate(state)
    state.params.step = 8
    after = estimate(state)
    assert after["chips"] > 3 * before["chips"]
    assert after["seconds"] > before["seconds"]
    side = round(10_000 / 30)
    assert before["chips"] == ((side - 32) // 16 + 1) ** 2
    dt_days = float(state.pairs_to_run()["dt_days"].iloc[0])
    assert before["max_speed"] == pytest.approx(20 * 30 / dt_days * 365.25)


def _first_16_day_pair(state: AppState) -> None:
    state.search()
    rows = np.flatnonzero(state.pairs["dt_days"].round() == 16)
    state.selected = [int(rows[0])]


def test_run_tracks_the_pair_close_to_the_true_motion_and_reuses_it(state):
    _first_16_day_pair(state)
    state.params.search_range = 30
    messages = []
    assert _run(run_pairs(state, lambda level, text: messages.append((level, text)))) == 1
    assert messages[-1][0] == "success"
    field = state.current_field()
    assert field is not None and field.rio.crs.to_epsg() == 32622
    xx, yy = np.meshgrid(field.x.values, field.y.values)
    t0, t1 = field.attrs["acquisition_date_img1"], field.attrs["acquisition_date_img2"]
    vx, vy = demo.true_velocity(t0, t1, xx, yy)
    fast = field["valid"].values & (np.hypot(vx, vy) > 2000)
    assert fast.sum() > 20
    error = np.abs(field["v"].values[fast] - np.hypot(vx, vy)[fast]) / np.hypot(vx, vy)[fast]
    assert np.median(error) < 0.05  # fast ice incl. shear margins; trunk-centre figures: bench_demo.py
    assert state.pairs_to_run()["tracked"].all()
    assert state.overall_progress == 100.0 and not state.running

    # the same pair again comes from the store
    state.results = {}
    _run(run_pairs(state))
    assert "taken from the result store" in state.log[-2]
    assert len(state.results) == 1


def test_cancel_stops_a_long_run_and_the_state_recovers(state):
    state.param.update(aoi_km=60.0)
    _first_16_day_pair(state)
    state.params.step = 4

    async def run_and_cancel():
        task = asyncio.create_task(run_pairs(state))
        while state.pair_progress == 0.0 and not task.done():
            await asyncio.sleep(0.05)
        state.cancel_event.set()
        return await task

    assert _run(run_and_cancel()) == 0
    assert state.status.startswith("Cancelled") and not state.running and not state.results


def test_errors_are_reported_not_raised(state):
    _first_16_day_pair(state)
    state.params.chip_size = 256
    state.params.search_range = 200
    messages = []
    _run(run_pairs(state, lambda level, text: messages.append((level, text))))
    assert messages and messages[-1][0] == "error" and "search_range" in messages[-1][1]
    assert not state.running and state.status.startswith("Stopped")


def test_points_series_and_truth(state):
    _first_16_day_pair(state)
    _run(run_pairs(state))
    name = state.add_point(state.lon, state.lat)
    assert name == "P1" and state.add_point(state.lon + 0.01, state.lat) == "P2"
    with pytest.raises(ParameterError, match="exists"):
        state.add_point(0, 0, "P1")
    state.layer = "filled"  # valid and interpolated: a value at both points
    series = point_series(state)
    assert len(series) == 2 and np.isfinite(series["v"]).all()
    truth = demo_truth(state)
    assert set(truth["point"]) == {"P1", "P2"}
    p1 = series[series["point"] == "P1"].iloc[0]
    near = truth[(truth["point"] == "P1") & (truth["time"].between(p1["t0"], p1["t1"]))]
    assert abs(p1["v"] - near["v"].mean()) / near["v"].mean() < 0.1
    state.remove_point("P1")
    assert list(state.points["name"]) == ["P2"]


def test_file_names_carry_place_and_dates(state):
    _first_16_day_pair(state)
    _run(run_pairs(state))
    stem = file_stem(state, state.current_field())
    row = state.pairs_to_run().iloc[0]
    assert stem == f"jakobshavn-demo_{row['t0']:%Y%m%d}_{row['t1']:%Y%m%d}"


def test_run_goes_to_the_configured_dask_scheduler(state, monkeypatch):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        monkeypatch.setenv("ICETRACK_SCHEDULER", cluster.scheduler_address)
        state.search()
        assert _run(run_pairs(state)) == 1
        field = state.current_field()
        assert "stable_spread_x" in field.attrs  # assessed on the worker
        ran = {
            str(entry[0]).split("-")[0] for entry in cluster.scheduler.transition_log
        }  # what the scheduler ran
        assert {"track", "assess"} <= ran
        assert state.status.startswith("Done: 1 pair")


def test_tracking_leaves_a_core_to_the_event_loop(monkeypatch):
    from dashboard import jobs

    monkeypatch.delenv("ICETRACK_TRACK_THREADS", raising=False)
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: 8)
    assert jobs.tracking_threads() == 7
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: 1)
    assert jobs.tracking_threads() == 1
    monkeypatch.setenv("ICETRACK_TRACK_THREADS", "3")
    assert jobs.tracking_threads() == 3
    monkeypatch.setenv("ICETRACK_TRACK_THREADS", "all")  # not a number: the default
    assert jobs.tracking_threads() == 1


def test_lowering_the_workers_priority_leaves_the_calling_thread_alone(monkeypatch):
    from dashboard import jobs

    lowered = []
    monkeypatch.setattr(jobs.os, "setpriority", lambda which, tid, nice: lowered.append(tid), raising=False)
    jobs.lower_priority([])  # no other thread: nothing, not the caller
    assert lowered == []
    jobs.lower_priority()
    assert lowered == [jobs.threading.get_native_id()]
