"""The whole remote workflow, browserless: a dashboard session on Landsat STAC scenes and ITS_LIVE velocities
served by a local HTTP server from the demo glacier (tests/remote_world.py), checked against the known motion."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import remote_world
from fake_remote import FakeRemote
from remote_world import TRUNK

from dashboard import scenes as scenes_module
from dashboard import state as state_module
from dashboard.derived import point_series, series_analysis
from dashboard.jobs import run_pairs
from dashboard.loaders import find_cube_series, find_granules, granule_key, load_granule, set_granules
from dashboard.state import AppState
from tracking.compare import difference, onto_grid
from tracking.exceptions import NoNetworkError
from tracking.sources import demo
from tracking.store import ResultStore

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
JAKOBSHAVN_CSV = FIXTURES / "itslive" / "timeseries_LAT69.1117--LON-49.4604.csv"


def _run(coroutine):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with FakeRemote(tmp_path_factory.mktemp("remote")) as remote:
        yield remote_world.build(remote)


def _forget_loaded_scenes() -> None:
    """Wait for background loads, then empty the process's crop memory (each test has its own disk cache)."""
    for future in list(scenes_module._scene_loading.values()):
        future.exception()
    scenes_module._scene_loading.clear()
    scenes_module._scene_cache.clear()
    scenes_module.remote_cache.cache_clear()


@pytest.fixture
def session(world, monkeypatch, tmp_path):
    _forget_loaded_scenes()
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "cache"))
    for key, url in world.endpoints().items():
        monkeypatch.setitem(scenes_module.ENDPOINTS, key, url)
    state = AppState(
        store=ResultStore(),
        source="landsat",
        aoi_km=16.0,
        start=dt.date(2021, 5, 1),
        end=dt.date(2021, 7, 31),
    )
    yield state
    _forget_loaded_scenes()


def test_the_marker_starts_where_the_remote_world_is():
    assert (state_module.DEFAULT_LON, state_module.DEFAULT_LAT) == TRUNK


def test_landsat_search_lists_the_served_scenes_in_the_marker_utm_zone(session, world):
    found = session.search()
    assert list(found["scene_id"]) == world.scene_ids
    assert session.crs == "EPSG:32622" and session.band_name == "red" and session.pixel_size() == 30.0
    assert (found["aoi_cover"] == 100.0).all()
    assert len(session.pairs) >= 3


def test_a_remote_pair_tracks_to_the_known_motion_and_loads_from_cache_the_second_time(session, world):
    session.search()
    sixteen = session.pairs.index[session.pairs["dt_days"].round() == 16]
    session.selected = [int(sixteen[0])]
    assert _run(run_pairs(session)) == 1
    field = session.current_field()
    x, y = np.meshgrid(field["x"].values, field["y"].values)
    t0, t1 = field.attrs["acquisition_date_img1"], field.attrs["acquisition_date_img2"]
    tvx, tvy = demo.true_velocity(t0, t1, x, y)
    valid = field["valid"].values & (np.hypot(tvx, tvy) > 1000)
    error = np.hypot(field["vx"].values - tvx, field["vy"].values - tvy)[valid]
    assert valid.sum() > 20
    assert np.median(error) < 0.05 * np.median(np.hypot(tvx, tvy)[valid])  # within 5% on the fast ice
    requests = len(world.remote.requests("/files/world/landsat"))
    scenes_module._scene_cache.clear()  # forget the crops in memory: the disk cache must answer
    session.load_pair(session.pairs_to_run().iloc[0])
    assert len(world.remote.requests("/files/world/landsat")) == requests


def test_itslive_granules_become_results_that_match_the_truth_on_our_grid(session, world):
    session.start, session.end = dt.date(2015, 1, 1), dt.date(2019, 12, 31)
    granules = find_granules(session)
    set_granules(session, granules)
    assert list(granules["granule_id"]) == world.granule_ids
    row = granules.iloc[1]  # May 2018
    field = load_granule(session, row)
    session.add_result(granule_key(session, row["granule_id"]), field)
    assert session.current_field().attrs["source"] == "ITS_LIVE"
    # resampled onto a UTM grid, the polar-stereographic ITS_LIVE vectors are the demo's true velocity
    ours = session.aoi_bounds()
    xs = np.arange(ours[0] + 500, ours[2], 480.0)
    ys = np.arange(ours[3] - 500, ours[1], -480.0)
    from tracking.testing import uniform_field

    grid = uniform_field(
        crs=session.crs, origin=(xs[0] - 240, ys[0] + 240), spacing=480.0, shape=(len(ys), len(xs))
    )
    moved = onto_grid(field, grid)
    x, y = np.meshgrid(moved["x"].values, moved["y"].values)
    tvx, tvy = demo.true_velocity(row["t0"], row["t1"], x, y)
    fast = np.hypot(tvx, tvy) > 1000
    error = np.hypot(moved["vx"].values - tvx, moved["vy"].values - tvy)[
        fast & np.isfinite(moved["vx"].values)
    ]
    assert error.size > 50
    assert np.median(error) < 0.03 * np.median(np.hypot(tvx, tvy)[fast])  # bilinear sampling of a 120 m grid


def test_difference_map_of_ours_against_itslive_shows_the_speed_up_since_2018(session, world):
    session.search()
    session.selected = [int(session.pairs.index[session.pairs["dt_days"].round() == 16][0])]
    _run(run_pairs(session))
    ours = session.current_field()
    session.start, session.end = dt.date(2018, 1, 1), dt.date(2018, 12, 31)
    granule = find_granules(session).iloc[0]
    theirs = load_granule(session, granule)
    diff = difference(ours, theirs)
    x, y = np.meshgrid(diff["x"].values, diff["y"].values)
    expected = np.hypot(
        *demo.true_velocity(ours.attrs["acquisition_date_img1"], ours.attrs["acquisition_date_img2"], x, y)
    ) - np.hypot(*demo.true_velocity(granule["t0"], granule["t1"], x, y))
    both = np.isfinite(diff["dv"].values) & (diff["v_a"].values > 1000)
    assert both.sum() > 20
    assert np.median(diff["dv"].values[both]) == pytest.approx(np.median(expected[both]), abs=150.0)


def test_datacube_and_csv_series_join_our_own_in_one_table(session, world):
    session.add_point(*TRUNK, name="trunk")
    cube = find_cube_series(session)
    session.add_series(cube)
    series = point_series(session)
    assert set(series["source"]) == {"ITS_LIVE"}
    assert (series["point"] == "trunk").all() and len(series) == 40
    assert series["mid_date"].is_monotonic_increasing
    session.add_series(cube)  # loading it again keeps one copy
    assert len(point_series(session)) == 40
    session.series_dt = (1.0, 120.0)
    outliers, fits = series_analysis(session, point_series(session))
    assert list(fits["point"]) == ["trunk · ITS_LIVE"]
    speeds = point_series(session)["v"]
    assert speeds.min() < fits["mean"].iloc[0] < speeds.max() and fits["n"].iloc[0] + outliers.sum() == 40
    session.analyse_series = False
    assert series_analysis(session, point_series(session)) == (None, None)
    if not JAKOBSHAVN_CSV.is_file():
        pytest.skip(f"fixture not found: {JAKOBSHAVN_CSV}")
    from tracking.sources.itslive import read_series_csv

    session.add_series(read_series_csv(JAKOBSHAVN_CSV))
    series = point_series(session)
    assert len(series) == 40 + 4225
    assert series["point"].iloc[0] == "trunk"


def test_a_remote_source_without_network_fails_fast_with_a_clear_message(session, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setitem(scenes_module.ENDPOINTS, "landsat", f"http://127.0.0.1:{port}/landsat")
    started = time.perf_counter()
    with pytest.raises(NoNetworkError, match="could not reach"):
        session.search()
    assert time.perf_counter() - started < 8.0
