"""tracking.sources.http: retries, error mapping, time limits and GDAL settings, against a real local server."""

from __future__ import annotations

import socket
import time
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
import requests
from affine import Affine
from fake_remote import FakeRemote

from tracking.exceptions import AuthenticationError, MissingAssetError, NoNetworkError, RemoteError
from tracking.sources import http


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module (each one takes 0.5 s to stop); `remote` resets it for every test."""
    with FakeRemote(tmp_path_factory.mktemp("remote")) as server:
        server.route("GET", "/api/thing", {"answer": 42})
        server.route(
            "POST", "/api/search", lambda request: (200, {"Content-Type": "application/json"}, request.body)
        )
        yield server


@pytest.fixture
def remote(server):
    """The module's server, with no faults, no auth and an empty log; ``remote.root`` is this test's own folder.

    Files get a new URL in every test (``/files/<test folder>/...``): GDAL caches what it learnt about a URL.
    """
    server.reset()
    folder = uuid.uuid4().hex
    view = SimpleNamespace(
        root=server.root / folder,
        url=server.url,
        files=f"{server.url}/files/{folder}",
        prefix=f"/files/{folder}",
        server=server,
    )
    view.root.mkdir()
    (view.root / "hello.txt").write_bytes(b"hello world")
    for name in ("fail", "delay", "require_auth", "requests", "route"):
        setattr(view, name, getattr(server, name))
    yield view
    server.reset(log=False)


@pytest.fixture
def fast():
    """A session whose retries do not wait."""
    return http.session(retries=3, backoff=0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_get_retries_a_500_then_succeeds(remote, fast):
    remote.fail(remote.prefix + "/hello.txt", status=500, times=1)
    response = http.get(remote.files + "/hello.txt", what="the greeting", session=fast)
    assert response.content == b"hello world"
    assert [r.status for r in remote.requests(remote.prefix + "/hello.txt")] == [500, 200]


def test_persistent_500_is_a_remote_error_naming_the_status(remote, fast):
    remote.fail(remote.prefix + "/hello.txt", status=500, times=10, body=b"internal trouble")
    with pytest.raises(RemoteError, match="HTTP 500") as info:
        http.get(remote.files + "/hello.txt", what="the greeting", session=fast)
    assert not isinstance(info.value, NoNetworkError)
    assert "internal trouble" in str(info.value) and "the greeting" in str(info.value)
    assert len(remote.requests(remote.prefix + "/hello.txt")) == 4  # 1 + 3 retries


def test_401_is_an_authentication_error_naming_the_host(remote, fast):
    remote.require_auth(remote.prefix, "s3cret")
    with pytest.raises(AuthenticationError, match=r"127\.0\.0\.1") as info:
        http.get(remote.files + "/hello.txt?sig=TOKEN", what="the greeting", session=fast)
    assert "401" in str(info.value) and "credentials" in str(info.value)
    assert "TOKEN" not in str(info.value)
    ok = http.get(
        remote.files + "/hello.txt", what="x", session=fast, headers={"Authorization": "Bearer s3cret"}
    )
    assert ok.content == b"hello world"


def test_planetary_computer_auth_message_says_which_credentials():
    response = requests.Response()
    response.status_code = 403
    response.url = "https://landsateuwest.blob.core.windows.net/landsat-c2/a_SR_B4.TIF?st=1&sig=SECRET"
    with pytest.raises(AuthenticationError, match="SAS token") as info:
        http.raise_for_status(response, "scene X")
    assert "SECRET" not in str(info.value)
    assert "landsateuwest.blob.core.windows.net" in str(info.value)


def test_404_is_a_missing_asset_error(remote, fast):
    with pytest.raises(MissingAssetError, match="404"):
        http.get(remote.files + "/nope.tif", what="granule X", session=fast)


def test_get_json_and_post(remote, fast):
    assert http.get_json(remote.url + "/api/thing", what="the thing", session=fast) == {"answer": 42}
    body = {"collections": ["landsat-c2-l2"], "limit": 5}
    assert (
        http.get_json(remote.url + "/api/search", what="the search", method="POST", body=body, session=fast)
        == body
    )
    assert remote.requests("/api/search")[0].json == body
    assert remote.requests("/api/search")[0].headers["user-agent"].startswith("icetrack/")


def test_get_json_of_something_else_is_a_remote_error(remote, fast):
    with pytest.raises(RemoteError, match="not JSON"):
        http.get_json(remote.files + "/hello.txt", what="the thing", session=fast)


def test_a_hung_server_is_no_network_quickly(remote):
    remote.delay("/api/thing", 4, times=5)
    sess = http.session(retries=1, backoff=0)
    start = time.monotonic()
    with pytest.raises(NoNetworkError, match="did not answer within 1 s"):
        http.get_json(remote.url + "/api/thing", what="the thing", session=sess, timeout=(1, 1))
    assert time.monotonic() - start < 5


def test_refused_connection_is_no_network(fast):
    url = f"http://127.0.0.1:{closed_port()}/stac"
    start = time.monotonic()
    with pytest.raises(NoNetworkError, match=r"could not reach 127\.0\.0\.1") as info:
        http.get(url, what="the STAC search", session=http.session(retries=1, backoff=0))
    assert "demo source" in str(info.value)
    assert time.monotonic() - start < 3


def test_check_network(remote):
    http.check_network(remote.url + "/anything/at/all")  # 404 still means reachable
    start = time.monotonic()
    with pytest.raises(NoNetworkError, match="no network"):
        http.check_network(f"http://127.0.0.1:{closed_port()}/", timeout=1.0)
    assert time.monotonic() - start < 3


def test_check_network_times_out(remote):
    remote.delay("/", 3, times=1)
    start = time.monotonic()
    with pytest.raises(NoNetworkError, match=r"within 0\.5 s"):
        http.check_network(remote.url + "/", timeout=0.5)
    assert time.monotonic() - start < 2


def test_redact():
    assert http.redact("https://a.blob.core.windows.net/c/x.TIF?st=2024&sig=abc%2B") == (
        "https://a.blob.core.windows.net/c/x.TIF"
    )
    assert http.redact("https://user:pw@host/x?sig=1") == "https://host/x"
    assert http.redact("/local/path.tif") == "/local/path.tif"


def test_shared_session_is_one_session():
    assert http.shared_session() is http.shared_session()
    assert http.shared_session().headers["User-Agent"] == http.USER_AGENT


@pytest.fixture
def cog(remote):
    path = remote.root / "scene.tif"
    data = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=64,
        height=64,
        count=1,
        dtype="float32",
        crs="EPSG:32622",
        transform=Affine(30, 0, 500000, 0, -30, 7000000),
    ) as dst:
        dst.write(data, 1)
    return path


def test_gdal_env_retries_a_503(remote, cog):
    remote.fail(remote.prefix + "/scene.tif", status=503, times=1)
    with http.gdal_env(), rasterio.open(remote.files + "/scene.tif") as src:
        assert src.read(1)[1, 2] == 66
    statuses = [r.status for r in remote.requests(remote.prefix + "/scene.tif")]
    assert statuses[0] == 503
    assert statuses[1:] and set(statuses[1:]) <= {200, 206}


def test_gdal_env_overrides():
    with http.gdal_env(GDAL_HTTP_MAX_RETRY=0):
        assert rasterio.env.getenv()["GDAL_HTTP_MAX_RETRY"] == 0
        assert rasterio.env.getenv()["GDAL_DISABLE_READDIR_ON_OPEN"] == "EMPTY_DIR"


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (403, AuthenticationError), (404, MissingAssetError), (500, RemoteError)],
)
def test_classify_gdal_errors_from_http(remote, cog, status, error):
    remote.fail(remote.prefix + "/scene.tif", status=status, times=10)
    url = remote.files + "/scene.tif?sig=SECRET"
    with pytest.raises(rasterio.errors.RasterioIOError) as info, http.gdal_env(GDAL_HTTP_MAX_RETRY=0):
        rasterio.open(url)
    classified = http.classify_gdal_error(info.value, url, "scene X")
    assert type(classified) is error
    assert str(status) in str(classified) and "scene X" in str(classified)
    assert "SECRET" not in str(classified)


def test_classify_gdal_errors_offline():
    url = f"http://127.0.0.1:{closed_port()}/x.tif"
    with pytest.raises(rasterio.errors.RasterioIOError) as info, http.gdal_env(GDAL_HTTP_MAX_RETRY=0):
        rasterio.open(url)
    assert isinstance(http.classify_gdal_error(info.value, url, "scene X"), NoNetworkError)
    dns = http.classify_gdal_error(
        OSError("CURL error: Could not resolve host: nowhere.invalid"),
        "https://nowhere.invalid/x.tif?sig=S",
        "scene X",
    )
    assert isinstance(dns, NoNetworkError) and "nowhere.invalid" in str(dns) and "sig=S" not in str(dns)


def test_classify_gdal_error_never_shows_a_query_string():
    err = OSError("/vsicurl/https://a.blob.core.windows.net/c/x.TIF?st=1&sig=SECRET, band 1: read failed")
    classified = http.classify_gdal_error(err, "https://a.blob.core.windows.net/c/x.TIF?st=1&sig=SECRET", "x")
    assert "SECRET" not in str(classified)
    assert type(classified) is RemoteError
