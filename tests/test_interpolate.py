"""Tests of tracking.interpolate: hole filling."""

from __future__ import annotations

import numpy as np
import pytest

from tracking import interpolate
from tracking.exceptions import ParameterError
from tracking.interpolate import fill_holes


def ramp(rows: int = 40, cols: int = 50) -> tuple[np.ndarray, np.ndarray]:
    r, c = np.mgrid[0:rows, 0:cols]
    return 5.0 + 0.3 * c + 0.1 * r, -2.0 - 0.2 * r + 0.05 * c


def test_hole_in_ramp_is_filled_within_5_percent() -> None:
    dx, dy = ramp()
    valid = np.ones(dx.shape, dtype=bool)
    valid[10:14, 20:24] = False  # 4 x 4: every node within 2 of valid data
    raw_dx = dx.copy()
    raw_dx[~valid] = 999.0  # the rejected values must be ignored
    dx_f, dy_f, interpolated = fill_holes(raw_dx, dy, valid, max_distance=2)
    np.testing.assert_array_equal(interpolated, ~valid)
    np.testing.assert_allclose(dx_f[~valid], dx[~valid], rtol=0.05)
    np.testing.assert_allclose(dy_f[~valid], dy[~valid], rtol=0.05)
    np.testing.assert_allclose(dx_f[~valid], dx[~valid], atol=1e-8)  # a linear field is reproduced exactly


def test_distance_limit() -> None:
    dx, dy = ramp()
    valid = np.ones(dx.shape, dtype=bool)
    valid[10:30, 10:40] = False
    dx_f, dy_f, interpolated = fill_holes(dx, dy, valid, max_distance=2)
    assert np.isnan(dx_f[20, 25]) and np.isnan(dy_f[20, 25])  # centre of the big hole
    ring = np.zeros(dx.shape, dtype=bool)
    ring[10:30, 10:40] = True
    ring[12:28, 12:38] = False  # nodes 1 or 2 nodes (Chebyshev) inside the hole's edge
    np.testing.assert_array_equal(interpolated, ring)
    assert np.isnan(dx_f[~valid & ~ring]).all()
    # No wild extrapolation: filled values stay within the range of the valid values around the hole.
    border = dx[8:32, 8:42]
    assert np.all((dx_f[ring] >= border.min()) & (dx_f[ring] <= border.max()))


def test_larger_distance_fills_more() -> None:
    dx, dy = ramp()
    valid = np.ones(dx.shape, dtype=bool)
    valid[10:30, 10:40] = False
    counts = [fill_holes(dx, dy, valid, max_distance=d)[2].sum() for d in (0, 1, 2, 10)]
    assert counts[0] == 0
    assert counts[0] < counts[1] < counts[2] < counts[3] == (~valid).sum()


def test_interpolated_marks_exactly_the_filled_nodes_and_valid_nodes_are_untouched() -> None:
    rng = np.random.default_rng(3)
    dx = rng.normal(size=(30, 30)).astype(np.float32)
    dy = rng.normal(size=(30, 30)).astype(np.float32)
    valid = rng.random(dx.shape) > 0.4
    valid[20:30, 20:30] = False
    dx_f, dy_f, interpolated = fill_holes(dx, dy, valid, max_distance=1)
    assert dx_f.dtype == np.float32 and interpolated.dtype == bool
    np.testing.assert_array_equal(dx_f[valid], dx[valid])
    np.testing.assert_array_equal(dy_f[valid], dy[valid])
    assert not interpolated[valid].any()
    np.testing.assert_array_equal(interpolated, ~valid & np.isfinite(dx_f))
    np.testing.assert_array_equal(interpolated, ~valid & np.isfinite(dy_f))
    assert np.isnan(dx_f[25, 25])  # 4 nodes from valid data
    # Filled values lie within the range of the data (maximum principle).
    assert dx_f[interpolated].min() >= dx[valid].min() and dx_f[interpolated].max() <= dx[valid].max()


def test_inputs_not_modified() -> None:
    dx, dy = ramp()
    valid = np.ones(dx.shape, dtype=bool)
    valid[5, 5] = False
    before = dx.copy(), dy.copy(), valid.copy()
    fill_holes(dx, dy, valid)
    for now, then in zip((dx, dy, valid), before, strict=True):
        np.testing.assert_array_equal(now, then)


def test_all_invalid() -> None:
    dx, dy = ramp(8, 9)
    dx_f, dy_f, interpolated = fill_holes(dx, dy, np.zeros(dx.shape, dtype=bool))
    assert np.isnan(dx_f).all() and np.isnan(dy_f).all()
    assert not interpolated.any()


def test_all_valid_and_valid_nan() -> None:
    dx, dy = ramp(8, 9)
    dx[2, 2] = np.nan  # valid but NaN: kept as is, not used as a neighbour
    valid = np.ones(dx.shape, dtype=bool)
    dx_f, _, interpolated = fill_holes(dx, dy, valid)
    np.testing.assert_array_equal(dx_f, dx)
    assert not interpolated.any()
    valid[2, 3] = False
    dx_f, _, interpolated = fill_holes(dx, dy, valid)
    assert interpolated[2, 3] and np.isnan(dx_f[2, 2])
    assert dx_f[2, 3] == pytest.approx(dx[2, 3], rel=0.05)


def test_isolated_invalid_nodes_by_iterative_solver(monkeypatch: pytest.MonkeyPatch) -> None:
    dx, dy = ramp(60, 60)
    valid = np.random.default_rng(0).random(dx.shape) > 0.5
    valid[0, :] = valid[-1, :] = valid[:, 0] = valid[:, -1] = True
    direct = fill_holes(dx, dy, valid, max_distance=3)
    monkeypatch.setattr(interpolate, "_DIRECT_MAX", 0)  # force conjugate gradients
    iterative = fill_holes(dx, dy, valid, max_distance=3)
    for a, b in zip(direct, iterative, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(direct[0][direct[2]], dx[direct[2]], atol=1e-6)


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError):
        fill_holes(np.zeros((3, 3)), np.zeros((3, 4)), np.ones((3, 3), dtype=bool))
    with pytest.raises(ParameterError):
        fill_holes(np.zeros((3, 3)), np.zeros((3, 3)), np.ones((3, 3), dtype=bool), max_distance=-1)
