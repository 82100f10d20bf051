"""Browserless tests of the dashboard's views: build the page, drive the state, assert on what each view shows."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from concurrent.futures import ThreadPoolExecutor

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import pytest
import rasterio
import xarray as xr

from dashboard.derived import file_stem, point_series
from dashboard.jobs import run_pairs
from dashboard.page import create_app
from dashboard.state import AppState
from dashboard.views import (
    CompareView,
    ExportView,
    PairsView,
    ParametersView,
    ResultsView,
    SeriesView,
    WhereView,
)
from tracking.store import ResultStore


def _run(coroutine):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def tracked() -> AppState:
    """A session with two tracked 16-day demo pairs of a 10 km area, and one point on the trunk."""
    state = AppState(store=ResultStore(), aoi_km=10.0, start=dt.date(2021, 5, 1), end=dt.date(2021, 7, 31))
    state.search()
    sixteen = np.flatnonzero(
        (state.pairs["dt_days"].round() == 16) & ~state.pairs["path_row"].str.contains("·")
    )
    for row in sixteen[:2]:
        state.selected = [int(row)]
        _run(run_pairs(state))
    state.add_point(state.lon, state.lat)
    return state


def test_the_page_builds_with_every_step(tracked):
    page = create_app(AppState(store=ResultStore()))
    titles = [card.title for card in page.sidebar]
    assert titles == [
        "1 · Where and when",
        "2 · Pairs",
        "3 · Parameters",
        "4 · Run",
        "5 · Display",
        "6 · Export",
        "7 · ITS_LIVE velocities",
        "8 · Batch results",
    ]
    assert page.get_root() is not None


def test_where_view_draws_footprints_aoi_and_marker():
    state = AppState(store=ResultStore())
    view = WhereView(state=state)
    pane = view._map()
    layers = list(pane.object)
    kinds = [type(el).__name__ for el in layers]
    assert "Polygons" in kinds and "Rectangles" in kinds and "Points" in kinds
    marker = layers[-1]
    assert marker.data.shape[0] == 1
    outlines = set(zip(state.footprints()["path"], state.footprints()["row"], strict=True))
    assert {(8, 11), (9, 11)} <= outlines and len(outlines) >= 4  # computed WRS-2 path/rows around the marker
    assert pane.linked_axes is False
    view._on_tap(x=-5_480_000.0, y=10_800_000.0)  # a click on the map moves the marker
    assert state.lon == pytest.approx(-49.2277, abs=1e-3) and state.lat > 69


def test_pairs_view_lists_dt_and_tracked(tracked):
    frame = PairsView(state=tracked)._frame()
    assert list(frame.columns) == ["first", "second", "dt (d)", "sensors", "path/row", "cloud (%)", "tracked"]
    assert (frame["tracked"] == "yes").sum() == 2


def test_parameter_widgets_have_units_help_and_bounds():
    state = AppState(store=ResultStore())
    view = ParametersView(state=state)
    chip = view.widgets["chip_size"]
    assert chip.label == "Chip size (px)" and chip.description == state.params.param.chip_size.doc
    assert (chip.start, chip.end) == (8, 128)
    view.widgets["step"].value = 8
    assert state.params.step == 8 and "chips" in view.physics.object
    view.widgets["max_speed"].value = 5000
    assert state.params.max_speed == 5000
    view.widgets["max_speed"].value = 0
    assert state.params.max_speed is None


def test_results_view_rasterizes_speed_with_hover_values(tracked):
    view = ResultsView(state=tracked)
    overlay = view._map()
    images = [el for el in overlay if isinstance(el, hv.Image) and len(el.vdims) > 1]
    assert images, [type(e).__name__ for e in overlay]
    speed = images[0]
    assert [str(d) for d in speed.vdims][:4] == ["v", "vx", "vy", "peak"]
    values = speed.dimension_values("v")
    assert np.nanmax(values) > 3000 and np.nanmin(values) >= 0
    assert hv.Store.lookup_options("bokeh", speed, "plot").kwargs["logz"] is True
    tracked.layer = "masked"
    masked = next(el for el in view._map() if isinstance(el, hv.Image) and len(el.vdims) > 1)
    assert np.isnan(masked.dimension_values("v")).sum() >= np.isnan(values).sum()
    tracked.layer = "filled"
    assert "Points" in [type(el).__name__ for el in overlay]  # the sample point


def test_series_view_spans_each_pair(tracked):
    plot = SeriesView(state=tracked)._plot()
    segments = [el for el in plot if isinstance(el, hv.Segments)]
    assert segments
    series = point_series(tracked)
    assert (
        len(series) == 2 and ((series["t1"] - series["t0"]).dt.total_seconds() / 86400).round().eq(16).all()
    )


def test_compare_view_shares_one_colour_scale(tracked):
    view = CompareView(state=tracked)
    view._options()
    layout = view._layout()
    assert isinstance(layout, hv.Layout) and len(layout) == 2


def test_export_writes_readable_files_named_by_place_and_dates(tracked, tmp_path):
    view = ExportView(state=tracked)
    field = tracked.current_field()
    assert view.geotiff.filename == file_stem(tracked, field) + "_speed.tif"
    with rasterio.open(io.BytesIO(view._geotiff().getvalue())) as src:
        assert src.count == 3 and src.crs.to_epsg() == 32622
    (tmp_path / "v.nc").write_bytes(view._netcdf().getvalue())
    netcdf = xr.open_dataset(tmp_path / "v.nc")
    assert float(netcdf["v"].max()) == pytest.approx(float(field["v"].max()), rel=1e-5)
    csv = pd.read_csv(io.BytesIO(view._csv().getvalue()))
    assert len(csv) == 2 and {"point", "t0", "t1", "v"} <= set(csv.columns)
    assert view._png().getvalue().startswith(b"\x89PNG")


def test_the_header_shows_this_sessions_run_and_no_busy_bar():
    from panel.io.state import state as panel_state
    from panel.util import edit_readonly

    page = create_app()
    (progress,) = page.header
    with edit_readonly(panel_state):
        panel_state.busy = True  # another session's callback
    try:
        assert page.busy is False
    finally:
        with edit_readonly(panel_state):
            panel_state.busy = False
    assert not progress.visible
    page.state.param.update(running=True, overall_progress=42.4)
    assert page.busy is False  # no animation for the minutes a run lasts
    assert progress.visible and progress.value == "Tracking · 42 %"
    page.state.running = False
    assert not progress.visible


def test_closed_steps_reach_the_browser_when_first_opened(tracked):
    page = create_app(AppState(store=ResultStore()))
    steps = {card.title: card for card in page.sidebar}
    display, itslive = steps["5 · Display"], steps["7 · ITS_LIVE velocities"]
    assert display.collapsed and len(display.objects) == 1  # the help line only
    assert not steps["3 · Parameters"].collapsed
    itslive.collapsed = False
    assert len(itslive.objects) == 2
    itslive.collapsed = True
    itslive.collapsed = False
    assert len(itslive.objects) == 2  # filled once
    page.state.results = dict(tracked.results)  # the first results open Display and Export
    assert not display.collapsed and len(display.objects) == 2
    assert not steps["6 · Export"].collapsed
    assert not create_app(tracked).sidebar[4].collapsed  # a session with results shows them at once


def test_upload_controls_reach_the_page_when_my_geotiffs_is_chosen():
    page = create_app(AppState(store=ResultStore()))
    assert not page.select(pn.widgets.FileInput)  # the demo source: no upload table to draw
    page.state.source = "local"
    assert page.select(pn.widgets.FileInput)
    page.state.source = "demo"
    box = next(column for column in page.sidebar[0].objects if any(column.select(pn.widgets.FileInput)))
    assert not box.visible
