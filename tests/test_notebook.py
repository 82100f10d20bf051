"""`IceTrack` (dashboard.notebook): one object, the state in Python both ways, and the example notebooks.

The two-way sync is tested without a browser, on the widgets of the page the object builds; the notebooks are
executed top to bottom in a fresh kernel of this environment (nbclient, ipykernel) and checked on their output.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import panel as pn
import pytest
import xarray as xr
from pyproj import Transformer

import tracking
from dashboard import IceTrack
from dashboard.state import AppState
from tracking.exceptions import ParameterError
from tracking.io import read_field
from tracking.sources import demo
from tracking.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
_TO_LONLAT = Transformer.from_crs(demo.DEMO_CRS, "EPSG:4326", always_xy=True)
TRUNK = _TO_LONLAT.transform(574_000, 7_669_500)
UPSTREAM = _TO_LONLAT.transform(588_000, 7_669_500)


def _app(**kwargs) -> IceTrack:
    centre = _TO_LONLAT.transform(578_000, 7_669_500)
    kwargs = {
        "lon": centre[0],
        "lat": centre[1],
        "start": "2021-04-01",
        "end": "2021-05-10",
        "aoi_km": 10,
        "store": ResultStore(),
        **kwargs,
    }
    return IceTrack(**kwargs)


def _widget(page, label: str):
    """The page's widget labelled ``label`` (or whose label starts with ``label (``)."""
    found = [
        w
        for w in page.select(pn.widgets.Widget)
        if str(getattr(w, "label", "") or "") == label
        or str(getattr(w, "label", "") or "").startswith(label + " (")
    ]
    assert found, f"no widget labelled {label!r}"
    return found[0]


def _points_table(page) -> pn.widgets.Tabulator:
    tables = [t for t in page.select(pn.widgets.Tabulator) if {"name", "lat", "lon"} <= set(t.value.columns)]
    assert len(tables) == 1
    return tables[0]


@pytest.fixture(scope="module")
def tracked():
    """One app with one tracked 10 km demo pair (shared: tracking is the slow part)."""
    app = _app()
    app.search()
    app.run(progress=False)
    return app


# --------------------------------------------------------------------------------------------------------------
# one object: the notebook's and the server's
# --------------------------------------------------------------------------------------------------------------


def test_icetrack_sets_the_place_and_dates_and_builds_the_dashboard_page_on_its_state():
    app = _app(source="Demo glacier (offline)")
    s = app.state
    assert (s.source, s.start, s.end, s.aoi_km) == ("demo", dt.date(2021, 4, 1), dt.date(2021, 5, 10), 10)
    page = app.__panel__()
    assert page is app.__panel__()  # built once: every display shows the same page
    assert page.state is s and isinstance(page, pn.viewable.Viewable)
    assert "IceTrack(demo" in repr(app) and "0 results" in str(app)
    with pytest.raises(ParameterError, match="unknown source"):
        IceTrack(source="nowhere")


def test_app_py_serves_an_icetrack():
    text = (ROOT / "dashboard" / "app.py").read_text()
    assert re.search(r"^if pn\.state\.served:.*\n(.*\n)*?\s+IceTrack\(\)\.servable\(", text, re.MULTILINE)


def test_repr_mimebundle_loads_the_notebook_extension_and_renders_the_page():
    from panel.config import panel_extension

    bundle, _meta = _app()._repr_mimebundle_()
    assert panel_extension._loaded
    assert "application/vnd.holoviews_exec.v0+json" in bundle and "text/html" in bundle


# --------------------------------------------------------------------------------------------------------------
# the state, both ways, without a browser
# --------------------------------------------------------------------------------------------------------------


def test_params_move_the_slider_and_the_slider_moves_params():
    app = _app()
    slider = _widget(app.__panel__(), "Chip size")
    app.params.chip_size = 64
    assert slider.value == 64
    slider.value = 48
    assert app.params.chip_size == 48 and app.params is app.state.params
    app.params = {"step": 24, "search_range": 30}
    assert (_widget(app.__panel__(), "Step").value, app.params.search_range) == (24, 30)
    with pytest.raises(ValueError, match="chip_size"):
        app.params.chip_size = 4  # below the bound: refused, as the slider would


def test_points_added_or_assigned_in_python_are_the_page_table_and_page_edits_are_app_points():
    app = _app()
    table = _points_table(app.__panel__())
    assert app.add_points(trunk=TRUNK, upstream=UPSTREAM) == ["trunk", "upstream"]
    assert list(table.value["name"]) == ["trunk", "upstream"]
    assert app.add_points([UPSTREAM]) == ["P1"] and len(table.value) == 3
    app.points = pd.DataFrame({"name": ["a"], "lon": [TRUNK[0]], "lat": [TRUNK[1]]})
    assert list(table.value["name"]) == ["a"]
    app.points = pd.DataFrame({"lon": [TRUNK[0], UPSTREAM[0]], "lat": [TRUNK[1], UPSTREAM[1]]})
    assert list(app.points["name"]) == list(table.value["name"]) == ["P1", "P2"]
    app.state.add_point(*UPSTREAM, name="clicked")  # what a click on the speed map does
    assert list(app.points["name"]) == ["P1", "P2", "clicked"]
    clear = _widget(app.__panel__(), "Clear points")
    clear.clicks += 1  # the page's Clear button
    assert app.points.empty and table.value.empty
    with pytest.raises(ParameterError, match="exists"):
        app.add_points([("x", *TRUNK), ("x", *UPSTREAM)])
    assert app.points.empty  # a refused batch adds nothing
    app.points = app.points  # a copy: editing it does not change the page
    copy = app.points
    copy.loc[0] = ["z", 0.0, 0.0]
    assert app.points.empty


def test_results_are_the_pages_datasets_by_label_in_order_and_read_only(tracked):
    app = tracked
    assert isinstance(app.results, types.MappingProxyType)
    [(label, field)] = app.results.items()
    assert label == field.attrs["label"] and re.match(r"2021-\d\d-\d\d → 2021-\d\d-\d\d \(\d+ d\)", label)
    assert app.field is field and isinstance(field, xr.Dataset)
    with pytest.raises(TypeError):
        app.results["x"] = field
    page = app.__panel__()  # built after the run, as in a notebook: it lists the result
    assert list(_widget(page, "Result").options) == [label]
    assert list(_widget(page, "Results to compare").options) == [label]
    pairs_table = next(t for t in page.select(pn.widgets.Tabulator) if "dt (d)" in t.value.columns)
    assert pairs_table.selection == app.state.selected
    # the same variables as the library's tracking.track on the same pair
    row = app.state.pairs_to_run().iloc[0]
    library = tracking.track(app.state.load_pair(row), app.params)
    assert set(field.data_vars) == set(library.data_vars)
    xr.testing.assert_allclose(field["v"], library["v"])


def test_the_tracked_speed_matches_the_demo_truth_and_series_and_truth_are_tables(tracked):
    app = tracked
    app.points = pd.DataFrame({"name": ["trunk"], "lon": [TRUNK[0]], "lat": [TRUNK[1]]})
    series = app.series
    assert list(series["point"]) == ["trunk"] and isinstance(series, pd.DataFrame)
    row = series.iloc[0]
    truth = np.hypot(*demo.true_velocity(row["t0"], row["t1"], 574_000, 7_669_500))
    assert abs(row["v"] / truth - 1) < 0.05
    assert set(app.truth["point"]) == {"trunk"}
    assert app.scenes is app.state.scenes and app.pairs is app.state.pairs


def test_log_lists_each_step(tracked):
    log = tracked.log
    assert any("Search:" in line for line in log) and any("tracked" in line for line in log)
    log.append("not in the app")
    assert "not in the app" not in tracked.log


def test_run_async_on_a_running_loop_and_run_choosing_pairs_by_row_or_scene_ids():
    app = _app(start="2021-04-01", end="2021-05-10")
    app.search()
    first = app.pairs.iloc[[0]]
    fields = asyncio.run(app.run_async(pairs=first))
    assert [f.attrs["label"] for f in fields] == list(app.results)
    # run() inside a running loop (a notebook): the job runs on its own loop in a helper thread
    again = (
        ThreadPoolExecutor(1)
        .submit(asyncio.run, _in_loop(app, (first.iloc[0]["reference"], first.iloc[0]["secondary"])))
        .result()
    )
    assert [f.attrs["label"] for f in again] == [fields[0].attrs["label"]]
    assert len(app.results) == 1  # the same pair and parameters: one result, taken from the store
    assert "taken from the result store" in app.log[-2]
    with pytest.raises(ParameterError, match="no pair 99"):
        app.run(99)


async def _in_loop(app, pair):
    return app.run(pairs=pair, progress=True)


def test_export_writes_geotiff_netcdf_csv_and_png_atomically(tracked, tmp_path):
    app = tracked
    app.points = pd.DataFrame({"name": ["trunk"], "lon": [TRUNK[0]], "lat": [TRUNK[1]]})
    for name in ("v.tif", "v.nc", "series.csv", "map.png"):
        assert app.export(tmp_path / name) == tmp_path / name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "series.csv", "v.nc", "v.tif"]  # no temp
    xr.testing.assert_allclose(read_field(tmp_path / "v.nc")["v"], app.field["v"])
    assert pd.read_csv(tmp_path / "series.csv")["point"].tolist() == ["trunk"]
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ParameterError, match="export to"):
        app.export(tmp_path / "v.xlsx")
    with pytest.raises(ParameterError, match="nothing to export"):
        _app().export(tmp_path / "none.nc")


def test_remote_runs_log_the_url_of_every_file_read(tmp_path, monkeypatch):
    remote_world = pytest.importorskip("remote_world")
    from fake_remote import FakeRemote

    from dashboard import scenes as scenes_module

    with FakeRemote(tmp_path / "remote") as remote:
        world = remote_world.build(remote, side_km=12.0, scenes=2)
        monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "cache"))
        for key, url in world.endpoints().items():
            monkeypatch.setitem(scenes_module.ENDPOINTS, key, url)
        app = IceTrack(source="landsat", aoi_km=8, start="2021-05-01", end="2021-07-31", store=ResultStore())
        app.search()
        app.run(progress=False)
        reads = [line for line in app.log if line.split("  ", 1)[1].startswith("Reading ")]
        assert len(reads) == 2 and all(f"{remote.url}/" in line for line in reads)
        [itslive] = app.add_itslive(count=1, start="2018-03-01", end="2018-06-30")
        assert itslive.attrs["source"] == "ITS_LIVE"
        assert any("Reading ITS_LIVE" in line and "http://127.0.0.1" in line for line in app.log)


# --------------------------------------------------------------------------------------------------------------
# the example notebooks, executed in a fresh kernel
# --------------------------------------------------------------------------------------------------------------


def _execute(path: Path, monkeypatch) -> list[str]:
    """Run a notebook top to bottom in a fresh kernel of this environment; its text outputs, cell by cell."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", output
            texts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return texts


def _tagged(texts: list[str], tag: str) -> dict:
    lines = [line for text in texts for line in text.splitlines() if line.startswith(tag + " ")]
    assert len(lines) == 1, f"{tag} printed {len(lines)} times"
    return json.loads(lines[0][len(tag) + 1 :])


@pytest.mark.slow
def test_mini_study_notebook_measures_the_three_springs_within_5_percent_of_the_truth(monkeypatch):
    texts = _execute(EXAMPLES / "mini_study.ipynb", monkeypatch)
    results = _tagged(texts, "MINI_STUDY_RESULTS")
    assert results["online"] is False
    speeds = results["speeds"]
    assert sorted(speeds) == ["2015", "2018", "2021"]
    for year, points in speeds.items():
        assert set(points) == {"trunk", "upstream"}
        for name, value in points.items():
            assert abs(value["v"] / value["truth"] - 1) < 0.05, (year, name, value)
            assert value["label"].startswith(year)
    trunk = {year: speeds[year]["trunk"]["v"] for year in speeds}
    # what the notebook's conclusion says: a deep slowdown in 2018, most of the 2015 speed back by 2021
    assert trunk["2018"] < 0.65 * trunk["2015"] and 0.85 * trunk["2015"] < trunk["2021"] < trunk["2015"]
    assert any("IceTrack(demo" in text for text in texts)  # the dashboard cell's text/plain


@pytest.mark.slow
def test_library_notebook_tracks_assesses_exports_and_compares(monkeypatch):
    results = _tagged(_execute(EXAMPLES / "library.ipynb", monkeypatch), "LIBRARY_RESULTS")
    assert set(results["variables"]) >= {"vx", "vy", "v", "dx", "dy", "peak", "snr", "valid", "interpolated"}
    assert results["valid"] > 0.8 and results["median_error"] < 0.05 and results["roundtrip_equal"]
    assert results["difference_count"] > 100 and abs(results["difference_median"]) < 50


def test_appstate_stays_importable_without_the_page():
    assert AppState().source == "demo"
