"""Tests of tracking.pipeline.track on synthetic GeoTIFF pairs with a known shift."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import rasterio
from affine import Affine
from scipy import ndimage

from tracking.exceptions import CancelledError, ParameterError
from tracking.pipeline import track
from tracking.scenes import Pair, read_scene
from tracking.velocity import vectors

T30 = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)
DT_DAYS = 16.0
YEARS = DT_DAYS / 365.25
FAST = {"search_range": 8, "step": 16, "chip_size": 32}


def write_pair(tmp_path, shift_rows, shift_cols, *, size=192, hole=None, seed=0):
    """Reference and secondary GeoTIFFs (30 m, 16 days apart); the secondary moved by a known (rows, cols)."""
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.normal(size=(size, size)), 2.0).astype(np.float32)
    moved = ndimage.shift(image, (shift_rows, shift_cols), order=3, mode="nearest").astype(np.float32)
    if hole is not None:
        moved[hole] = np.nan
    paths = []
    for name, data in (("ref_20210501.tif", image), ("sec_20210517.tif", moved)):
        path = tmp_path / name
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=size,
            height=size,
            count=1,
            dtype="float32",
            crs="EPSG:32622",
            transform=T30,
            nodata=np.nan,
        ) as dst:
            dst.write(data, 1)
        paths.append(path)
    return paths


def load_pair(tmp_path, shift_rows, shift_cols, **kwargs):
    ref, sec = write_pair(tmp_path, shift_rows, shift_cols, **kwargs)
    return Pair.from_scenes(read_scene(ref), read_scene(sec))


def test_east_shift(tmp_path):
    field = track(load_pair(tmp_path, 0.0, 2.5), fill_holes=False, **FAST)
    assert field.attrs["date_dt"] == DT_DAYS
    valid = field.valid.values
    assert valid.mean() > 0.6
    expected = 2.5 * 30.0 / YEARS  # 1712.1 m/yr
    assert np.median(field.vx.values[valid]) == pytest.approx(expected, abs=0.05 * 30 / YEARS)
    assert np.median(field.vy.values[valid]) == pytest.approx(0.0, abs=0.05 * 30 / YEARS)
    assert np.median(field.dx.values[valid]) == pytest.approx(2.5, abs=0.05)
    assert np.isnan(field.vx.values[~valid]).all()


def test_north_shift_is_positive_vy(tmp_path):
    field = track(load_pair(tmp_path, -2.0, 0.0), fill_holes=False, **FAST)  # rows up = north
    valid = field.valid.values
    expected = 2.0 * 30.0 / YEARS
    assert np.median(field.vy.values[valid]) == pytest.approx(expected, abs=0.05 * 30 / YEARS)
    assert np.median(field.vx.values[valid]) == pytest.approx(0.0, abs=0.05 * 30 / YEARS)
    assert np.median(field.dy.values[valid]) == pytest.approx(-2.0, abs=0.05)


def test_max_speed_rejects_fast_vectors(tmp_path):
    pair = load_pair(tmp_path, 0.0, 2.5)
    free = track(pair, fill_holes=False, max_speed=None, **FAST)
    slow = track(pair, fill_holes=False, max_speed=1000.0, **FAST)  # truth is 1712 m/yr
    assert free.valid.any() and not slow.valid.any()
    assert np.isnan(slow.vx.values).all()
    np.testing.assert_array_equal(slow.dx.values, free.dx.values)  # raw offsets are kept
    roomy = track(pair, fill_holes=False, max_speed=5000.0, **FAST)
    np.testing.assert_array_equal(roomy.valid.values, free.valid.values)
    assert slow.attrs["param_max_speed"] == 1000.0 and free.attrs["param_max_speed"] == "none"


def test_holes_are_filled_and_flagged(tmp_path):
    hole = (slice(88, 104), slice(88, 104))
    pair = load_pair(tmp_path, 0.0, 2.5, hole=hole)
    plain = track(pair, fill_holes=False, **FAST)
    filled = track(pair, fill_holes=True, fill_distance=2, **FAST)
    assert (~plain.valid).sum() > 0
    interp = filled.interpolated.values
    assert interp.any()
    assert not (interp & filled.valid.values).any()
    assert np.isfinite(filled.vx.values[interp]).all()
    np.testing.assert_allclose(filled.vx.values[interp], 2.5 * 30.0 / YEARS, rtol=0.1)
    np.testing.assert_array_equal(filled.valid.values, plain.valid.values)
    np.testing.assert_array_equal(filled.dx.values, plain.dx.values)
    assert np.isnan(vectors(filled, "masked").vx.values[interp]).all()


def test_parameters_are_checked_and_recorded(tmp_path):
    pair = load_pair(tmp_path, 0.0, 1.0)
    with pytest.raises(ParameterError, match="search_range"):
        track(pair, chip_size=128, search_range=64)
    with pytest.raises(ParameterError, match="unknown tracking parameter"):
        track(pair, chipsize=32)
    field = track(pair, fill_holes=False, **FAST)
    assert field.attrs["param_search_range"] == 8 and field.attrs["param_fill_holes"] == "false"


def test_progress_and_cancel(tmp_path):
    pair = load_pair(tmp_path, 0.0, 1.0)
    calls = []
    track(pair, fill_holes=False, progress=lambda done, total: calls.append((done, total)), **FAST)
    assert calls and calls[-1][0] == calls[-1][1] > 0
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        track(pair, fill_holes=False, cancel=cancel, **FAST)
