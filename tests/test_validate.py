"""Tests of tracking.validate: outlier tests of displacement grids."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from tracking.exceptions import ParameterError
from tracking.params import TrackingParameters
from tracking.validate import (
    apply_outlier_tests,
    low_peak,
    low_snr,
    normalized_median_outliers,
    outlier_flags,
    too_fast,
)


def smooth_field(rows: int = 20, cols: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A linear flow field (px) with 0.05 px of correlation noise."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:rows, 0:cols]
    dx = 2.0 + 0.1 * c + 0.05 * r + rng.normal(scale=0.05, size=r.shape)
    dy = -1.0 + 0.08 * r + rng.normal(scale=0.05, size=r.shape)
    return dx, dy


def make_field(dims: tuple[str, str] = ("row", "col")) -> xr.Dataset:
    dx, dy = smooth_field()
    peak = np.full(dx.shape, 0.8)
    snr = np.full(dx.shape, 2.0)
    valid = np.ones(dx.shape, dtype=bool)
    return xr.Dataset(
        {
            "dx": (dims, dx),
            "dy": (dims, dy),
            "peak": (dims, peak),
            "snr": (dims, snr),
            "valid": (dims, valid, {"description": "vector passed the tracker's checks"}),
        },
        coords={dims[0]: np.arange(dx.shape[0]) * 16.0, dims[1]: np.arange(dx.shape[1]) * 16.0},
    )


def test_low_peak_and_snr() -> None:
    peak = np.array([[0.9, 0.1], [np.nan, 0.2]])
    np.testing.assert_array_equal(low_peak(peak, 0.2), [[False, True], [True, False]])
    snr = np.array([1.0, 1.15, 3.0, np.nan])
    np.testing.assert_array_equal(low_snr(snr, 1.15), [True, False, False, True])


def test_too_fast() -> None:
    speed = np.array([[100.0, 5000.0], [np.nan, 999.0]])
    np.testing.assert_array_equal(too_fast(speed, 1000.0), [[False, True], [False, False]])
    assert not too_fast(speed, None).any()
    assert too_fast(speed, None).shape == speed.shape


def test_median_flags_a_spike() -> None:
    dx, dy = smooth_field()
    dx[10, 15] += 5.0
    flags = normalized_median_outliers(dx, dy)
    assert flags[10, 15]
    assert flags.sum() == 1


def test_median_spike_in_dy_only() -> None:
    dx, dy = smooth_field()
    dy[3, 4] -= 5.0
    flags = normalized_median_outliers(dx, dy)
    np.testing.assert_array_equal(np.argwhere(flags), [[3, 4]])


def test_median_spike_at_corner() -> None:
    dx, dy = smooth_field()
    dx[0, 0] += 5.0  # three neighbours only
    assert normalized_median_outliers(dx, dy)[0, 0]


def test_median_ramp_is_clean() -> None:
    r, c = np.mgrid[0:40, 0:50]
    dx, dy = 0.7 * c - 0.3 * r + 10.0, 0.2 * r + 0.9 * c  # a steep exact linear ramp
    assert not normalized_median_outliers(dx, dy).any()
    # Without a noise floor, only the one-sided neighbourhoods of the corners can exceed the threshold.
    assert not normalized_median_outliers(dx, dy, epsilon=0.0)[1:-1, 1:-1].any()
    assert not normalized_median_outliers(dx, dy, radius=3).any()
    dx, dy = smooth_field()
    assert not normalized_median_outliers(dx, dy).any()


def test_median_worked_example() -> None:
    """Residual by hand: neighbours 1..8, median 4.5, residuals' median 2, r0 = |20 - 4.5| / 2.2."""
    dx = np.array([[1.0, 2.0, 3.0], [4.0, 20.0, 5.0], [6.0, 7.0, 8.0]])
    dy = np.zeros_like(dx)
    centre = normalized_median_outliers(dx, dy, threshold=15.5 / 2.2 - 1e-6)[1, 1]
    assert centre
    assert not normalized_median_outliers(dx, dy, threshold=15.5 / 2.2 + 1e-6)[1, 1]


def test_median_handles_nan_and_invalid_neighbours() -> None:
    dx, dy = smooth_field()
    dx[10, 15] += 5.0
    dx[9, 14] = np.nan
    dy[11, 16] = np.nan
    bad = np.zeros(dx.shape, dtype=bool)
    bad[10, 14] = True
    dx_bad = dx.copy()
    dx_bad[10, 14] = 50.0  # invalid vectors must not count as neighbours
    flags = normalized_median_outliers(dx_bad, dy, valid=~bad)
    assert flags[10, 15]
    assert not flags[10, 14]  # invalid itself: not flagged by this test
    assert not flags[np.isnan(dx) | np.isnan(dy)].any()
    assert flags.sum() == 1


def test_median_needs_three_neighbours() -> None:
    dx = np.full((5, 5), np.nan)
    dy = np.zeros((5, 5))
    dx[2, 2], dx[2, 3], dx[1, 2] = 100.0, 0.0, 0.0  # the spike has two usable neighbours
    assert not normalized_median_outliers(dx, dy).any()
    dx[3, 2] = 0.0  # now three
    assert normalized_median_outliers(dx, dy)[2, 2]


def test_median_all_nan() -> None:
    dx = np.full((6, 7), np.nan)
    assert not normalized_median_outliers(dx, dx).any()


def test_median_bad_arguments() -> None:
    with pytest.raises(ParameterError):
        normalized_median_outliers(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ParameterError):
        normalized_median_outliers(np.zeros((3, 3)), np.zeros((3, 3)), radius=0)


def test_median_on_a_large_grid_with_gaps() -> None:
    dx, dy = smooth_field(1000, 1000)
    dx[np.random.default_rng(1).random(dx.shape) < 0.05] = np.nan
    dx[500, 500] += 5.0
    flags = normalized_median_outliers(dx, dy, radius=1)
    assert flags[500, 500]
    assert flags.sum() < 50  # the smooth field itself is not flagged


@pytest.mark.parametrize("dims", [("row", "col"), ("y", "x")])
def test_outlier_flags(dims: tuple[str, str]) -> None:
    field = make_field(dims)
    field["dx"][10, 15] = field["dx"][10, 15] + 5.0  # median outlier
    field["peak"][2, 3] = 0.05  # low peak ...
    field["dx"][2, 3] = 40.0  # ... whose bad value must not poison its neighbours
    field["snr"][7, 7] = 1.01
    field["valid"][15, 20] = False
    field["dx"][15, 20] = -30.0  # the tracker's own rejection: neither flagged nor used as a neighbour
    flags = outlier_flags(field, TrackingParameters(min_snr=1.15))  # the SNR test is off by default
    assert set(flags) == {"peak", "snr", "median", "speed"}
    np.testing.assert_array_equal(np.argwhere(flags["peak"]), [[2, 3]])
    np.testing.assert_array_equal(np.argwhere(flags["snr"]), [[7, 7]])
    np.testing.assert_array_equal(np.argwhere(flags["median"]), [[10, 15]])
    assert not flags["speed"].any()


def test_outlier_flags_speed() -> None:
    field = make_field()
    speed = np.full(field["dx"].shape, 100.0)
    speed[4, 5] = 9000.0
    params = TrackingParameters.from_overrides(max_speed=5000.0)
    np.testing.assert_array_equal(np.argwhere(outlier_flags(field, params, speed=speed)["speed"]), [[4, 5]])
    assert not outlier_flags(field, TrackingParameters(), speed=speed)["speed"].any()  # no limit set
    transposed = xr.DataArray(speed.T, dims=("col", "row"))
    np.testing.assert_array_equal(
        np.argwhere(outlier_flags(field, params, speed=transposed)["speed"]), [[4, 5]]
    )


def test_apply_outlier_tests() -> None:
    field = make_field()
    field["dx"][10, 15] = field["dx"][10, 15] + 5.0
    field["peak"][2, 3] = np.nan
    field["valid"][0, 1] = False
    raw_dx = field["dx"].values.copy()
    result = apply_outlier_tests(field, TrackingParameters())
    expected = np.ones(raw_dx.shape, dtype=bool)
    expected[10, 15] = expected[2, 3] = expected[0, 1] = False
    np.testing.assert_array_equal(result["valid"].values, expected)
    np.testing.assert_array_equal(result["dx"].values, raw_dx)  # raw values kept
    assert result["valid"].dtype == bool
    assert result["valid"].attrs == field["valid"].attrs
    assert field["valid"].values.sum() == raw_dx.size - 1  # the input is not modified
    assert result is not field


def test_apply_outlier_tests_clean_field_keeps_everything() -> None:
    field = make_field(("y", "x"))
    result = apply_outlier_tests(field, TrackingParameters())
    assert result["valid"].values.all()
    assert result["valid"].dims == ("y", "x")


def test_the_speed_limit_is_a_displacement_limit_on_the_offsets() -> None:
    field = make_field()
    field["dx"][4, 5] = 12.0  # 12 px of 30 m in 32 days: 4,109 m/yr
    params = TrackingParameters.from_overrides(max_speed=3000.0)
    flags = outlier_flags(field, params, pixel_size=(30.0, 30.0), dt_days=32.0)
    np.testing.assert_array_equal(np.argwhere(flags["speed"]), [[4, 5]])
    assert not outlier_flags(field, params, pixel_size=(30.0, 30.0), dt_days=64.0)["speed"].any()
    assert not outlier_flags(field, TrackingParameters(), pixel_size=(30.0, 30.0), dt_days=32.0)[
        "speed"
    ].any()


def test_the_peak_threshold_follows_the_chip_size() -> None:
    field = make_field()
    field["peak"][3, 3] = 0.15
    at_32 = outlier_flags(field, TrackingParameters(chip_size=32, min_peak=0.2))["peak"]
    at_64 = outlier_flags(field, TrackingParameters(chip_size=64, min_peak=0.2))["peak"]
    np.testing.assert_array_equal(np.argwhere(at_32), [[3, 3]])
    assert not at_64.any()  # 0.15 clears 0.2 x 32 / 64
