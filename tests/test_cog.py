"""tracking.sources.cog: reading the area of interest of a COG over HTTP with range requests."""

from __future__ import annotations

import re
import socket
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from affine import Affine
from fake_remote import FakeRemote
from rasterio.warp import transform_bounds

from tracking.exceptions import AuthenticationError, MissingAssetError, NoNetworkError, NoOverlapError
from tracking.scenes import read_scene
from tracking.sources import http
from tracking.sources.cache import DownloadCache
from tracking.sources.cog import read_aoi

SIZE = 1024
TRANSFORM = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_650_000.0)
CRS = "EPSG:32622"
NODATA = -9999.0
ATTRS = {"time": "2021-05-01T14:30:00", "sensor": "Landsat 8 OLI", "band": "red", "scene_id": "LC08_TEST"}
# pixel (row, col) = (y0 - y) / 30, (x - x0) / 30
BOX = (
    500_000.0 + 30 * 300 + 7,
    7_650_000.0 - 30 * 460 - 12,
    500_000.0 + 30 * 420 - 5,
    7_650_000.0 - 30 * 350 + 3,
)
ROWS, COLS = slice(349, 461), slice(300, 420)  # the box rounded outward to whole pixels


def make_data() -> np.ndarray:
    rng = np.random.default_rng(3)
    data = rng.normal(100, 20, (SIZE, SIZE)).astype(np.float32)
    data[400:410, 350:360] = NODATA
    return data


DATA = make_data()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module (each one takes 0.5 s to stop), with the COG; `remote` resets it per test."""
    root = tmp_path_factory.mktemp("remote")
    with rasterio.open(
        root / "scene.tif",
        "w",
        driver="COG",
        width=SIZE,
        height=SIZE,
        count=1,
        dtype="float32",
        crs=CRS,
        transform=TRANSFORM,
        nodata=NODATA,
        blocksize=256,
        compress="deflate",
    ) as dst:
        dst.write(DATA, 1)
    with FakeRemote(root) as server:
        yield server


@pytest.fixture
def remote(server):
    """The server reset; ``remote.href`` is a URL of the COG that no earlier test used (GDAL caches by URL)."""
    server.reset()
    view = SimpleNamespace(
        href=f"{server.url}/files/scene.tif?v={uuid.uuid4().hex}",
        prefix="/files/scene.tif",
        size=(server.root / "scene.tif").stat().st_size,
    )
    for name in ("fail", "require_auth", "requests", "url"):
        setattr(view, name, getattr(server, name))
    yield view
    server.reset(log=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bytes_sent(requests) -> int:
    total = 0
    for request in requests:
        if request.method != "GET":
            continue
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", request.range or "")
        assert match, f"a GET without a closed range: {request.range!r}"
        total += int(match.group(2)) - int(match.group(1)) + 1
    return total


def test_reads_exactly_the_window_with_range_requests(remote):
    scene = read_aoi(remote.href, BOX, **ATTRS)
    expected = DATA[ROWS, COLS].copy()
    expected[expected == NODATA] = np.nan
    np.testing.assert_array_equal(scene.values, expected)
    assert scene.dtype == np.float32 and scene.dims == ("y", "x")
    assert scene.rio.crs.to_string() == CRS
    assert scene.rio.transform() == TRANSFORM * Affine.translation(COLS.start, ROWS.start)
    assert float(scene.x[0]) == TRANSFORM.c + 30 * (COLS.start + 0.5)
    assert scene.attrs == ATTRS
    assert np.isnan(scene.values).sum() == 100  # the nodata block
    sent = bytes_sent(remote.requests(remote.prefix))
    assert sent < remote.size / 4, f"{sent} of {remote.size} bytes"


def test_box_in_lon_lat_is_transformed(remote):
    lonlat = transform_bounds(CRS, "EPSG:4326", *BOX)
    scene = read_aoi(remote.href, lonlat, bbox_crs="EPSG:4326", **ATTRS)
    assert scene.rio.crs.to_string() == CRS
    left, bottom, right, top = scene.rio.bounds()
    # the window covers the whole box (its transform through lon/lat only grows it)
    assert left <= BOX[0] and bottom <= BOX[1] and right >= BOX[2] and top >= BOX[3]
    assert right - left < (BOX[2] - BOX[0]) * 1.5
    col0, row0 = ~TRANSFORM * (left, top)
    np.testing.assert_array_equal(
        np.nan_to_num(scene.values, nan=NODATA),
        DATA[round(row0) : round(row0) + scene.shape[0], round(col0) : round(col0) + scene.shape[1]],
    )


def test_box_partly_outside_is_clipped(remote):
    x0, y0 = TRANSFORM.c, TRANSFORM.f
    scene = read_aoi(remote.href, (x0 - 3000, y0 - 900, x0 + 600, y0 + 5000), **ATTRS)
    assert scene.shape == (30, 20)
    np.testing.assert_array_equal(scene.values, DATA[:30, :20])


def test_box_outside_is_no_overlap(remote):
    with pytest.raises(NoOverlapError, match="outside the scene") as info:
        read_aoi(remote.href, (0, 0, 1000, 1000), **ATTRS)
    assert "pick another scene" in str(info.value)


def test_cache_hit_sends_no_request(remote, tmp_path):
    cache = DownloadCache(tmp_path / "cache")
    first = read_aoi(remote.href, BOX, cache=cache, **ATTRS)
    count = len(remote.requests())
    # a re-signed URL (another query string) hits the same entry
    second = read_aoi(remote.href.replace("?v=", "?sig=new&v="), BOX, cache=cache, **ATTRS)
    assert len(remote.requests()) == count
    np.testing.assert_array_equal(first.values, second.values)
    assert second.rio.transform() == first.rio.transform() and second.attrs == first.attrs
    (entry,) = cache.directory.rglob("*.tif")
    again = read_scene(entry)  # the crop is a GeoTIFF read_scene understands
    assert again.attrs == ATTRS
    np.testing.assert_array_equal(again.values, first.values)


def test_401_is_an_authentication_error(remote):
    remote.require_auth("/files/", "token")
    with pytest.raises(AuthenticationError, match="401") as info:
        read_aoi(remote.href + "&sig=SECRET", BOX, **ATTRS)
    assert "LC08_TEST" in str(info.value) and "SECRET" not in str(info.value)


def test_404_is_a_missing_asset_error(remote):
    with pytest.raises(MissingAssetError, match="404"):
        read_aoi(remote.url + "/files/gone.tif", BOX, **ATTRS)


def test_failure_after_opening_is_diagnosed(remote):
    # the header arrives, then the tiles are refused: GDAL only says "Read failed"
    with http.gdal_env(), rasterio.open(remote.href):  # GDAL now holds the header of this URL
        pass
    remote.require_auth("/files/", "token")
    with pytest.raises(AuthenticationError, match="401"):
        read_aoi(remote.href, BOX, **ATTRS)
    refused = remote.requests(remote.prefix)[-1]
    assert refused.status == 401 and refused.range == "bytes=0-0"  # the probe that found out why


def test_unreachable_host_is_no_network(remote):
    with pytest.raises(NoNetworkError, match="no network"):
        read_aoi(f"http://127.0.0.1:{closed_port()}/scene.tif", BOX, **ATTRS)


def test_wrong_band_is_a_missing_asset(remote):
    with pytest.raises(MissingAssetError, match="no band 2"):
        read_aoi(remote.href, BOX, band_index=2, **ATTRS)


def test_an_area_beyond_the_memory_budget_is_refused_before_its_pixels_are_read(remote, monkeypatch):
    from tracking.exceptions import SceneReadError

    read_aoi(remote.href, BOX, **ATTRS)
    whole_read = bytes_sent(remote.requests(remote.prefix))
    monkeypatch.setenv("ICETRACK_MEMORY_BUDGET", "0.0000001")  # 100 bytes
    before = len(remote.requests(remote.prefix))
    with pytest.raises(SceneReadError, match="budget"):
        read_aoi(remote.href, BOX, **ATTRS)
    refused = bytes_sent(remote.requests(remote.prefix)[before:])
    assert refused < whole_read / 2, (refused, whole_read)  # the header, not the window's pixels
