"""Dates, sensors and path/row or tile from scene names and metadata sidecars (tracking.naming), as
read_scene, the CLI and uploads use them."""

from __future__ import annotations

import doctest
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from scipy import ndimage

import tracking.naming
from tracking.cli import main
from tracking.exceptions import MissingTimeError, SceneReadError
from tracking.io import read_field
from tracking.naming import find_sidecar, parse_name, read_sidecar
from tracking.scenes import date_from_name, read_scene
from tracking.sources.local import read_upload, scene_table

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
T15 = Affine(15.0, 0.0, 500_000.0, 0.0, -15.0, 6_800_000.0)

# --- names: one row per scheme -------------------------------------------------------------------------------------

# name, scheme, time, sensor, (path, row) or tile, band
NAMES = [
    # Landsat pre-collection scene ids: LXSPPPRRRYYYYDDDGSIVV (year + day of year)
    (
        "LC80630182016200LGN00_B8.TIF",
        "landsat-pre-collection",
        "2016-07-18",
        "Landsat 8 OLI",
        (63, 18),
        "pan",
    ),
    (
        "lc80630182016216lgn00_b8.tif",
        "landsat-pre-collection",
        "2016-08-03",
        "Landsat 8 OLI",
        (63, 18),
        "pan",
    ),
    ("LC80630182016200LGN00", "landsat-pre-collection", "2016-07-18", "Landsat 8 OLI", (63, 18), None),
    (
        "LE70630182003200EDC00_B8.TIF",
        "landsat-pre-collection",
        "2003-07-19",
        "Landsat 7 ETM+",
        (63, 18),
        "pan",
    ),
    ("LT50630181995200PAC02_B3.TIF", "landsat-pre-collection", "1995-07-19", "Landsat 5 TM", (63, 18), "red"),
    ("LT40080111989060XXX01_B4.tif", "landsat-pre-collection", "1989-03-01", "Landsat 4 TM", (8, 11), "nir"),
    ("LM10630181975200AAA04_B6.TIF", "landsat-pre-collection", "1975-07-19", "Landsat 1 MSS", (63, 18), "B6"),
    (
        "LC80630182016366LGN00",
        "landsat-pre-collection",
        "2016-12-31",
        "Landsat 8 OLI",
        (63, 18),
        None,
    ),  # leap
    # Collection 1 and 2 product ids: the first date is the acquisition, the second the processing
    (
        "LC08_L1TP_063018_20160718_20170222_01_T1_B8.TIF",
        "landsat-collection",
        "2016-07-18",
        "Landsat 8 OLI",
        (63, 18),
        "pan",
    ),
    (
        "lc08_l1tp_063018_20160718_20170222_01_t1_b8.tif",
        "landsat-collection",
        "2016-07-18",
        "Landsat 8 OLI",
        (63, 18),
        "pan",
    ),
    (
        "LC09_L2SP_063018_20220601_20220603_02_T1_SR_B4.TIF",
        "landsat-collection",
        "2022-06-01",
        "Landsat 9 OLI-2",
        (63, 18),
        "red",
    ),
    (
        "LE07_L1TP_008011_20020709_20200916_02_T1_B8.TIF",
        "landsat-collection",
        "2002-07-09",
        "Landsat 7 ETM+",
        (8, 11),
        "pan",
    ),
    (
        "LT05_L1GS_219121_19841206_20200918_02_T2",
        "landsat-collection",
        "1984-12-06",
        "Landsat 5 TM",
        (219, 121),
        None,
    ),
    (
        "LC08_L2SP_033032_20231008_02_T1",
        "landsat-collection",
        "2023-10-08",
        "Landsat 8 OLI",
        (33, 32),
        None,
    ),  # STAC
    (
        "LC08_L1GT_063018_20160718_20170222_01_RT_BQA.TIF",
        "landsat-collection",
        "2016-07-18",
        "Landsat 8 OLI",
        (63, 18),
        "BQA",
    ),
    (
        "crop_LC08_L1TP_063018_20160718_20170222_01_T1_B8.tif",
        "landsat-collection",
        "2016-07-18",
        "Landsat 8 OLI",
        (63, 18),
        "pan",
    ),
    # Sentinel-2 SAFE product names: the first datetime is the sensing start
    (
        "S2A_MSIL1C_20210716T203021_N0301_R114_T05VNK_20210716T235123.SAFE",
        "sentinel2-safe",
        "2021-07-16T20:30:21",
        "Sentinel-2A MSI",
        "05VNK",
        None,
    ),
    (
        "s2b_msil2a_20190629t212529_n0212_r043_t06vvn_20190629t233204.safe",
        "sentinel2-safe",
        "2019-06-29T21:25:29",
        "Sentinel-2B MSI",
        "06VVN",
        None,
    ),
    (
        "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531",
        "sentinel2-safe",
        "2019-06-29T21:25:29",
        "Sentinel-2B MSI",
        "06VVN",
        None,
    ),  # Planetary Computer ids: no processing baseline
    (
        "S2A_OPER_PRD_MSIL1C_PDMC_20160608T181125_R008_V20160608T101535_20160608T101535.SAFE",
        "sentinel2-safe-oper",
        "2016-06-08T10:15:35",
        "Sentinel-2A MSI",
        None,
        None,
    ),
    # Sentinel-2 tile and granule file names inside a SAFE (and Google Cloud's granule folders)
    (
        "T05VNK_20210716T203021_B08.jp2",
        "sentinel2-tile",
        "2021-07-16T20:30:21",
        "Sentinel-2 MSI",
        "05VNK",
        "nir",
    ),
    (
        "T05VNK_20210716T203021_B04_10m.jp2",
        "sentinel2-tile",
        "2021-07-16T20:30:21",
        "Sentinel-2 MSI",
        "05VNK",
        "red",
    ),
    (
        "t33uuu_20160608t101032_b8a.tif",
        "sentinel2-tile",
        "2016-06-08T10:10:32",
        "Sentinel-2 MSI",
        "33UUU",
        "nir08",
    ),
    (
        "L1C_T05VNK_A031686_20210716T203021",
        "sentinel2-granule",
        "2021-07-16T20:30:21",
        "Sentinel-2 MSI",
        "05VNK",
        None,
    ),
    # Earth Search item ids (v1, and the c1 collections)
    ("S2A_5VNK_20210716_0_L2A", "sentinel2-earth-search", "2021-07-16", "Sentinel-2A MSI", "05VNK", None),
    (
        "S2B_24MUV_20250731_0_L1C_B08.tif",
        "sentinel2-earth-search",
        "2025-07-31",
        "Sentinel-2B MSI",
        "24MUV",
        None,
    ),
    (
        "S2A_T13TDE_20250711T175745_L2A",
        "sentinel2-earth-search",
        "2025-07-11T17:57:45",
        "Sentinel-2A MSI",
        "13TDE",
        None,
    ),
    # Sentinel-1
    (
        "clip_HH_S1B_EW_GRDM_1SDH_20200301T083237_20200301T083346_020496_026D68_5471_adjusted.tif",
        "sentinel1",
        "2020-03-01T08:32:37",
        "Sentinel-1B C-SAR",
        None,
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "scheme", "time", "sensor", "where", "band"), NAMES, ids=[n[0] for n in NAMES]
)
def test_names(name, scheme, time, sensor, where, band):
    info = parse_name(name)
    assert info is not None
    assert info.scheme == scheme
    assert info.time == pd.Timestamp(time)
    assert info.sensor == sensor
    if isinstance(where, tuple):
        assert (info.path, info.row) == where and info.tile is None
    else:
        assert info.tile == where and info.path is None
    assert info.band == band
    assert date_from_name(name) == pd.Timestamp(time)


def test_processing_date_is_kept_apart():
    info = parse_name("LC08_L1TP_063018_20160718_20170222_01_T1")
    assert info.processed == pd.Timestamp("2017-02-22") and info.level == "L1TP"
    assert info.product_id == "LC08_L1TP_063018_20160718_20170222_01_T1"
    assert parse_name("lc80630182016200lgn00_b8.tif").product_id == "LC80630182016200LGN00"


def test_itslive_granule_has_two_acquisitions():
    name = (
        "LC08_L1TP_063018_20160718_20170222_01_T1_X_LC08_L1TP_063018_20160803_20170222_01_T1_G0120V02_P095.nc"
    )
    info = parse_name(name)
    assert info.scheme == "itslive"
    assert info.time == pd.Timestamp("2016-07-18") and info.second.time == pd.Timestamp("2016-08-03")
    assert (info.path, info.row) == (63, 18) and info.sensor == "Landsat 8 OLI"
    s2 = parse_name(
        "S2A_MSIL1C_20210716T203021_N0301_R114_T05VNK_20210716T235123_X_"
        "S2B_MSIL1C_20210721T203029_N0301_R114_T05VNK_20210721T225012_G0120V02_P042.nc"
    )
    assert s2.time == pd.Timestamp("2021-07-16T20:30:21") and s2.second.time == pd.Timestamp(
        "2021-07-21T20:30:29"
    )
    assert s2.second.sensor == "Sentinel-2B MSI" and s2.tile == "05VNK"


def test_itslive_fixture_name():
    folder = FIXTURES / "itslive"
    granules = sorted(folder.glob("*_X_*.nc")) if folder.is_dir() else []
    if not granules:
        pytest.skip("no ITS_LIVE granule in ../shared/fixtures/itslive")
    info = parse_name(granules[0].name)
    assert info.scheme == "itslive" and info.time < info.second.time
    assert info.time == pd.Timestamp("1984-12-06") and info.second.time == pd.Timestamp("1985-01-24")


@pytest.mark.parametrize(
    "name",
    [
        "reference.tif",
        "helheim_2021-05-01.tif",
        "image_123456789.tif",
        "LC80630182016400LGN00_B8.TIF",  # day 400 is no day
        "LC08_L1TP_063018_20161318_20170222_01_T1",  # month 13
        "ref_S2A_20160608T153121_T33UUU_sub.jp2",  # no known scheme: left to the generic date search
    ],
)
def test_names_of_no_scheme(name):
    assert parse_name(name) is None


def test_old_sentinel2_tile_names_carry_no_sensing_time():
    info = parse_name("S2A_OPER_MSI_L1C_TL_SGS__20160608T181125_A005045_T33UUU_B03.jp2")
    assert info.scheme == "sentinel2-tile-oper" and info.time is None
    assert (
        info.processed == pd.Timestamp("2016-06-08T18:11:25")
        and info.tile == "33UUU"
        and info.band == "green"
    )
    assert date_from_name("S2A_OPER_MSI_L1C_TL_SGS__20160608T181125_A005045_T33UUU_B03.jp2") is None


def test_generic_dates_still_read():
    assert date_from_name("helheim_2021-05-01.tif") == pd.Timestamp("2021-05-01")
    assert date_from_name("ref_S2A_20160608T153121_T33UUU_sub.jp2") == pd.Timestamp("2016-06-08T15:31:21")


def test_doctests():
    assert doctest.testmod(tracking.naming).failed == 0


# --- sidecars: small samples shaped like the real files ----------------------------------------------------------

MTL_TXT = """GROUP = L1_METADATA_FILE
  GROUP = METADATA_FILE_INFO
    ORIGIN = "Image courtesy of the U.S. Geological Survey"
    REQUEST_ID = "0501702223331_00004"
    LANDSAT_SCENE_ID = "LC80630182016200LGN01"
    LANDSAT_PRODUCT_ID = "LC08_L1TP_063018_20160718_20170222_01_T1"
    COLLECTION_NUMBER = 01
    FILE_DATE = 2017-02-22T04:00:35Z
    STATION_ID = "LGN"
    PROCESSING_SOFTWARE_VERSION = "LPGS_2.7.0"
  END_GROUP = METADATA_FILE_INFO
  GROUP = PRODUCT_METADATA
    DATA_TYPE = "L1TP"
    COLLECTION_CATEGORY = "T1"
    ELEVATION_SOURCE = "GLS2000"
    OUTPUT_FORMAT = "GEOTIFF"
    SPACECRAFT_ID = "LANDSAT_8"
    SENSOR_ID = "OLI_TIRS"
    WRS_PATH = 63
    WRS_ROW = 18
    NADIR_OFFNADIR = "NADIR"
    TARGET_WRS_PATH = 63
    TARGET_WRS_ROW = 18
    DATE_ACQUIRED = 2016-07-18
    SCENE_CENTER_TIME = "20:47:58.1720530Z"
    CORNER_UL_LAT_PRODUCT = 61.76339
  END_GROUP = PRODUCT_METADATA
END_GROUP = L1_METADATA_FILE
END
"""

# a pre-2012 Landsat 7 MTL: other key names
MTL_TXT_OLD = """GROUP = L1_METADATA_FILE
  GROUP = PRODUCT_METADATA
    PRODUCT_TYPE = "L1T"
    SPACECRAFT_ID = "Landsat7"
    SENSOR_ID = "ETM+"
    ACQUISITION_DATE = 2003-07-19
    WRS_PATH = 63
    STARTING_ROW = 18
    SCENE_CENTER_SCAN_TIME = 20:31:05.8770000Z
  END_GROUP = PRODUCT_METADATA
END_GROUP = L1_METADATA_FILE
END
"""

MTL_JSON = {
    "LANDSAT_METADATA_FILE": {
        "PRODUCT_CONTENTS": {
            "ORIGIN": "Image courtesy of the U.S. Geological Survey",
            "DIGITAL_OBJECT_IDENTIFIER": "https://doi.org/10.5066/P9OGBGM6",
            "LANDSAT_PRODUCT_ID": "LC09_L2SP_063018_20220601_20220603_02_T1",
            "PROCESSING_LEVEL": "L2SP",
            "COLLECTION_NUMBER": "02",
            "COLLECTION_CATEGORY": "T1",
        },
        "IMAGE_ATTRIBUTES": {
            "SPACECRAFT_ID": "LANDSAT_9",
            "SENSOR_ID": "OLI_TIRS",
            "WRS_TYPE": "2",
            "WRS_PATH": "063",
            "WRS_ROW": "018",
            "NADIR_OFFNADIR": "NADIR",
            "DATE_ACQUIRED": "2022-06-01",
            "SCENE_CENTER_TIME": "20:47:31.4280080Z",
            "CLOUD_COVER": "12.34",
        },
        "LEVEL1_PROCESSING_RECORD": {
            "LANDSAT_SCENE_ID": "LC90630182022152LGN00",
            "LANDSAT_PRODUCT_ID": "LC09_L1TP_063018_20220601_20220602_02_T1",
            "DATE_PRODUCT_GENERATED": "2022-06-02T10:11:12Z",
        },
    }
}

MTD_TL = """<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:Level-1C_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <n1:General_Info>
    <TILE_ID metadataLevel="Brief">S2A_OPER_MSI_L1C_TL_VGS1_20210716T235123_A031686_T05VNK_N03.01</TILE_ID>
    <DATASTRIP_ID metadataLevel="Standard">S2A_OPER_MSI_L1C_DS_VGS1_20210716T235123_S20210716T203918_N03.01</DATASTRIP_ID>
    <DOWNLINK_PRIORITY metadataLevel="Standard">NOMINAL</DOWNLINK_PRIORITY>
    <SENSING_TIME metadataLevel="Standard">2021-07-16T20:39:22.463Z</SENSING_TIME>
    <Archiving_Info metadataLevel="Expertise">
      <ARCHIVING_CENTRE>VGS1</ARCHIVING_CENTRE>
      <ARCHIVING_TIME>2021-07-17T00:12:03.123Z</ARCHIVING_TIME>
    </Archiving_Info>
  </n1:General_Info>
  <n1:Geometric_Info>
    <Tile_Geocoding metadataLevel="Brief">
      <HORIZONTAL_CS_NAME>WGS84 / UTM zone 5N</HORIZONTAL_CS_NAME>
      <HORIZONTAL_CS_CODE>EPSG:32605</HORIZONTAL_CS_CODE>
    </Tile_Geocoding>
  </n1:Geometric_Info>
</n1:Level-1C_Tile_ID>
"""

MTD_MSIL1C = """<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>2021-07-16T20:30:21.024Z</PRODUCT_START_TIME>
      <PRODUCT_STOP_TIME>2021-07-16T20:30:21.024Z</PRODUCT_STOP_TIME>
      <PRODUCT_URI>S2A_MSIL1C_20210716T203021_N0301_R114_T05VNK_20210716T235123.SAFE</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-1C</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI1C</PRODUCT_TYPE>
      <PROCESSING_BASELINE>03.01</PROCESSING_BASELINE>
      <GENERATION_TIME>2021-07-16T23:51:23.000000Z</GENERATION_TIME>
      <Datatake datatakeIdentifier="GS2A_20210716T203021_031686_N03.01">
        <SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME>
        <DATATAKE_TYPE>INS-NOBS</DATATAKE_TYPE>
        <DATATAKE_SENSING_START>2021-07-16T20:30:21.024Z</DATATAKE_SENSING_START>
        <SENSING_ORBIT_NUMBER>114</SENSING_ORBIT_NUMBER>
        <SENSING_ORBIT_DIRECTION>DESCENDING</SENSING_ORBIT_DIRECTION>
      </Datatake>
    </Product_Info>
  </n1:General_Info>
</n1:Level-1C_User_Product>
"""


def test_mtl_txt(tmp_path):
    path = tmp_path / "LC08_L1TP_063018_20160718_20170222_01_T1_MTL.txt"
    path.write_text(MTL_TXT)
    info = read_sidecar(path)
    assert info.scheme == "landsat-mtl-txt"
    assert info.time == pd.Timestamp("2016-07-18T20:47:58.172053")
    assert (info.platform, info.sensor, info.path, info.row) == ("Landsat 8", "Landsat 8 OLI", 63, 18)
    assert info.product_id == "LC08_L1TP_063018_20160718_20170222_01_T1"


def test_old_mtl_txt(tmp_path):
    path = tmp_path / "L71063018_01820030719_MTL.txt"
    path.write_text(MTL_TXT_OLD)
    info = read_sidecar(path)
    assert info.time == pd.Timestamp("2003-07-19T20:31:05.877")
    assert info.sensor == "Landsat 7 ETM+" and info.path == 63


def test_mtl_json(tmp_path):
    path = tmp_path / "LC09_L2SP_063018_20220601_20220603_02_T1_MTL.json"
    path.write_text(json.dumps(MTL_JSON, indent=2))
    info = read_sidecar(path)
    assert info.scheme == "landsat-mtl-json"
    assert info.time == pd.Timestamp("2022-06-01T20:47:31.428008")
    assert (info.sensor, info.path, info.row) == ("Landsat 9 OLI-2", 63, 18)
    assert info.product_id == "LC09_L2SP_063018_20220601_20220603_02_T1"


def test_mtd_tl_and_mtd_msil1c(tmp_path):
    (tmp_path / "MTD_TL.xml").write_text(MTD_TL)
    (tmp_path / "MTD_MSIL1C.xml").write_text(MTD_MSIL1C)
    tile = read_sidecar(tmp_path / "MTD_TL.xml")
    assert tile.scheme == "sentinel2-mtd-tl"
    assert tile.time == pd.Timestamp("2021-07-16T20:39:22.463")  # the tile's sensing time, not the datatake's
    assert (tile.sensor, tile.tile) == ("Sentinel-2A MSI", "05VNK")
    product = read_sidecar(tmp_path / "MTD_MSIL1C.xml")
    assert product.scheme == "sentinel2-mtd-product"
    assert product.time == pd.Timestamp("2021-07-16T20:30:21.024")
    assert (product.sensor, product.tile) == ("Sentinel-2A MSI", "05VNK")


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('GROUP = L1_METADATA_FILE\n  SPACECRAFT_ID = "LANDSAT_8"\nEND\n', "no acquisition time"),
        ("just some notes\n", "not a metadata file"),
        ("<root><unclosed></root>", "not a metadata file"),
        ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><a>&lol;</a>', "not a metadata file"),
        ("{not json", "not a metadata file"),
    ],
)
def test_unreadable_sidecars(tmp_path, content, match):
    path = tmp_path / "x_MTL.txt"
    path.write_text(content)
    with pytest.raises(SceneReadError, match=match):
        read_sidecar(path)


def test_find_sidecar_by_name(tmp_path):
    image = tmp_path / "LC08_L1TP_063018_20160718_20170222_01_T1_B8.TIF"
    image.touch()
    assert find_sidecar(image) is None
    (tmp_path / "lc08_l1tp_063018_20160718_20170222_01_t1_mtl.txt").write_text(MTL_TXT)  # any case
    assert find_sidecar(image).name == "lc08_l1tp_063018_20160718_20170222_01_t1_mtl.txt"
    crop = tmp_path / "crop_a.tif"
    crop.touch()
    assert find_sidecar(crop) is None  # another image's sidecar is not this one's
    (tmp_path / "crop_a_MTL.json").write_text(json.dumps(MTL_JSON))
    assert find_sidecar(crop).name == "crop_a_MTL.json"
    (tmp_path / "crop_a.tif.aux.xml").write_text("<PAMDataset/>")  # GDAL's own sidecar is never read
    assert find_sidecar(crop).name == "crop_a_MTL.json"


def test_find_sidecar_in_a_safe(tmp_path):
    safe = tmp_path / "S2A_MSIL1C_20210716T203021_N0301_R114_T05VNK_20210716T235123.SAFE"
    img_data = safe / "GRANULE" / "L1C_T05VNK_A031686_20210716T203021" / "IMG_DATA"
    img_data.mkdir(parents=True)
    image = img_data / "T05VNK_20210716T203021_B08.jp2"
    image.touch()
    (safe / "MTD_MSIL1C.xml").write_text(MTD_MSIL1C)
    assert find_sidecar(image) == safe / "MTD_MSIL1C.xml"
    (img_data.parent / "MTD_TL.xml").write_text(MTD_TL)
    assert find_sidecar(image) == img_data.parent / "MTD_TL.xml"  # the tile's own comes first
    other = img_data / "T06VVN_20210716T203021_B08.jp2"  # another tile: not this granule's metadata
    other.touch()
    assert find_sidecar(other) is None
    plain = img_data / "glacier.tif"  # a name of no Sentinel-2 scheme: S2 metadata is not looked for
    plain.touch()
    assert find_sidecar(plain) is None


# --- read_scene: argument > TIFF tags > sidecar > name -------------------------------------------------------------


def write_tif(path, data=None, *, tags=None, transform=T15, crs="EPSG:32605"):
    if data is None:
        data = np.random.default_rng(0).random((80, 90), dtype=np.float32)
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
        if tags:
            dst.update_tags(**tags)
    return path


def test_read_scene_pre_collection_name(tmp_path):
    scene = read_scene(write_tif(tmp_path / "LC80630182016200LGN00_B8.TIF"))
    assert scene.attrs["time"] == "2016-07-18T00:00:00"
    assert scene.attrs["sensor"] == "Landsat 8 OLI" and scene.attrs["band"] == "pan"
    assert (scene.attrs["path"], scene.attrs["row"]) == (63, 18)
    assert scene.attrs["scene_id"] == "LC80630182016200LGN00_B8"


def test_read_scene_order(tmp_path):
    name = "LC08_L1TP_063018_20160718_20170222_01_T1_B8.TIF"
    path = write_tif(tmp_path / name)
    assert read_scene(path).attrs["time"] == "2016-07-18T00:00:00"  # name
    (tmp_path / "LC08_L1TP_063018_20160718_20170222_01_T1_MTL.txt").write_text(MTL_TXT)
    assert read_scene(path).attrs["time"] == "2016-07-18T20:47:58.172053"  # sidecar over name
    write_tif(path, tags={"ACQUISITION_TIME": "2016-07-18T20:48:00"})
    assert read_scene(path).attrs["time"] == "2016-07-18T20:48:00"  # tags over sidecar
    assert read_scene(path, time="2016-07-19").attrs["time"] == "2016-07-19T00:00:00"  # argument over all


def test_read_scene_sidecar_gives_sensor_and_path_row(tmp_path):
    path = write_tif(tmp_path / "glacier_a.tif")
    (tmp_path / "glacier_a_MTL.json").write_text(json.dumps(MTL_JSON))
    scene = read_scene(path)
    assert scene.attrs["time"] == "2022-06-01T20:47:31.428008"
    assert scene.attrs["sensor"] == "Landsat 9 OLI-2"
    assert (scene.attrs["path"], scene.attrs["row"]) == (63, 18)


def test_read_scene_sentinel2_tile_in_a_safe(tmp_path):
    granule = tmp_path / "S2A_MSIL1C_20210716T203021_N0301_R114_T05VNK_20210716T235123.SAFE" / "GRANULE" / "g"
    (granule / "IMG_DATA").mkdir(parents=True)
    (granule / "MTD_TL.xml").write_text(MTD_TL)
    scene = read_scene(write_tif(granule / "IMG_DATA" / "T05VNK_20210716T203021_B08.tif"))
    assert scene.attrs["time"] == "2021-07-16T20:39:22.463000"
    assert scene.attrs["sensor"] == "Sentinel-2A MSI" and scene.attrs["band"] == "nir"
    assert scene.attrs["tile"] == "05VNK"


def test_broken_sidecar_is_named_only_when_it_was_needed(tmp_path):
    (tmp_path / "glacier_MTL.txt").write_text("just some notes\n")
    path = write_tif(tmp_path / "glacier.tif")
    with pytest.raises(SceneReadError, match=r"glacier_MTL\.txt: not a metadata file"):
        read_scene(path)
    write_tif(path, tags={"ACQUISITION_DATE": "2021-05-01"})
    assert read_scene(path).attrs["time"] == "2021-05-01T00:00:00"


def test_old_tile_name_asks_for_the_date(tmp_path):
    path = write_tif(tmp_path / "S2A_OPER_MSI_L1C_TL_SGS__20160608T181125_A005045_T33UUU_B03.tif")
    with pytest.raises(SceneReadError, match="processing date"):
        read_scene(path)


# --- the CLI: two real-named crops without tags -----------------------------------------------------------------


@pytest.fixture
def pre_collection_pair(tmp_path):
    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(rng.normal(size=(160, 160)), 2.0)
    moved = ndimage.shift(image, (0.0, 2.5), order=3, mode="nearest")
    return (
        write_tif(tmp_path / "LC80630182016200LGN00_B8_crop.TIF", image),
        write_tif(tmp_path / "LC80630182016216LGN00_B8_crop.TIF", moved),
    )


def _track_args(pair, out) -> list[str]:
    """``icetrack track`` of ``pair`` into ``out``, on a coarse, quick grid."""
    return [
        "track",
        *map(str, pair),
        "-o",
        str(out),
        "--search-range",
        "8",
        "--chip-size",
        "32",
        "--step",
        "32",
        "-q",
    ]


def test_cli_reads_pre_collection_dates(pre_collection_pair, tmp_path, capsys):
    out = tmp_path / "v.nc"
    assert main(_track_args(pre_collection_pair, out)) == 0, capsys.readouterr().err
    field = read_field(out)
    assert field.attrs["acquisition_date_img1"] == "2016-07-18T00:00:00"
    assert field.attrs["acquisition_date_img2"] == "2016-08-03T00:00:00"
    assert float(field.attrs["date_dt"]) == 16.0


def test_cli_uses_a_sidecar(pre_collection_pair, tmp_path, capsys):
    (tmp_path / "LC80630182016200LGN00_MTL.txt").write_text(MTL_TXT)
    out = tmp_path / "v.nc"
    assert main(_track_args(pre_collection_pair, out)) == 0, capsys.readouterr().err
    assert read_field(out).attrs["acquisition_date_img1"].startswith("2016-07-18T20:47:58")


# --- uploads --------------------------------------------------------------------------------------------------------


def tif_bytes(**kwargs) -> bytes:
    buffer = io.BytesIO()
    with rasterio.MemoryFile() as memory:
        data = np.random.default_rng(0).random((80, 90), dtype=np.float32)
        with memory.open(
            driver="GTiff",
            width=90,
            height=80,
            count=1,
            dtype="float32",
            crs="EPSG:32605",
            transform=T15,
            nodata=np.nan,
            **kwargs,
        ) as dst:
            dst.write(data, 1)
        buffer.write(memory.read())
    return buffer.getvalue()


def test_upload_pre_collection_names_and_table():
    data = tif_bytes()
    a = read_upload(data, "LC80630182016200LGN00_B8.TIF")
    b = read_upload(data, "lc80630182016216lgn00_b8.tif")
    assert (a.attrs["time"], b.attrs["time"]) == ("2016-07-18T00:00:00", "2016-08-03T00:00:00")
    table = scene_table([a, b])
    assert list(table["path"]) == [63, 63] and list(table["row"]) == [18, 18]
    assert list(table["sensor"]) == ["Landsat 8 OLI", "Landsat 8 OLI"]


def test_upload_with_its_sidecar():
    data = tif_bytes()
    with pytest.raises(MissingTimeError):
        read_upload(data, "glacier.tif")
    scene = read_upload(data, "glacier.tif", sidecars={"glacier_MTL.txt": MTL_TXT.encode()})
    assert scene.attrs["time"].startswith("2016-07-18T20:47:58")
    assert scene.attrs["sensor"] == "Landsat 8 OLI"
    scene = read_upload(
        data,
        "LC08_L1TP_063018_20160718_20170222_01_T1_B8.TIF",
        sidecars={
            "LC08_L1TP_063018_20160718_20170222_01_T1_MTL.json": json.dumps(MTL_JSON).encode(),
            "unrelated_MTL.txt": b"not read",
        },
    )
    assert scene.attrs["time"].startswith("2022-06-01T20:47:31")  # the sidecar, over the name
