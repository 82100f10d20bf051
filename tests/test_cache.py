"""tracking.sources.cache: cache hits, resumed downloads, bounded size and atomic writes, over real HTTP."""

from __future__ import annotations

import os
import threading
import time
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
from fake_remote import FakeRemote

from tracking.exceptions import MissingAssetError, NoNetworkError, RemoteError
from tracking.sources import http
from tracking.sources.cache import DownloadCache, default_cache_dir

BIG = np.random.default_rng(7).integers(0, 256, 200_000, dtype=np.uint8).tobytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module (each one takes 0.5 s to stop); `remote` resets it for every test."""
    with FakeRemote(tmp_path_factory.mktemp("remote")) as server:
        yield server


@pytest.fixture
def remote(server):
    """The module's server, reset, with this test's own folder of files at ``remote.files``."""
    server.reset()
    folder = uuid.uuid4().hex
    view = SimpleNamespace(
        root=server.root / folder, files=f"{server.url}/files/{folder}", prefix=f"/files/{folder}"
    )
    view.root.mkdir()
    (view.root / "big.bin").write_bytes(BIG)
    for name in ("fail", "delay", "break_after", "requests", "route", "url"):
        setattr(view, name, getattr(server, name))
    yield view
    server.reset(log=False)


@pytest.fixture
def cache(tmp_path):
    cache = DownloadCache(tmp_path / "cache", session=http.session(retries=3, backoff=0))
    cache.resume_backoff = 0.0
    return cache


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("ICETRACK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "icetrack"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "icetrack"


def test_second_fetch_is_a_cache_hit(remote, cache):
    seen = []
    first = cache.fetch(remote.files + "/big.bin", progress=lambda done, total: seen.append((done, total)))
    assert first.read_bytes() == BIG
    assert first.suffix == ".bin" and first.parent.parent == cache.directory
    assert seen[-1] == (len(BIG), len(BIG))
    again = cache.fetch(remote.files + "/big.bin")
    assert again == first
    assert len(remote.requests(remote.prefix)) == 1
    assert cache.size() == len(BIG)


def test_resume_after_a_broken_transfer(remote, cache):
    remote.break_after(remote.prefix + "/big.bin", 50_000)
    path = cache.fetch(remote.files + "/big.bin")
    assert path.read_bytes() == BIG
    first, second = remote.requests(remote.prefix)
    assert first.range is None
    assert second.range is not None and second.range.startswith("bytes=")
    start = int(second.range.removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= 50_000
    assert not list(cache.directory.rglob("*.part"))


def test_resume_a_part_left_by_a_crashed_run(remote, cache):
    url = remote.files + "/big.bin"
    part = cache.path(url, ".bin").with_name(cache.path(url, ".bin").name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(BIG[:123_456])
    assert cache.fetch(url).read_bytes() == BIG
    (request,) = remote.requests(remote.prefix)
    assert request.range == "bytes=123456-"
    assert not part.exists()


def test_a_server_that_ignores_range_still_gives_the_right_file(remote, cache):
    url = remote.files + "/plain.bin"
    remote.route("GET", remote.prefix + "/plain.bin", lambda request: (200, {}, BIG))  # no Range support
    part = cache.path(url, ".bin").with_name(cache.path(url, ".bin").name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 1000)  # junk from a "crashed" run
    assert cache.fetch(url).read_bytes() == BIG
    assert remote.requests(remote.prefix)[0].range == "bytes=1000-"


def test_a_part_as_long_as_the_file_is_not_trusted_blindly(remote, cache):
    url = remote.files + "/big.bin"
    part = cache.path(url, ".bin").with_name(cache.path(url, ".bin").name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"y" * (len(BIG) + 10))  # longer than the file: 416, then from scratch
    assert cache.fetch(url).read_bytes() == BIG


def test_retry_after_a_500(remote, cache):
    remote.fail(remote.prefix + "/big.bin", status=500, times=1)
    assert cache.fetch(remote.files + "/big.bin").read_bytes() == BIG
    assert [r.status for r in remote.requests(remote.prefix)] == [500, 200]


def test_errors(remote, cache):
    with pytest.raises(MissingAssetError, match="404"):
        cache.fetch(remote.files + "/missing.nc", what="granule X")
    remote.fail(remote.prefix + "/big.bin", status=502, times=10)
    with pytest.raises(RemoteError, match="HTTP 502"):
        cache.fetch(remote.files + "/big.bin")
    assert cache.size() == 0


def test_transfer_breaking_every_time_is_no_network_and_keeps_the_part(remote, cache):
    remote.break_after(remote.prefix + "/big.bin", 10_000, times=3)
    url = remote.files + "/big.bin"
    with pytest.raises(NoNetworkError, match="broke off 3 times"):
        cache.fetch(url)
    part = cache.path(url, ".bin").with_name(cache.path(url, ".bin").name + ".part")
    assert part.stat().st_size == 30_000
    assert cache.fetch(url).read_bytes() == BIG  # the next call resumes
    assert remote.requests(remote.prefix)[-1].range == "bytes=30000-"


def test_bounded_size_evicts_the_least_recently_used(remote, tmp_path):
    for name in "abc":
        (remote.root / f"{name}.bin").write_bytes(BIG[:60_000])
    cache = DownloadCache(tmp_path / "small", max_bytes=150_000, session=http.session(retries=0))
    a = cache.fetch(remote.files + "/a.bin")
    b = cache.fetch(remote.files + "/b.bin")
    old = time.time() - 100
    os.utime(a, (old, old))
    os.utime(b, (old + 10, old + 10))
    c = cache.fetch(remote.files + "/c.bin")
    assert not a.exists() and b.exists() and c.exists()
    assert cache.size() == 120_000
    assert cache.get(remote.files + "/a.bin", ".bin") is None


def test_evict_spares_young_parts_and_removes_stale_ones(tmp_path):
    cache = DownloadCache(tmp_path / "c", max_bytes=0)
    young = cache.path("young", ".tif").with_suffix(".tif.part")
    stale = cache.path("stale", ".tif").with_suffix(".tif.part")
    for part in (young, stale):
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"12345")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    assert cache.evict() == [stale]
    assert young.exists() and not stale.exists()
    entry = cache.put("entry", ".txt", lambda path: path.write_text("data"))
    assert entry.exists()  # the entry just made survives even over the limit
    assert cache.evict() == [entry]
    assert young.exists()
    cache.clear()
    assert cache.size() == 0 and not young.exists()


def test_get_touches_the_entry(tmp_path):
    cache = DownloadCache(tmp_path / "c")
    assert cache.get("k", ".txt") is None
    path = cache.put("k", ".txt", lambda p: p.write_text("v"))
    old = time.time() - 1000
    os.utime(path, (old, old))
    assert cache.get("k", ".txt") == path
    assert path.stat().st_mtime > old + 900


def test_put_is_atomic(tmp_path):
    cache = DownloadCache(tmp_path / "c")

    def broken(path):
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.put("crop", ".tif", broken)
    assert cache.get("crop", ".tif") is None
    assert not [p for p in cache.directory.rglob("*") if p.is_file()]
    path = cache.put("crop", ".tif", lambda p: p.write_bytes(b"whole"))
    assert path.suffix == ".tif" and path.read_bytes() == b"whole"
    assert cache.get("crop", ".tif") == path


def test_query_strings_share_an_entry(remote, cache):
    first = cache.fetch(remote.files + "/big.bin?se=2024-01-01&sig=AAA")
    second = cache.fetch(remote.files + "/big.bin?se=2024-02-01&sig=BBB")
    assert first == second
    assert len(remote.requests(remote.prefix)) == 1
    assert cache.path("https://h/x.tif?sig=1", ".tif") == cache.path("https://h/x.tif?sig=2", ".tif")
    assert cache.path("https://h/x.tif", ".tif") != cache.path("https://h/y.tif", ".tif")


def test_entry_names_never_change(tmp_path):
    """The sha256 of the normalized key names the entry: a new scheme would orphan every cached download."""
    cache = DownloadCache(tmp_path / "c")
    name = "826ec7c54253a6244c4183dcbb13bdaf33ec3a2f9af44ea46adc3ce66220a987"  # sha256("https://h/x.tif")
    assert cache.path("https://user:pw@H/x.tif?sig=1", ".tif") == tmp_path / "c" / name[:2] / f"{name}.tif"


def test_concurrent_fetches_of_one_url(remote, cache):
    remote.delay(remote.prefix + "/big.bin", 0.3, times=1)
    results, errors = [], []

    def fetch():
        try:
            results.append(cache.fetch(remote.files + "/big.bin"))
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1 and results[0].read_bytes() == BIG
    assert not [p for p in cache.directory.rglob("*") if p.is_file() and p != results[0]]
