"""The kernel registry: selecting kernels by name, user kernels end to end, and the kernel contract."""

from __future__ import annotations

import argparse
import threading

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

import tracking
from tracking.cli.common import add_parameter_flags
from tracking.exceptions import CancelledError, KernelError, ParameterError
from tracking.kernels import (
    KERNELS,
    chip_grid,
    get_kernel,
    offsets_dataset,
    register_kernel,
    unregister_kernel,
)
from tracking.params import TrackingParameters
from tracking.pipeline import track_arrays
from tracking.scenes import make_scene


def sad(chip: np.ndarray, window: np.ndarray) -> tuple[float, float, float]:
    """Brute-force sum of absolute differences at integer offsets: the smallest sum wins."""
    n = chip.shape[0]
    reach = (window.shape[0] - n) // 2
    cost = np.abs(sliding_window_view(window, (n, n)) - chip).sum(axis=(2, 3))
    if np.isnan(cost).all():
        return np.nan, np.nan, np.nan
    i, j = np.unravel_index(np.nanargmin(cost), cost.shape)
    return j - reach, i - reach, 1.0


@pytest.fixture
def user_kernel():
    """Register ``sad`` for one test, and remove it afterwards whatever happens."""
    names = []

    def add(name: str, function, **kwargs):
        register_kernel(name, function, **kwargs)
        names.append(name)

    yield add
    for name in names:
        if name in KERNELS:
            unregister_kernel(name)


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    rng = np.random.default_rng(3)
    return ndimage.gaussian_filter(rng.standard_normal((128, 128)), 1.5).astype(np.float32)


def moved(texture: np.ndarray, rows: int = 2, cols: int = -3) -> np.ndarray:
    return np.roll(texture, (rows, cols), axis=(0, 1))


def test_built_in_kernels_are_registered_and_selectable():
    assert list(KERNELS)[:2] == ["ncc", "oc"]
    assert get_kernel("ncc").kind == get_kernel("oc").kind == "grid"
    assert TrackingParameters.param["kernel"].objects[:2] == ["ncc", "oc"]
    assert TrackingParameters().kernel == "ncc"
    assert TrackingParameters.param["kernel"].precedence < 1  # in the kernel group of the CLI and dashboard


@pytest.mark.parametrize("call", ["params", "track_arrays", "get_kernel"])
def test_unknown_kernel_names_the_choices(texture, call):
    with pytest.raises(ParameterError, match=r"kernel.*ncc, oc"):
        if call == "params":
            TrackingParameters.from_overrides(kernel="nope")
        elif call == "track_arrays":
            track_arrays(texture, texture, kernel="nope")
        else:
            get_kernel("nope")


def test_user_chip_kernel_end_to_end_through_track(user_kernel):
    user_kernel("sad", sad)
    assert "sad" in TrackingParameters.param["kernel"].objects
    rng = np.random.default_rng(1)
    image = ndimage.gaussian_filter(rng.standard_normal((160, 160)), 1.5).astype(np.float32)
    scenes = [
        make_scene(
            data,
            transform=Affine(30, 0, 500_000, 0, -30, 7_000_000),
            crs="EPSG:32622",
            time=time,
            sensor="Landsat 8 OLI",
            band="red",
        )
        for data, time in ((image, "2021-05-01"), (moved(image), "2021-05-17"))
    ]
    field = tracking.track(tracking.Pair.from_scenes(*scenes), kernel="sad", search_range=6, prefilter="none")
    assert field.attrs["param_kernel"] == "sad"
    valid = field.valid.values
    assert valid[:-1, 1:].all()  # all but the chips whose match np.roll wrapped around the edge
    assert np.all(field.dx.values[valid] == -3) and np.all(field.dy.values[valid] == 2)
    assert np.isnan(field.snr.values).all()  # a 3-tuple gives no SNR, and the SNR test is skipped
    assert (field.vx.values[valid] < 0).all() and (field.vy.values[valid] < 0).all()  # west and south


def test_chip_kernel_matches_on_the_same_grid_and_threads_change_nothing(user_kernel, texture):
    user_kernel("sad", sad)
    user_kernel("sad-threads", sad, threads=2)
    one = track_arrays(texture, moved(texture), kernel="sad", search_range=5)
    two = track_arrays(texture, moved(texture), kernel="sad-threads", search_range=5)
    xr.testing.assert_equal(one.drop_attrs(), two.drop_attrs())
    reference = track_arrays(texture, moved(texture), search_range=5)
    np.testing.assert_array_equal(one.row, reference.row)
    np.testing.assert_array_equal(one.col, reference.col)
    assert one.attrs["kernel"] == "sad" and set(one.attrs) == set(reference.attrs)


def test_chip_kernel_results_are_screened(user_kernel, texture):
    """Offsets beyond the search range, matches landing on nodata, and the SNR test when an SNR is given."""
    user_kernel("far", lambda chip, window: (99.0, 0.0, 1.0, 5.0))
    assert not track_arrays(texture, texture, kernel="far", search_range=5).valid.any()
    user_kernel("low-snr", lambda chip, window: (0.0, 0.0, 1.0, 1.0))
    assert track_arrays(
        texture, texture, kernel="low-snr", search_range=5
    ).valid.any()  # SNR test off by default
    assert not track_arrays(texture, texture, kernel="low-snr", search_range=5, min_snr=1.15).valid.any()
    user_kernel("still", lambda chip, window: (0.0, 0.0, 1.0, 5.0))
    secondary = texture.copy()
    secondary[60:70, 60:70] = np.nan
    field = track_arrays(texture, secondary, kernel="still", search_range=5)
    over = (np.abs(field.row - 65) < 21) & (np.abs(field.col - 65) < 21)
    assert not bool(field.valid.where(over, False).any())
    assert bool(field.valid.where(~over, True).all())


def test_chip_kernel_progress_and_cancel(user_kernel, texture):
    user_kernel("sad", sad)
    calls = []
    track_arrays(texture, texture, kernel="sad", search_range=4, progress=lambda *a: calls.append(a))
    assert calls[-1][0] == calls[-1][1] == len(chip_grid((128, 128), 32, 16)[0]) ** 2
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        track_arrays(texture, texture, kernel="sad", search_range=4, cancel=cancel)


def test_registered_kernels_become_cli_choices(user_kernel):
    user_kernel("sad", sad)
    parser = argparse.ArgumentParser()
    add_parameter_flags(parser)
    assert parser.parse_args(["--kernel", "sad"]).kernel == "sad"
    unregister_kernel("sad")
    assert "sad" not in TrackingParameters.param["kernel"].objects
    with pytest.raises(ParameterError, match="Allowed values: ncc, oc"):
        TrackingParameters.from_overrides(kernel="sad")


@pytest.mark.parametrize(
    ("result", "message"),
    [("0, 0, 1", "must return"), ((1.0, 2.0), "must return"), ((1, 2, 3, 4, 5), "must return")],
)
def test_chip_kernel_breaking_the_contract(user_kernel, texture, result, message):
    user_kernel("broken", lambda chip, window: result)
    with pytest.raises(KernelError, match=f"kernel 'broken'.*{message}"):
        track_arrays(texture, texture, kernel="broken", search_range=4)


def _grid_result(reference, params, **changes):
    tops, lefts = chip_grid(reference.shape, params.chip_size, params.step)
    zeros = np.zeros((tops.size, lefts.size))
    field = offsets_dataset(tops, lefts, params.chip_size, zeros, zeros, zeros + 1, zeros + 5, zeros == 0)
    for name, change in changes.items():
        field = change(field) if name == "all" else field.assign({name: change(field[name])})
    return field


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.to_array(), "not an xarray.Dataset"),
        (lambda f: f.drop_vars("peak"), "peak are missing"),
        (lambda f: f.transpose("col", "row"), "dims"),
        (lambda f: f.isel(row=slice(1, None)), "row coordinate"),
        (lambda f: f.assign_coords(col=f.col + 1), "col coordinate"),
    ],
)
def test_grid_kernel_breaking_the_contract(user_kernel, texture, change, message):
    user_kernel(
        "grid-broken", lambda ref, sec, params, **_: _grid_result(ref, params, all=change), kind="grid"
    )
    with pytest.raises(KernelError, match=f"kernel 'grid-broken'.*{message}"):
        track_arrays(texture, texture, kernel="grid-broken", search_range=4)


def test_grid_kernel_that_keeps_the_contract_gets_the_shared_outlier_tests(user_kernel, texture):
    def grid(reference, secondary, params, *, progress=None, cancel=None):
        field = _grid_result(reference, params)
        return field.assign(dx=field.dx.where(field.row != field.row[2], 9.0))  # one row of outliers

    user_kernel("grid-ok", grid, kind="grid")
    field = track_arrays(texture, texture, kernel="grid-ok", search_range=4)
    assert field.attrs["kernel"] == "grid-ok"
    assert not field.valid.isel(row=2).any() and field.valid.isel(row=0).all()  # normalized median test


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("Bad Name", sad), {}, "lower-case"),
        (("ncc", sad), {"replace": True}, "built in"),
        (("fine", "not a function"), {}, "not callable"),
        (("fine", sad), {"kind": "pixel"}, "kind"),
        (("fine", sad), {"threads": 0}, "threads"),
    ],
)
def test_bad_registrations(args, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        register_kernel(*args, **kwargs)
    assert "fine" not in KERNELS


def test_registering_twice_needs_replace(user_kernel):
    user_kernel("sad", sad)
    with pytest.raises(ParameterError, match="already registered"):
        register_kernel("sad", sad)
    assert register_kernel("sad", lambda chip, window: (0, 0, 1), replace=True).function is not sad
    with pytest.raises(ParameterError, match="cannot be removed"):
        unregister_kernel("oc")
