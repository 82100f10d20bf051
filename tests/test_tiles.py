"""Tests of tracking.tiles: a pair tracked tile by tile equals the pair tracked whole (no seams)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import rasterio
from affine import Affine

from tracking.exceptions import CancelledError, InvalidPairError, ParameterError, SceneReadError
from tracking.params import TrackingParameters
from tracking.pipeline import track
from tracking.scenes import Pair, make_scene, read_scene
from tracking.testing import synthetic_pair
from tracking.tiles import plan_tiles, track_tiled

T30 = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)
SHAPE = (420, 390)
FAST = TrackingParameters(search_range=8)  # chip 32, step 16, Wallis: 24 x 22 chips
#: Largest differences allowed between tiled and whole runs: float32 rounding of the same computation.
TOLERANCE = {"dx": 1e-5, "dy": 1e-5, "peak": 1e-5, "snr": 1e-5, "vx": 0.01, "vy": 0.01, "v": 0.01}


@pytest.fixture(scope="module")
def scenes():
    truth = synthetic_pair(
        SHAPE, max_displacement=6.0, seed=1
    )  # a NaN patch and a featureless patch included
    reference = make_scene(
        truth.reference, transform=T30, crs=32622, time="2021-05-01", sensor="test", band="b"
    )
    secondary = make_scene(
        truth.secondary, transform=T30, crs=32622, time="2021-05-17", sensor="test", band="b"
    )
    return reference, secondary


@pytest.fixture(scope="module")
def whole(scenes):
    return track(Pair.from_scenes(*scenes), FAST)


def assert_same_field(tiled, whole):
    assert tiled.sizes == whole.sizes
    np.testing.assert_array_equal(tiled["x"].values, whole["x"].values)
    np.testing.assert_array_equal(tiled["y"].values, whole["y"].values)
    for name, atol in TOLERANCE.items():
        np.testing.assert_allclose(
            tiled[name].values, whole[name].values, rtol=0, atol=atol, equal_nan=True, err_msg=name
        )
    np.testing.assert_array_equal(tiled["valid"].values, whole["valid"].values)
    np.testing.assert_array_equal(tiled["interpolated"].values, whole["interpolated"].values)
    assert tiled.rio.transform() == whole.rio.transform()
    assert tiled.rio.crs == whole.rio.crs
    for key in ("acquisition_date_img1", "acquisition_date_img2", "date_dt", "id_img1", "param_step"):
        assert tiled.attrs[key] == whole.attrs[key]


@pytest.mark.parametrize("tile_size", [144, 140], ids=["edges-on-step-multiples", "edges-off-the-step"])
def test_tiled_equals_whole(scenes, whole, tile_size):
    tiles = plan_tiles(SHAPE, FAST, tile_size)
    assert len({t.index[0] for t in tiles}) >= 3 and len({t.index[1] for t in tiles}) >= 3
    assert whole["valid"].values.mean() > 0.5 and whole["interpolated"].values.any()
    assert_same_field(track_tiled(*scenes, FAST, tile_size=tile_size), whole)


def test_tiled_equals_whole_with_other_parameters(scenes):
    """A finer grid, a wider median test, a Gaussian high-pass and a speed limit: still no seam."""
    params = TrackingParameters(
        chip_size=24,
        step=8,
        search_range=12,
        median_radius=2,
        prefilter="gaussian_highpass",
        max_speed=3000.0,
        fill_distance=3,
    )
    whole = track(Pair.from_scenes(*scenes), params)
    assert_same_field(track_tiled(*scenes, params, tile_size=150), whole)


def test_plan_tiles_own_every_chip_once():
    params = TrackingParameters(step=16, search_range=20)
    tiles = plan_tiles((1000, 700), params, tile_size=300)
    owned = np.zeros((61, 42), dtype=int)  # chips of (1000, 700) px: rows 0..960, cols 0..656 by 16
    for tile in tiles:
        owned[slice(*tile.node_rows), slice(*tile.node_cols)] += 1
        assert tile.rows[0] % 16 == 0 and tile.cols[0] % 16 == 0  # windows start on the chip grid
        assert tile.shape[0] <= 1000 and tile.shape[1] <= 700
    assert (owned == 1).all()


def write_geotiff(path, scene):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=scene.shape[1],
        height=scene.shape[0],
        count=1,
        dtype="float32",
        crs="EPSG:32622",
        transform=T30,
        nodata=np.nan,
        tiled=True,
        blockxsize=64,
        blockysize=64,
    ) as dst:
        dst.write(scene.values, 1)
        dst.update_tags(ACQUISITION_TIME=scene.attrs["time"], SENSOR="test", BAND="b")
    return path


@pytest.fixture(scope="module")
def geotiffs(scenes, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiles")
    return (
        write_geotiff(folder / "ref_20210501.tif", scenes[0]),
        write_geotiff(folder / "sec_20210517.tif", scenes[1]),
    )


@pytest.fixture(scope="module")
def whole_from_files(geotiffs):
    return track(Pair.from_scenes(*(read_scene(p) for p in geotiffs)), FAST)


def test_tiled_from_geotiffs_equals_whole(geotiffs, whole_from_files):
    tiled = track_tiled(*geotiffs, FAST, tile_size=140)
    assert_same_field(tiled, whole_from_files)
    assert tiled.attrs["id_img1"] == "ref_20210501" and tiled.attrs["sensor_img2"] == "test"


def test_tiles_on_a_dask_cluster(geotiffs, whole_from_files):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=2,
            processes=False,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        calls = []
        tiled = track_tiled(
            *geotiffs, FAST, tile_size=140, client=client, progress=lambda *a: calls.append(a)
        )
    assert_same_field(tiled, whole_from_files)
    n = len(plan_tiles(SHAPE, FAST, 140))
    assert calls == [(k, n) for k in range(1, n + 1)]


def test_progress_and_cancel(scenes):
    calls = []
    track_tiled(*scenes, FAST, tile_size=200, progress=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError, match="cancelled"):
        track_tiled(*scenes, FAST, tile_size=200, cancel=cancel)


def test_bad_inputs(scenes, geotiffs, tmp_path):
    with pytest.raises(ParameterError, match="tile_size"):
        track_tiled(*scenes, FAST, tile_size=10)
    with pytest.raises(ParameterError, match="alike"):
        track_tiled(scenes[0], geotiffs[1], FAST)
    with pytest.raises(SceneReadError, match="no such file"):
        track_tiled(geotiffs[0], tmp_path / "missing.tif", FAST)
    with pytest.raises(ParameterError, match="search_range"):
        track_tiled(*scenes, TrackingParameters(search_range=200))
    cropped = write_geotiff(tmp_path / "crop_20210517.tif", scenes[1][:300, :300])
    with pytest.raises(InvalidPairError, match="not on one grid"):
        track_tiled(geotiffs[0], cropped, FAST)
    with pytest.raises(InvalidPairError, match="dt must be positive"):
        track_tiled(geotiffs[1], geotiffs[0], FAST)
