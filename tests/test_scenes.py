"""Tests of tracking.scenes: reading GeoTIFFs as scenes, and pairs."""

from __future__ import annotations

import dataclasses
import doctest

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine

import tracking.scenes
from tracking.exceptions import InvalidPairError, NoOverlapError, SceneReadError
from tracking.scenes import Pair, date_from_name, make_scene, read_scene

T30 = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)


def write_tif(path, data, *, crs="EPSG:32622", transform=T30, tags=None, nodata=None, dtype="float32"):
    """Write a one-band GeoTIFF and return its path."""
    data = np.asarray(data)
    profile = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": dtype,
        "transform": transform,
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(dtype), 1)
        if tags:
            dst.update_tags(**tags)
    return path


def linear_image(rows, cols, transform=T30):
    """An image equal to a linear function of the map coordinates (bilinear resampling keeps it exact)."""
    x = transform.c + transform.a * (np.arange(cols) + 0.5)
    y = transform.f + transform.e * (np.arange(rows) + 0.5)
    return (0.01 * (x[None, :] - 500_000.0) + 0.02 * (7_000_000.0 - y[:, None])).astype(np.float32)


def scene(time, *, rows=128, cols=128, transform=T30, crs="EPSG:32622", data=None):
    data = linear_image(rows, cols, transform) if data is None else data
    return make_scene(data, transform=transform, crs=crs, time=time, sensor="Landsat 8 OLI", band="red")


# --- read_scene ----------------------------------------------------------------------------------------------------


def test_read_scene_reads_band_values_crs_and_tags(tmp_path):
    data = np.arange(100 * 120, dtype=np.int16).reshape(100, 120)
    data[0, 0] = -9999
    path = write_tif(
        tmp_path / "ref.tif",
        data,
        dtype="int16",
        nodata=-9999,
        tags={"ACQUISITION_TIME": "2021-05-01T14:30:00", "SENSOR": "Landsat 9 OLI-2", "BAND": "pan"},
    )
    s = read_scene(path)
    assert s.dims == ("y", "x") and s.shape == (100, 120)
    assert s.dtype == np.float32
    assert np.isnan(s.values[0, 0]) and s.values[0, 1] == 1.0
    assert s.rio.crs.to_epsg() == 32622
    assert s.rio.transform() == T30
    assert s.x.values[0] == 500_015.0 and s.y.values[0] == 6_999_985.0
    assert s.attrs["time"] == "2021-05-01T14:30:00"
    assert s.attrs["sensor"] == "Landsat 9 OLI-2" and s.attrs["band"] == "pan"
    assert s.attrs["scene_id"] == "ref"


def test_read_scene_time_from_tiff_datetime_tag(tmp_path):
    path = write_tif(tmp_path / "a.tif", np.ones((8, 8)), tags={"TIFFTAG_DATETIME": "2020:07:15 10:20:30"})
    assert read_scene(path).attrs["time"] == "2020-07-15T10:20:30"


def test_read_scene_time_and_sensor_from_landsat_product_id(tmp_path):
    path = write_tif(tmp_path / "LC08_L1TP_008011_20150308_20170412_01_T1_B4.TIF", np.ones((8, 8)))
    s = read_scene(path)
    assert s.attrs["time"] == "2015-03-08T00:00:00"
    assert s.attrs["sensor"] == "Landsat 8 OLI"
    assert s.attrs["scene_id"] == "LC08_L1TP_008011_20150308_20170412_01_T1_B4"


def test_read_scene_time_argument_wins(tmp_path):
    path = write_tif(tmp_path / "x_2015-03-08.tif", np.ones((8, 8)), tags={"ACQUISITION_TIME": "2016-01-01"})
    s = read_scene(path, time="2019-02-03T04:05:06+02:00", sensor="Sentinel-2A MSI", band="B08")
    assert s.attrs["time"] == "2019-02-03T02:05:06"
    assert (s.attrs["sensor"], s.attrs["band"]) == ("Sentinel-2A MSI", "B08")


def test_read_scene_without_time_asks_for_it(tmp_path):
    path = write_tif(tmp_path / "reference.tif", np.ones((8, 8)))
    with pytest.raises(SceneReadError, match="--ref-time"):
        read_scene(path)


def test_read_scene_without_crs(tmp_path):
    path = write_tif(tmp_path / "s_20210501.tif", np.ones((8, 8)), crs=None)
    with pytest.raises(SceneReadError, match="no coordinate reference system"):
        read_scene(path)


def test_read_scene_geographic_crs(tmp_path):
    transform = Affine(0.001, 0, -50.0, 0, -0.001, 69.0)
    path = write_tif(tmp_path / "s_20210501.tif", np.ones((8, 8)), crs="EPSG:4326", transform=transform)
    with pytest.raises(SceneReadError, match=r"geographic.*reproject"):
        read_scene(path)


def test_read_scene_missing_and_not_a_raster(tmp_path):
    with pytest.raises(SceneReadError, match="no such file"):
        read_scene(tmp_path / "nope.tif")
    text = tmp_path / "notes_20210501.tif"
    text.write_text("not an image")
    with pytest.raises(SceneReadError, match="not a raster"):
        read_scene(text)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("LC08_L1TP_008011_20150308_20170412_01_T1", "2015-03-08"),
        ("S2A_MSIL1C_20210501T153911_N0300_R011_T22WEV_20210501T174035.tif", "2021-05-01T15:39:11"),
        ("jakobshavn_2019-07-04.tif", "2019-07-04"),
        ("scene_20191399_20200102.tif", "2020-01-02"),  # 13th month is not a date
        ("image_123456789.tif", None),
        ("reference.tif", None),
    ],
)
def test_date_from_name(name, expected):
    stamp = date_from_name(name)
    assert (stamp is None) if expected is None else stamp == pd.Timestamp(expected)


def test_doctests():
    assert doctest.testmod(tracking.scenes).failed == 0


# --- Pair ----------------------------------------------------------------------------------------------------------


def test_pair_on_one_grid_keeps_the_secondary():
    ref, sec = scene("2021-05-01"), scene("2021-05-17T12:00")
    pair = Pair.from_scenes(ref, sec)
    assert pair.secondary is sec
    assert pair.dt_days == 16.5
    assert pair.t0 == pd.Timestamp("2021-05-01") and pair.t1 == pd.Timestamp("2021-05-17T12:00")
    assert pair.mid_date == pd.Timestamp("2021-05-09T06:00")
    assert pair.shape == (128, 128) and pair.transform == T30 and pair.crs.to_epsg() == 32622
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.reference = sec


@pytest.mark.parametrize("later", ["2021-04-15", "2021-05-01"])
def test_pair_rejects_non_positive_dt(later):
    with pytest.raises(InvalidPairError, match=r"2021-05-01.*swap") as info:
        Pair.from_scenes(scene("2021-05-01"), scene(later))
    assert later in str(info.value)


def test_pair_resamples_a_finer_larger_secondary_onto_the_reference_grid():
    ref = scene("2021-05-01")
    fine = Affine(15.0, 0.0, 499_000.0, 0.0, -15.0, 7_001_000.0)  # 15 m, starts 1 km further west and north
    sec = scene("2021-05-17", rows=400, cols=400, transform=fine)
    pair = Pair.from_scenes(ref, sec)
    assert pair.secondary.shape == ref.shape
    assert pair.secondary.rio.transform() == ref.rio.transform()
    np.testing.assert_array_equal(pair.secondary.x, ref.x)
    assert pair.secondary.attrs["time"] == "2021-05-17T00:00:00"
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(pair.secondary.values[inner], ref.values[inner], atol=1e-3)


def test_pair_marks_nodata_outside_a_partial_secondary():
    ref = scene("2021-05-01")
    shifted = Affine(30.0, 0.0, 500_000.0 + 30 * 40, 0.0, -30.0, 7_000_000.0)  # 40 px east
    pair = Pair.from_scenes(ref, scene("2021-05-17", transform=shifted))
    assert np.isnan(pair.secondary.values[:, :40]).all()
    assert np.isfinite(pair.secondary.values[:, 41:]).all()


def test_pair_across_crs():
    ref = scene("2021-05-01")
    sec = ref.rio.reproject("EPSG:3413")
    sec.attrs.update(ref.attrs, time="2021-05-17T00:00:00")
    pair = Pair.from_scenes(ref, sec)
    assert pair.secondary.rio.crs.to_epsg() == 32622
    assert np.isfinite(pair.secondary.values[5:-5, 5:-5]).all()
    np.testing.assert_allclose(pair.secondary.values[5:-5, 5:-5], ref.values[5:-5, 5:-5], atol=0.5)


def test_pair_without_overlap():
    far = Affine(30.0, 0.0, 600_000.0, 0.0, -30.0, 7_000_000.0)
    with pytest.raises(NoOverlapError, match="do not overlap"):
        Pair.from_scenes(scene("2021-05-01"), scene("2021-05-17", transform=far))


def test_pair_with_a_tiny_overlap():
    edge = Affine(30.0, 0.0, 500_000.0 + 30 * 100, 0.0, -30.0, 7_000_000.0)  # 28 px of overlap
    with pytest.raises(NoOverlapError, match=r"only 128 x 28 px.*64 x 64"):
        Pair.from_scenes(scene("2021-05-01"), scene("2021-05-17", transform=edge))


def test_pair_without_common_valid_pixels():
    empty = np.full((128, 128), np.nan, np.float32)
    with pytest.raises(NoOverlapError, match="no valid pixel"):
        Pair.from_scenes(scene("2021-05-01"), scene("2021-05-17", data=empty))


def test_pair_checks_shapes_when_built_directly():
    with pytest.raises(InvalidPairError, match="from_scenes"):
        Pair(scene("2021-05-01"), scene("2021-05-17", rows=100))
