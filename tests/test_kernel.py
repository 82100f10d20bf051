"""The NCC tracker on synthetic images with known motion."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from scipy import ndimage

from tracking import track_arrays
from tracking.exceptions import CancelledError, ParameterError
from tracking.kernels import chip_grid
from tracking.kernels.ncc import centre_weights
from tracking.testing import synthetic_pair


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    rng = np.random.default_rng(42)
    return ndimage.gaussian_filter(rng.standard_normal((256, 256)), 1.5).astype(np.float32)


def shifted(image: np.ndarray, rows: float, cols: float) -> np.ndarray:
    """The image with its content moved by (rows down, cols right), band-limited interpolation."""
    return ndimage.shift(image, (rows, cols), order=5, mode="reflect").astype(np.float32)


def interior(field, margin: int = 2):
    return field.isel(row=slice(margin, -margin), col=slice(margin, -margin))


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.3, -0.7), (-1.55, 2.25), (4.0, -6.0), (7.4, 12.6)])
def test_pure_translation_is_recovered_within_002_px(texture, shift):
    field = interior(track_arrays(texture, shifted(texture, *shift), prefilter="none", search_range=16))
    assert field.valid.mean() > 0.95
    assert float(np.abs(field.dy - shift[0]).where(field.valid).max()) < 0.02
    assert float(np.abs(field.dx - shift[1]).where(field.valid).max()) < 0.02


@pytest.mark.parametrize(("method", "tolerance"), [("oversampled", 0.08), ("parabolic", 0.2)])
def test_other_subpixel_methods(texture, method, tolerance):
    field = interior(track_arrays(texture, shifted(texture, 1.3, -2.6), subpixel=method, search_range=8))
    assert float(np.abs(field.dy - 1.3).where(field.valid).max()) < tolerance
    assert float(np.abs(field.dx + 2.6).where(field.valid).max()) < tolerance


def test_output_contract(texture):
    field = track_arrays(texture, texture, chip_size=32, step=16, search_range=8)
    assert set(field.data_vars) == {"dx", "dy", "peak", "snr", "valid"}
    assert field.dx.dims == ("row", "col")
    # a chip covering rows r0 .. r0 + 31 is centred at r0 + 15.5
    np.testing.assert_array_equal(field.row, np.arange(0, 256 - 32 + 1, 16) + 15.5)
    assert field.dx.dtype == np.float32 and field.valid.dtype == bool
    assert field.attrs["chip_size"] == 32 and field.attrs["search_range"] == 8
    inner = interior(field)
    assert float(inner.peak.min()) > 0.99  # identical images
    assert float(np.abs(inner.dx).max()) < 1e-3


def test_large_displacement_beyond_the_coarse_pass(texture):
    big = np.tile(texture, (2, 2))
    field = interior(track_arrays(big, shifted(big, -23.0, 31.5), search_range=40, chip_size=48), 4)
    assert field.valid.mean() > 0.9
    assert float(np.abs(field.dx - 31.5).where(field.valid).max()) < 0.05


def test_glacier_like_flow_masking_keeps_good_vectors_and_drops_blank_areas():
    pair = synthetic_pair((768, 768), max_displacement=10.0, seed=3)
    field = track_arrays(pair.reference, pair.secondary, prefilter="none")
    rows, cols = np.meshgrid(field.row, field.col, indexing="ij")
    true_dx, true_dy = pair.truth_at(rows, cols)
    error = np.hypot(field.dx.values - true_dx, field.dy.values - true_dy)
    valid = field.valid.values
    chip, reach = 32, 20
    centre_r = rows.astype(int)
    centre_c = cols.astype(int)
    textured = ndimage.minimum_filter(pair.textured, size=chip + 2 * reach, mode="constant", cval=False)
    blank = ndimage.minimum_filter(~pair.textured, size=chip, mode="constant", cval=False)
    textured, blank = textured[centre_r, centre_c], blank[centre_r, centre_c]
    assert textured.sum() > 200 and blank.sum() > 20
    assert valid[textured].mean() >= 0.95
    assert (error[valid] > 2).mean() < 0.01
    assert not valid[blank].any()  # featureless and NaN chips come out invalid
    assert np.sqrt(np.mean(error[valid & textured] ** 2)) < 0.1


def test_a_nodata_pixel_in_the_reference_chip_is_matched_around(texture):
    reference = texture.copy()
    reference[100, 100] = np.nan
    field = track_arrays(reference, shifted(texture, 1, 1), search_range=8)
    hit = (np.abs(field.row - 100) <= 15.5) & (np.abs(field.col - 100) <= 15.5)
    assert hit.sum() > 0
    assert bool(field.valid.where(hit, True).all())  # one missing pixel no longer loses four chips
    assert float(np.abs(field.dx.where(hit) - 1).max()) < 0.05


def test_chips_mostly_on_nodata_give_invalid_vectors_and_no_fake_zero(texture):
    reference = texture.copy()
    reference[:, :120] = np.nan  # the west has no data
    field = track_arrays(reference, shifted(texture, 1, 1), search_range=8)
    left = field.col - 15.5
    mostly_nodata = left + 16 < 120  # more than half of the chip on nodata
    assert not bool(field.valid.where(mostly_nodata, False).any())
    some = (left < 120) & ~mostly_nodata  # a quarter to a half on nodata: matched on the rest
    assert bool(field.valid.where(some, False).any())
    matched = interior(field).where(~mostly_nodata)
    assert float(np.abs(matched.dx - 1).max()) < 0.3


def test_nodata_where_the_chip_matches_is_matched_around_then_rejected(texture):
    secondary = shifted(texture, 2, 3)
    secondary[120:140, 120:140] = np.nan  # 400 px: under half of any 32 px chip
    field = track_arrays(texture, secondary, search_range=8)
    over = (np.abs(field.row + 2 - 130) < 20) & (np.abs(field.col + 3 - 130) < 20)
    assert bool(field.valid.where(over, True).all())
    # the smooth fill that stands in for the hole carries no motion, so these chips are less exact
    assert float(np.abs(field.dx.where(over) - 3).max()) < 0.3
    secondary[100:160, 100:160] = np.nan  # now the matched windows are mostly nodata
    field = track_arrays(texture, secondary, search_range=8)
    inside = (np.abs(field.row + 2 - 130) < 10) & (np.abs(field.col + 3 - 130) < 10)
    assert inside.sum() > 0
    assert not bool(field.valid.where(inside, False).any())
    far = interior(field).where(~((np.abs(field.row - 130) < 50) & (np.abs(field.col - 130) < 50)))
    assert float(np.abs(far.dx - 3).max()) < 0.05  # and the rest is untouched


def test_all_nan_and_featureless_images():
    flat = np.full((128, 128), 7.0, np.float32)
    for secondary in (flat, np.full_like(flat, np.nan)):
        field = track_arrays(flat, secondary, search_range=8)
        assert not field.valid.any()
        assert np.isnan(field.dx).all()


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"step": 0}, "step"),
        ({"chip_size": 4}, "chip_size"),
        ({"subpixel": "magic"}, "subpixel"),
        ({"chip_size": 300}, "chip_size"),
        ({"search_range": 200}, "search_range"),
        ({"wobble": 1}, "wobble"),
    ],
)
def test_bad_parameters_name_the_parameter(texture, overrides, name):
    with pytest.raises(ParameterError, match=name):
        track_arrays(texture, texture, **overrides)


def test_bad_images(texture):
    with pytest.raises(ParameterError, match="differ in shape"):
        track_arrays(texture, texture[:-1])
    with pytest.raises(ParameterError, match="2-D"):
        track_arrays(texture[0], texture[0])


def test_progress_and_cancel(texture):
    calls = []
    track_arrays(
        texture, texture, search_range=8, step=8, progress=lambda done, total: calls.append((done, total))
    )
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(a[0] < b[0] for a, b in itertools.pairwise(calls))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        track_arrays(texture, texture, search_range=8, cancel=cancel)


def test_integer_images_and_large_offsets(texture):
    raw = (texture * 300 + 12000).astype(np.uint16)
    moved = (shifted(texture, 0.5, 2.5) * 300 + 12000).astype(np.uint16)
    field = interior(track_arrays(raw, moved, prefilter="none", search_range=8))
    assert float(np.abs(field.dx - 2.5).where(field.valid).median()) < 0.03


def test_grid_and_weights():
    tops, lefts = chip_grid((100, 70), 32, 16)
    assert tops.tolist() == [0, 16, 32, 48, 64] and lefts.tolist() == [0, 16, 32]
    weights = centre_weights(32)
    assert weights.shape == (32, 32)
    assert weights[15, 15] == weights.max() and weights[0, 0] < 0.1


def test_a_broad_correlation_peak_is_not_its_own_rival():
    """The SNR compares the peak with the next *local maximum*, not with its own flank (smooth images)."""
    rng = np.random.default_rng(3)
    ndimage.gaussian_filter(rng.standard_normal((320, 320)), 5.0)  # keep the draws of the recorded figures
    smooth = ndimage.gaussian_filter(rng.standard_normal((320, 320)), 8.0).astype(np.float32)
    field = interior(track_arrays(smooth, shifted(smooth, 2.0, -3.0), prefilter="none", search_range=16))
    assert (
        float(field.snr.median()) > 3.0
    )  # the flank of this broad peak gave 1.15, and half the vectors failed
    assert float(field.valid.mean()) > 0.95
    assert float(np.abs(field.dx + 3.0).where(field.valid).max()) < 0.1


def test_the_full_resolution_search_takes_over_where_the_coarse_guess_is_wrong():
    """Fine texture that moves, over a weaker smooth pattern that stays: block averaging keeps only the pattern,
    so the coarse pass guesses 0; the climb from there ends low and the full-resolution search finds the motion
    (without it, 22% of the chips kept the pattern's still match)."""
    rng = np.random.default_rng(5)
    fine = ndimage.gaussian_filter(rng.standard_normal((256, 256)), 0.7).astype(np.float32)
    fine /= fine.std()
    still = ndimage.gaussian_filter(rng.standard_normal((256, 256)), 6.0).astype(np.float32)
    still *= 0.5 / still.std()
    field = track_arrays(
        fine + still, shifted(fine, 9.0, -11.0) + still, prefilter="none", search_range=16, min_peak=0.0
    )
    good = np.hypot(field.dx + 11.0, field.dy - 9.0) < 0.5
    assert float(interior(good, 3).mean()) > 0.9  # 0.94 here; 0.78 without the full-resolution search
