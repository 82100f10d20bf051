"""Tests of tracking.quality: GLAFT's static-terrain metric."""

from __future__ import annotations

import numpy as np
import pytest

from tracking.quality import MAX_KDE_SAMPLES, static_terrain_metric


def gaussian_cloud(n: int, sigma_x: float, sigma_y: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, sigma_x, n), rng.normal(0.0, sigma_y, n)


@pytest.mark.parametrize("sigma", [0.05, 0.3, 2.0])
def test_gaussian_metric_is_two_sigma(sigma):
    vx, vy = gaussian_cloud(8000, sigma, sigma)
    result = static_terrain_metric(vx, vy)
    assert result["metric_x"] == pytest.approx(2 * sigma, rel=0.1)
    assert result["metric_y"] == pytest.approx(2 * sigma, rel=0.1)
    assert result["n"] == 8000
    # about 1 - 0.95^2 of a 2-D Gaussian lies outside a +-2 sigma box
    assert 5.0 < result["outlier_percent"] < 15.0


def test_anisotropic_cloud_gives_per_axis_metric():
    vx, vy = gaussian_cloud(8000, 0.1, 0.3, seed=1)
    result = static_terrain_metric(vx, vy)
    assert result["metric_x"] == pytest.approx(0.2, rel=0.15)
    assert result["metric_y"] == pytest.approx(0.6, rel=0.15)


def test_shifted_cloud_peak_follows_the_shift():
    vx, vy = gaussian_cloud(5000, 0.2, 0.2, seed=2)
    result = static_terrain_metric(vx + 0.5, vy - 1.65)
    assert result["kdepeak_x"] == pytest.approx(0.5, abs=0.08)
    assert result["kdepeak_y"] == pytest.approx(-1.65, abs=0.08)
    assert result["metric_x"] == pytest.approx(0.4, rel=0.1)


def test_gross_outliers_are_counted():
    vx, vy = gaussian_cloud(5000, 0.1, 0.1, seed=3)
    rng = np.random.default_rng(4)
    angle, radius = rng.uniform(0, 2 * np.pi, 100), rng.uniform(2.5, 5.0, 100)
    result = static_terrain_metric(np.r_[vx, radius * np.cos(angle)], np.r_[vy, radius * np.sin(angle)])
    # the outliers widen the kernel (through xystd), hence the box a little, but lie far outside it
    assert 0.2 <= result["metric_x"] < 0.35
    assert 0.2 <= result["metric_y"] < 0.35
    every_outlier = 100 * 100 / 5100
    assert every_outlier < result["outlier_percent"] < every_outlier + 5.0


def test_nans_are_ignored():
    vx, vy = gaussian_cloud(3000, 0.2, 0.2, seed=5)
    clean = static_terrain_metric(vx, vy)
    vx_nan, vy_nan = vx.copy(), vy.copy()
    vx_nan[::7] = np.nan
    vy_nan[::11] = np.inf
    extra_x = np.concatenate([vx, vx_nan[::7], [np.nan] * 50]).reshape(-1)
    extra_y = np.concatenate([vy, vy_nan[::7], np.full(50, 3.0)]).reshape(-1)
    result = static_terrain_metric(extra_x, extra_y)
    assert result["n"] == 3000
    assert result == clean
    grid = static_terrain_metric(vx_nan.reshape(60, 50), vy_nan.reshape(60, 50))
    assert grid["n"] == int(np.sum(np.isfinite(vx_nan) & np.isfinite(vy_nan)))


def test_too_few_samples_raise():
    with pytest.raises(ValueError, match="at least 10 finite"):
        static_terrain_metric([0.1, 0.2, np.nan], [0.0, 0.1, 0.3])
    with pytest.raises(ValueError, match="same number"):
        static_terrain_metric(np.zeros(20), np.zeros(21))
    with pytest.raises(ValueError, match="thres_sigma"):
        static_terrain_metric(np.zeros(20), np.zeros(20), thres_sigma=0)


def test_identical_samples_give_zero():
    result = static_terrain_metric(np.full(20, 0.5), np.full(20, -1.0))
    assert result["metric_x"] == result["metric_y"] == 0.0
    assert (result["kdepeak_x"], result["kdepeak_y"]) == (0.5, -1.0)


def test_large_sets_are_subsampled_deterministically():
    vx, vy = gaussian_cloud(MAX_KDE_SAMPLES * 3, 0.1, 0.1, seed=6)
    first = static_terrain_metric(vx, vy)
    assert first == static_terrain_metric(vx, vy)
    assert first["n"] == MAX_KDE_SAMPLES * 3
    assert first["metric_x"] == pytest.approx(0.2, rel=0.1)
