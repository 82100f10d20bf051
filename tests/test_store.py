"""Tests of tracking.store: result keys and the shared ResultStore."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from tracking.exceptions import ParameterError
from tracking.params import TrackingParameters
from tracking.scenes import Pair, make_scene
from tracking.store import ResultStore, result_key
from tracking.velocity import velocity_field

BASE = {"source": "demo", "band": "red", "bbox": (540_000.0, 7_650_000.0, 560_000.0, 7_670_000.0)}


def make_field(seed: int = 0) -> xr.Dataset:
    """A small VelocityField (4 x 5 nodes) with random offsets."""
    transform = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)
    image = np.ones((112, 112), np.float32)
    pair = Pair.from_scenes(
        make_scene(image, transform=transform, crs="EPSG:32622", time="2021-05-01", sensor="L8", band="red"),
        make_scene(image, transform=transform, crs="EPSG:32622", time="2021-05-17", sensor="L8", band="red"),
    )
    rng = np.random.default_rng(seed)
    shape = (4, 5)
    offsets = xr.Dataset(
        {
            "dx": (("row", "col"), rng.normal(size=shape).astype(np.float32)),
            "dy": (("row", "col"), rng.normal(size=shape).astype(np.float32)),
            "peak": (("row", "col"), np.full(shape, 0.8, np.float32)),
            "snr": (("row", "col"), np.full(shape, 2.0, np.float32)),
            "valid": (("row", "col"), rng.random(shape) > 0.2),
        },
        coords={"row": 15.5 + 16 * np.arange(shape[0]), "col": 15.5 + 16 * np.arange(shape[1])},
    )
    return velocity_field(offsets, pair)


def key(reference="A", secondary="B", params=None, **kwargs):
    return result_key(reference, secondary, params or TrackingParameters(), **{**BASE, **kwargs})


def test_key_is_stable_and_short():
    first = key()
    assert len(first) == 16 and int(first, 16) >= 0
    assert first == key(params=TrackingParameters(chip_size=32))  # the default, given explicitly
    assert first == key(bbox=(540_000.001, 7_650_000.0, 560_000.0, 7_670_000.004))  # rounded to 0.01 m
    assert first == key(bbox=[540_000, 7_650_000, 560_000, 7_670_000])


def test_key_changes_with_every_input():
    reference = key()
    changed = [
        key(reference="C"),
        key(secondary="C"),
        key(reference="B", secondary="A"),
        key(params=TrackingParameters(chip_size=64)),
        key(params=TrackingParameters(subpixel="parabolic")),
        key(params=TrackingParameters(max_speed=5000.0)),
        key(source="local"),
        key(band="pan"),
        key(bbox=None),
        key(bbox=(540_000.0, 7_650_000.0, 560_000.0, 7_670_000.5)),
    ]
    assert reference not in changed
    assert len(set(changed)) == len(changed)


def test_round_trip_in_memory():
    store = ResultStore()
    field = make_field()
    assert store.get("abc") is None and "abc" not in store and len(store) == 0
    store.put("abc", field)
    assert "abc" in store and len(store) == 1 and store.keys() == ["abc"]
    assert store.get("abc") is field


def test_lru_eviction():
    store = ResultStore(max_items=2)
    fields = {name: make_field(seed=k) for k, name in enumerate("abc")}
    store.put("a", fields["a"])
    store.put("b", fields["b"])
    assert store.get("a") is fields["a"]  # "a" is now the most recently used
    store.put("c", fields["c"])  # evicts "b"
    assert store.keys() == ["a", "c"] and len(store) == 2
    assert store.get("b") is None and "b" not in store


def test_disk_reload_in_a_new_store(tmp_path):
    field = make_field()
    k = key()
    ResultStore(tmp_path / "cache", max_items=1).put(k, field)
    assert (tmp_path / "cache" / f"{k}.nc").is_file()
    fresh = ResultStore(tmp_path / "cache")
    assert k in fresh and fresh.keys() == [k]
    back = fresh.get(k)
    assert isinstance(back, xr.Dataset)
    np.testing.assert_array_equal(back["v"].values, field["v"].values)
    np.testing.assert_array_equal(back["valid"].values, field["valid"].values)
    assert back.rio.crs == field.rio.crs
    assert back.attrs["acquisition_date_img1"] == field.attrs["acquisition_date_img1"]


def test_evicted_fields_stay_on_disk(tmp_path):
    store = ResultStore(tmp_path, max_items=1)
    store.put("a", make_field(seed=1))
    store.put("b", make_field(seed=2))
    assert len(store) == 2 and set(store.keys()) == {"a", "b"}
    assert store.get("a") is not None  # read back from disk


def test_unreadable_file_counts_as_missing(tmp_path):
    (tmp_path / "broken.nc").write_bytes(b"\x89HDF not really")
    assert ResultStore(tmp_path).get("broken") is None


def test_bad_keys_and_arguments(tmp_path):
    store = ResultStore(tmp_path)
    with pytest.raises(ParameterError, match="result key"):
        store.put("../escape", make_field())
    assert "../escape" not in store
    with pytest.raises(ParameterError, match="max_items"):
        ResultStore(max_items=-1)


def test_threads_share_a_store():
    store = ResultStore(max_items=8)
    field = make_field()
    errors = []

    def work(n):
        try:
            for k in range(50):
                store.put(f"k{(n * 50 + k) % 12}", field)
                store.get(f"k{k % 12}")
                len(store)
        except (RuntimeError, ValueError, KeyError) as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(store) == 8
