"""The served dashboard on remote sources (a local server standing in for the STAC APIs and ITS_LIVE): the seed's
mini study (ITS_LIVE spring 2015 and 2018 against our own spring 2021 Landsat pair, sampled at two points), and
the no-network message."""

from __future__ import annotations

import datetime as dt
import socket
import time
from pathlib import Path

import pytest
import remote_world
from fake_remote import FakeRemote

from dashboard import scenes as scenes_module
from dashboard.derived import point_series

LANDSAT = "Landsat 8/9 · red, 30 m (Planetary Computer)"
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
JAKOBSHAVN_CSV = FIXTURES / "itslive" / "timeseries_LAT69.1117--LON-49.4604.csv"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with FakeRemote(tmp_path_factory.mktemp("remote")) as remote:
        yield remote_world.build(remote)


@pytest.fixture
def endpoints(world, monkeypatch, tmp_path):
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "cache"))
    scenes_module.remote_cache.cache_clear()
    for key, url in world.endpoints().items():
        monkeypatch.setitem(scenes_module.ENDPOINTS, key, url)
    yield world
    scenes_module.remote_cache.cache_clear()


def _choose_source(page, label):
    page.get_by_role("combobox").first.click()
    page.get_by_text(label, exact=True).click()


def test_mini_study_landsat_2021_against_itslive_2015_and_2018(
    endpoints, served, screenshot, wait_for, open_step
):
    page, state, errors = served
    _choose_source(page, LANDSAT)
    wait_for(lambda: state.source == "landsat", page)
    page.get_by_role("button", name="Search scenes").click()
    wait_for(lambda: state.scenes is not None and len(state.scenes) == len(endpoints.scene_ids), page)
    wait_for(lambda: page.get_by_text(endpoints.scene_ids[0]).count() > 0, page)
    screenshot("10_remote_search")
    page.get_by_role("button", name="Run", exact=True).click()
    wait_for(lambda: len(state.results) == 1 and not state.running, page, timeout=120)

    state.add_point(state.lon, state.lat, "trunk")
    state.add_point(state.lon + 0.12, state.lat + 0.03, "north branch")
    state.param.update(start=dt.date(2015, 3, 1), end=dt.date(2018, 7, 31))
    open_step(page, "7 · ITS_LIVE velocities")
    page.get_by_role("button", name="Find ITS_LIVE pairs").click()
    wait_for(lambda: state.granules is not None and len(state.granules) == 2, page)
    page.get_by_role("tab", name="Scenes and pairs").click()  # the run showed the speed map
    wait_for(lambda: page.get_by_text("2018-05-10").count() > 0, page)
    page.get_by_role("button", name="Add to results").click()
    wait_for(lambda: len(state.results) == 3, page, timeout=60)
    assert sorted(f.attrs["source"][:8] for f in state.results.values()) == [
        "ITS_LIVE",
        "ITS_LIVE",
        "icetrack",
    ]
    page.get_by_role("button", name="Datacube series at the points").click()
    wait_for(lambda: state.external_series is not None and len(state.external_series) == 80, page, timeout=60)

    page.get_by_role("tab", name="Speed map").click()
    state.series_dt = (1.0, 60.0)
    series = point_series(state)
    ours = series[series["source"].str.startswith("icetrack")]
    assert set(ours["point"]) == {"trunk", "north branch"}
    assert (
        series["source"] == "ITS_LIVE"
    ).sum() > 80  # cube series plus the two granules sampled at the points
    wait_for(lambda: page.locator(".bk-Canvas:visible").count() >= 2, page, timeout=60)
    page.wait_for_timeout(2000)
    screenshot("11_remote_series")

    page.get_by_role("tab", name="Compare").click()
    wait_for(lambda: page.locator(".bk-Canvas:visible").count() >= 2, page, timeout=60)  # maps and difference
    page.wait_for_timeout(2000)
    screenshot("12_compare_difference")

    if JAKOBSHAVN_CSV.is_file():  # the recorded ITS_LIVE series, loaded from a CSV beside our own
        page.get_by_role("tab", name="Speed map").click()
        page.locator("input[type=file][accept='.csv']").set_input_files(str(JAKOBSHAVN_CSV))
        wait_for(lambda: len(state.external_series) == 80 + 4225, page, timeout=60)
        assert "69.1117 N, 49.4604 W" in set(point_series(state)["point"])
    assert [e for e in errors if "tile" not in e.lower() and "Failed to load resource" not in e] == []


def test_choosing_a_remote_source_without_network_says_so_within_seconds(
    served, screenshot, wait_for, monkeypatch
):
    page, _, _ = served
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setitem(scenes_module.ENDPOINTS, "landsat", f"http://127.0.0.1:{port}/landsat")
    started = time.monotonic()
    _choose_source(page, LANDSAT)
    wait_for(lambda: page.get_by_text("could not reach").count() > 0, page, timeout=10)
    assert time.monotonic() - started < 8.0
    screenshot("13_no_network")
    assert page.get_by_text("use the demo source").count() > 0
