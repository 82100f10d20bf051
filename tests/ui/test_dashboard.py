"""The served dashboard in headless Chromium: the user's whole workflow on the demo glacier."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from dashboard import plots
from dashboard.derived import point_series

TILE_NOISE = ("Failed to load resource", "ERR_NAME_NOT_RESOLVED", "ERR_FAILED", "ERR_INTERNET_DISCONNECTED")


def _search_and_run(page, state, wait_for, screenshot=None):
    page.get_by_role("button", name="Search scenes").click()
    wait_for(lambda: state.scenes is not None and len(state.scenes) > 0, page)
    wait_for(lambda: page.locator(".tabulator-row").count() > 2, page)
    if screenshot:
        screenshot("02_search")
    page.get_by_role("button", name="Run", exact=True).click()
    wait_for(lambda: len(state.results) == 1, page, timeout=120)
    page.get_by_role("tab", name="Speed map").click()


def test_page_loads_without_console_errors(served, screenshot):
    page, _, errors = served
    assert page.get_by_text("1 · Where and when").is_visible()
    assert page.get_by_role("tab", name="Speed map").is_visible()
    page.wait_for_timeout(1000)
    screenshot("01_start")
    assert [e for e in errors if not any(n in e for n in TILE_NOISE)] == []


def test_search_pick_a_pair_move_a_slider_run_and_see_the_map(served, screenshot, wait_for):
    page, state, errors = served
    page.get_by_role("button", name="Search scenes").click()
    wait_for(lambda: state.scenes is not None and len(state.scenes) > 0, page)
    wait_for(lambda: page.locator(".tabulator:visible").nth(1).locator(".tabulator-row").count() > 2, page)
    screenshot("02_search")

    # pick another pair than the one chosen by default (the pairs table: the second visible one)
    row = 0 if state.selected != [0] else 1
    for _ in range(5):  # a click that lands while the table re-renders is lost: click again
        page.locator(".tabulator:visible").nth(1).locator(".tabulator-row").nth(row).click()
        page.wait_for_timeout(1500)
        if state.selected == [row]:
            break
    assert state.selected == [row]
    chosen = state.pairs_to_run().iloc[0]

    # move the step slider with the keyboard: 16 -> 20 px
    step = page.get_by_role("slider", name="Step (px)")
    step.focus()
    step.press("ArrowRight")
    wait_for(lambda: state.params.step == 20, page)
    assert state.preset == "custom"
    screenshot("03_pair_and_parameters")

    page.get_by_role("button", name="Run", exact=True).click()
    wait_for(lambda: state.running or state.results, page, timeout=30)
    seen = []
    wait_for(
        lambda: seen.append(state.overall_progress) or len(state.results) == 1,
        page,
        timeout=120,
        interval_ms=50,
    )
    assert max(seen) == 100.0
    field = state.current_field()
    assert field.attrs["reference_id"] == chosen["reference"]
    assert int(field.attrs["param_step"]) == 20
    speed_tab = page.get_by_role("tab", name="Speed map")
    wait_for(lambda: speed_tab.get_attribute("aria-selected") == "true", page)  # the page shows the result
    wait_for(lambda: page.get_by_text(field.attrs["label"].split(" → ")[0]).count() > 0, page)
    page.wait_for_timeout(1500)
    wait_for(lambda: page.locator(".bk-Canvas:visible").count() >= 2, page)  # speed map and series plot
    screenshot("04_speed_map")
    assert [e for e in errors if not any(n in e for n in TILE_NOISE)] == []


def test_click_a_point_see_its_series_and_download_a_geotiff(served, screenshot, wait_for, tmp_path):
    page, state, _ = served
    _search_and_run(page, state, wait_for)
    page.wait_for_timeout(1500)
    canvas = page.locator(".bk-Canvas:visible").first
    box = canvas.bounding_box()
    screenshot("05_before_click")
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    wait_for(lambda: len(state.points) == 1, page)
    series = point_series(state)
    assert len(series) == 1 and series["point"].iloc[0] == "P1"
    shown, total = plots.series_counts(series, state.series_dt)
    wait_for(lambda: page.get_by_text(f"{shown} of {total} measurements shown").count() > 0, page)
    screenshot("05_point_and_series")

    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Velocity (GeoTIFF: vx, vy, v)").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.startswith("jakobshavn-demo_") and path.suffix == ".tif"
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32622
        assert src.descriptions == ("vx", "vy", "v")
        speed = src.read(3)
    assert np.nanmax(speed) == pytest.approx(float(state.current_field()["v"].max()), rel=1e-3)


def test_cancel_a_long_run(served, screenshot, wait_for):
    page, state, _ = served
    page.get_by_role("button", name="Search scenes").click()
    wait_for(lambda: state.scenes is not None and len(state.scenes) > 0, page)
    state.params.step = 4
    state.aoi_km = 100.0
    page.get_by_role("button", name="Run", exact=True).click()
    wait_for(lambda: state.pair_progress > 0, page, timeout=120, interval_ms=50)
    screenshot("06_running")
    page.get_by_role("button", name="Cancel").click()
    wait_for(lambda: state.status.startswith("Cancelled") and not state.running, page, timeout=60)
    assert not state.results and not state.running
    wait_for(lambda: page.get_by_role("button", name="Run", exact=True).is_enabled(), page)


def test_uploading_a_file_that_is_not_a_geotiff_says_so(served, screenshot, wait_for):
    page, state, _ = served
    page.get_by_role("combobox").first.click()
    page.get_by_text("My GeoTIFFs", exact=True).click()
    wait_for(lambda: state.source == "local", page)
    wait_for(lambda: page.get_by_role("button", name="Add files").is_visible(), page)
    page.locator("input[type=file][accept^='.tif']").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"ice flows downhill\n"}]
    )
    wait_for(lambda: page.get_by_text("not a GeoTIFF").count() > 0, page)
    screenshot("07_upload_error")
    assert not state.uploads


def test_many_pairs_build_a_time_series_against_the_truth(served, screenshot, wait_for):
    page, state, _ = served
    state.dt_window = (14.0, 34.0)
    page.get_by_role("button", name="Search scenes").click()
    wait_for(lambda: state.scenes is not None and len(state.scenes) > 0, page)
    page.get_by_role("button", name="Every pair in the dt range").click()
    wait_for(lambda: state.pair_mode == "many", page)
    n_pairs = len(state.pairs_to_run())
    assert n_pairs >= 4
    state.add_point(state.lon, state.lat, "trunk")  # the series grows as the results arrive
    state.add_point(state.lon + 0.12, state.lat + 0.03, "north branch")
    page.get_by_role("button", name="Run", exact=True).click()
    wait_for(lambda: len(state.results) == n_pairs and not state.running, page, timeout=240)
    speed_tab = page.get_by_role("tab", name="Speed map")
    wait_for(lambda: speed_tab.get_attribute("aria-selected") == "true", page)
    shown, total = plots.series_counts(point_series(state), state.series_dt)
    assert total >= n_pairs
    wait_for(lambda: page.get_by_text(f"{shown} of {total} measurements shown").count() > 0, page, timeout=60)
    page.wait_for_timeout(2000)
    screenshot("08_time_series")
    series = point_series(state)
    trunk = series[series["point"] == "trunk"]
    assert len(trunk) == n_pairs and trunk["v"].notna().sum() >= n_pairs // 3  # cloudy pairs leave gaps
    page.get_by_role("tab", name="Compare").click()
    page.wait_for_timeout(3000)
    assert page.locator(".bk-Canvas:visible").count() >= 1
    screenshot("09_compare")


def test_the_address_bar_keeps_a_link_to_the_view(served, wait_for):
    page, state, _ = served
    state.move_marker(-49.4, 69.2)
    state.params.step = 32
    state.add_point(-49.2, 69.13, "front")
    wait_for(lambda: "lon=-49.4" in page.url and "p.step=32" in page.url and "points=front" in page.url, page)
    state.params.step = 16  # back to the default: no longer in the link
    state.remove_point("front")
    wait_for(lambda: "p.step" not in page.url and "points" not in page.url, page)
    assert "lat=69.2" in page.url
