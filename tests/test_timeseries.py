"""Tests of tracking.timeseries: sampling VelocityFields at lon/lat points, and the CSV export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from pyproj import Transformer

from tracking.exceptions import ParameterError
from tracking.pipeline import track
from tracking.scenes import Pair, make_scene
from tracking.schema import SERIES_COLUMNS
from tracking.testing import synthetic_pair
from tracking.timeseries import sample_fields, write_csv
from tracking.velocity import velocity_field

CRS = "EPSG:32622"
T30 = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)
TO_LONLAT = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def make_field(t0="2021-05-01", t1="2021-05-17", *, rows=6, cols=8, seed=0, **attrs) -> xr.Dataset:
    """A VelocityField on a rows x cols grid (step 16 px = 480 m) with random offsets and a few flags."""
    size = 16 * max(rows, cols) + 32
    image = np.ones((size, size), np.float32)
    pair = Pair.from_scenes(
        make_scene(image, transform=T30, crs=CRS, time=t0, sensor="Landsat 8 OLI", band="red"),
        make_scene(image, transform=T30, crs=CRS, time=t1, sensor="Landsat 8 OLI", band="red"),
    )
    rng = np.random.default_rng(seed)
    valid = np.ones((rows, cols), bool)
    valid[0, 0] = False
    offsets = xr.Dataset(
        {
            "dx": (("row", "col"), rng.normal(2.0, 1.0, (rows, cols)).astype(np.float32)),
            "dy": (("row", "col"), rng.normal(-1.0, 1.0, (rows, cols)).astype(np.float32)),
            "peak": (("row", "col"), rng.uniform(0.3, 1.0, (rows, cols)).astype(np.float32)),
            "snr": (("row", "col"), np.full((rows, cols), 2.0, np.float32)),
            "valid": (("row", "col"), valid),
        },
        coords={"row": 15.5 + 16 * np.arange(rows), "col": 15.5 + 16 * np.arange(cols)},
    )
    field = velocity_field(offsets, pair)
    field.attrs.update(attrs)
    return field


def lonlat(x, y):
    lon, lat = TO_LONLAT.transform(x, y)
    return float(lon), float(lat)


def points_at(field, nodes, *, shift=(0.0, 0.0)):
    """A points table at grid nodes (i, j), moved by ``shift`` metres (east, north)."""
    rows = []
    for k, (i, j) in enumerate(nodes):
        lon, lat = lonlat(float(field.x[j]) + shift[0], float(field.y[i]) + shift[1])
        rows.append({"name": f"P{k}", "lon": lon, "lat": lat})
    return pd.DataFrame(rows)


def test_nearest_node_values_and_position():
    field = make_field()
    nodes = [(2, 3), (5, 7), (0, 0)]
    table = sample_fields([field], points_at(field, nodes, shift=(100.0, -150.0)))
    assert list(table.columns) == list(SERIES_COLUMNS)
    assert len(table) == 3
    for k, (i, j) in enumerate(nodes):
        row = table[table.point == f"P{k}"].iloc[0]
        assert abs(row.x - float(field.x[j])) < 240 and abs(row.y - float(field.y[i])) < 240
        assert row.x == pytest.approx(float(field.x[j]) + 100.0, abs=0.01)
        node = field.isel(y=i, x=j)
        if bool(node.valid):
            assert row.vx == pytest.approx(float(node.vx)) and row.vy == pytest.approx(float(node.vy))
            assert row.v == pytest.approx(float(node.v), rel=1e-6)
            assert row.valid
        else:  # the rejected node (not filled: no interpolation in this field)
            assert np.isnan(row.v) and not row.valid
        assert row.peak == pytest.approx(float(node.peak))
        assert not row.interpolated


def test_times_label_source_and_error():
    field = make_field("2021-05-01T14:00", "2021-05-17T14:00", label="spring", v_error=12.5)
    table = sample_fields([field], points_at(field, [(1, 1)]))
    row = table.iloc[0]
    assert row.t0 == pd.Timestamp("2021-05-01T14:00") and row.t1 == pd.Timestamp("2021-05-17T14:00")
    assert row.mid_date == pd.Timestamp("2021-05-09T14:00") and row.dt_days == pytest.approx(16.0)
    assert row.label == "spring" and row.v_error == 12.5
    assert row.source == field.attrs["source"]
    plain = make_field("2021-05-01", "2021-05-17")
    del plain.attrs["source"]
    row = sample_fields([plain], points_at(plain, [(1, 1)])).iloc[0]
    assert row.label == "2021-05-01 – 2021-05-17" and row.source == "icetrack" and np.isnan(row.v_error)


def test_radius_averages_components_not_speeds():
    field = make_field(seed=3)
    vx = np.zeros((6, 8), np.float32)
    vy = np.zeros((6, 8), np.float32)
    vx[1:4, 2:5] = [[100, -100, 100], [-100, 100, -100], [100, -100, 100]]  # opposing vectors
    vy[1:4, 2:5] = 50.0
    vx[2, 2] = np.nan  # one hole inside the window
    field["vx"].values, field["vy"].values = vx, vy
    field["v"].values = np.hypot(vx, vy)
    row = sample_fields([field], points_at(field, [(2, 3)]), radius=1).iloc[0]
    window_vx = vx[1:4, 2:5]
    assert row.vx == pytest.approx(np.nanmean(window_vx))
    assert row.vy == pytest.approx(50.0)
    assert row.v == pytest.approx(np.hypot(np.nanmean(window_vx), 50.0))
    assert row.v < np.nanmean(np.hypot(window_vx, 50.0))  # the mean speed would be larger
    corner = sample_fields([field], points_at(field, [(0, 0)]), radius=2).iloc[0]  # clipped at the edge
    assert corner.vx == pytest.approx(np.nanmean(vx[0:3, 0:3]))


def test_points_outside_the_grid_are_nan():
    field = make_field()
    half = 240.0
    inside = points_at(field, [(0, 7)], shift=(half - 1.0, 0.0))  # just within half a spacing of the edge
    outside = points_at(field, [(0, 7)], shift=(half + 5.0, 0.0))
    far = pd.DataFrame({"name": ["far"], "lon": [10.0], "lat": [45.0]})
    table = sample_fields([field], pd.concat([inside.assign(name="in"), outside.assign(name="out"), far]))
    by = table.set_index("point")
    assert np.isfinite(by.loc["in", "v"])
    for name in ("out", "far"):
        assert np.isnan(by.loc[name, "v"]) and np.isnan(by.loc[name, "vx"]) and not by.loc[name, "valid"]


def test_layers_and_sort_order():
    early = make_field("2021-05-01", "2021-05-17", seed=1)
    late = make_field("2021-07-01", "2021-07-17", seed=2)
    pts = points_at(early, [(0, 0), (3, 3)]).assign(name=["b", "a"])
    table = sample_fields([late, early], pts, layer="masked")
    assert list(table.point) == ["a", "a", "b", "b"]
    assert list(table[table.point == "a"].mid_date) == sorted(table[table.point == "a"].mid_date)
    raw = sample_fields([early], pts, layer="raw").set_index("point")
    assert np.isfinite(raw.loc["b", "v"])  # the rejected node still has its raw vector
    masked = sample_fields([early], pts, layer="masked").set_index("point")
    assert np.isnan(masked.loc["b", "v"])


def test_empty_inputs_and_bad_arguments():
    field = make_field()
    empty_points = pd.DataFrame({"name": [], "lon": [], "lat": []})
    for table in (sample_fields([], points_at(field, [(1, 1)])), sample_fields([field], empty_points)):
        assert table.empty and list(table.columns) == list(SERIES_COLUMNS)
    with pytest.raises(ParameterError, match="lon"):
        sample_fields([field], pd.DataFrame({"name": ["a"], "lat": [0.0]}))
    with pytest.raises(ParameterError, match="radius"):
        sample_fields([field], empty_points, radius=-1)


def test_tracked_field_end_to_end():
    synth = synthetic_pair((192, 192), max_displacement=4.0, featureless=False, nodata=False, seed=4)
    pair = Pair.from_scenes(
        make_scene(synth.reference, transform=T30, crs=CRS, time="2021-05-01", sensor="L8", band="red"),
        make_scene(synth.secondary, transform=T30, crs=CRS, time="2021-05-17", sensor="L8", band="red"),
    )
    field = track(pair, chip_size=32, search_range=8, step=16)
    i, j = field.sizes["y"] // 2, field.sizes["x"] // 2
    row = sample_fields([field], points_at(field, [(i, j)])).iloc[0]
    node = field.isel(y=i, x=j)
    assert row.v == pytest.approx(float(node.v), rel=1e-6, nan_ok=True)
    assert row.valid == bool(node.valid)


def test_write_csv(tmp_path):
    field = make_field()
    table = sample_fields([field], points_at(field, [(1, 1), (2, 2)]))
    path = write_csv(table, tmp_path / "series.csv")
    assert path == tmp_path / "series.csv"
    back = pd.read_csv(path)
    assert list(back.columns) == list(SERIES_COLUMNS)
    assert back.loc[0, "t0"] == "2021-05-01T00:00:00"
    assert back.v.round(1).equals(back.v)
    assert back.v.to_numpy() == pytest.approx(table.v.to_numpy(), abs=0.051)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary left behind
