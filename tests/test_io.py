"""Tests of tracking.io: NetCDF and COG writing, reading back, atomic writes."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine

import tracking.io
from tracking.exceptions import OutputWriteError
from tracking.io import read_field, write_geotiff, write_netcdf
from tracking.params import TrackingParameters
from tracking.scenes import Pair, make_scene
from tracking.velocity import velocity_field

T30 = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)


@pytest.fixture
def field():
    data = np.zeros((128, 160), np.float32)
    ref = make_scene(
        data, transform=T30, crs="EPSG:32622", time="2021-05-01", sensor="Landsat 8 OLI", band="red"
    )
    sec = make_scene(
        data, transform=T30, crs="EPSG:32622", time="2021-05-17", sensor="Landsat 8 OLI", band="red"
    )
    row, col = np.arange(15.5, 112.0, 16.0), np.arange(15.5, 144.0, 16.0)
    rng = np.random.default_rng(1)
    shape = (row.size, col.size)
    valid = rng.random(shape) > 0.2
    interpolated = ~valid & (rng.random(shape) > 0.5)
    dims = ("row", "col")
    offsets = xr.Dataset(
        {
            "dx": (dims, rng.normal(2.0, 0.5, shape).astype(np.float32)),
            "dy": (dims, rng.normal(-1.0, 0.5, shape).astype(np.float32)),
            "peak": (dims, rng.random(shape).astype(np.float32)),
            "snr": (dims, (1 + rng.random(shape)).astype(np.float32)),
            "valid": (dims, valid),
            "interpolated": (dims, interpolated),
            "dx_filled": (dims, np.full(shape, 2.0, np.float32)),
            "dy_filled": (dims, np.full(shape, -1.0, np.float32)),
        },
        coords={"row": row, "col": col},
    )
    offsets["dx"][0, 0] = np.nan
    return velocity_field(offsets, Pair.from_scenes(ref, sec), TrackingParameters(max_speed=None))


def test_netcdf_round_trip_is_identical(field, tmp_path):
    path = write_netcdf(field, tmp_path / "v.nc")
    back = read_field(path)
    xr.testing.assert_identical(back, field)
    assert back.valid.dtype == bool and back.interpolated.dtype == bool
    assert back.rio.crs == field.rio.crs and back.rio.transform() == field.rio.transform()
    assert back.attrs["param_max_speed"] == "none"


def test_netcdf_is_cf(field, tmp_path):
    path = write_netcdf(field, tmp_path / "v.nc")
    with netCDF4.Dataset(path) as nc:
        assert nc.data_model == "NETCDF4"
        assert nc.Conventions == "CF-1.8"
        vx = nc["vx"]
        assert vx.dtype == np.float32 and vx.filters()["zlib"]
        assert vx.grid_mapping == "spatial_ref" and vx.units == "meter/year"
        assert vx.standard_name == "land_ice_surface_x_velocity"
        assert np.isnan(vx._FillValue)
        valid = nc["valid"]
        assert valid.dtype == np.uint8
        assert list(valid.flag_values) == [0, 1] and valid.flag_meanings == "rejected valid"
        assert nc["interpolated"].flag_meanings == "measured interpolated"
        sr = nc["spatial_ref"]
        assert sr.spatial_epsg == 32622 and "UTM zone 22N" in sr.crs_wkt
        assert nc["x"].standard_name == "projection_x_coordinate" and nc["y"].units == "m"
        np.testing.assert_array_equal(nc["x"][:], field.x.values)
    with rasterio.open(f"netcdf:{path}:vx") as src:
        assert src.crs.to_epsg() == 32622


def test_geotiff_is_a_cog_with_named_bands(field, tmp_path):
    path = write_geotiff(field, tmp_path / "v.tif")
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert src.count == 3 and src.descriptions == ("vx", "vy", "v")
        assert src.crs.to_epsg() == 32622
        assert src.transform == field.rio.transform()
        assert src.dtypes == ("float32",) * 3 and np.isnan(src.nodata)
        np.testing.assert_array_equal(src.read(1), field.vx.values)
        np.testing.assert_array_equal(src.read(3), field.v.values)
        assert src.tags(1)["units"] == "meter/year"
        assert src.tags()["date_dt"] == "16.0"


def test_geotiff_round_trip(field, tmp_path):
    names = ("vx", "vy", "v", "valid", "interpolated")
    back = read_field(write_geotiff(field, tmp_path / "v.tif", variables=names))
    assert tuple(back.data_vars) == names
    xr.testing.assert_equal(
        back[list(names)].drop_vars("spatial_ref"), field[list(names)].drop_vars("spatial_ref")
    )
    assert back.valid.dtype == bool
    assert back.rio.crs == field.rio.crs and back.rio.transform() == field.rio.transform()
    assert back.attrs["date_dt"] == 16.0 and back.attrs["param_chip_size"] == 32
    np.testing.assert_array_equal(back.attrs["image_geotransform"], field.attrs["image_geotransform"])
    assert back.vx.attrs["standard_name"] == "land_ice_surface_x_velocity"


def test_geotiff_unknown_variable(field, tmp_path):
    with pytest.raises(ValueError, match="nope"):
        write_geotiff(field, tmp_path / "v.tif", variables=("vx", "nope"))
    assert list(tmp_path.iterdir()) == []


def test_failed_netcdf_write_leaves_the_previous_file(field, tmp_path, monkeypatch):
    path = write_netcdf(field, tmp_path / "v.nc")
    before = path.read_bytes()

    def broken(self, target, *args, **kwargs):
        with open(target, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", broken)
    with pytest.raises(OutputWriteError, match="disk full"):  # the OSError, said in one line
        write_netcdf(field, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["v.nc"]


def test_failed_geotiff_write_leaves_the_previous_file(field, tmp_path, monkeypatch):
    path = write_geotiff(field, tmp_path / "v.tif")
    before = path.read_bytes()

    def broken(value):
        raise RuntimeError("interrupted")

    monkeypatch.setattr(tracking.io, "_tag_text", broken)  # fails after the bands are written
    with pytest.raises(RuntimeError, match="interrupted"):
        write_geotiff(field, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["v.tif"]


def test_read_field_missing(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_field(tmp_path / "missing.nc")
