"""Tests of the icetrack command, in-process through main() and once as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from scipy import ndimage
from shapely.geometry import box

from tracking.cli import build_parser, main
from tracking.cli.common import ProgressBar
from tracking.io import read_field
from tracking.params import TrackingParameters
from tracking.scenes import read_scene, scene_time

T30 = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)
FAST = ["--search-range", "8", "--chip-size", "32", "--step", "16"]


def write_tif(path, data, *, crs="EPSG:32622", transform=T30):
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=np.nan,
    ) as dst:
        dst.write(data.astype(np.float32), 1)
    return path


@pytest.fixture
def scenes(tmp_path):
    """A reference and a secondary (2.5 px east, 16 days later) GeoTIFF, dates in their names."""
    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(rng.normal(size=(160, 160)), 2.0)
    moved = ndimage.shift(image, (0.0, 2.5), order=3, mode="nearest")
    return write_tif(tmp_path / "ref_20210501.tif", image), write_tif(tmp_path / "sec_20210517.tif", moved)


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("icetrack: error: ")
    return err[0]


# --- help and flags -------------------------------------------------------------------------------------------------


def test_module_help_as_subprocess():
    done = subprocess.run(
        [sys.executable, "-m", "tracking", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "track" in done.stdout and "demo" in done.stdout


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("icetrack ")


def test_every_parameter_is_a_flag(capsys):
    assert main(["track", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name, p in TrackingParameters.param.objects("existing").items():
        if name == "name":
            continue
        assert f"--{name.replace('_', '-')}" in text, name
        if getattr(p, "bounds", None):
            assert f"[{p.bounds[0]} to {p.bounds[1]}]" in text, name
    assert "--no-fill-holes" in text and "lucas-kanade" in text and "'none' for no limit" in text


def test_flags_parse_to_overrides():
    args = build_parser().parse_args(
        [
            "track",
            "a.tif",
            "b.tif",
            "-o",
            "o.nc",
            "--max-speed",
            "none",
            "--no-fill-holes",
            "--prefilter",
            "wallis",
            "--min-peak",
            "0.3",
        ]
    )
    assert args.max_speed is None and args.fill_holes is False
    assert (args.prefilter, args.min_peak) == ("wallis", 0.3)
    assert not hasattr(args, "chip_size")  # unset flags keep the library defaults


# --- track ----------------------------------------------------------------------------------------------------------


def test_track_to_netcdf(scenes, tmp_path, capsys):
    out = tmp_path / "v.nc"
    assert main(["track", *map(str, scenes), "-o", str(out), *FAST, "--max-speed", "none"]) == 0
    field = read_field(out)
    valid = field.valid.values
    assert np.median(field.vx.values[valid]) == pytest.approx(2.5 * 30 * 365.25 / 16, rel=0.03)
    assert field.attrs["acquisition_date_img1"] == "2021-05-01T00:00:00"
    assert field.attrs["param_search_range"] == 8 and field.attrs["param_max_speed"] == "none"
    printed = capsys.readouterr().out
    assert (
        "valid:" in printed and "median speed:" in printed and str(out) in printed and "elapsed:" in printed
    )
    # error estimates: no polygons, and the whole scene moves, so the slowest quarter is not stable ground
    assert field.attrs["stable_source"] == "slowest 25%" and field.attrs["stable_shift_applied"] == 0
    lines = {line.split(":")[0]: line for line in printed.splitlines()}
    assert "(kept: no stable ground found; give --stable)" in lines["stable ground"]
    assert f"speed {field.attrs['v_error']:.1f} m/yr" in lines["error (1 sd)"]
    assert "static terrain" in lines["GLAFT metrics"] and "% invalid" in lines["GLAFT metrics"]
    assert list(lines)[:4] == ["grid", "valid", "median speed", "stable ground"]


def polygons(path, bounds, crs="EPSG:32622"):
    gpd.GeoDataFrame(geometry=[box(*bounds)], crs=crs).to_file(path)
    return path


WEST_HALF = (500_000.0, 6_995_200.0, 502_400.0, 7_000_000.0)  # the western half of the scenes


def test_track_with_stable_polygons(scenes, tmp_path, capsys):
    stable = polygons(tmp_path / "stable.geojson", WEST_HALF)
    out = tmp_path / "v.nc"
    # the whole scene moves 2.5 px east: called stable ground, that motion is the offset to remove
    assert main(["track", *map(str, scenes), "-o", str(out), *FAST, "--stable", str(stable)]) == 0
    field = read_field(out)
    assert field.attrs["stable_source"] == "polygons" and field.attrs["stable_shift_applied"] == 1
    assert field.attrs["stable_shift_x"] == pytest.approx(2.5 * 30 * 365.25 / 16, rel=0.03)
    assert abs(float(np.nanmedian(field.vx.values[field.valid.values]))) < 20.0
    stable_line = next(
        line for line in capsys.readouterr().out.splitlines() if line.startswith("stable ground:")
    )
    assert "(polygons)" in stable_line and "(removed)" in stable_line

    assert (
        main(
            [
                "track",
                *map(str, scenes),
                "-o",
                str(out),
                *FAST,
                "--stable",
                str(stable),
                "--no-offset-correction",
                "--on-ice",
                str(stable),
                "-q",
                "--overwrite",
            ]
        )
        == 0
    )
    field = read_field(out)
    assert (
        field.attrs["stable_shift_applied"] == 0 and field.attrs["stable_shift_status"] == "kept on request"
    )
    assert np.nanmedian(field.vx.values[field.valid.values]) == pytest.approx(
        2.5 * 30 * 365.25 / 16, rel=0.03
    )


def test_stable_polygon_errors(scenes, tmp_path, capsys):
    out = tmp_path / "v.nc"
    assert main(["track", *map(str, scenes), "-o", str(out), "--stable", str(tmp_path / "none.shp")]) == 2
    assert "--stable" in (line := one_error_line(capsys)) and "no such file" in line
    far = polygons(tmp_path / "far.gpkg", (900_000.0, 6_000_000.0, 901_000.0, 6_001_000.0))
    assert main(["track", *map(str, scenes), "-o", str(out), "--stable", str(far)]) == 1
    assert "do not overlap" in one_error_line(capsys)
    bare = polygons(tmp_path / "bare.shp", WEST_HALF)
    bare.with_suffix(".prj").unlink()
    assert main(["track", *map(str, scenes), "-o", str(out), "--on-ice", str(bare)]) == 1
    assert "no coordinate reference system" in one_error_line(capsys)
    assert not out.exists()


def test_track_to_geotiff_with_explicit_times(scenes, tmp_path, capsys):
    out = tmp_path / "v.tif"
    code = main(
        [
            "track",
            *map(str, scenes),
            "-o",
            str(out),
            *FAST,
            "--no-fill-holes",
            "-q",
            "--ref-time",
            "2021-05-01",
            "--sec-time",
            "2021-06-02",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out == ""
    with rasterio.open(out) as src:
        assert src.descriptions == ("vx", "vy", "v") and src.crs.to_epsg() == 32622
        vx = src.read(1)
        assert np.nanmedian(vx) == pytest.approx(2.5 * 30 * 365.25 / 32, rel=0.03)


def test_format_flag_wins_over_suffix(scenes, tmp_path):
    out = tmp_path / "v.out"
    assert (
        main(
            [
                "track",
                *map(str, scenes),
                "-o",
                str(out),
                *FAST,
                "--no-fill-holes",
                "-q",
                "--format",
                "geotiff",
            ]
        )
        == 0
    )
    with rasterio.open(out) as src:
        assert src.count == 3


def test_progress_bar_callback(capsys):
    with ProgressBar() as bar:  # stderr is not a terminal here: tqdm stays silent, calls still work
        for done in (0, 5, 10):
            bar(done, 10)
    with ProgressBar(disable=True) as bar:
        bar(1, 2)
        assert bar._bar is None


# --- errors ---------------------------------------------------------------------------------------------------------


def test_missing_file_is_a_usage_error(tmp_path, capsys):
    assert (
        main(["track", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "-o", str(tmp_path / "v.nc")]) == 2
    )
    assert "no such file" in one_error_line(capsys)


def test_bad_parameter_is_a_usage_error(scenes, tmp_path, capsys):
    assert main(["track", *map(str, scenes), "-o", str(tmp_path / "v.nc"), "--chip-size", "3"]) == 2
    assert "chip_size" in (line := one_error_line(capsys)) and "8 to 256" in line
    assert main(["track", *map(str, scenes), "-o", str(tmp_path / "v.nc"), "--chip-size", "big"]) == 2
    assert "not an integer" in one_error_line(capsys)
    assert main(["track", *map(str, scenes), "-o", str(tmp_path / "v.nc"), "--search-range", "100"]) == 2
    assert "search_range" in one_error_line(capsys)


@pytest.mark.parametrize("name", ["same", "relative", "symlink", "hardlink"])
def test_an_output_that_is_an_input_is_refused_before_anything_is_written(
    scenes, tmp_path, capsys, monkeypatch, name
):
    reference, secondary = scenes
    before = [reference.read_bytes(), secondary.read_bytes()]
    if name == "same":
        output = reference
    elif name == "relative":
        monkeypatch.chdir(tmp_path)
        output = Path("sub", "..", reference.name)
        (tmp_path / "sub").mkdir()
    elif name == "symlink":
        output = tmp_path / "link.tif"
        output.symlink_to(secondary)
    else:
        output = tmp_path / "hard.tif"
        os.link(reference, output)
    assert main(["track", *map(str, scenes), "-o", str(output), "--format", "geotiff"]) == 2
    assert "would destroy it" in one_error_line(capsys)
    assert [reference.read_bytes(), secondary.read_bytes()] == before


def test_unknown_output_suffix_and_missing_output(scenes, tmp_path, capsys):
    assert main(["track", *map(str, scenes), "-o", str(tmp_path / "v.xyz")]) == 2
    assert "--format" in one_error_line(capsys)
    assert main(["track", *map(str, scenes)]) == 2
    assert "-o/--output" in one_error_line(capsys)
    assert main(["frobnicate"]) == 2
    one_error_line(capsys)


def test_swapped_scenes_are_a_runtime_error(scenes, tmp_path, capsys):
    ref, sec = scenes
    assert main(["track", str(sec), str(ref), "-o", str(tmp_path / "v.nc")]) == 1
    assert "swap" in one_error_line(capsys)
    assert not (tmp_path / "v.nc").exists()


def test_no_crs_is_a_runtime_error(scenes, tmp_path, capsys):
    bare = write_tif(tmp_path / "bare_20210601.tif", np.ones((160, 160)), crs=None)
    assert main(["track", str(scenes[0]), str(bare), "-o", str(tmp_path / "v.nc")]) == 1
    assert "coordinate reference system" in one_error_line(capsys)


def test_no_overlap_is_a_runtime_error(scenes, tmp_path, capsys):
    far = write_tif(
        tmp_path / "far_20210601.tif",
        np.random.default_rng(1).random((160, 160)),
        transform=Affine(30.0, 0.0, 900_000.0, 0.0, -30.0, 7_000_000.0),
    )
    assert main(["track", str(scenes[0]), str(far), "-o", str(tmp_path / "v.nc")]) == 1
    assert "do not overlap" in one_error_line(capsys)


def test_debug_shows_the_traceback(scenes, tmp_path, capsys):
    ref, sec = scenes
    assert main(["track", str(sec), str(ref), "-o", str(tmp_path / "v.nc"), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("icetrack: error: ")


# --- demo -----------------------------------------------------------------------------------------------------------


def test_demo_writes_geotiffs_between_dates(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "cache"))  # keep the user's demo cache out of it
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--start", "2021-05-10", "--end", "2021-05-31", "--limit", "1"]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 1
    for path in printed:
        scene = read_scene(path)
        assert pd.Timestamp("2021-05-10") <= scene_time(scene) < pd.Timestamp("2021-06-01")
        assert scene.rio.crs.is_projected and scene.attrs["band"] == "red"


def test_demo_rejects_reversed_dates(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path), "--start", "2021-06-01", "--end", "2021-05-01"]) == 2
    assert "before" in one_error_line(capsys)


def test_a_huge_declared_raster_is_refused_from_its_header(tmp_path, capsys):
    """A 1 MB sparse GeoTIFF that declares 100,000 x 100,000 px: one line, exit 1, no MemoryError."""
    huge = tmp_path / "huge_20210501.tif"
    with rasterio.open(
        huge,
        "w",
        driver="GTiff",
        width=100_000,
        height=100_000,
        count=1,
        dtype="float32",
        crs="EPSG:32622",
        transform=T30,
        tiled=True,
        compress="deflate",
        sparse_ok=True,
    ):
        pass
    assert huge.stat().st_size < 2_000_000  # the tile index only
    before = huge.read_bytes()
    assert main(["track", str(huge), str(huge), "-o", str(tmp_path / "v.nc")]) == 1
    line = one_error_line(capsys)
    assert "100,000 x 100,000 px" in line and "budget" in line and "tile by tile" in line
    assert huge.read_bytes() == before and not (tmp_path / "v.nc").exists()


def test_the_memory_budget_can_be_set(scenes, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ICETRACK_MEMORY_BUDGET", "0.0001")  # 100 kB: a 160 x 160 pair needs 614 kB
    assert main(["track", *map(str, scenes), "-o", str(tmp_path / "v.nc")]) == 1
    assert "0.0 GB budget" in one_error_line(capsys)
    monkeypatch.setenv("ICETRACK_MEMORY_BUDGET", "lots")
    assert main(["track", *map(str, scenes), "-o", str(tmp_path / "v.nc")]) == 1
    assert "give a number of GB" in one_error_line(capsys)
    monkeypatch.setenv("ICETRACK_MEMORY_BUDGET", "1")
    assert main(["track", *map(str, scenes), "-o", str(tmp_path / "v.nc")]) == 0
