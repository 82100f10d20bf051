"""tracking.sources.itslive: granule search, granule and datacube reading, exported CSVs, over real local HTTP."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from fake_remote import FakeRemote, free_port
from itslive_data import CUBE_LAT, CUBE_LON, granule_name, itslive_item, write_cube, write_granule
from pyproj import Transformer
from shapely.geometry import Point

from tracking.exceptions import (
    MissingAssetError,
    NoNetworkError,
    NoOverlapError,
    ParameterError,
    RemoteError,
    TrackingError,
)
from tracking.schema import SERIES_COLUMNS, empty_series
from tracking.sources import itslive
from tracking.sources.cache import DownloadCache
from tracking.sources.itslive import common, cubes
from tracking.timeseries import sample_fields
from tracking.velocity import vectors

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
ITSLIVE = FIXTURES / "itslive"
REAL_GRANULE = ITSLIVE / (
    "LT05_L1GS_219121_19841206_20200918_02_T2_X_LT05_L1GS_226120_19850124_20200918_02_T2_G0120V02_P000.nc"
)
CATALOG = ITSLIVE / "datacube_catalog_v02_rgi.geojson"
JAKOBSHAVN_CSV = ITSLIVE / "timeseries_LAT69.1117--LON-49.4604.csv"
COLUMBIA_CSV = ITSLIVE / "timeseries_LAT61.1804--LON-146.9751.csv"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared fixture {path.name} is not available")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module (stopping one takes 0.5 s); `remote` resets it for each test."""
    with FakeRemote(tmp_path_factory.mktemp("remote")) as server:
        yield server


@pytest.fixture
def remote(server):
    """The module's server with no faults, an empty log and a fresh folder ``remote.folder`` under its root."""
    server.reset(routes=True)
    server.folder = server.root / uuid.uuid4().hex
    server.folder.mkdir()
    return server


def files_url(remote, path: Path) -> str:
    return f"{remote.url}/files/{path.relative_to(remote.root).as_posix()}"


# --- STAC granule search --------------------------------------------------------------------------------------------

LANDING = {
    "type": "Catalog",
    "id": "itslive-stac",
    "stac_version": "1.0.0",
    "description": "ITS_LIVE (test stand-in)",
    "conformsTo": [
        "https://api.stacspec.org/v1.0.0/core",
        "https://api.stacspec.org/v1.0.0/item-search",
        "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    ],
    "links": [
        {"rel": "self", "href": "{{remote}}/stac", "type": "application/json"},
        {"rel": "root", "href": "{{remote}}/stac", "type": "application/json"},
        {"rel": "search", "href": "{{remote}}/stac/search", "type": "application/geo+json", "method": "POST"},
    ],
}

PAIRS = [  # (t0, t1, id1 platform/frame): mid dates in 2018
    ("2018-05-01T14:00:00Z", "2018-05-17T14:00:00Z", "LC08_L1TP_009011_20180501_20200901_02_T1"),
    ("2018-03-04T14:10:09Z", "2018-04-05T14:10:21Z", "LC08_L1TP_009011_20180304_20200902_02_T1"),
    ("2018-07-01T14:00:00Z", "2018-07-17T14:00:00Z", "LC09_L1TP_009011_20180701_20200901_02_T1"),
    ("2017-12-20T14:00:00Z", "2018-01-21T14:00:00Z", "LC08_L1TP_009011_20171220_20200901_02_T1"),  # straddles
    ("2018-09-01T14:00:00Z", "2018-09-17T14:00:00Z", "LO08_L1GT_009011_20180901_20200901_02_T2"),
]


def stac_search_route(remote, items, *, page_size=2):
    """POST /stac/search answering ``items`` in pages with a POST ``next`` link carrying a token body."""

    def answer(request):
        body = request.json
        offset = int(body.get("token", "0"))
        page = items[offset : offset + page_size]
        links = []
        if offset + page_size < len(items):
            links.append(
                {
                    "rel": "next",
                    "href": f"{remote.url}/stac/search",
                    "method": "POST",
                    "body": {"token": str(offset + page_size)},
                    "merge": True,
                    "type": "application/geo+json",
                }
            )
        payload = {
            "type": "FeatureCollection",
            "features": page,
            "links": links,
            "numberReturned": len(page),
            "numberMatched": len(items),
        }
        return 200, {"Content-Type": "application/geo+json"}, json.dumps(payload).encode()

    remote.route("GET", "/stac", LANDING)
    remote.route("POST", "/stac/search", answer)


def test_granule_filter():
    f = itslive.granule_filter(
        min_valid=20, dt_days=(7, 100), platforms=itslive.MISSIONS["landsat"], frames=["009011"]
    )
    assert f == {
        "op": "and",
        "args": [
            {"op": ">=", "args": [{"property": "percent_valid_pixels"}, 20]},
            {"op": "in", "args": [{"property": "platform"}, ["LC08", "LC09", "LO08", "LO09"]]},
            {"op": ">=", "args": [{"property": "date_dt"}, 7]},
            {"op": "<=", "args": [{"property": "date_dt"}, 100]},
            {"op": "in", "args": [{"property": "scene_1_frame"}, ["009011"]]},
        ],
    }
    assert itslive.granule_filter(min_valid=None, dt_days=(None, None), platforms=[], frames=None) is None
    assert (
        itslive.granule_filter(min_valid=2.5, dt_days=None, platforms=None, frames=None)["args"][0]["args"][1]
        == 2.5
    )


def test_search_granules_pages_filters_and_table(remote):
    items = [
        itslive_item(t0=t0, t1=t1, id1=id1, id2=id1.replace("2018", "2019"), percent_valid=10 + k)
        for k, (t0, t1, id1) in enumerate(PAIRS)
    ]
    stac_search_route(remote, items)
    table = itslive.search_granules(
        lon=-49.46,
        lat=69.11,
        start="2018-01-01",
        end="2018-12-31",
        min_valid=5,
        dt_days=(5, 60),
        mission="landsat",
        path_rows=[(9, 11)],
        url=f"{remote.url}/stac",
    )
    searches = remote.requests("/stac/search", "POST")
    assert len(searches) == 3  # 5 items, 2 per page
    body = searches[0].json
    assert body["collections"] == ["itslive-granules"]
    assert body["datetime"] == "2018-01-01T00:00:00Z/2018-12-31T23:59:59Z"
    assert body["intersects"] == {"type": "Point", "coordinates": [-49.46, 69.11]}
    assert body["filter-lang"] == "cql2-json"
    assert body["limit"] >= 1000
    props = {a["args"][0]["property"]: (a["op"], a["args"][1]) for a in body["filter"]["args"]}
    assert props == {
        "percent_valid_pixels": (">=", 5),
        "platform": ("in", ["LC08", "LC09", "LO08", "LO09"]),
        "date_dt": ("<=", 60),
        "scene_1_frame": ("in", ["009011"]),
    }
    assert [a["op"] for a in body["filter"]["args"] if a["args"][0]["property"] == "date_dt"] == [">=", "<="]
    assert searches[1].json["token"] == "2" and searches[1].json["collections"] == ["itslive-granules"]

    # the pair that starts in 2017 is dropped: both images must be inside the window
    assert len(table) == 4
    assert list(table.columns) == [*itslive.GRANULE_COLUMNS, "geometry"]
    assert table["mid_date"].is_monotonic_increasing
    assert str(table["mid_date"].dtype) == "datetime64[ns]" and table["t0"].dt.tz is None
    first = table.iloc[0]
    assert first["t0"] == pd.Timestamp("2018-03-04T14:10:09") and first["t1"] == pd.Timestamp(
        "2018-04-05T14:10:21"
    )
    assert first["dt_days"] == 32.0 and first["platform"] == "LC08" and first["frame"] == "009011"
    assert first["percent_valid"] == 11.0 and first["crs"] == "EPSG:3413"
    assert first["href"].startswith(
        "https://its-live-data.s3.amazonaws.com/velocity_image_pair/landsatOLI/v02/"
    )
    assert first["href"].endswith(granule_name(PAIRS[1][2], PAIRS[1][2].replace("2018", "2019"), 11))
    assert table.crs.to_epsg() == 4326 and table.geometry.iloc[0].contains(Point(-49.46, 69.11))
    assert set(table["platform"]) == {"LC08", "LC09", "LO08"}


def test_search_granules_keeps_straddling_pairs_and_uses_bbox(remote):
    items = [itslive_item(t0=t0, t1=t1, id1=id1) for t0, t1, id1 in PAIRS]
    stac_search_route(remote, items, page_size=10)
    table = itslive.search_granules(
        bbox=(-50, 69, -49, 69.5),
        start="2018-01-01",
        end="2018-12-31",
        both_inside=False,
        url=f"{remote.url}/stac",
    )
    assert len(table) == 5 and table["t0"].min() == pd.Timestamp("2017-12-20T14:00:00")
    body = remote.requests("/stac/search", "POST")[0].json
    assert body["bbox"] == [-50, 69, -49, 69.5] and "intersects" not in body
    assert body["filter"] == {
        "op": "and",
        "args": [{"op": ">=", "args": [{"property": "percent_valid_pixels"}, 1]}],
    }


def test_search_granules_empty_and_bad_arguments(remote):
    stac_search_route(remote, [])
    table = itslive.search_granules(
        lon=0, lat=80, start="2018-01-01", end="2018-02-01", url=f"{remote.url}/stac"
    )
    assert len(table) == 0 and list(table.columns) == [*itslive.GRANULE_COLUMNS, "geometry"]
    with pytest.raises(ParameterError, match="point"):
        itslive.search_granules(start="2018-01-01", end="2018-02-01", url=f"{remote.url}/stac")
    with pytest.raises(ParameterError, match="mission"):
        itslive.search_granules(
            lon=0, lat=80, start="2018", end="2019", mission="spot", url=f"{remote.url}/stac"
        )
    with pytest.raises(ParameterError, match="after"):
        itslive.search_granules(lon=0, lat=80, start="2019-01-01", end="2018-01-01", url=f"{remote.url}/stac")


def test_search_granules_server_error(remote):
    remote.route("GET", "/stac", LANDING)
    remote.route("POST", "/stac/search", b'{"code": "BadRequest", "description": "bad filter"}', status=400)
    with pytest.raises(RemoteError, match="bad filter"):
        itslive.search_granules(lon=0, lat=80, start="2018-01-01", end="2018-02-01", url=f"{remote.url}/stac")


def test_search_granules_time_limit_and_retry(remote, monkeypatch):
    """A search page that does not come in time is asked again (the time limit survives Client.open)."""
    monkeypatch.setattr(common, "_STAC_TIMEOUT", (2.0, 0.3))
    stac_search_route(remote, [itslive_item()])
    remote.delay("/stac/search", 1.0, times=1)
    table = itslive.search_granules(
        lon=-49.5, lat=69.1, start="2018-01-01", end="2018-12-31", url=f"{remote.url}/stac"
    )
    assert len(table) == 1
    searches = remote.requests("/stac/search", "POST")
    assert len(searches) == 2 and searches[1].json == searches[0].json
    assert searches[0].headers["user-agent"].startswith("icetrack/")


def closed_port() -> int:
    return free_port()  # nothing listens there


def test_search_granules_without_network():
    start = time.monotonic()
    with pytest.raises(
        NoNetworkError, match=r"no network: could not reach 127\.0\.0\.1.*ITS_LIVE needs the internet"
    ):
        itslive.search_granules(
            lon=-49.46,
            lat=69.11,
            start="2018-01-01",
            end="2018-12-31",
            url=f"http://127.0.0.1:{closed_port()}",
        )
    assert time.monotonic() - start < 10


# --- granules -------------------------------------------------------------------------------------------------------


def test_load_granule_from_url_downloads_once(remote, tmp_path):
    name = granule_name(
        "LC08_L1TP_009011_20180304_20200902_02_T1", "LC08_L1TP_009011_20180405_20200902_02_T1", 97
    )
    truth = write_granule(remote.folder / name)
    cache = DownloadCache(tmp_path / "cache")
    url = files_url(remote, truth.path)

    field = itslive.load_granule(url, cache=cache)
    assert len(remote.requests("/files/", "GET")) == 1
    again = itslive.load_granule(url, cache=cache)
    assert len(remote.requests("/files/", "GET")) == 1  # a cache hit sends nothing

    np.testing.assert_array_equal(field["vx"].values, truth.vx.astype(np.float32))
    np.testing.assert_array_equal(again["vy"].values, truth.vy.astype(np.float32))
    assert field.attrs["granule_id"] == name[:-3]
    assert field.attrs["label"] == "ITS_LIVE 2018-03-04 → 2018-04-05"


def test_load_granule_values_and_conventions(tmp_path):
    truth = write_granule(tmp_path / "g.nc")
    field = itslive.load_granule(truth.path)
    assert set(field.data_vars) >= {"vx", "vy", "v", "dx", "dy", "peak", "snr", "valid", "interpolated"}
    for name in ("vx", "vy", "v", "dx", "dy", "peak", "snr"):
        assert field[name].dtype == np.float32 and field[name].dims == ("y", "x")
    assert field["valid"].dtype == bool and field["interpolated"].dtype == bool
    np.testing.assert_array_equal(field["x"].values, truth.x)
    np.testing.assert_array_equal(field["y"].values, truth.y)
    np.testing.assert_array_equal(field["vx"].values, truth.vx.astype(np.float32))
    np.testing.assert_array_equal(field["vy"].values, truth.vy.astype(np.float32))
    np.testing.assert_array_equal(field["v"].values, truth.v.astype(np.float32))
    assert np.isnan(field["vx"].values[:, 0]).all()  # the fill column
    assert np.isnan(field["peak"].values).all() and np.isnan(field["snr"].values).all()

    # interp_mask: the last row is interpolated, not valid; the fill column is neither
    measured = np.isfinite(truth.vx)
    np.testing.assert_array_equal(field["interpolated"].values, truth.interp & measured)
    np.testing.assert_array_equal(field["valid"].values, measured & ~truth.interp)
    assert field["interpolated"].values[-1, 1:].all() and not field["valid"].values[-1].any()

    # offsets over the pair in grid pixels; rows grow southward, so a northward vy is a negative dy
    years = truth.dt_days / 365.25
    np.testing.assert_allclose(field["dx"].values, truth.vx * years / 120.0, rtol=1e-6)
    np.testing.assert_allclose(field["dy"].values, -truth.vy * years / 120.0, rtol=1e-6)
    assert np.nanmax(field["dy"].values) > 0  # vy < 0 (southward) everywhere
    raw = vectors(field, "raw")  # dx/dy back to velocities through the recorded image transform
    np.testing.assert_allclose(raw["vx"].values, field["vx"].values, rtol=1e-5)
    np.testing.assert_allclose(raw["vy"].values, field["vy"].values, rtol=1e-5)

    # CRS and transform
    assert field.rio.crs.to_epsg() == 3413
    assert field["spatial_ref"].attrs["spatial_epsg"] == 3413
    assert (
        "grid_mapping" not in field.attrs
        and field["vx"].encoding.get("grid_mapping", "spatial_ref") == "spatial_ref"
    )
    t = field.rio.transform()
    assert (t.a, t.e, t.c, t.f) == (120.0, -120.0, truth.x[0] - 60.0, truth.y[0] + 60.0)

    a = field.attrs
    assert a["source"] == "ITS_LIVE" and a["satellite"] == "Landsat 8"
    assert a["sensor_img1"] == "Landsat 8" and a["sensor_img2"] == "Landsat 8"
    assert a["acquisition_date_img1"] == "2018-03-04T14:10:09.500000"
    assert a["acquisition_date_img2"] == "2018-04-05T14:10:21.250000"
    assert pd.Timestamp(a["date_center"]) == truth.t0 + (truth.t1 - truth.t0) / 2
    assert a["date_dt"] == pytest.approx(truth.dt_days)
    assert a["id_img1"].startswith("LC08_L1TP_009011_20180304")
    assert a["v_error"] == 12.0 and isinstance(a["v_error"], float)
    assert a["roi_valid_percentage"] == pytest.approx(97.5)
    assert "ITS_LIVE" in a["title"]


def test_load_granule_samples_like_our_fields(tmp_path):
    truth = write_granule(tmp_path / "g.nc")
    field = itslive.load_granule(truth.path)
    lon, lat = Transformer.from_crs(3413, 4326, always_xy=True).transform(truth.x[5], truth.y[7])
    series = sample_fields([field], pd.DataFrame({"name": ["p"], "lon": [lon], "lat": [lat]}))
    row = series.iloc[0]
    assert row["vx"] == pytest.approx(truth.vx[7, 5]) and row["vy"] == pytest.approx(truth.vy[7, 5])
    assert row["source"] == "ITS_LIVE" and row["v_error"] == 12.0 and row["valid"]


def test_load_granule_bbox_crop(tmp_path):
    truth = write_granule(tmp_path / "g.nc")
    # a box in the granule's own CRS around columns 10..19, rows 5..9
    box = (truth.x[10] - 10, truth.y[9] - 10, truth.x[19] + 10, truth.y[5] + 10)
    field = itslive.load_granule(truth.path, bbox=box, bbox_crs="EPSG:3413")
    assert field.sizes == {"y": 5, "x": 10}
    np.testing.assert_array_equal(field["x"].values, truth.x[10:20])
    np.testing.assert_array_equal(field["vx"].values, truth.vx[5:10, 10:20].astype(np.float32))
    t = field.rio.transform()
    assert (t.c, t.f) == (truth.x[10] - 60.0, truth.y[5] + 60.0)

    # the same box in lon/lat (transformed bounds are a little larger, never smaller)
    lons, lats = Transformer.from_crs(3413, 4326, always_xy=True).transform(
        [truth.x[12], truth.x[17]], [truth.y[8], truth.y[6]]
    )
    ll = itslive.load_granule(truth.path, bbox=(min(lons), min(lats), max(lons), max(lats)))
    assert 0 < ll.sizes["x"] < truth.x.size and 0 < ll.sizes["y"] < truth.y.size

    with pytest.raises(NoOverlapError, match="does not overlap"):
        itslive.load_granule(truth.path, bbox=(10.0, 45.0, 11.0, 46.0))


def test_load_granule_utm(tmp_path):
    truth = write_granule(
        tmp_path / "utm.nc",
        crs="EPSG:32607",
        origin=(560_000.0, 6_740_000.0),
        id1="S2A_MSIL1C_20180304T203051_N0206_R114_T07VCG_20180304T214305",
        id2="S2B_MSIL1C_20180405T203051_N0206_R114_T07VCG_20180405T214305",
    )
    field = itslive.load_granule(truth.path)
    assert field.rio.crs.to_epsg() == 32607
    assert field.attrs["sensor_img1"] == "Sentinel-2A" and field.attrs["sensor_img2"] == "Sentinel-2B"


def test_load_granule_rejects_other_files(tmp_path):
    bad = tmp_path / "not_a_granule.nc"
    bad.write_bytes(b"this is not netcdf")
    with pytest.raises(TrackingError, match="not a NetCDF"):
        itslive.load_granule(bad)
    other = tmp_path / "other.nc"
    xr.Dataset({"a": (("y", "x"), np.zeros((2, 2)))}).to_netcdf(other)
    with pytest.raises(TrackingError, match="not an ITS_LIVE V2 granule"):
        itslive.load_granule(other)
    with pytest.raises(TrackingError, match="no such granule"):
        itslive.load_granule(tmp_path / "missing.nc")


def test_load_granule_missing_url(remote, tmp_path):
    with pytest.raises(MissingAssetError):
        itslive.load_granule(f"{remote.url}/files/nope/x_G0120V02_P001.nc", cache=DownloadCache(tmp_path))


def test_real_granule_parses():
    field = itslive.load_granule(need(REAL_GRANULE))
    assert field.rio.crs.to_epsg() == 3031
    assert field.sizes == {"y": 1879, "x": 2016}
    assert not field["valid"].values.any() and not field["interpolated"].values.any()
    assert np.isnan(field["vx"].values).all()
    a = field.attrs
    assert a["acquisition_date_img1"].startswith("1984-12-06T12:52:19")
    assert a["acquisition_date_img2"].startswith("1985-01-24T13:35:34")
    assert a["date_dt"] == pytest.approx(49.03, abs=0.01)
    assert a["sensor_img1"] == "Landsat 5" and a["satellite"] == "Landsat 5"
    assert a["v_error"] == pytest.approx(189.8)  # no valid v_error pixel: the vx/vy error attr
    assert a["roi_valid_percentage"] == 0.0
    assert a["label"] == "ITS_LIVE 1984-12-06 → 1985-01-24"
    t = field.rio.transform()
    assert (t.a, t.e) == (120.0, -120.0) and t.c == pytest.approx(-849967.5)  # GeoTransform holds the centre


# --- datacubes ------------------------------------------------------------------------------------------------------


def test_find_cube_in_real_catalog():
    cube = itslive.find_cube(-49.46, 69.11, catalog=need(CATALOG))
    assert cube["epsg"] == 3413
    assert cube["zarr_url"].startswith("https://its-live-data.s3.amazonaws.com/datacubes/")
    assert cube["zarr_url"].endswith(".zarr") and cube["name"].startswith("ITS_LIVE_vel_EPSG3413_G0120_")
    # the point lies in the cube's 100 km square (the name gives the centre)
    x, y = Transformer.from_crs(4326, 3413, always_xy=True).transform(-49.46, 69.11)
    cx = float(cube["name"].split("_X")[1].split("_Y")[0])
    cy = float(cube["name"].split("_Y")[1])
    assert abs(x - cx) <= 50_000 and abs(y - cy) <= 50_000
    assert cube["x"] == pytest.approx(x) and cube["y"] == pytest.approx(y)


@pytest.mark.parametrize("lon, lat", [(-30.0, 45.0), (10.0, 25.0)], ids=["atlantic", "sahara"])
def test_find_cube_nowhere(lon, lat):
    with pytest.raises(MissingAssetError, match=r"no ITS_LIVE datacube covers .*land ice only"):
        itslive.find_cube(lon, lat, catalog=need(CATALOG))


def test_find_cube_data_epsg_flavour(tmp_path):
    x0, y0 = 450_000.0, 4_450_000.0  # EPSG:32718 cube centre, Southern Andes
    to_ll = Transformer.from_crs(32718, 4326, always_xy=True)
    square = [
        [x0 - 5e4, y0 - 5e4],
        [x0 + 5e4, y0 - 5e4],
        [x0 + 5e4, y0 + 5e4],
        [x0 - 5e4, y0 + 5e4],
        [x0 - 5e4, y0 - 5e4],
    ]
    ring = [list(to_ll.transform(px, py)) for px, py in square]
    url = "http://its-live-data.s3.amazonaws.com/datacubes/v2/S50W070/ITS_LIVE_vel_EPSG32718_G0120_X450000_Y4450000.zarr"
    catalog = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "data_epsg": "EPSG:32718",
                    "zarr_url": url,
                    "region": "S50W070",
                    "geometry_epsg": {"type": "Polygon", "coordinates": [square]},
                },
            }
        ],
    }
    path = tmp_path / "catalog_v02_regions.json"
    path.write_text(json.dumps(catalog))
    lon, lat = to_ll.transform(x0 + 1000, y0 - 2000)
    cube = itslive.find_cube(lon, lat, catalog=path)
    assert cube["epsg"] == 32718 and cube["zarr_url"] == "https" + url[4:]
    assert cube["properties"]["region"] == "S50W070"
    with pytest.raises(MissingAssetError):
        itslive.find_cube(lon + 5, lat, catalog=path)


def test_find_cube_catalog_over_http(remote, tmp_path, monkeypatch):
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "cache"))
    target = remote.folder / "catalog.json"
    target.write_bytes(need(CATALOG).read_bytes())
    url = files_url(remote, target)
    assert itslive.find_cube(-49.46, 69.11, catalog=url)["epsg"] == 3413
    assert itslive.find_cube(-49.46, 69.11, catalog=url)["epsg"] == 3413
    assert len(remote.requests("/files/", "GET")) == 1


def test_find_cube_from_stac(remote):
    zarr = "https://its-live-data.s3.amazonaws.com/datacubes/v2-updated-october2024/N60W040/ITS_LIVE_vel_EPSG3413_G0120_X-150000_Y-2250000.zarr"
    item = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "ITS_LIVE_vel_EPSG3413_G0120_X-150000_Y-2250000",
        "collection": "itslive-cubes",
        "geometry": {"type": "Point", "coordinates": [-49.46, 69.11]},
        "bbox": [-49.46, 69.11, -49.46, 69.11],
        "links": [],
        "properties": {"datetime": "2024-10-01T00:00:00Z", "proj:code": "EPSG:3413"},
        "assets": {
            "thumbnail": {"href": "https://x/thumb.png", "roles": ["thumbnail"]},
            "store": {"href": zarr, "roles": ["data"], "type": "application/vnd+zarr"},
        },
    }
    stac_search_route(remote, [item])
    cube = itslive.find_cube(-49.46, 69.11, url=f"{remote.url}/stac")
    assert cube["zarr_url"] == zarr and cube["epsg"] == 3413
    body = remote.requests("/stac/search", "POST")[0].json
    assert body["collections"] == ["itslive-cubes"]
    assert body["intersects"] == {"type": "Point", "coordinates": [-49.46, 69.11]}


@pytest.fixture(scope="module")
def cube_store(tmp_path_factory, server):
    """A synthetic datacube in the server's root (written once for the module)."""
    folder = server.root / "cubes"
    folder.mkdir(exist_ok=True)
    return write_cube(folder / "ITS_LIVE_vel_EPSG3413_G0120_X-150000_Y-2250000.zarr")


def test_cube_series_over_http(remote, cube_store):
    url = f"{remote.url}/files/cubes/{cube_store.path.name}"
    series = itslive.cube_series(CUBE_LON, CUBE_LAT, name="Jakobshavn", zarr_url=url)
    assert tuple(series.columns) == SERIES_COLUMNS
    assert (series.dtypes == empty_series().dtypes).all()
    assert len(series) == cube_store.mid_date.size
    assert series["mid_date"].is_monotonic_increasing  # the store's axis is not

    x, y = Transformer.from_crs(4326, 3413, always_xy=True).transform(CUBE_LON, CUBE_LAT)
    j, i = int(np.abs(cube_store.x - x).argmin()), int(np.abs(cube_store.y - y).argmin())
    assert (series["x"] == cube_store.x[j]).all() and (series["y"] == cube_store.y[i]).all()
    assert (series["lon"] == CUBE_LON).all() and (series["lat"] == CUBE_LAT).all()
    assert series.attrs["offset_m"] == pytest.approx(np.hypot(cube_store.x[j] - x, cube_store.y[i] - y))
    assert series.attrs["offset_m"] < 120 * 0.75 and series.attrs["epsg"] == 3413

    order = np.argsort(cube_store.mid_date, kind="stable")
    np.testing.assert_array_equal(series["vx"], cube_store.vx[order, i, j])
    np.testing.assert_array_equal(series["vy"], cube_store.vy[order, i, j])
    np.testing.assert_array_equal(series["v"], cube_store.v[order, i, j])
    np.testing.assert_array_equal(series["v_error"], cube_store.v_error[order, i, j])
    np.testing.assert_array_equal(series["dt_days"], cube_store.dt_days[order])
    np.testing.assert_array_equal(series["mid_date"].to_numpy(), cube_store.mid_date[order])
    assert ((series["t1"] - series["t0"]) / pd.Timedelta(days=1)).round(6).tolist() == series[
        "dt_days"
    ].tolist()
    assert (series["source"] == "ITS_LIVE").all() and (series["point"] == "Jakobshavn").all()
    assert series["valid"].tolist() == np.isfinite(series["v"]).tolist()
    assert not series["interpolated"].any() and series["peak"].isna().all()
    first = int(order[0])
    sensor = {"8": "Landsat 8", "9": "Landsat 9", "2A": "Sentinel-2A", "1A": "Sentinel-1A"}[
        cube_store.satellite[first]
    ]
    assert series["label"].iloc[0] == f"{sensor} dt={round(cube_store.dt_days[first])} d"
    # only the cell's chunk and the 1-D variables were read, never a listing
    assert all(r.status in (200, 206) for r in remote.requests("/files/cubes/"))


def test_cube_series_window_and_errors(remote, cube_store):
    url = f"{remote.url}/files/cubes/{cube_store.path.name}"
    mid = np.sort(cube_store.mid_date)
    start, end = pd.Timestamp(mid[10]), pd.Timestamp(mid[19])
    series = itslive.cube_series(CUBE_LON, CUBE_LAT, zarr_url=url, start=start, end=end)
    assert len(series) == 10 and series["mid_date"].min() == start and series["mid_date"].max() == end
    with pytest.raises(NoOverlapError, match="outside the datacube"):
        itslive.cube_series(-45.0, 75.0, zarr_url=url)
    with pytest.raises(MissingAssetError):
        itslive.open_cube(f"{remote.url}/files/cubes/none.zarr")
    with pytest.raises(NoNetworkError, match="no network"):
        itslive.open_cube(f"http://127.0.0.1:{closed_port()}/cube.zarr")


def test_cube_series_local_store_and_timedelta(cube_store):
    series = itslive.cube_series(CUBE_LON, CUBE_LAT, zarr_url=str(cube_store.path))
    assert len(series) == cube_store.mid_date.size
    with xr.open_dataset(cube_store.path, engine="zarr", decode_timedelta=True) as cube:
        assert cube["date_dt"].dtype.kind == "m"
        np.testing.assert_array_equal(cubes._days(cube["date_dt"].values), cube_store.dt_days)


# --- exported CSV ---------------------------------------------------------------------------------------------------


def test_read_series_csv_jakobshavn():
    series = itslive.read_series_csv(need(JAKOBSHAVN_CSV))
    assert len(series) == 4225
    assert tuple(series.columns) == SERIES_COLUMNS
    assert (series.dtypes == empty_series().dtypes).all()
    assert (series["point"] == "69.1117 N, 49.4604 W").all()
    assert series["mid_date"].is_monotonic_increasing
    assert series["mid_date"].min().year == 1984 and series["mid_date"].max().year == 2022
    assert 2000 < series["v"].median() < 15000  # Jakobshavn Isbræ: several km per year
    np.testing.assert_allclose(
        (series["t1"] - series["t0"]) / pd.Timedelta(days=1), series["dt_days"], atol=1e-6
    )
    np.testing.assert_array_equal((series["t0"] + (series["t1"] - series["t0"]) / 2), series["mid_date"])
    assert (series["source"] == "ITS_LIVE").all() and series["valid"].all()
    assert series["label"].str.match(r"^(Landsat \d|Sentinel-[12][AB]) dt=\d+ d$").all()
    x, y = Transformer.from_crs(4326, 3413, always_xy=True).transform(-49.4604, 69.1117)
    assert series["x"].iloc[0] == pytest.approx(x) and series["y"].iloc[0] == pytest.approx(y)
    row = series[series["mid_date"] == pd.Timestamp("1998-04-27 14:31:37.189474048")].iloc[0]
    assert (row["v"], row["vx"], row["vy"], row["v_error"], row["dt_days"]) == (3172, -2439, 2028, 106, 32)
    assert row["label"] == "Landsat 5 dt=32 d"


def test_read_series_csv_concatenates_with_sampled_fields(tmp_path):
    ours = sample_fields(
        [itslive.load_granule(write_granule(tmp_path / "g.nc").path)],
        pd.DataFrame({"name": ["p"], "lon": [-49.5], "lat": [69.1]}),
    )
    theirs = itslive.read_series_csv(need(COLUMBIA_CSV), name="Columbia")
    both = pd.concat([ours, theirs], ignore_index=True)
    assert len(both) == len(ours) + len(theirs) == 1 + 2515
    assert (both.dtypes == ours.dtypes).all() and (theirs.dtypes == ours.dtypes).all()
    assert set(both["point"]) == {"p", "Columbia"}


def test_read_series_csv_rejects_other_tables(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(TrackingError, match="not an ITS_LIVE point time series"):
        itslive.read_series_csv(path)
