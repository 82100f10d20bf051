"""Tests of tracking.sources.base: the Source interface of every source, and the registry by name."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from tracking import sources
from tracking.batch import PairSpec
from tracking.exceptions import ParameterError, TrackingError
from tracking.sources import demo
from tracking.sources.local import scene_table

BBOX = (545_000.0, 7_660_000.0, 548_000.0, 7_662_000.0)  # 3 x 2 km on the demo glacier (EPSG:32622)
POINT = (-49.5, 69.1)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path_factory.getbasetemp() / "demo-cache"))


def test_every_registered_source_is_a_source_named_by_its_key():
    made = 0
    for name in sources.names():
        try:
            source = sources.get(name, seed=0, scenes={}, url=None)  # each takes the options it has
        except TypeError:  # it needs a setting of its own (a folder...): its own tests make it
            continue
        assert isinstance(source, sources.Source) and source.key == name and source.label
        made += 1
    assert made >= 6
    with pytest.raises(ParameterError, match="unknown image source 'nope'"):
        sources.get("nope")


def test_demo_source_searches_and_loads_the_demo():
    source = sources.get("demo")
    found = source.search(lon=POINT[0], lat=POINT[1], start="2021-05-01", end="2021-06-30", max_cloud=30)
    table = demo.catalog()
    assert list(found.columns[:8]) == list(sources.base.SCENE_COLUMNS)
    assert set(found["scene_id"]) <= set(table["scene_id"]) and len(found) >= 2
    assert found["time"].is_monotonic_increasing and (found["cloud_cover"] <= 30).all()
    scene = source.load(found["scene_id"].iloc[0], "red", BBOX)
    np.testing.assert_array_equal(
        scene.values, demo.load_scene(found["scene_id"].iloc[0], "red", bbox=BBOX).values
    )
    assert (
        source.aoi_crs(0.0, 0.0) == demo.DEMO_CRS and source.pixel_size("pan") == 15.0 and source.band is None
    )
    assert source.cache_key("A", "red", BBOX) != sources.get("demo", seed=1).cache_key("A", "red", BBOX)
    pair = source.load_pair(found["scene_id"].iloc[0], found["scene_id"].iloc[1], "red", BBOX)
    assert pair.reference.shape == scene.shape and source.place and source.has_truth


def test_local_source_uses_its_scenes_whole():
    uploads = {}
    source = sources.get("local", scenes=uploads)
    assert source.aoi_crs(*POINT) is None and source.pixel_size() is None and source.scene_shape() is None
    scene = demo.load_scene(demo.catalog()["scene_id"].iloc[0], bbox=BBOX)
    uploads[scene.attrs["scene_id"]] = scene  # kept by reference: later uploads are found
    assert source.search().equals(scene_table([scene])) and not source.crops
    assert source.load(scene.attrs["scene_id"]) is scene and source.cache_key(scene.attrs["scene_id"]) is None
    assert source.aoi_crs(0.0, 0.0) == "EPSG:32622" and source.pixel_size() == 30.0
    assert source.scene_shape() == scene.shape
    with pytest.raises(TrackingError, match="is gone: upload it again"):
        source.load("other")


def test_file_source_names_scenes_by_file_and_tiles_by_path(tmp_path):
    scene = demo.load_scene(demo.catalog()["scene_id"].iloc[0], bbox=BBOX)
    path = tmp_path / f"{scene.attrs['scene_id']}.tif"
    scene.rio.to_raster(path)
    source = sources.get("file")
    assert source.scene_name(str(path)) == scene.attrs["scene_id"]
    assert source.tiled_inputs(str(path), str(path)) == (str(path), str(path))
    np.testing.assert_array_equal(source.load(str(path)).values, scene.values)
    crop = source.load(str(path), bbox=(545_000.0, 7_660_000.0, 546_000.0, 7_661_000.0))
    left, bottom, right, top = crop.rio.bounds()
    assert crop.shape[0] < scene.shape[0] and crop.shape[1] < scene.shape[1]
    assert left >= 544_900 and right <= 546_100 and bottom >= 7_659_900 and top <= 7_661_100


def test_pair_spec_keys_are_those_of_before_the_sources():
    specs = [
        PairSpec.files("/data/LC08_A.tif", "/data/LC08_B.TIF"),
        PairSpec.demo("A", "B", BBOX, "pan", seed=3),
    ]
    for spec, names in zip(specs, (["LC08_A", "LC08_B"], ["A", "B"]), strict=True):
        text = json.dumps([spec.source, spec.reference, spec.secondary, spec.bbox, spec.band, spec.seed])
        assert spec.key == "__".join(names) + "__" + hashlib.sha1(text.encode()).hexdigest()[:8]


def test_stac_source_describes_its_provider_and_loads_only_what_it_searched():
    source = sources.get("sentinel2", url="http://127.0.0.1:9/stac")
    assert source.remote and source.band == "nir" and source.pixel_size() == 10.0
    assert source.endpoint == "http://127.0.0.1:9/stac" and sources.get("landsat").endpoint.startswith(
        "https://"
    )
    with pytest.raises(TrackingError, match="not in the last search: search again"):
        source.load("S2B_unknown", bbox=BBOX, crs=demo.DEMO_CRS)


def test_the_library_imports_no_ui_package():
    code = (
        "import sys, tracking, tracking.batch, tracking.sources, tracking.sources.demo, tracking.sources.local,"
        " tracking.sources.stac.source, tracking.sources.itslive;"
        " print([m for m in ('panel', 'bokeh', 'holoviews', 'geoviews', 'datashader') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
