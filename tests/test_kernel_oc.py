"""The orientation-correlation kernel (``kernel="oc"``) on synthetic images with known motion."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from affine import Affine
from scipy import ndimage

import tracking
from tracking import track_arrays
from tracking.exceptions import CancelledError
from tracking.kernels import chip_grid
from tracking.kernels.orientation import orientation_image, upsampled_peaks
from tracking.scenes import make_scene
from tracking.testing import synthetic_pair
from tracking.velocity import vectors


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    rng = np.random.default_rng(7)
    return ndimage.gaussian_filter(rng.standard_normal((192, 192)), 1.5).astype(np.float32)


def shifted(image: np.ndarray, rows: float, cols: float) -> np.ndarray:
    return ndimage.shift(image, (rows, cols), order=5, mode="reflect").astype(np.float32)


def interior(field, margin: int = 2):
    return field.isel(row=slice(margin, -margin), col=slice(margin, -margin))


def errors(field, rows: float, cols: float) -> np.ndarray:
    return np.hypot(field.dx - cols, field.dy - rows).where(field.valid).values


@pytest.mark.parametrize(
    ("subpixel", "median", "largest"),
    [("lucas-kanade", 0.02, 0.03), ("oversampled", 0.06, 0.15), ("parabolic", 0.06, 0.15)],
)
@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.3, -0.7), (-1.55, 2.25), (4.0, -6.0)])
def test_pure_translation_is_recovered(texture, shift, subpixel, median, largest):
    field = interior(
        track_arrays(
            texture,
            shifted(texture, *shift),
            kernel="oc",
            subpixel=subpixel,
            prefilter="none",
            search_range=8,
        )
    )
    assert field.valid.mean() > 0.95
    error = errors(field, *shift)
    assert np.nanmedian(error) < median and np.nanmax(error) < largest


def test_robust_to_illumination_and_contrast_change(texture):
    """A nonlinear brightness change plus shading across the scene keeps the gradient directions."""
    moved = shifted(texture, 1.4, -2.3)
    rows, cols = np.mgrid[0:192, 0:192] / 192
    lit = np.exp(1.5 * moved) * (0.3 + 1.4 * cols) + 5 * rows
    median = {}
    for kernel in ("oc", "ncc"):
        field = interior(
            track_arrays(texture, lit, kernel=kernel, subpixel="parabolic", prefilter="none", search_range=8)
        )
        assert field.valid.mean() > 0.9
        median[kernel] = np.nanmedian(errors(field, 1.4, -2.3))
    assert median["oc"] < 0.06 and median["oc"] < 0.7 * median["ncc"]


def test_glacier_like_flow_on_the_synthetic_pair():
    pair = synthetic_pair((512, 512), max_displacement=8.0, seed=5)
    field = track_arrays(pair.reference, pair.secondary, kernel="oc", search_range=12)
    rows, cols = np.meshgrid(field.row, field.col, indexing="ij")
    true_dx, true_dy = pair.truth_at(rows, cols)
    error = np.hypot(field.dx.values - true_dx, field.dy.values - true_dy)
    valid = field.valid.values
    centre = (rows.astype(int), cols.astype(int))
    textured = ndimage.minimum_filter(pair.textured, size=32 + 2 * 12, mode="constant", cval=False)[centre]
    blank = ndimage.minimum_filter(~pair.textured, size=32, mode="constant", cval=False)[centre]
    assert textured.sum() > 100 and blank.sum() > 5
    assert valid[textured].mean() >= 0.95
    assert np.median(error[valid & textured]) < 0.1
    assert np.sqrt(np.mean(error[valid & textured] ** 2)) < 0.1
    assert (error[valid] > 2).mean() < 0.01
    assert not valid[blank].any()  # featureless and NaN chips come out invalid


def test_same_contract_and_grid_as_ncc(texture):
    oc = track_arrays(texture, texture, kernel="oc", search_range=8)
    ncc = track_arrays(texture, texture, search_range=8)
    assert set(oc.data_vars) == set(ncc.data_vars) == {"dx", "dy", "peak", "snr", "valid"}
    np.testing.assert_array_equal(oc.row, ncc.row)
    np.testing.assert_array_equal(oc.col, ncc.col)
    assert {v: oc[v].dtype for v in oc.data_vars} == {v: ncc[v].dtype for v in ncc.data_vars}
    assert oc.attrs["kernel"] == "oc" and set(oc.attrs) == set(ncc.attrs)
    inner = interior(oc)
    assert float(inner.peak.min()) > 0.99  # identical images: every gradient direction agrees
    assert float(inner.snr.min()) > 1.15
    assert float(np.abs(inner.dx).max()) < 1e-3


def test_nodata_and_featureless_chips_are_invalid_not_fake_matches(texture):
    reference = texture.copy()
    reference[100, 100] = np.nan
    secondary = shifted(texture, 2, 3)
    secondary[40:60, 40:60] = np.nan
    field = track_arrays(reference, secondary, kernel="oc", search_range=8)
    hit = (np.abs(field.row - 100) <= 15.5) & (np.abs(field.col - 100) <= 15.5)
    assert not bool(field.valid.where(hit, False).any()) and np.isnan(field.dx.values[hit.values]).all()
    over = (np.abs(field.row + 2 - 50) < 26) & (np.abs(field.col + 3 - 50) < 26)
    assert not bool(field.valid.where(over, False).any())
    flat = np.full((96, 96), 7.0, np.float32)
    for other in (flat, np.full_like(flat, np.nan)):
        field = track_arrays(flat, other, kernel="oc", search_range=8)
        assert not field.valid.any() and np.isnan(field.dx).all()


def test_progress_and_cancel(texture):
    calls = []
    track_arrays(
        texture,
        texture,
        kernel="oc",
        search_range=8,
        step=8,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(a[0] < b[0] for a, b in itertools.pairwise(calls))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        track_arrays(texture, texture, kernel="oc", search_range=8, cancel=cancel)


def test_track_with_oc_gives_a_velocity_field():
    pair = synthetic_pair((192, 192), max_displacement=4.0, seed=3)
    scenes = [
        make_scene(
            data,
            transform=Affine(30, 0, 500_000, 0, -30, 7_000_000),
            crs="EPSG:32622",
            time=time,
            sensor="Landsat 8 OLI",
            band="red",
        )
        for data, time in ((pair.reference, "2021-05-01"), (pair.secondary, "2021-05-17"))
    ]
    field = tracking.track(tracking.Pair.from_scenes(*scenes), kernel="oc", search_range=8)
    assert field.attrs["param_kernel"] == "oc"
    assert {"vx", "vy", "v", "valid", "interpolated", "peak", "snr"} <= set(field.data_vars)
    assert field.valid.mean() > 0.5
    tops, lefts = chip_grid((192, 192), 32, 16)
    true_dx, _ = pair.truth_at(*np.meshgrid(tops + 15.5, lefts + 15.5, indexing="ij"))
    valid = field.valid.values
    assert np.median(np.abs(field.dx.values - true_dx)[valid]) < 0.1
    assert np.isfinite(vectors(field, "masked").vx.values[valid]).all()


def test_orientation_image_is_unit_or_zero():
    image = np.array([[0, 0, 0, 0], [0, 1, 2, 3], [0, 2, 4, 6], [np.nan, 0, 0, 0]], np.float32)
    o = orientation_image(image)
    assert o.dtype == np.complex64
    assert np.allclose(np.abs(o[np.abs(o) > 0]), 1)
    assert (o[2:, 0] == 0).all()  # next to nodata
    assert (orientation_image(np.ones((5, 5))) == 0).all()


def test_upsampled_peaks_find_a_subpixel_correlation_peak():
    n = 32
    frequencies = np.fft.fftfreq(n) * n
    # a band-limited peak at (5.3, 7.6): the spectrum of a delta shifted by a fraction of a cell
    spectrum = np.exp(-2j * np.pi * np.add.outer(5.3 * frequencies, 7.6 * frequencies) / n)[None]
    peak = upsampled_peaks(spectrum, np.array([[5.0, 8.0]]), 20)
    np.testing.assert_allclose(peak, [[5.3, 7.6]], atol=0.026)
