"""Tests of tracking.preprocess: the image pre-filters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from tracking import boxsum
from tracking.boxsum import sample_stride
from tracking.exceptions import ParameterError
from tracking.params import PREFILTER_NAMES
from tracking.preprocess import (
    PREFILTERS,
    prefilter,
    prefilter_reach,
    register_prefilter,
    wallis_floor,
    wallis_parts,
    wallis_standardize,
    wallis_width,
)


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    """A 120 x 150 float64 image of smoothed noise, like snow and crevasse texture in raw DNs."""
    rng = np.random.default_rng(42)
    return ndimage.gaussian_filter(rng.normal(size=(120, 150)), 1.0) * 400.0 + 8000.0


def test_registry_matches_parameter_names() -> None:
    assert tuple(PREFILTERS)[: len(PREFILTER_NAMES)] == PREFILTER_NAMES


@pytest.mark.parametrize("name", PREFILTER_NAMES)
@pytest.mark.parametrize("dtype", [np.uint16, np.float32, np.float64, np.int32])
def test_dtype_and_shape(texture: np.ndarray, name: str, dtype: type) -> None:
    image = texture.astype(dtype)
    out = prefilter(image, name, 3.0)
    assert out.dtype == np.float32
    assert out.shape == image.shape
    assert np.isfinite(out).all()
    assert out is not image


@pytest.mark.parametrize("name", PREFILTER_NAMES)
def test_input_not_modified(texture: np.ndarray, name: str) -> None:
    image = texture.astype(np.float32)
    image[5, 5] = np.nan
    before = image.copy()
    prefilter(image, name, 3.0)
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize("name", PREFILTER_NAMES)
def test_nodata_preserved_and_contained(texture: np.ndarray, name: str) -> None:
    size = 3.0 if name != "naof" else 1.0
    clean = prefilter(texture, name, size)
    holed = texture.copy()
    holed[50:55, 60:66] = np.nan
    holed[0, 0] = np.inf
    holed[100, 140] = -np.inf
    out = prefilter(holed, name, size)
    nodata = ~np.isfinite(holed)
    assert np.isnan(out[nodata]).all()
    assert np.isfinite(out[~nodata]).all()  # nothing bleeds into valid pixels
    # Pixels at least two sigma (6 px) from the hole see the same result as without it.
    near = ndimage.binary_dilation(nodata, iterations=6)
    scale = float(np.std(clean))
    difference = np.abs(out - clean)[~near]
    assert np.nanmax(difference) < 0.1 * scale
    assert np.nanmedian(difference) < 0.01 * scale


@pytest.mark.parametrize("name", ["gaussian_highpass", "wallis", "naof"])
def test_constant_image_goes_to_zero(name: str) -> None:
    out = prefilter(np.full((40, 50), 1234.5), name, 3.0)
    assert np.abs(out).max() < 1e-3


@pytest.mark.parametrize("name", ["wallis", "naof"])
def test_gain_offset_invariance(texture: np.ndarray, name: str) -> None:
    reference = prefilter(texture, name, 5.0 if name == "wallis" else 0.0)
    changed = prefilter(3.7 * texture - 2500.0, name, 5.0 if name == "wallis" else 0.0)
    np.testing.assert_allclose(changed, reference, atol=1e-4, rtol=0)


def test_highpass_removes_low_frequencies() -> None:
    rows, cols = np.mgrid[0:64, 0:64]
    ramp = 3.0 * rows + 2.0 * cols + 100.0  # a linear trend is removed exactly (away from the edges)
    out = prefilter(ramp, "gaussian_highpass", 3.0)
    assert np.abs(out[15:-15, 15:-15]).max() < 1e-3


def test_highpass_matches_image_minus_gaussian(texture: np.ndarray) -> None:
    expected = texture - ndimage.gaussian_filter(texture, 3.0, mode="reflect")
    # The low-pass is three extended boxes, not the exact Gaussian (was atol=1e-2): their kernel has the same
    # variance but a flatter top, which leaves up to ~7 % of the high-pass's std on this texture.
    atol = 0.1 * float(np.std(expected))
    np.testing.assert_allclose(prefilter(texture, "gaussian_highpass", 3.0), expected, atol=atol)


@pytest.mark.parametrize("sigma", [3.0, 12.0])
def test_box_highpass_matches_exact_gaussian_highpass(sigma: float) -> None:
    """The box low-pass has the cost of sigma 3 at sigma 12 and stays close to the Gaussian at both."""
    rng = np.random.default_rng(7)
    texture = ndimage.gaussian_filter(rng.normal(size=(256, 300)), 1.0) * 400.0 + 8000.0  # smooth texture
    texture[100:110, 40:60] = np.nan  # a hole: both sides normalize by the valid mask
    valid = np.isfinite(texture)
    zeroed = np.where(valid, texture, 0.0)
    weights = ndimage.gaussian_filter(valid.astype(float), sigma, mode="reflect")
    exact = texture - ndimage.gaussian_filter(zeroed, sigma, mode="reflect") / weights
    out = prefilter(texture, "gaussian_highpass", sigma)
    np.testing.assert_array_equal(np.isnan(out), ~valid)
    difference = (out - exact)[valid]
    scale = float(np.std(exact[valid]))
    assert np.sqrt(np.mean(difference**2)) < 0.03 * scale  # measured: 1.8 % at sigma 3, 0.6 % at sigma 12
    assert np.abs(difference).max() < 0.1 * scale  # measured: 7.9 % and 2.5 %


@pytest.mark.parametrize("sigma", [0.7, 3.0, 12.0])
def test_box_lowpass_is_a_normalized_convolution_of_variance_sigma_squared(
    texture: np.ndarray, sigma: float
) -> None:
    """The low-pass is one separable kernel of variance sigma^2 within `prefilter_reach`, normalized by the mask."""
    reach = prefilter_reach("gaussian_highpass", sigma)
    impulse = np.zeros((2 * reach + 1, 2 * reach + 1))
    impulse[reach, reach] = 1.0
    kernel_2d = impulse - prefilter(impulse, "gaussian_highpass", sigma)  # the low-pass's impulse response
    kernel = kernel_2d.sum(axis=0)
    np.testing.assert_allclose(kernel_2d, np.outer(kernel, kernel), atol=1e-6)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    assert (kernel * np.arange(-reach, reach + 1) ** 2).sum() == pytest.approx(sigma**2, rel=1e-4)
    image = texture.copy()
    image[50:55, 60:66] = np.nan
    valid = np.isfinite(image)

    def smooth(a: np.ndarray) -> np.ndarray:
        return ndimage.correlate1d(
            ndimage.correlate1d(a, kernel, 0, mode="reflect"), kernel, 1, mode="reflect"
        )

    expected = image - smooth(np.where(valid, image, 0.0)) / smooth(valid.astype(float))
    np.testing.assert_allclose(
        prefilter(image, "gaussian_highpass", sigma), expected, atol=1e-3, equal_nan=True
    )


def test_prefilter_reach() -> None:
    assert prefilter_reach("none", 0.0) == 0
    assert prefilter_reach("wallis", 5.0) == 2
    assert prefilter_reach("naof", 0.0) == 2
    assert prefilter_reach("gaussian_highpass", 12.0) < prefilter_reach("gaussian_highpass", 13.0)
    with pytest.raises(ParameterError, match="sobel"):
        prefilter_reach("sobel", 3.0)


def test_wallis_is_its_parts(texture: np.ndarray) -> None:
    """`wallis` is `wallis_parts`, `wallis_floor` over the sample and `wallis_standardize` (as tiles use them)."""
    image = texture.copy()
    image[3:7, 5:9] = np.nan
    centred, std = wallis_parts(image, 4.0)
    pick = (slice(None, None, sample_stride(image.shape)),) * 2
    valid = np.isfinite(image[pick])
    floor = wallis_floor(std[pick][valid], centred[pick][valid], float(np.abs(image[pick][valid]).mean()))
    expected = prefilter(image, "wallis", 5.0)
    np.testing.assert_allclose(wallis_standardize(centred, std, floor), expected, atol=1e-5, equal_nan=True)
    assert wallis_width(4.0) == 5


def test_wallis_standardizes_texture_and_flattens_flat_areas(texture: np.ndarray) -> None:
    image = texture.copy()
    image[:, :60] = 8000.0  # featureless snow on the left
    out = prefilter(image, "wallis", 5.0)
    assert np.abs(out[:, :55]).max() < 1e-3
    assert 0.3 < np.std(out[:, 70:]) < 1.5


def test_naof_values_and_flat_areas(texture: np.ndarray) -> None:
    out = prefilter(texture, "naof", 0.0)
    assert np.abs(out).max() <= 2 * np.sqrt(2) + 1e-5
    flat = prefilter(np.full((20, 20), 7.0), "naof", 0.0)
    assert np.all(flat == 0)


def test_naof_matches_glaft_formula(texture: np.ndarray) -> None:
    """Interior pixels agree with GIV/GLAFT's arctan2 / cosine formulation."""
    second = np.array([-1.0, 2.0, -1.0])
    f1 = ndimage.correlate1d(texture, second, axis=0)
    f2 = ndimage.correlate1d(texture, second, axis=1)
    f3 = ndimage.correlate(texture, np.diag(second))
    f4 = ndimage.correlate(texture, np.fliplr(np.diag(second)))
    a1, a2 = np.arctan2(f1, f2), np.arctan2(f3, f4)
    expected = np.cos(a1) + np.cos(np.pi / 2 - a1) + np.cos(a2) + np.cos(np.pi / 2 - a2)
    out = prefilter(texture, "naof", 0.0)
    np.testing.assert_allclose(out[1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-5)


@pytest.mark.parametrize("name", PREFILTER_NAMES)
def test_blocks_do_not_change_the_result(
    texture: np.ndarray, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = texture.copy()
    image[30:34, 40:45] = np.nan
    whole = prefilter(image, name, 2.0)
    monkeypatch.setattr(boxsum, "_BLOCK_PIXELS", 7 * image.shape[1])  # blocks of a few rows
    monkeypatch.setattr(boxsum, "_TILE", 5)  # box-filter tiles as small as their reach allows
    blocked = prefilter(image, name, 2.0)
    np.testing.assert_allclose(blocked, whole, atol=1e-5, equal_nan=True)


def test_none_is_a_float32_copy(texture: np.ndarray) -> None:
    image = texture.copy()
    image[3, 4] = np.nan
    image[5, 6] = np.inf
    out = prefilter(image, "none")
    assert out.dtype == np.float32
    assert np.isnan(out[3, 4]) and np.isnan(out[5, 6])
    np.testing.assert_allclose(out[10:], texture[10:].astype(np.float32))


def test_unknown_name_lists_known_filters(texture: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="unknown pre-filter 'sobel'") as info:
        prefilter(texture, "sobel")
    for name in PREFILTER_NAMES:
        assert repr(name) in str(info.value)


def test_bad_inputs() -> None:
    with pytest.raises(ParameterError, match="2-D"):
        prefilter(np.zeros((3, 4, 5)), "wallis")
    with pytest.raises(ParameterError, match="size > 0"):
        prefilter(np.zeros((8, 8)), "gaussian_highpass", 0.0)


def test_wallis_width_is_odd_and_at_least_3(texture: np.ndarray) -> None:
    np.testing.assert_array_equal(prefilter(texture, "wallis", 4.0), prefilter(texture, "wallis", 5.0))
    np.testing.assert_array_equal(prefilter(texture, "wallis", 1.0), prefilter(texture, "wallis", 3.0))


def test_register_prefilter(texture: np.ndarray) -> None:
    def negate(image: np.ndarray, size: float) -> np.ndarray:
        return -np.asarray(image, dtype=np.float32)

    register_prefilter("negate", negate)
    try:
        np.testing.assert_array_equal(prefilter(texture, "negate"), -texture.astype(np.float32))
    finally:
        del PREFILTERS["negate"]
    with pytest.raises(ParameterError):
        register_prefilter("broken", "not callable")  # type: ignore[arg-type]
