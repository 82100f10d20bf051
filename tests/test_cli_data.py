"""The data commands of the CLI (search, fetch, compare, itslive) against the local remote world."""

from __future__ import annotations

import socket

import pandas as pd
import pytest
import remote_world
from fake_remote import FakeRemote
from remote_world import TRUNK

from tracking.cli import main
from tracking.io import read_field
from tracking.schema import SERIES_COLUMNS

LON, LAT = (str(c) for c in TRUNK)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with FakeRemote(tmp_path_factory.mktemp("remote")) as remote:
        yield remote_world.build(remote)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "cache"))


def test_search_lists_the_scenes_with_their_cloud_cover_and_area_covered(world, capsys, tmp_path):
    table = tmp_path / "scenes.csv"
    code = main(
        [
            "search",
            "--lon",
            LON,
            "--lat",
            LAT,
            "--start",
            "2021-05-01",
            "--end",
            "2021-07-31",
            "--url",
            world.landsat_url,
            "--csv",
            str(table),
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    for scene_id in world.scene_ids:
        assert scene_id in out.out
    assert "009/011" in out.out and "4 scene(s) from landsat" in out.err
    written = pd.read_csv(table)
    assert list(written["scene_id"]) == world.scene_ids
    assert (written["aoi_cover"] == 100.0).all()
    assert (
        main(
            [
                "search",
                "--lon",
                LON,
                "--lat",
                LAT,
                "--start",
                "2021-05-01",
                "--end",
                "2021-07-31",
                "--url",
                world.landsat_url,
                "--platform",
                "landsat-9",
            ]
        )
        == 0
    )
    assert "0 scene(s) from landsat" in capsys.readouterr().err  # the demo world is all Landsat 8


def test_fetch_then_track_then_compare_with_itslive(world, capsys, tmp_path):
    first, second = world.scene_ids[2], world.scene_ids[3]  # 5 and 21 July 2021: 16 days
    assert (
        main(
            [
                "fetch",
                first,
                second,
                "--lon",
                LON,
                "--lat",
                LAT,
                "--aoi-km",
                "12",
                "--url",
                world.landsat_url,
                "-o",
                str(tmp_path / "scenes"),
            ]
        )
        == 0
    )
    written = sorted((tmp_path / "scenes").glob("*.tif"))
    assert [p.name for p in written] == [f"{first}_red.tif", f"{second}_red.tif"]
    assert main(["track", *map(str, written), "-o", str(tmp_path / "ours.nc"), "-q"]) == 0
    granule_url = f"{world.remote.url}/files/world/itslive/{world.granule_ids[1]}.nc"
    assert (
        main(
            [
                "itslive",
                "field",
                granule_url,
                "--lon",
                LON,
                "--lat",
                LAT,
                "--aoi-km",
                "12",
                "-o",
                str(tmp_path / "itslive.nc"),
            ]
        )
        == 0
    )
    theirs = read_field(tmp_path / "itslive.nc")
    assert theirs.attrs["source"] == "ITS_LIVE" and theirs.rio.crs.to_epsg() == 3413
    capsys.readouterr()
    assert (
        main(
            [
                "compare",
                str(tmp_path / "ours.nc"),
                str(tmp_path / "itslive.nc"),
                "-o",
                str(tmp_path / "diff.nc"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("a - b over ") and "median" in out
    assert (tmp_path / "diff.nc").is_file()


def test_itslive_search_and_series(world, capsys, tmp_path):
    assert (
        main(
            [
                "itslive",
                "search",
                "--lon",
                LON,
                "--lat",
                LAT,
                "--start",
                "2015-01-01",
                "--end",
                "2019-12-31",
                "--url",
                world.itslive_url,
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "2 ITS_LIVE pair(s)" in captured.err and "2018-05-10" in captured.out
    output = tmp_path / "series.csv"
    assert (
        main(
            [
                "itslive",
                "series",
                "--lon",
                LON,
                "--lat",
                LAT,
                "--name",
                "trunk",
                "--catalog",
                str(world.catalog),
                "-o",
                str(output),
            ]
        )
        == 0
    )
    series = pd.read_csv(output)
    assert list(series.columns) == list(SERIES_COLUMNS)
    assert len(series) == 40 and (series["source"] == "ITS_LIVE").all()
    assert "trunk: 40 measurements" in capsys.readouterr().out


def test_no_network_is_one_clear_line_and_exit_code_1(capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(
        [
            "search",
            "--lon",
            LON,
            "--lat",
            LAT,
            "--start",
            "2021-05-01",
            "--end",
            "2021-07-31",
            "--url",
            f"http://127.0.0.1:{port}/stac",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("icetrack: error: ") and "could not reach" in err and err.count("\n") == 1


def test_fetch_of_an_unknown_scene_says_how_to_find_the_ids(world, capsys):
    code = main(
        ["fetch", "LC08_L1TP_009011_20210605_NOPE", "--lon", LON, "--lat", LAT, "--url", world.landsat_url]
    )
    assert code == 2
    assert "icetrack search" in capsys.readouterr().err
