"""Tests of tracking.velocity: pixel offsets to m/yr, and the VelocityField dataset."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import xarray as xr
from affine import Affine

import tracking.velocity
from tracking.exceptions import InvalidPairError
from tracking.params import TrackingParameters
from tracking.scenes import Pair, make_scene
from tracking.velocity import (
    chip_coordinates,
    grid_transform,
    offsets_to_velocity,
    params_from_attrs,
    vectors,
    velocity_field,
)

T30 = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)
EAST_2_5_PX_16_DAYS = 2.5 * 30.0 / (16.0 / 365.25)  # m/yr


def make_pair(dt_days=16.0, transform=T30):
    data = np.zeros((128, 128), np.float32)
    ref = make_scene(
        data,
        transform=transform,
        crs="EPSG:32622",
        time="2021-05-01",
        sensor="Landsat 8 OLI",
        band="red",
        scene_id="REF",
    )
    sec = make_scene(
        data,
        transform=transform,
        crs="EPSG:32622",
        time=np.datetime64("2021-05-01") + np.timedelta64(int(dt_days * 24), "h"),
        sensor="Landsat 9 OLI-2",
        band="red",
        scene_id="SEC",
    )
    return Pair.from_scenes(ref, sec)


def make_offsets(dx=2.5, dy=0.0, valid=None):
    row = np.arange(15.5, 112.0, 16.0)
    col = np.arange(15.5, 112.0, 16.0)[:6]
    shape = (row.size, col.size)
    valid = np.ones(shape, bool) if valid is None else valid
    full = lambda v: (("row", "col"), np.full(shape, v, np.float32))
    return xr.Dataset(
        {
            "dx": full(dx),
            "dy": full(dy),
            "peak": full(0.8),
            "snr": full(2.0),
            "valid": (("row", "col"), valid),
        },
        coords={"row": row, "col": col},
    )


# --- pure helpers --------------------------------------------------------------------------------------------------


def test_doctests():
    assert doctest.testmod(tracking.velocity).failed == 0


def test_chip_coordinates_are_pixel_centres():
    x, y = chip_coordinates(np.array([[0.0], [15.5]]), np.array([0.0, 31.5]), T30)
    np.testing.assert_array_equal(x, [[500_015.0, 500_960.0], [500_015.0, 500_960.0]])
    np.testing.assert_array_equal(y, [[6_999_985.0, 6_999_985.0], [6_999_520.0, 6_999_520.0]])


def test_chip_coordinates_rotated():
    t = Affine.translation(1000.0, 2000.0) @ Affine.rotation(90.0) @ Affine.scale(10.0, -10.0)
    x, y = chip_coordinates(0.0, 0.0, t)
    expected = t @ (0.5, 0.5)
    assert (float(x), float(y)) == pytest.approx(expected)


def test_east_shift_gives_vx():
    vx, vy = offsets_to_velocity(2.5, 0.0, T30, 16.0)
    assert vx == pytest.approx(EAST_2_5_PX_16_DAYS)
    assert vy == pytest.approx(0.0)


def test_rows_up_is_north():
    vx, vy = offsets_to_velocity(0.0, -2.0, T30, 16.0)
    assert vx == pytest.approx(0.0)
    assert vy == pytest.approx(2.0 * 30.0 * 365.25 / 16.0) and vy > 0


def test_rotated_transform_rotates_the_displacement():
    # Columns point north and rows point east: a grid rotated 90 degrees counter-clockwise.
    t = Affine(0.0, 30.0, 500_000.0, 30.0, 0.0, 7_000_000.0)
    vx, vy = offsets_to_velocity(np.array([1.0, 0.0]), np.array([0.0, 1.0]), t, 365.25)
    np.testing.assert_allclose(vx, [0.0, 30.0])
    np.testing.assert_allclose(vy, [30.0, 0.0])
    t = Affine.rotation(30.0) @ Affine.scale(30.0, -30.0)
    vx, vy = offsets_to_velocity(3.0, 4.0, t, 365.25)
    assert np.hypot(vx, vy) == pytest.approx(150.0)


def test_non_positive_dt_is_refused():
    with pytest.raises(InvalidPairError, match="positive"):
        offsets_to_velocity(1.0, 1.0, T30, 0.0)


def test_grid_transform_single_node_uses_step():
    t = grid_transform(np.array([15.5]), np.array([15.5]), T30, 16)
    assert (t.a, t.e) == (480.0, -480.0)
    assert t @ (0.5, 0.5) == pytest.approx(chip_coordinates(15.5, 15.5, T30))


# --- velocity_field ------------------------------------------------------------------------------------------------


def test_velocity_field_grid_values_and_types():
    valid = np.ones((7, 6), bool)
    valid[2, 3] = False
    field = velocity_field(make_offsets(valid=valid), make_pair(), TrackingParameters(step=16))
    assert field.sizes == {"y": 7, "x": 6}
    np.testing.assert_array_equal(field.x, 500_000.0 + 30.0 * (np.arange(15.5, 96.0, 16.0) + 0.5))
    np.testing.assert_array_equal(field.y, 7_000_000.0 - 30.0 * (np.arange(15.5, 112.0, 16.0) + 0.5))
    for name in ("vx", "vy", "v", "dx", "dy", "peak", "snr"):
        assert field[name].dtype == np.float32, name
    assert field.valid.dtype == bool and field.interpolated.dtype == bool
    assert not field.interpolated.any()
    np.testing.assert_allclose(field.vx.values[valid], EAST_2_5_PX_16_DAYS, rtol=1e-6)
    np.testing.assert_allclose(field.vy.values[valid], 0.0, atol=1e-3)
    np.testing.assert_allclose(field.v.values[valid], EAST_2_5_PX_16_DAYS, rtol=1e-6)
    assert np.isnan(field.vx.values[2, 3]) and np.isnan(field.v.values[2, 3])
    assert field.dx.values[2, 3] == 2.5  # raw offsets are kept
    assert field.rio.crs.to_epsg() == 32622
    assert field.spatial_ref.attrs["spatial_epsg"] == 32622
    assert field.rio.transform() == Affine(480.0, 0.0, 500_240.0, 0.0, -480.0, 6_999_760.0)


def test_velocity_field_attrs():
    params = TrackingParameters(chip_size=64, max_speed=None, fill_holes=True)
    field = velocity_field(make_offsets(), make_pair(dt_days=16.5), params)
    a = field.attrs
    assert a["Conventions"] == "CF-1.8" and a["title"] == "icetrack surface velocities"
    assert a["acquisition_date_img1"] == "2021-05-01T00:00:00"
    assert a["acquisition_date_img2"] == "2021-05-17T12:00:00"
    assert a["date_center"] == "2021-05-09T06:00:00"
    assert a["date_dt"] == 16.5
    assert (a["sensor_img1"], a["sensor_img2"]) == ("Landsat 8 OLI", "Landsat 9 OLI-2")
    assert a["satellite"] == "Landsat 8 OLI and Landsat 9 OLI-2"
    assert (a["id_img1"], a["id_img2"], a["band"]) == ("REF", "SEC", "red")
    assert a["param_chip_size"] == 64 and a["param_max_speed"] == "none" and a["param_fill_holes"] == "true"
    assert {f"param_{n}" for n in TrackingParameters.param if n != "name"} <= set(a)
    assert a["icetrack_software_version"] == tracking.schema.software_version() != ""
    assert field.vx.attrs["standard_name"] == "land_ice_surface_x_velocity"
    assert field.vy.attrs["standard_name"] == "land_ice_surface_y_velocity"
    assert field.v.attrs["standard_name"] == "land_ice_surface_velocity"
    assert field.vx.attrs["units"] == "meter/year" and field.dx.attrs["units"] == "pixel"
    assert field.x.attrs["standard_name"] == "projection_x_coordinate" and field.x.attrs["units"] == "m"
    assert params_from_attrs(a).to_dict() == params.to_dict()


@pytest.mark.parametrize(
    ("kernel", "method"), [("ncc", "normalized cross-correlation"), ("oc", "orientation correlation")]
)
def test_the_field_names_the_kernel_that_made_it(kernel, method):
    field = velocity_field(make_offsets(), make_pair(), TrackingParameters(kernel=kernel))
    assert field.attrs["source"] == f"icetrack feature tracking ({method})"
    assert field.peak.attrs["long_name"] == f"peak {method}"


def test_velocity_field_takes_filled_offsets_where_interpolated():
    offsets = make_offsets(dx=np.nan, dy=np.nan, valid=np.zeros((7, 6), bool))
    interpolated = np.zeros((7, 6), bool)
    interpolated[3, 3] = True
    offsets = offsets.assign(
        dx_filled=(("row", "col"), np.full((7, 6), 0.0, np.float32)),
        dy_filled=(("row", "col"), np.full((7, 6), -1.0, np.float32)),
        interpolated=(("row", "col"), interpolated),
    )
    field = velocity_field(offsets, make_pair(dt_days=365.25))
    assert field.vy.values[3, 3] == pytest.approx(30.0)
    assert np.isnan(field.dy.values[3, 3])  # raw stays raw
    assert np.isnan(field.vy.values[~interpolated]).all()
    assert field.interpolated.values.sum() == 1
    assert field.attrs["roi_valid_percentage"] == 0.0


def test_vectors_views():
    valid = np.ones((7, 6), bool)
    valid[0, 0] = False
    field = velocity_field(make_offsets(dx=0.0, dy=-2.5, valid=valid), make_pair())
    raw, masked, filled = (vectors(field, w) for w in ("raw", "masked", "filled"))
    assert raw.vy.values[0, 0] == pytest.approx(EAST_2_5_PX_16_DAYS)
    assert np.isnan(masked.vy.values[0, 0]) and np.isnan(filled.vy.values[0, 0])
    np.testing.assert_allclose(raw.v.values[1:], masked.v.values[1:])
    with pytest.raises(ValueError, match="which"):
        vectors(field, "smoothed")


def test_params_from_attrs_accepts_numpy_values():
    p = params_from_attrs(
        {
            "param_chip_size": np.int64(48),
            "param_max_speed": np.float64(9000.0),
            "param_subpixel": "parabolic",
        }
    )
    assert (p.chip_size, p.max_speed, p.subpixel) == (48, 9000.0, "parabolic")
