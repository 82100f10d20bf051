"""Tests of tracking.sources.local: checking uploaded GeoTIFFs, their footprints and the scene table."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from shapely.geometry import Point

from tracking.exceptions import MissingTimeError, SceneReadError
from tracking.pairs import candidate_pairs
from tracking.sources import demo
from tracking.sources.local import MAX_UPLOAD_BYTES, footprint, read_upload, scene_table

T30 = Affine(30.0, 0.0, 540_000.0, 0.0, -30.0, 7_670_000.0)


def geotiff_bytes(*, crs="EPSG:32622", transform=T30, tags=None, size=(40, 50)) -> bytes:
    """A small float32 GeoTIFF in memory."""
    data = np.random.default_rng(0).random(size, dtype=np.float32)
    buffer = io.BytesIO()
    profile = {
        "driver": "GTiff",
        "width": size[1],
        "height": size[0],
        "count": 1,
        "dtype": "float32",
        "transform": transform,
        "nodata": np.nan,
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.MemoryFile() as memory:
        with memory.open(**profile) as dst:
            dst.write(data, 1)
            if tags:
                dst.update_tags(**tags)
        buffer.write(memory.read())
    return buffer.getvalue()


def test_valid_geotiff_with_date_in_tags():
    scene = read_upload(
        geotiff_bytes(tags={"ACQUISITION_TIME": "2021-05-16T14:50:00", "SENSOR": "Landsat 8 OLI"}),
        "helheim.tif",
    )
    assert scene.shape == (40, 50) and scene.dtype == np.float32
    assert scene.attrs["time"] == "2021-05-16T14:50:00" and scene.attrs["sensor"] == "Landsat 8 OLI"
    assert scene.attrs["scene_id"] == "helheim"
    assert scene.rio.crs.to_epsg() == 32622


def test_date_and_sensor_from_the_upload_name():
    scene = read_upload(geotiff_bytes(), "C:\\Users\\me\\LC09_L1TP_009011_20220601_20220602_02_T1_B4.TIF")
    assert scene.attrs["time"] == "2022-06-01T00:00:00"
    assert scene.attrs["sensor"] == "Landsat 9 OLI-2"
    assert scene.attrs["scene_id"] == "LC09_L1TP_009011_20220601_20220602_02_T1_B4"


def test_missing_date_then_given():
    data = geotiff_bytes()
    with pytest.raises(MissingTimeError, match=r"^glacier\.tif: no acquisition date.*type the date"):
        read_upload(data, "glacier.tif")
    scene = read_upload(data, "glacier.tif", time="2021-07-04")
    assert scene.attrs["time"] == "2021-07-04T00:00:00"
    with pytest.raises(SceneReadError, match=r"glacier\.tif: cannot read the time") as info:
        read_upload(data, "glacier.tif", time="not a date")
    assert not isinstance(info.value, MissingTimeError)


def test_text_file():
    with pytest.raises(SceneReadError, match=r"^notes\.tif is not a GeoTIFF: it is a text file"):
        read_upload(b"x,y\n1,2\n", "notes.tif")


def test_png():
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    with pytest.raises(SceneReadError, match=r"^photo\.png is not a GeoTIFF: it is a PNG image"):
        read_upload(png, "photo.png")


def test_broken_tiff_names_the_upload():
    with pytest.raises(SceneReadError, match=r"^broken\.tif is not a GeoTIFF: GDAL cannot read it") as info:
        read_upload(b"II*\x00" + bytes(60), "broken.tif", time="2021-05-01")
    assert "icetrack-upload" not in str(info.value) and "/tmp" not in str(info.value)


def test_no_crs():
    data = geotiff_bytes(crs=None, tags={"ACQUISITION_TIME": "2021-05-16"})
    with pytest.raises(
        SceneReadError, match=r"^plain\.tif: the raster has no coordinate reference system"
    ) as info:
        read_upload(data, "plain.tif")
    assert "icetrack-upload" not in str(info.value)


def test_no_crs_and_no_date_reports_the_crs_first():
    with pytest.raises(SceneReadError, match="no coordinate reference system") as info:
        read_upload(geotiff_bytes(crs=None), "plain.tif")
    assert not isinstance(info.value, MissingTimeError)


def test_geographic_crs():
    data = geotiff_bytes(
        crs="EPSG:4326",
        transform=Affine(0.001, 0, -50.0, 0, -0.001, 69.0),
        tags={"ACQUISITION_TIME": "2021-05-16"},
    )
    with pytest.raises(SceneReadError, match=r"^deg\.tif: the CRS \(EPSG:4326\) is geographic.*gdalwarp"):
        read_upload(data, "deg.tif")


def test_size_limits():
    data = geotiff_bytes(tags={"ACQUISITION_TIME": "2021-05-16"})
    with pytest.raises(
        SceneReadError,
        match=r"big\.tif is \d+ bytes, more than the 1000 bytes limit.*"
        r"gdal_translate -projwin",
    ):
        read_upload(data, "big.tif", max_bytes=1000)
    with pytest.raises(SceneReadError, match=r"empty\.tif is empty"):
        read_upload(b"", "empty.tif")
    assert MAX_UPLOAD_BYTES == 100 * 2**20
    assert read_upload(data, "ok.tif", max_bytes=len(data)).shape == (40, 50)


def test_demo_written_geotiff(tmp_path):
    # A demo scene cropped to a small window, written as the demo writes its GeoTIFFs.
    scene_id = demo.catalog()["scene_id"].iloc[0]
    scene = demo.load_scene(scene_id, bbox=(545_000, 7_660_000, 548_000, 7_662_000))
    path = tmp_path / f"{scene_id}_red.tif"
    stamp = pd.Timestamp(scene.attrs["time"])
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=scene.shape[1],
        height=scene.shape[0],
        count=1,
        dtype="float32",
        crs=scene.rio.crs,
        transform=scene.rio.transform(),
        nodata=np.nan,
    ) as dst:
        dst.write(scene.values, 1)
        dst.update_tags(
            TIFFTAG_DATETIME=f"{stamp:%Y:%m:%d %H:%M:%S}", SENSOR=scene.attrs["sensor"], SCENE_ID=scene_id
        )
    upload = read_upload(path.read_bytes(), path.name)
    assert upload.attrs["scene_id"] == scene_id
    assert pd.Timestamp(upload.attrs["time"]) == stamp.floor("s")
    np.testing.assert_array_equal(upload.values, scene.values)
    assert upload.rio.transform() == scene.rio.transform()


def test_footprint_and_scene_table():
    first = read_upload(geotiff_bytes(tags={"ACQUISITION_TIME": "2021-06-01"}), "b.tif")
    second = read_upload(geotiff_bytes(), "LC08_L1TP_009011_20210516_20210525_02_T1_B4.TIF")
    outline = footprint(first)
    assert outline.is_valid and len(outline.exterior.coords) == 4 * 20 + 1
    to_lonlat = Transformer.from_crs("EPSG:32622", "EPSG:4326", always_xy=True)
    left, bottom, right, top = first.rio.bounds()
    for x, y in ((left, bottom), (right, bottom), (right, top), (left, top)):
        corner = Point(to_lonlat.transform(x, y))
        assert outline.exterior.distance(corner) < 1e-9
    assert outline.contains(Point(to_lonlat.transform((left + right) / 2, (bottom + top) / 2)))
    assert outline.exterior.is_ccw
    table = scene_table([first, second])
    assert list(table.columns) == list(demo.catalog().columns)
    assert table.crs.to_epsg() == 4326
    assert list(table.scene_id) == ["LC08_L1TP_009011_20210516_20210525_02_T1_B4", "b"]  # by time
    assert list(table.platform) == ["local", "local"]
    assert list(table.path) == [9, -1] and list(table.row) == [11, -1]
    assert table.cloud_cover.isna().all()
    assert table.time.dtype == "datetime64[ns]"
    pairs = candidate_pairs(table)
    assert len(pairs) == 1 and pairs.path_row[0] == "009/011 · –" and pairs.dt_days[0] == 16.0
    empty = scene_table([])
    assert empty.empty and list(empty.columns) == list(demo.catalog().columns)
