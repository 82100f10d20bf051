"""tracking.sources.stac: search, normalized scene table, signing and AOI reads, against a real local server.

Recorded STAC API answers (Planetary Computer, Earth Search) are served by `fake_remote.FakeRemote` with their
real hosts rewritten to the local server; the imagery is two small generated GeoTIFFs served with range
requests.
Nothing here reaches the internet.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pystac
import pytest
import rasterio
from affine import Affine
from fake_remote import FakeRemote, rewrite_hosts
from pyproj import Transformer
from scipy.ndimage import gaussian_filter
from shapely.geometry import box, mapping

from tracking.exceptions import (
    AuthenticationError,
    MissingAssetError,
    NoNetworkError,
    ParameterError,
    RemoteError,
)
from tracking.scenes import Pair
from tracking.sources import cog, http, stac
from tracking.sources.cache import DownloadCache

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
RESPONSES = FIXTURES / "stac" / "responses"
ITEMS = FIXTURES / "stac" / "items"
MPC = "https://planetarycomputer.microsoft.com/api/stac/v1"
EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"
TOKEN = "st=2025-07-22T00%3A00%3A00Z&se=2025-07-23T00%3A00%3A00Z&sp=rl&sig=abc"
JSON = {"Content-Type": "application/json"}

# pystac-client warns when an API lacks a conformance class we use: none of that may happen here
pytestmark = pytest.mark.filterwarnings("error::pystac_client.warnings.PystacClientWarning")


# --- fixtures and helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module (stopping one takes 0.5 s); `remote` resets it for every test."""
    with FakeRemote(tmp_path_factory.mktemp("remote")) as server:
        yield server


@pytest.fixture
def remote(server):
    """The module's server with no faults, auth or routes and an empty log; files under a fresh folder.

    File URLs differ in every test (``/files/<folder>/...``) because GDAL caches what it learnt about a URL.
    """
    server.reset(routes=True)
    folder = uuid.uuid4().hex
    view = SimpleNamespace(
        root=server.root / folder,
        url=server.url,
        files=f"{server.url}/files/{folder}",
        prefix=f"/files/{folder}",
        server=server,
    )
    view.root.mkdir()
    for name in ("fail", "route", "require_auth", "requests"):
        setattr(view, name, getattr(server, name))
    yield view
    server.reset(log=False)


def recorded(name: str, hosts: dict[str, str] | None = None) -> Any:
    """A recorded response body (hosts rewritten); skips the test when the shared fixtures are absent."""
    path = RESPONSES / name
    if not path.exists():
        pytest.skip(f"recorded STAC responses not found: {path}")
    text = path.read_text()
    return json.loads(rewrite_hosts(text, hosts) if hosts else text)


def token_route(expires_in_s: float = 3600.0):
    """A SAS token endpoint answer expiring ``expires_in_s`` from the request."""

    def answer(request):
        expiry = pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=expires_in_s)
        body = {"msft:expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"), "token": TOKEN}
        return 200, JSON, json.dumps(body).encode()

    return answer


def serve_mpc(remote, page: dict) -> list[dict]:
    """Serve the recorded Planetary Computer landing page and ``page`` for every search; the search bodies."""
    hosts = {MPC: remote.url + "/mpc"}
    landing = recorded("planetary-computer_landsat-c2-l2_items_paged__00.json", hosts)
    remote.route("GET", "/mpc", landing)
    remote.route("GET", "/mpc/", landing)
    bodies: list[dict] = []

    def answer(request):
        bodies.append(request.json)
        return 200, JSON, json.dumps(page).encode()

    remote.route("POST", "/mpc/search", answer)
    remote.route("GET", "/sas/token/landsateuwest/landsat-c2", token_route())
    return bodies


def mpc_items_page(remote) -> dict:
    """The recorded landsat-c2-l2 items page, without its ``next`` link (it pages a GET endpoint)."""
    page = recorded("planetary-computer_landsat-c2-l2_items_paged__02.json", {MPC: remote.url + "/mpc"})
    page["links"] = [link for link in page["links"] if link["rel"] != "next"]
    return page


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- providers ----------------------------------------------------------------------------------------------


def test_providers():
    assert set(stac.PROVIDERS) == {"landsat", "sentinel2", "landsat-pan"}
    landsat, s2, pan = (stac.PROVIDERS[k] for k in ("landsat", "sentinel2", "landsat-pan"))
    assert landsat.signed and landsat.collections == ("landsat-c2-l2",) and landsat.asset == "red"
    assert landsat.platforms == ("landsat-8", "landsat-9") and landsat.pixel_size == 30
    assert not s2.signed and s2.asset == "nir" and s2.collections == ("sentinel-2-c1-l2a",)
    assert "sentinel-2c" in s2.platforms and s2.pixel_size == 10
    assert pan.asset == "pan" and pan.pixel_size == 15 and "AWS_ACCESS_KEY_ID" in pan.needs_credentials
    assert landsat.needs_credentials is None and s2.needs_credentials is None
    with pytest.raises(ParameterError, match="landsat-pan"):
        stac.search("nope", lon=0, lat=0, start="2020-01-01", end="2020-02-01")


@pytest.mark.parametrize(
    ("spelling", "normal"),
    [
        ("LANDSAT_8", "landsat-8"),
        ("landsat-9", "landsat-9"),
        ("Sentinel-2B", "sentinel-2b"),
        ("sentinel-2a", "sentinel-2a"),
        ("Landsat 7", "landsat-7"),
        (None, ""),
    ],
)
def test_normalize_platform(spelling, normal):
    assert stac.normalize_platform(spelling) == normal


# --- Planetary Computer search and signing ------------------------------------------------------------------


def test_planetary_computer_search(remote):
    bodies = serve_mpc(remote, mpc_items_page(remote))
    signer = stac.SasSigner(remote.url + "/sas/token")
    table = stac.search(
        "landsat",
        lon=172.5,
        lat=-12.25,
        start="2025-07-01",
        end="2025-07-31",
        max_cloud=50,
        url=remote.url + "/mpc",
        signer=signer,
    )

    (body,) = bodies
    assert body["collections"] == ["landsat-c2-l2"]
    assert body["intersects"] == {"type": "Point", "coordinates": [172.5, -12.25]}
    assert body["datetime"] == "2025-07-01T00:00:00Z/2025-07-31T23:59:59Z"
    assert body["query"] == {"eo:cloud_cover": {"lte": 50.0}}
    assert body["limit"] >= 100

    assert list(table.columns) == list(stac.SCENE_COLUMNS)
    assert table.crs.to_epsg() == 4326
    assert table["time"].dtype == "datetime64[ns]"
    assert table["path"].dtype == np.int64 and table["row"].dtype == np.int64
    assert table["cloud_cover"].dtype == np.float64
    assert len(table) == 10 and table["time"].is_monotonic_increasing
    assert set(table["platform"]) == {"landsat-9"} and set(table["sensor"]) == {"Landsat 9 OLI-2"}
    assert set(table["provider"]) == {"landsat"} and set(table["collection"]) == {"landsat-c2-l2"}
    row = table.set_index("scene_id").loc["LC09_L2SP_084069_20250722_02_T2"]
    assert (row["path"], row["row"]) == (84, 69)  # from the zero-padded strings "084", "069"
    assert row["crs"] == "EPSG:32658" and row["cloud_cover"] == pytest.approx(15.45)
    assert row["time"] == pd.Timestamp("2025-07-22T23:07:05.269598")
    assert row["tile"] == "" and row["geometry"].is_valid
    # every href is the red band, signed with the token, which was fetched once for all ten items
    blob = "https://landsateuwest.blob.core.windows.net/landsat-c2/"
    assert all(href.startswith(blob) for href in table["href"])
    assert all(href.endswith("_SR_B4.TIF?" + TOKEN) for href in table["href"])
    assert len(remote.requests("/sas/")) == 1


def test_planetary_computer_search_by_bbox_and_platforms(remote):
    bodies = serve_mpc(remote, mpc_items_page(remote))
    signer = stac.SasSigner(remote.url + "/sas/token")
    table = stac.search(
        stac.PROVIDERS["landsat"],
        bbox=(170, -20, 175, -10),
        start="2025-07-22",
        end=pd.Timestamp("2025-07-22T12:00", tz="Europe/Paris"),
        platforms=["LANDSAT_8"],
        url=remote.url + "/mpc",
        signer=signer,
    )
    assert bodies[0]["bbox"] == [170, -20, 175, -10] and "intersects" not in bodies[0]
    assert "query" not in bodies[0]  # max_cloud 100: scenes without a cloud cover are kept too
    assert bodies[0]["datetime"] == "2025-07-22T00:00:00Z/2025-07-22T23:59:59Z"
    assert table.empty and list(table.columns) == list(stac.SCENE_COLUMNS)  # all landsat-9


def test_search_parameters_are_checked():
    kw = {"start": "2020-01-01", "end": "2020-02-01"}
    with pytest.raises(ParameterError, match="point"):
        stac.search("landsat", **kw)
    with pytest.raises(ParameterError, match="not both"):
        stac.search("landsat", lon=1, lat=2, bbox=(0, 0, 1, 1), **kw)
    with pytest.raises(ParameterError, match="lat"):
        stac.search("landsat", lon=1, **kw)
    with pytest.raises(ParameterError, match="before the start"):
        stac.search("landsat", lon=1, lat=2, start="2020-02-01", end="2020-01-01")
    with pytest.raises(ParameterError, match="max_cloud"):
        stac.search("landsat", lon=1, lat=2, max_cloud=120, **kw)
    with pytest.raises(ParameterError, match="bbox"):
        stac.search("landsat", bbox=(0, 10, 1, 5), **kw)


def test_signer_signs_blob_hrefs_only(remote):
    remote.route("GET", "/sas/token/landsateuwest/landsat-c2", token_route())
    signer = stac.SasSigner(remote.url + "/sas/token/")
    blob = "https://landsateuwest.blob.core.windows.net/landsat-c2/level-2/a_SR_B4.TIF"
    assert signer.sign(blob) == f"{blob}?{TOKEN}"
    assert signer.sign(blob + "?version=2") == f"{blob}?version=2&{TOKEN}"
    assert signer.sign(f"{blob}?st=1&sig=old") == f"{blob}?st=1&sig=old"  # already signed
    for other in (
        "https://example.com/a.tif",
        "s3://usgs-landsat/a.TIF",
        "/tmp/a.tif",
        "https://ai4edatasetspublicassets.blob.core.windows.net/assets/x.png",
    ):
        assert signer.sign(other) == other
    assert len(remote.requests("/sas/")) == 1
    assert signer.token("landsateuwest", "landsat-c2") == TOKEN


def test_signer_caches_until_shortly_before_expiry(remote):
    remote.route("GET", "/sas/token/landsateuwest/landsat-c2", token_route(expires_in_s=30))
    signer = stac.SasSigner(remote.url + "/sas/token")
    signer.token("landsateuwest", "landsat-c2")
    signer.token("landsateuwest", "landsat-c2")  # expires within the 60 s margin: fetched again
    assert len(remote.requests("/sas/")) == 2

    remote.route("GET", "/sas/token/landsateuwest/landsat-c2", token_route(expires_in_s=3600))
    signer.token("landsateuwest", "landsat-c2")
    for _ in range(5):
        signer.token("landsateuwest", "landsat-c2")
    assert len(remote.requests("/sas/")) == 3
    signer.forget("landsateuwest", "landsat-c2")
    signer.token("landsateuwest", "landsat-c2")
    assert len(remote.requests("/sas/")) == 4


def test_signer_is_thread_safe(remote):
    from concurrent.futures import ThreadPoolExecutor

    remote.route("GET", "/sas/token/landsateuwest/landsat-c2", token_route())
    signer = stac.SasSigner(remote.url + "/sas/token")
    href = "https://landsateuwest.blob.core.windows.net/landsat-c2/x.TIF"
    with ThreadPoolExecutor(8) as pool:
        signed = list(pool.map(lambda _: signer.sign(href), range(32)))
    assert set(signed) == {f"{href}?{TOKEN}"}
    assert len(remote.requests("/sas/")) == 1


def test_signer_settings_from_the_environment(remote, monkeypatch):
    monkeypatch.setenv("PC_SDK_SAS_URL", remote.url + "/sas/token")
    monkeypatch.setenv("PC_SDK_SUBSCRIPTION_KEY", "my-key")
    remote.route("GET", "/sas/token/acct/cont", token_route())
    signer = stac.SasSigner()
    assert signer.token_url == remote.url + "/sas/token"
    assert signer.token("acct", "cont") == TOKEN
    (request,) = remote.requests("/sas/")
    assert request.headers["ocp-apim-subscription-key"] == "my-key"
    monkeypatch.delenv("PC_SDK_SAS_URL")
    assert stac.SasSigner().token_url == stac.DEFAULT_SAS_URL
    assert stac.SasSigner("https://other/token").token_url == "https://other/token"


def test_sign_item_signs_every_asset_in_place(remote):
    remote.route("GET", "/sas/token/sentinel2l2a01/sentinel2-l2", token_route())
    path = ITEMS / "odc-stac_S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
    if not path.exists():
        pytest.skip(f"STAC item fixture not found: {path}")
    data = json.loads(path.read_text())
    item = pystac.Item.from_dict(data)
    signer = stac.SasSigner(remote.url + "/sas/token")
    assert signer.sign_item(item) is None
    blobs = [a.href for a in item.assets.values() if ".blob.core.windows.net/sentinel2-l2/" in a.href]
    assert len(blobs) > 10 and all(href.endswith("?" + TOKEN) for href in blobs)
    others = [a.href for a in item.assets.values() if ".blob.core.windows.net" not in a.href]
    assert others and not any(TOKEN in href for href in others)  # tilejson, rendered_preview
    page = {"type": "FeatureCollection", "features": [json.loads(path.read_text())]}
    signer.sign_item(page)  # what pystac-client's modifier receives
    assert page["features"][0]["assets"]["B08"]["href"].endswith("_B08_10m.tif?" + TOKEN)
    assert len(remote.requests("/sas/")) == 1


def test_failed_token_request(remote):
    remote.fail("/sas/", status=403, times=1)
    signer = stac.SasSigner(remote.url + "/sas/token", session=http.session(retries=0))
    with pytest.raises(AuthenticationError, match="SAS token"):
        signer.sign("https://landsateuwest.blob.core.windows.net/landsat-c2/x.TIF")
    remote.route("GET", "/sas/token/landsateuwest/landsat-c2", {"no": "token"})
    with pytest.raises(RemoteError, match="no 'token'"):
        signer.token("landsateuwest", "landsat-c2")
    offline = stac.SasSigner(f"http://127.0.0.1:{closed_port()}/token", session=http.session(retries=0))
    with pytest.raises(NoNetworkError):
        offline.token("landsateuwest", "landsat-c2")


# --- Earth Search: paging and conformance -------------------------------------------------------------------


def serve_earth_search(remote) -> None:
    hosts = {EARTH_SEARCH: remote.url + "/es"}
    landing = recorded("earth-search-v1_search_cql2-filter_paginated__00.json", hosts)
    remote.route("GET", "/es", landing)
    remote.route("GET", "/es/", landing)


def test_earth_search_paging_follows_the_next_token(remote):
    hosts = {EARTH_SEARCH: remote.url + "/es"}
    serve_earth_search(remote)
    first = recorded("earth-search-v1_search_cql2-filter_paginated__01.json", hosts)
    second = recorded("earth-search-v1_search_cql2-filter_paginated__02.json", hosts)
    (token,) = [link["body"]["next"] for link in first["links"] if link["rel"] == "next"]
    bodies: list[dict] = []

    def answer(request):
        bodies.append(request.json)
        if "next" not in request.json:
            page = first
        elif request.json["next"] == token:
            page = second
        else:  # the last page's next link: nothing more
            page = {"type": "FeatureCollection", "features": [], "links": []}
        return 200, JSON, json.dumps(page).encode()

    remote.route("POST", "/es/search", answer)
    table = stac.search(
        "sentinel2",
        bbox=(-65, -45, -35, 0),
        start="2025-07-31",
        end="2025-07-31",
        max_cloud=60,
        url=remote.url + "/es",
    )

    assert len(bodies) == 3
    assert bodies[0]["query"] == {"eo:cloud_cover": {"lte": 60.0}}
    assert bodies[0]["collections"] == ["sentinel-2-c1-l2a"]
    assert bodies[1] == {"next": token}  # the POST body of the recorded next link
    # 20 items over two pages; the three Sentinel-1 ones are not of the provider's platforms
    assert len(table) == 17
    assert not table["scene_id"].str.startswith("S1").any()
    assert set(table["platform"]) == {"sentinel-2b"} and set(table["sensor"]) == {"Sentinel-2B MSI"}
    assert (table["path"] == -1).all() and (table["row"] == -1).all()
    assert set(table["tile"]) == {"20EPT", "24MUV", "24MVV", "24MWV", "24MXV", "24MUA"}
    c1 = table[table["collection"] == "sentinel-2-c1-l2a"]
    assert len(c1) == 6 and c1["href"].str.endswith("/B08.tif").all()
    assert (
        c1["href"].str.startswith("https://e84-earth-search-sentinel-data.s3.us-west-2.amazonaws.com/").all()
    )
    assert set(table["crs"]) == {"EPSG:32720", "EPSG:32724"}


def test_earth_search_conformance_is_completed(remote):
    serve_earth_search(remote)
    client = stac.open_client("sentinel2", url=remote.url + "/es")
    # the recorded landing page lists item-search#query but not item-search#filter
    assert client.conforms_to("QUERY") and client.conforms_to("FILTER") and client.conforms_to("ITEM_SEARCH")
    assert client.modifier is None


def test_earth_search_point_search_with_landsat_and_sentinel2(remote):
    hosts = {EARTH_SEARCH: remote.url + "/es"}
    serve_earth_search(remote)
    first = recorded("earth-search-v1_search_sentinel-2-l2a+landsat-c2-l2_point__00.json", hosts)
    last = recorded("earth-search-v1_search_sentinel-2-l2a+landsat-c2-l2_point__01.json", hosts)
    bodies: list[dict] = []

    def answer(request):
        bodies.append(request.json)
        return 200, JSON, json.dumps(last if "next" in request.json else first).encode()

    remote.route("POST", "/es/search", answer)
    table = stac.search(
        "sentinel2",
        lon=-105.1019,
        lat=40.1672,
        start="2023-10-08",
        end="2023-10-08",
        platforms=["sentinel-2a", "LANDSAT_8"],
        url=remote.url + "/es",
    )
    assert bodies[0]["datetime"] == "2023-10-08T00:00:00Z/2023-10-08T23:59:59Z"
    assert bodies[1]["next"] == "2023-10-08T17:37:26.656958Z,LC08_L2SP_033032_20231008_02_T1,landsat-c2-l2"
    assert list(table["scene_id"]) == ["LC08_L2SP_033032_20231008_02_T1", "S2A_13TDE_20231008_0_L2A"]
    landsat, s2 = (table.iloc[i] for i in range(2))
    assert (landsat["platform"], landsat["sensor"], landsat["path"], landsat["row"]) == (
        "landsat-8",
        "Landsat 8 OLI",
        33,
        32,
    )
    assert landsat["href"] == ""  # no "nir" asset for the Sentinel-2 provider: loading it says so
    assert (s2["platform"], s2["sensor"]) == ("sentinel-2a", "Sentinel-2A MSI")
    assert (s2["tile"], s2["crs"]) == ("13TDE", "EPSG:32613")
    assert s2["href"].endswith("/S2A_13TDE_20231008_0_L2A/B08.tif")

    # without a provider each item gets its own: the Landsat red band is in the requester-pays bucket
    guessed = stac.normalize_items(first).set_index("scene_id")
    assert guessed.loc["LC08_L2SP_033032_20231008_02_T1", "provider"] == "landsat"
    assert guessed.loc["LC08_L2SP_033032_20231008_02_T1", "href"].startswith("s3://usgs-landsat/")
    assert guessed.loc["LC08_L2SP_033032_20231008_02_T1", "href"].endswith("_SR_B4.TIF")
    assert guessed.loc["S2A_13TDE_20231008_0_L2A", "provider"] == "sentinel2"


# --- normalizing every recorded item ------------------------------------------------------------------------


def _recorded_items() -> list[Any]:
    found = []
    for path in sorted(RESPONSES.glob("*.json")) + sorted(ITEMS.glob("*.json")):
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or "fields" in path.name:
            continue
        features = data.get("features", [data] if data.get("type") == "Feature" else [])
        found += [
            pytest.param(path.name, i, id=f"{path.stem[:30]}:{feature['id']}")
            for i, feature in enumerate(features)
        ]
    return found


def _load_item(name: str, index: int) -> dict:
    path = (ITEMS if name.startswith("odc-stac") else RESPONSES) / name
    data = json.loads(path.read_text())
    return data["features"][index] if "features" in data else data


SENSORS = {
    "landsat": r"Landsat [789] (OLI|OLI-2|ETM\+)$",
    "sentinel-2": r"Sentinel-2[ABC] MSI$",
    "sentinel-1": r"Sentinel-1[ABC] C-SAR$",
}


@pytest.mark.parametrize(("name", "index"), _recorded_items())
def test_normalize_every_recorded_item(name, index):
    item = _load_item(name, index)
    table = stac.normalize_items([item])
    assert list(table.columns) == list(stac.SCENE_COLUMNS) and len(table) == 1
    row = table.iloc[0]
    assert row["scene_id"] == item["id"]
    assert pd.Timestamp("2015-01-01") < row["time"] < pd.Timestamp("2026-01-01")
    assert row["geometry"] is not None and row["geometry"].is_valid and not row["geometry"].is_empty
    west, south, east, north = row["geometry"].bounds
    assert -180 <= west <= east <= 180 and -90 <= south <= north <= 90
    kind = next(k for k in SENSORS if row["platform"].startswith(k))
    assert pd.Series([row["sensor"]]).str.match(SENSORS[kind]).all()
    assert row["crs"].startswith("EPSG:")
    if kind == "landsat":
        assert row["path"] > 0 and row["row"] > 0 and row["tile"] == ""
        assert row["href"] and row["provider"] == "landsat"
        assert f"_{row['path']:03d}{row['row']:03d}_" in row["scene_id"]
    elif kind == "sentinel-2":
        assert row["path"] == -1 and len(row["tile"]) == 5 and row["tile"] in row["scene_id"]
        assert row["href"] and row["provider"] == "sentinel2"
    else:
        assert row["href"] == "" and row["provider"] == ""
    assert 0 <= row["cloud_cover"] <= 100 or (kind == "sentinel-1" and np.isnan(row["cloud_cover"]))
    # a pystac.Item gives the same row
    again = stac.normalize_items([pystac.Item.from_dict(item, migrate=False)]).iloc[0]
    pd.testing.assert_series_equal(again.drop("geometry"), row.drop("geometry"))


def test_normalize_odc_stac_items_with_aliases_and_alternates():
    for name in (
        "odc-stac_LC08_L2SP_028030_20200114_20200824_02_T1_SR.json",
        "odc-stac_S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json",
    ):
        if not (ITEMS / name).exists():
            pytest.skip(f"STAC item fixture not found: {ITEMS / name}")
    usgs = json.loads((ITEMS / "odc-stac_LC08_L2SP_028030_20200114_20200824_02_T1_SR.json").read_text())
    row = stac.normalize_items([usgs], "landsat").iloc[0]
    assert (row["platform"], row["path"], row["row"], row["crs"]) == ("landsat-8", 28, 30, "EPSG:32615")
    assert row["href"].startswith("https://landsatlook.usgs.gov/data/") and row["href"].endswith("_SR_B4.TIF")
    assert row["s3_href"].startswith("s3://usgs-landsat/") and row["s3_href"].endswith("_SR_B4.TIF")
    mpc_s2 = json.loads(
        (ITEMS / "odc-stac_S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json").read_text()
    )
    row = stac.normalize_items([mpc_s2], "sentinel2").iloc[0]  # "nir" is "B08" on the Planetary Computer
    assert row["href"].endswith("_B08_10m.tif")
    assert (row["tile"], row["platform"]) == ("06VVN", "sentinel-2b")
    assert stac.normalize_items([mpc_s2], "landsat-pan").iloc[0]["href"] == ""


def test_normalize_items_without_geometry_or_platform():
    # recorded with "fields" excluding geometry, assets and links
    page = recorded("earth-search-v1_sentinel-2-c1-l2a_search_fields__00.json")
    table = stac.normalize_items(page)
    assert len(table) == 10
    assert table["platform"].str.fullmatch(r"sentinel-2[abc]").all()  # from the ids
    assert set(table["tile"]) == {"13TDE"} and (table["href"] == "").all()
    assert table["cloud_cover"].isna().all()
    point = box(-105.11, 40.16, -105.09, 40.17)
    assert all(geom.is_valid and geom.contains(point) for geom in table.geometry)  # the items' bbox
    assert stac.normalize_items([]).empty


def test_normalize_items_variants():
    base = {"type": "Feature", "stac_version": "1.0.0", "geometry": mapping(box(10, 60, 11, 61)), "links": []}
    items = [
        {
            **base,
            "id": "LC08_L1TP_009011_20210516_20210525_02_T1",
            "collection": "landsat-c2l1",
            "properties": {
                "datetime": "2021-05-16T14:50:00+00:00",
                "platform": "LANDSAT_8",
                "proj:code": "EPSG:32622",
            },
            "assets": {"B8": {"href": "https://x/B8.TIF", "proj:epsg": 32621}},
        },
        {
            **base,
            "id": "S2C_T33UUU_20250101T101010_L2A",
            "collection": "sentinel-2-c1-l2a",
            "properties": {
                "start_datetime": "2025-01-01T10:10:10Z",
                "grid:code": "MGRS-33UUU",
                "eo:cloud_cover": "12.5",
            },
            "assets": {},
        },
        {
            **base,
            "id": "thing",
            "geometry": None,
            "properties": {"datetime": "2020-01-01T00:00:00Z"},
            "assets": {},
        },
    ]
    table = stac.normalize_items({"type": "FeatureCollection", "features": items}).set_index("scene_id")
    pan = table.loc["LC08_L1TP_009011_20210516_20210525_02_T1"]
    assert (pan["provider"], pan["href"], pan["crs"], pan["path"], pan["row"]) == (
        "landsat-pan",
        "https://x/B8.TIF",
        "EPSG:32621",
        9,
        11,
    )  # the alias "B8"; the asset's CRS first
    s2 = table.loc["S2C_T33UUU_20250101T101010_L2A"]
    assert (s2["platform"], s2["tile"], s2["cloud_cover"]) == ("sentinel-2c", "33UUU", 12.5)
    assert s2["time"] == pd.Timestamp("2025-01-01T10:10:10")
    other = table.loc["thing"]
    assert (other["platform"], other["sensor"], other["provider"], other["crs"]) == ("", "unknown", "", "")
    assert other["geometry"] is None


# --- loading scenes -----------------------------------------------------------------------------------------

UTM = "EPSG:32622"
CENTRE = (556000.0, 7674000.0)  # Jakobshavn Isbræ, UTM 22N


def write_scene(path: Path, origin: tuple[float, float], size: int = 300, seed: int = 0) -> None:
    """A tiled 30 m GeoTIFF of smooth random texture (its corner at ``origin``)."""
    rng = np.random.default_rng(seed)
    data = (gaussian_filter(rng.normal(size=(size, size)), 3) * 3000 + 8000).astype(np.uint16)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "uint16",
        "crs": UTM,
        "transform": Affine(30.0, 0, origin[0], 0, -30.0, origin[1]),
        "tiled": True,
        "blockxsize": 128,
        "blockysize": 128,
        "compress": "deflate",
        "nodata": 0,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)


def landsat_item(scene_id: str, when: str, href: str, origin: tuple[float, float], size: int = 300) -> dict:
    """A Planetary-Computer-like landsat-c2-l2 item for a generated scene."""
    left, top = origin
    to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    right, bottom = left + 30 * size, top - 30 * size
    lons, lats = to_lonlat.transform([left, right, left, right], [top, top, bottom, bottom])
    footprint = box(min(lons), min(lats), max(lons), max(lats))
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": scene_id,
        "collection": "landsat-c2-l2",
        "geometry": mapping(footprint),
        "bbox": list(footprint.bounds),
        "links": [],
        "properties": {
            "datetime": when,
            "platform": "landsat-" + scene_id[3],
            "instruments": ["oli", "tirs"],
            "eo:cloud_cover": 3.0,
            "landsat:wrs_path": scene_id[10:13],
            "landsat:wrs_row": scene_id[13:16],
            "proj:epsg": 32622,
        },
        "assets": {"red": {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized"}},
    }


def aoi(half_m: float = 2000.0) -> tuple[float, float, float, float]:
    """A lon/lat box around `CENTRE`, about 2 * half_m wide."""
    to_lonlat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    x, y = CENTRE
    lons, lats = to_lonlat.transform([x - half_m, x + half_m], [y - half_m, y + half_m])
    return min(lons), min(lats), max(lons), max(lats)


@pytest.fixture
def scenes(remote):
    """Two Landsat scenes from different path/rows on grids 15 m apart, served by the fake remote."""
    origin_a = (CENTRE[0] - 4500.0, CENTRE[1] + 4500.0)
    origin_b = (origin_a[0] + 15.0, origin_a[1] - 15.0)
    write_scene(remote.root / "a_SR_B4.TIF", origin_a, seed=1)
    write_scene(remote.root / "b_SR_B4.TIF", origin_b, seed=2)
    items = [
        landsat_item(
            "LC08_L2SP_008011_20210516_02_T1", "2021-05-16T14:50:15Z", remote.files + "/a_SR_B4.TIF", origin_a
        ),
        landsat_item(
            "LC09_L2SP_009011_20210524_02_T1", "2021-05-24T14:56:40Z", remote.files + "/b_SR_B4.TIF", origin_b
        ),
    ]
    return stac.normalize_items(items, "landsat")


def test_load_scene_and_pair_from_two_path_rows(remote, scenes, tmp_path):
    ref_row, sec_row = scenes.iloc[0], scenes.iloc[1]
    assert (ref_row["path"], sec_row["path"]) == (8, 9)
    cache = DownloadCache(tmp_path / "cache")
    bbox = aoi()
    ref = stac.load_scene(ref_row, bbox, cache=cache)
    assert ref.attrs["scene_id"] == "LC08_L2SP_008011_20210516_02_T1" and ref.attrs["band"] == "red"
    assert ref.attrs["sensor"] == "Landsat 8 OLI" and ref.attrs["time"] == "2021-05-16T14:50:15"
    assert ref.rio.crs.to_epsg() == 32622 and 130 <= ref.shape[0] <= 140 and np.isfinite(ref.values).all()
    assert remote.requests(remote.prefix) and not remote.requests("/sas/")  # no signing outside Azure

    pair = stac.load_pair(ref_row, sec_row, bbox, cache=cache)
    assert isinstance(pair, Pair)
    assert pair.reference.shape == pair.secondary.shape
    assert pair.secondary.rio.transform() == pair.reference.rio.transform()
    assert pair.dt_days == pytest.approx(8.0, abs=0.01)
    assert np.isfinite(pair.secondary.values[1:-1, 1:-1]).all()

    remote.server.log.clear()
    again = stac.load_pair(ref_row, sec_row.to_dict(), bbox, cache=cache)
    assert remote.requests("/") == []  # both crops come from the cache
    np.testing.assert_array_equal(again.secondary.values, pair.secondary.values)


def test_missing_asset(scenes):
    row = scenes.iloc[0].copy()
    row["href"] = ""
    with pytest.raises(MissingAssetError, match=r"LC08_L2SP_008011_20210516_02_T1.*'red' asset"):
        stac.load_scene(row, aoi())


def test_missing_file(remote, scenes):
    row = scenes.iloc[0].copy()
    row["href"] = remote.files + "/gone_SR_B4.TIF"
    with pytest.raises(MissingAssetError):
        stac.load_scene(row, aoi())


def test_refused_file_says_which_credentials(remote, scenes, monkeypatch):
    remote.require_auth(remote.prefix, "secret")
    with pytest.raises(AuthenticationError, match="credentials") as info:
        stac.load_scene(scenes.iloc[0], aoi())
    assert "401" in str(info.value)

    # the opt-in USGS source, with (wrong) AWS credentials set: the message names what it needs
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    row = scenes.iloc[1].to_dict() | {"provider": "landsat-pan", "s3_href": ""}
    with pytest.raises(AuthenticationError, match="AWS_ACCESS_KEY_ID") as info:
        stac.load_scene(row, aoi())
    assert "requester" in str(info.value)


def test_landsat_pan_without_aws_credentials_is_refused_before_any_request(remote, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    scene_id = "LC08_L1TP_009011_20210516_20210525_02_T1"
    key = f"collection02/level-1/standard/oli-tirs/2021/009/011/{scene_id}/{scene_id}_B8.TIF"
    row = {
        "scene_id": scene_id,
        "time": pd.Timestamp("2021-05-16T14:50"),
        "sensor": "Landsat 8 OLI",
        "href": "https://landsatlook.usgs.gov/data/" + key,
        "s3_href": "s3://usgs-landsat/" + key,
        "provider": "landsat-pan",
    }
    with pytest.raises(AuthenticationError, match="opt-in") as info:
        stac.load_scene(row, aoi())
    assert "AWS_ACCESS_KEY_ID" in str(info.value) and "AWS_REQUEST_PAYER=requester" in str(info.value)
    assert remote.requests("/") == []


def test_landsat_pan_with_aws_credentials_reads_the_requester_pays_copy(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example")
    calls = []

    def fake_read_aoi(href, bbox, **kw):
        calls.append((href, kw, dict(rasterio.env.getenv())))
        return "scene"

    monkeypatch.setattr(cog, "read_aoi", fake_read_aoi)
    key = "collection02/level-1/standard/oli-tirs/2021/009/011/X/X_B8.TIF"
    row = {
        "scene_id": "X",
        "time": "2021-05-16",
        "sensor": "Landsat 8 OLI",
        "provider": "landsat-pan",
        "href": "https://landsatlook.usgs.gov/data/" + key,
        "s3_href": "",
    }
    assert stac.load_scene(row, aoi()) == "scene"
    href, kw, env = calls[0]
    assert href == "s3://usgs-landsat/" + key  # derived from the landsatlook link when there is no alternate
    assert env["AWS_REQUEST_PAYER"] == "requester" and kw["band"] == "pan"


def test_load_scene_signs_with_a_fresh_token_and_caches_without_it(remote, monkeypatch):
    remote.route("GET", "/sas/token/landsateuwest/landsat-c2", token_route())
    signer = stac.SasSigner(remote.url + "/sas/token")
    calls = []
    monkeypatch.setattr(cog, "read_aoi", lambda href, bbox, **kw: calls.append((href, kw)) or "scene")
    blob = "https://landsateuwest.blob.core.windows.net/landsat-c2/level-2/x_SR_B4.TIF"
    row = {
        "scene_id": "x",
        "time": "2021-05-16",
        "sensor": "Landsat 8 OLI",
        "provider": "landsat",
        "href": blob + "?st=old&sig=expired",
    }
    stac.load_scene(row, aoi(), signer=signer)
    href, kw = calls[0]
    assert href == f"{blob}?{TOKEN}"
    assert kw["cache_key"].startswith(blob + "|") and "sig" not in kw["cache_key"]
    assert (kw["band"], kw["scene_id"], kw["bbox_crs"]) == ("red", "x", "EPSG:4326")


# --- no network ---------------------------------------------------------------------------------------------


def test_search_without_network_fails_fast():
    started = time.monotonic()
    with pytest.raises(NoNetworkError, match="Planetary Computer") as info:
        stac.search(
            "landsat",
            url=f"http://127.0.0.1:{closed_port()}/api/stac/v1",
            lon=-49.4,
            lat=69.2,
            start="2021-05-01",
            end="2021-06-01",
        )
    assert time.monotonic() - started < 8.0
    assert "network" in str(info.value)


def test_api_errors_are_mapped(remote):
    serve_mpc(remote, mpc_items_page(remote))
    kw = {
        "lon": 172.5,
        "lat": -12.25,
        "start": "2025-07-01",
        "end": "2025-07-31",
        "url": remote.url + "/mpc",
        "signer": stac.SasSigner(remote.url + "/sas/token"),
    }
    remote.fail("/mpc/search", status=401)
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        stac.search("landsat", **kw)
    remote.fail("/mpc/search", status=400, body=b'{"description": "bad query"}')
    with pytest.raises(RemoteError, match="HTTP 400"):
        stac.search("landsat", **kw)
    remote.route("GET", "/mpc", b"<html>not a STAC API</html>", content_type="text/html")
    with pytest.raises(RemoteError, match="STAC API"):
        stac.search("landsat", **kw)
