"""Tests of the WRS-2 path/row grid computed from orbit constants (``tracking.sources.wrs2``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from shapely import MultiPolygon, Point, Polygon, box

from tracking.exceptions import ParameterError
from tracking.sources import wrs2

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
CORNERS_CSV = FIXTURES / "wrs2" / "LANDSAT_8_C1_cornerpoints.csv"
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def daytime_csv() -> pd.DataFrame:
    """The GeoStacks mean Landsat 8 C1 centres and corners, daytime rows 1..122 only."""
    if not CORNERS_CSV.exists():
        pytest.skip(f"WRS-2 fixture not found: {CORNERS_CSV}")
    frame = pd.read_csv(CORNERS_CSV)
    return frame[frame["row"] <= 122].reset_index(drop=True)


def _km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist, dtype=float) / 1000.0


def test_centres_match_observed_scene_centres(daytime_csv: pd.DataFrame) -> None:
    lon, lat = wrs2._centres(daytime_csv["path"].to_numpy(), daytime_csv["row"].to_numpy())
    err = _km(lon, lat, daytime_csv["lon_CTR"].to_numpy(), daytime_csv["lat_CTR"].to_numpy())
    assert len(err) > 10_000
    assert np.median(err) < 3.0
    assert np.percentile(err, 95) < 5.0


def test_corners_match_observed_scene_corners(daytime_csv: pd.DataFrame) -> None:
    _, _, lons, lats = wrs2._corners(daytime_csv["path"].to_numpy(), daytime_csv["row"].to_numpy())
    errs = [
        _km(
            lons[:, k],
            lats[:, k],
            daytime_csv[f"lon_{name}"].to_numpy(),
            daytime_csv[f"lat_{name}"].to_numpy(),
        )
        for k, name in enumerate(["UL", "UR", "LR", "LL"])
    ]
    for err in errs:
        assert np.median(err) < 2.5
    assert np.median(np.concatenate(errs)) < 2.0


def test_scene_centre_matches_known_scene() -> None:
    lon, lat = wrs2.scene_centre(9, 11)
    assert lat == pytest.approx(69.606, abs=0.01)
    assert lon == pytest.approx(-49.403, abs=0.01)


def test_footprint_vertices_agree_with_corners() -> None:
    poly = wrs2.footprint(9, 11)
    assert isinstance(poly, Polygon)
    _, _, lons, lats = wrs2._corners(np.array([9]), np.array([11]))
    coords = np.array(poly.exterior.coords)[:4]
    np.testing.assert_allclose(coords[:, 0], lons[0])
    np.testing.assert_allclose(coords[:, 1], lats[0])
    # UL is north of LL on a descending pass, and west of UR.
    ul, ur, _, ll = coords
    assert ul[1] > ll[1]
    assert ul[0] < ur[0]


@pytest.mark.parametrize(("path", "row"), [(9, 11), (44, 34), (120, 60), (200, 100), (1, 2)])
def test_footprint_area_is_plausible(path: int, row: int) -> None:
    area, _ = GEOD.geometry_area_perimeter(wrs2.footprint(path, row))
    assert abs(area) / 1e6 == pytest.approx(33_000, rel=0.25)


@pytest.mark.parametrize(("path", "row"), [(67, 95), (84, 26), (79, 44)])
def test_antimeridian_footprint_is_split(path: int, row: int) -> None:
    geom = wrs2.footprint(path, row)
    assert isinstance(geom, MultiPolygon)
    assert len(geom.geoms) == 2
    widths = []
    for part in geom.geoms:
        xmin, _, xmax, _ = part.bounds
        assert -180.0 <= xmin <= xmax <= 180.0
        widths.append(xmax - xmin)
    assert 0.0 < sum(widths) < 10.0
    area, _ = GEOD.geometry_area_perimeter(geom)
    assert abs(area) / 1e6 == pytest.approx(33_000, rel=0.25)
    lon, lat = wrs2.scene_centre(path, row)
    assert geom.covers(Point(lon, lat))
    assert (path, row) in wrs2.path_rows(lon, lat)


def test_path_rows_at_jakobshavn() -> None:
    assert wrs2.path_rows(-50.0, 69.0) == [(8, 11), (8, 12), (9, 11), (9, 12), (10, 11)]
    # Longitude wraps.
    assert wrs2.path_rows(310.0, 69.0) == wrs2.path_rows(-50.0, 69.0)


def test_path_rows_contains_own_centre() -> None:
    rng = np.random.default_rng(0)
    for path, row in zip(rng.integers(1, 234, 30), rng.integers(1, 123, 30), strict=True):
        lon, lat = wrs2.scene_centre(int(path), int(row))
        assert (int(path), int(row)) in wrs2.path_rows(lon, lat)


def test_path_rows_night() -> None:
    hits = wrs2.path_rows(-50.0, 69.0, daytime=False)
    assert hits
    assert all(123 <= row <= 248 for _, row in hits)


def test_grid() -> None:
    frame = wrs2.grid(paths=[9, 8], rows=[12, 11])
    assert frame.crs.to_epsg() == 4326
    assert list(frame.columns) == ["path", "row", "lon", "lat", "geometry"]
    assert list(zip(frame["path"], frame["row"], strict=True)) == [(8, 11), (8, 12), (9, 11), (9, 12)]
    first = frame.iloc[0]
    assert (first["lon"], first["lat"]) == pytest.approx(wrs2.scene_centre(8, 11))
    assert first.geometry.equals(wrs2.footprint(8, 11))


def test_full_grid_stays_in_range() -> None:
    frame = wrs2.grid()
    assert len(frame) == wrs2.N_PATHS * 122
    xmin, ymin, xmax, ymax = frame.total_bounds
    assert xmin >= -180.0 and xmax <= 180.0 and ymin > -90.0 and ymax < 90.0
    # No globe-spanning polygon: the parts of each footprint are narrow, even near the poles.
    parts = frame.explode(index_parts=True)
    widths = (parts.bounds["maxx"] - parts.bounds["minx"]).groupby(level=0).sum()
    assert widths.max() < 20.0
    assert (frame.geom_type == "MultiPolygon").sum() > 0


@pytest.mark.parametrize(("path", "row"), [(0, 10), (234, 10), (10, 0), (10, 249), (1.5, 10)])
def test_invalid_path_row(path: float, row: int) -> None:
    with pytest.raises(ParameterError):
        wrs2.scene_centre(path, row)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        wrs2.footprint(path, row)  # type: ignore[arg-type]


def test_invalid_point() -> None:
    with pytest.raises(ParameterError):
        wrs2.path_rows(float("nan"), 10.0)
    with pytest.raises(ParameterError):
        wrs2.path_rows(0.0, 91.0)


def test_area_query_contains_the_point_queries_of_its_corners_and_centre() -> None:
    area = (-52.0, 68.5, -48.0, 70.0)
    found = set(wrs2.path_rows_meeting(area))
    for lon, lat in ((-52.0, 68.5), (-48.0, 70.0), (-50.0, 69.25), (-52.0, 70.0)):
        assert set(wrs2.path_rows(lon, lat)) <= found
    assert all(wrs2.footprint(p, r).intersects(box(*area)) for p, r in found)


def test_area_query_near_the_antimeridian_finds_the_scenes_on_the_far_side() -> None:
    west_edge = set(wrs2.path_rows_meeting((-179.9, -17.0, -179.5, -16.5)))
    east_edge = set(wrs2.path_rows_meeting((179.5, -17.0, 179.9, -16.5)))
    assert west_edge and east_edge
    assert west_edge & east_edge  # a footprint split at ±180 meets boxes on both sides


def test_area_query_rejects_a_box_that_is_not_in_degrees() -> None:
    with pytest.raises(ParameterError, match="invalid area"):
        wrs2.path_rows_meeting((500000.0, 7600000.0, 600000.0, 7700000.0))
