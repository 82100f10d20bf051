"""Comparing velocity fields on one grid: resampling across CRSs and differences."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod, Transformer

from tracking.compare import difference, onto_grid
from tracking.exceptions import NoOverlapError
from tracking.testing import uniform_field
from tracking.velocity import vectors

GEOD = Geod(ellps="WGS84")


def test_raw_vectors_of_a_uniform_field_give_back_its_velocity() -> None:
    field = uniform_field(vx=300.0, vy=-120.0)
    raw = vectors(field, "raw")
    assert np.allclose(raw["vx"], 300.0, rtol=1e-5)
    assert np.allclose(raw["vy"], -120.0, rtol=1e-5)


def test_difference_of_a_field_with_itself_is_zero_and_of_two_speeds_their_gap() -> None:
    a = uniform_field(vx=1000.0, vy=200.0, label="a")
    same = difference(a, a)
    assert same.attrs["count"] == a["v"].size
    assert np.allclose(same["dv"], 0.0, atol=1e-3)
    faster = difference(uniform_field(vx=1100.0, vy=200.0), a)
    assert faster.attrs["median_dv"] == pytest.approx(np.hypot(1100, 200) - np.hypot(1000, 200), rel=1e-4)
    assert faster.attrs["mad_dv"] == pytest.approx(0.0, abs=1e-3)
    assert np.allclose(faster["dvx"], 100.0, atol=1e-2)
    assert faster.rio.crs.to_epsg() == 32622


def test_a_field_in_another_projection_keeps_its_speed_and_ground_direction() -> None:
    utm = uniform_field(vx=1000.0, vy=0.0, crs="EPSG:32622", origin=(560_000.0, 7_680_000.0), shape=(40, 50))
    to_polar = Transformer.from_crs("EPSG:32622", "EPSG:3413", always_xy=True)
    x0, y0 = to_polar.transform(566_000.0, 7_675_200.0)  # the UTM field's centre
    polar = uniform_field(
        vx=0.0, crs="EPSG:3413", origin=(x0 - 2400.0, y0 + 2400.0), spacing=120.0, shape=(40, 40)
    )
    moved = onto_grid(utm, polar)
    assert np.isfinite(moved["v"]).all()
    assert np.allclose(moved["v"], 1000.0, rtol=0.01)  # map scale factors differ by < 1 % here
    # the ground azimuth of the motion is the same in both projections (east in UTM is not east in 3413)
    to_lonlat = Transformer.from_crs("EPSG:3413", "EPSG:4326", always_xy=True)
    x, y = polar["x"].values[20], polar["y"].values[20]
    vx, vy = float(moved["vx"][20, 20]), float(moved["vy"][20, 20])
    lon0, lat0 = to_lonlat.transform(x, y)
    lon1, lat1 = to_lonlat.transform(x + vx, y + vy)
    azimuth_polar, _, _ = GEOD.inv(lon0, lat0, lon1, lat1)
    utm_x, utm_y = Transformer.from_crs("EPSG:4326", "EPSG:32622", always_xy=True).transform(lon0, lat0)
    lon2, lat2 = Transformer.from_crs("EPSG:32622", "EPSG:4326", always_xy=True).transform(
        utm_x + 1000.0, utm_y
    )
    azimuth_utm, _, _ = GEOD.inv(lon0, lat0, lon2, lat2)
    assert abs(vy) > 50.0  # the rotation is real (several degrees at 50 W) ...
    assert azimuth_polar == pytest.approx(azimuth_utm, abs=0.05)  # ... and exactly undone


def test_fields_that_do_not_overlap_cannot_be_compared() -> None:
    with pytest.raises(NoOverlapError, match="do not overlap"):
        difference(uniform_field(), uniform_field(origin=(800_000.0, 7_000_000.0)))
