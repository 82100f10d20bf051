"""Tests of tracking.sources.folder: a folder of GeoTIFFs, found by name in the registry."""

from __future__ import annotations

import pytest

from tracking import sources
from tracking.exceptions import SceneReadError
from tracking.sources import demo

BBOX = (545_000.0, 7_660_000.0, 548_000.0, 7_662_000.0)


def test_a_folder_of_geotiffs_is_searched_and_loaded_by_scene_id(tmp_path, monkeypatch):
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "cache"))
    ids = list(demo.catalog()["scene_id"].iloc[[3, 1]])
    for scene_id in ids:
        demo.load_scene(scene_id, bbox=BBOX).rio.to_raster(tmp_path / f"{scene_id}.tif")
    (tmp_path / "notes.txt").write_text("not a scene")
    source = sources.get("folder", folder=tmp_path)
    found = source.search()
    assert list(found["scene_id"]) == sorted(ids) and found["time"].is_monotonic_increasing
    pair = source.load_pair(*found["scene_id"])
    assert pair.reference.attrs["scene_id"] == found["scene_id"].iloc[0] and pair.reference.shape == (68, 101)
    assert source.search(start="2030-01-01").empty
    with pytest.raises(SceneReadError, match="no such folder"):
        sources.get("folder", folder=tmp_path / "missing")
