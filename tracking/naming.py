"""What a scene's file name and its metadata sidecar say: acquisition time, platform, sensor, path/row or tile.

Two entry points, neither of which opens the image:

`parse_name`
    The Landsat and Sentinel names in use: Landsat pre-collection scene ids (``LC80630182016200LGN00``),
    Collection 1 and 2 product ids (``LC08_L1TP_063018_20160718_20170222_01_T1``, also without the processing
    date as STAC catalogs write them), Sentinel-2 SAFE product names (compact and the older ``OPER`` ones), tile
    and granule file names (``T05VNK_20210716T203021_B08.jp2``), Earth Search item ids
    (``S2A_5VNK_20210716_0_L2A``, ``S2A_T05VNK_20210716T203021_L2A``), Sentinel-1 product names and ITS_LIVE
    image-pair granules (two acquisitions). Case does not matter; a band suffix, an extension or a prefix
    (``crop_LC08_...``) may surround the id.
`find_sidecar` / `read_sidecar`
    The metadata file shipped beside an image: Landsat ``*_MTL.txt`` (``DATE_ACQUIRED`` + ``SCENE_CENTER_TIME``)
    and ``*_MTL.json``, Sentinel-2 ``MTD_TL.xml`` (``SENSING_TIME``) and ``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``
    (``PRODUCT_START_TIME``).

This module reads names and small text files only (no rasterio, no dashboard); `tracking.scenes.read_scene`
uses it after the explicit time and the TIFF tags, in the order: argument > TIFF tags > sidecar > name.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from tracking.exceptions import SceneReadError

__all__ = [
    "SIDECAR_SUFFIXES",
    "SceneInfo",
    "find_sidecar",
    "parse_name",
    "read_sidecar",
]


@dataclass(frozen=True)
class SceneInfo:
    """What a name or a sidecar says about a scene; every field may be unknown (None).

    Attributes
    ----------
    scheme : str
        Which naming scheme or sidecar matched, e.g. ``"landsat-pre-collection"`` or ``"landsat-mtl-txt"``.
    time : pandas.Timestamp or None
        Acquisition time (UTC, timezone-naive); the first image's for an ITS_LIVE pair. None when the name holds
        only a processing date (old Sentinel-2 ``OPER`` tile names).
    platform, sensor : str or None
        E.g. ``"Landsat 8"`` and ``"Landsat 8 OLI"``, ``"Sentinel-2A"`` and ``"Sentinel-2A MSI"``.
    path, row : int or None
        Landsat WRS path and row.
    tile : str or None
        Sentinel-2 MGRS tile, e.g. ``"05VNK"``.
    band : str or None
        The band suffix, as a common name where known (``"pan"``, ``"red"``, ``"nir"``), else as written (``"B10"``).
    product_id : str or None
        The product or scene id found, upper case.
    processed : pandas.Timestamp or None
        Processing date, when the name has one.
    level : str or None
        Processing level (``"L1TP"``, ``"L2A"``).
    second : SceneInfo or None
        The second image of an ITS_LIVE pair.
    """

    scheme: str
    time: pd.Timestamp | None = None
    platform: str | None = None
    sensor: str | None = None
    path: int | None = None
    row: int | None = None
    tile: str | None = None
    band: str | None = None
    product_id: str | None = None
    processed: pd.Timestamp | None = None
    level: str | None = None
    second: SceneInfo | None = field(default=None, repr=False)


# --- names --------------------------------------------------------------------------------------------------------

_START = r"(?<![A-Za-z0-9])"  # an id starts the name or follows a separator (crop_LC08..., ref-S2A...)
_END = r"(?![A-Za-z0-9])"
_TILE = r"(?P<tile>\d{2}[A-Z]{3})"
_LANDSAT_BAND = r"(?:_(?P<band>(?:SR_|ST_)?B\d{1,2}|BQA|QA_[A-Z]+))?"

_ITSLIVE = re.compile(r"^(?P<first>.+?)_X_(?P<second>.+?)_G\d{4}V\d{2}_P\d{3}" + _END, re.IGNORECASE)
_LANDSAT_COLLECTION = re.compile(
    _START + r"(?P<id>L(?P<kind>[COTEM])(?P<sat>0\d)_(?P<level>L\d[A-Z0-9]{2})_(?P<path>\d{3})(?P<row>\d{3})_"
    r"(?P<date>\d{8})(?:_(?P<processed>\d{8}))?_(?P<collection>0[12])_(?P<category>T1|T2|RT|A1|A2))"
    + _END
    + _LANDSAT_BAND,
    re.IGNORECASE,
)
_LANDSAT_PRE_COLLECTION = re.compile(
    _START + r"(?P<id>L(?P<kind>[COTEM])(?P<sat>\d)(?P<path>\d{3})(?P<row>\d{3})(?P<year>\d{4})(?P<doy>\d{3})"
    r"(?P<station>[A-Z]{3})(?P<version>\d{2}))" + _END + _LANDSAT_BAND,
    re.IGNORECASE,
)
_S2_SAFE = re.compile(
    _START
    + r"(?P<id>S2(?P<unit>[A-D])_MSI(?P<level>L1C|L2A|L1B|L2AP)_(?P<time>\d{8}T\d{6})(?:_N\d{4})?_R\d{3}_T"
    + _TILE
    + r"_(?P<processed>\d{8}T\d{6}))"
    + _END,
    re.IGNORECASE,
)
_S2_OPER_SAFE = re.compile(
    _START
    + r"(?P<id>S2(?P<unit>[A-D])_OPER_PRD_MSI(?P<level>L1C|L2A)_\w{4}_(?P<processed>\d{8}T\d{6})_R\d{3}_V"
    r"(?P<time>\d{8}T\d{6})_\d{8}T\d{6})" + _END,
    re.IGNORECASE,
)
_S2_OPER_TILE = re.compile(  # the date in it is the processing date: the sensing time is in MTD_TL.xml only
    _START
    + r"(?P<id>S2(?P<unit>[A-D])_OPER_MSI_(?P<level>L1C|L2A)_TL_\w{4}_(?P<processed>\d{8}T\d{6})_A\d{6}_T"
    + _TILE
    + r")(?:_N\d{2}\.\d{2})?(?:_(?P<band>B\d[0-9A]))?"
    + _END,
    re.IGNORECASE,
)
_S2_TILE_FILE = re.compile(
    _START + r"(?P<id>T" + _TILE + r"_(?P<time>\d{8}T\d{6}))(?:_(?P<band>B\d[0-9A]|TCI|SCL|AOT|WVP))?"
    r"(?:_\d{2}m)?" + _END,
    re.IGNORECASE,
)
_S2_GRANULE = re.compile(
    _START + r"(?P<id>L(?P<level>1C|2A)_T" + _TILE + r"_A\d{6}_(?P<time>\d{8}T\d{6}))" + _END,
    re.IGNORECASE,
)
_S2_EARTH_SEARCH = re.compile(
    _START + r"(?P<id>S2(?P<unit>[A-D])_(?P<zone>\d{1,2})(?P<square>[A-Z]{3})_(?P<date>\d{8})_\d+_"
    r"(?P<level>L1C|L2A))" + _END,
    re.IGNORECASE,
)
_S2_EARTH_SEARCH_C1 = re.compile(
    _START + r"(?P<id>S2(?P<unit>[A-D])_T" + _TILE + r"_(?P<time>\d{8}T\d{6})_(?P<level>L1C|L2A))" + _END,
    re.IGNORECASE,
)
_S1 = re.compile(
    _START
    + r"(?P<id>S1(?P<unit>[A-D])_(?P<mode>IW|EW|SM|WV|S\d)_(?P<level>GRD[FHM]|SLC_|RAW_|OCN_)_\d[SA][SD][HV]_"
    r"(?P<time>\d{8}T\d{6})_\d{8}T\d{6}_\d{6}_[0-9A-F]{6}_[0-9A-F]{4})" + _END,
    re.IGNORECASE,
)

_LANDSAT_SENSORS = {"C": "OLI", "O": "OLI", "T": "TM", "E": "ETM+", "M": "MSS"}
#: Common names of the Landsat bands, by sensor family.
_LANDSAT_BANDS = {
    "OLI": {"B2": "blue", "B3": "green", "B4": "red", "B5": "nir", "B8": "pan"},
    "ETM+": {"B1": "blue", "B2": "green", "B3": "red", "B4": "nir", "B8": "pan"},
    "TM": {"B1": "blue", "B2": "green", "B3": "red", "B4": "nir"},
}
_S2_BANDS = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B8A": "nir08"}


def parse_name(name: str) -> SceneInfo | None:
    """What a Landsat, Sentinel or ITS_LIVE file name says, or None for a name of no known scheme.

    Parameters
    ----------
    name : str
        A file name or id (a path's folders are ignored), any case, with or without band suffix and extension.

    Returns
    -------
    SceneInfo or None

    Examples
    --------
    >>> info = parse_name("LC80630182016200LGN00_B8.TIF")
    >>> info.time, info.sensor, info.path, info.row, info.band
    (Timestamp('2016-07-18 00:00:00'), 'Landsat 8 OLI', 63, 18, 'pan')
    >>> parse_name("LC08_L1TP_063018_20160718_20170222_01_T1").time
    Timestamp('2016-07-18 00:00:00')
    >>> info = parse_name("S2A_MSIL1C_20210716T203021_N0301_R114_T05VNK_20210716T235123.SAFE")
    >>> info.time, info.sensor, info.tile
    (Timestamp('2021-07-16 20:30:21'), 'Sentinel-2A MSI', '05VNK')
    >>> parse_name("reference.tif") is None
    True
    """
    name = re.split(r"[\\/]", str(name))[-1]
    match = _ITSLIVE.match(name)
    if match:
        first, second = parse_name(match["first"]), parse_name(match["second"])
        if first is not None and second is not None:
            return replace(
                first, scheme="itslive", product_id=name.split(".")[0].upper(), band=None, second=second
            )
    for parser in _PARSERS:
        info = parser(name)
        if info is not None:
            return info
    return None


def _landsat_collection(name: str) -> SceneInfo | None:
    m = _LANDSAT_COLLECTION.search(name)
    if m is None:
        return None
    time = _date(m["date"])
    if time is None:
        return None
    return _landsat(
        m, "landsat-collection", time, processed=_date(m["processed"] or ""), level=m["level"].upper()
    )


def _landsat_pre_collection(name: str) -> SceneInfo | None:
    m = _LANDSAT_PRE_COLLECTION.search(name)
    if m is None:
        return None
    year, doy = int(m["year"]), int(m["doy"])
    if not (1972 <= year <= pd.Timestamp.now().year + 1 and 1 <= doy <= (366 if year % 4 == 0 else 365)):
        return None
    time = pd.Timestamp(year=year, month=1, day=1) + pd.Timedelta(days=doy - 1)
    return _landsat(m, "landsat-pre-collection", time)


def _landsat(m: re.Match[str], scheme: str, time: pd.Timestamp, **extra: Any) -> SceneInfo:
    kind, number = m["kind"].upper(), int(m["sat"])
    family = _LANDSAT_SENSORS[kind]
    if kind == "T" and number >= 8:
        family = "TIRS"
    sensor = f"Landsat {number} {family}"
    if number == 9 and family in ("OLI", "TIRS"):
        sensor += "-2"
    band = m["band"].upper() if m["band"] else None
    common = _LANDSAT_BANDS.get(family, {}).get(re.sub(r"^S[RT]_", "", band or ""))
    return SceneInfo(
        scheme=scheme,
        time=time,
        platform=f"Landsat {number}",
        sensor=sensor,
        path=int(m["path"]),
        row=int(m["row"]),
        band=common or band,
        product_id=m["id"].upper(),
        **extra,
    )


def _sentinel2(
    m: re.Match[str], scheme: str, time: pd.Timestamp | None, tile: str | None, **extra: Any
) -> SceneInfo:
    groups = m.groupdict()
    unit = (groups.get("unit") or "").upper()
    platform = f"Sentinel-2{unit}"
    band = (groups.get("band") or "").upper() or None
    level = groups.get("level")
    return SceneInfo(
        scheme=scheme,
        time=time,
        platform=platform,
        sensor=f"{platform} MSI",
        tile=tile,
        band=_S2_BANDS.get(band or "", band),
        product_id=m["id"].upper(),
        level=("L" + level.upper().removeprefix("L")) if level else None,
        **extra,
    )


def _s2_safe(name: str) -> SceneInfo | None:
    m = _S2_SAFE.search(name)
    if m is None or _date(m["time"]) is None:
        return None
    return _sentinel2(
        m, "sentinel2-safe", _date(m["time"]), m["tile"].upper(), processed=_date(m["processed"])
    )


def _s2_oper_safe(name: str) -> SceneInfo | None:
    m = _S2_OPER_SAFE.search(name)
    if m is None or _date(m["time"]) is None:
        return None
    return _sentinel2(m, "sentinel2-safe-oper", _date(m["time"]), None, processed=_date(m["processed"]))


def _s2_oper_tile(name: str) -> SceneInfo | None:
    m = _S2_OPER_TILE.search(name)
    if m is None:
        return None
    return _sentinel2(m, "sentinel2-tile-oper", None, m["tile"].upper(), processed=_date(m["processed"]))


def _s2_tile_file(name: str) -> SceneInfo | None:
    m = _S2_TILE_FILE.search(name)
    if m is None or _date(m["time"]) is None:
        return None
    return _sentinel2(m, "sentinel2-tile", _date(m["time"]), m["tile"].upper())


def _s2_granule(name: str) -> SceneInfo | None:
    m = _S2_GRANULE.search(name)
    if m is None or _date(m["time"]) is None:
        return None
    return _sentinel2(m, "sentinel2-granule", _date(m["time"]), m["tile"].upper())


def _s2_earth_search(name: str) -> SceneInfo | None:
    m = _S2_EARTH_SEARCH_C1.search(name)
    if m is not None and _date(m["time"]) is not None:
        return _sentinel2(m, "sentinel2-earth-search", _date(m["time"]), m["tile"].upper())
    m = _S2_EARTH_SEARCH.search(name)
    if m is None or _date(m["date"]) is None:
        return None
    return _sentinel2(
        m, "sentinel2-earth-search", _date(m["date"]), f"{int(m['zone']):02d}{m['square'].upper()}"
    )


def _sentinel1(name: str) -> SceneInfo | None:
    m = _S1.search(name)
    if m is None or _date(m["time"]) is None:
        return None
    platform = f"Sentinel-1{m['unit'].upper()}"
    return SceneInfo(
        scheme="sentinel1",
        time=_date(m["time"]),
        platform=platform,
        sensor=f"{platform} C-SAR",
        product_id=m["id"].upper(),
        level=m["level"].upper().rstrip("_"),
    )


_PARSERS = (
    _landsat_collection,
    _landsat_pre_collection,
    _s2_safe,
    _s2_oper_safe,
    _s2_oper_tile,
    _s2_earth_search,
    _s2_granule,
    _s2_tile_file,
    _sentinel1,
)


def _date(text: str) -> pd.Timestamp | None:
    """``YYYYMMDD`` or ``YYYYMMDDTHHMMSS`` as a Timestamp; None when not a plausible date (1972 to next year)."""
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2}))?", text or "", re.IGNORECASE)
    if m is None:
        return None
    try:
        stamp = pd.Timestamp(*(int(g) for g in m.groups() if g is not None))
    except ValueError:
        return None
    return stamp if 1972 <= stamp.year <= pd.Timestamp.now().year + 1 else None


# --- sidecars -----------------------------------------------------------------------------------------------------

#: Sidecar names looked for beside an image called ``<stem>.tif`` (also with ``<stem>`` its product id).
SIDECAR_SUFFIXES = ("_MTL.txt", "_MTL.json", "_MTD_TL.xml", "_MTD_MSIL1C.xml", "_MTD_MSIL2A.xml")
_S2_SIDECARS = (
    ("MTD_TL.xml", 2),
    ("MTD_MSIL1C.xml", 4),
    ("MTD_MSIL2A.xml", 4),
)  # name, folders up (SAFE layout)
_MAX_SIDECAR_BYTES = 8 * 2**20


def find_sidecar(image: str | os.PathLike[str]) -> Path | None:
    """The metadata file beside an image, or None.

    Looked for, case-insensitively, in the image's folder: ``<name>_MTL.txt``, ``<name>_MTL.json``,
    ``<name>_MTD_TL.xml``, ``<name>_MTD_MSIL1C.xml`` and ``<name>_MTD_MSIL2A.xml`` with ``<name>`` the file name
    without its extension, without its band suffix, or the product id read from it
    (``LC08_L1TP_063018_20160718_20170222_01_T1_B8.TIF`` -> ``LC08_L1TP_063018_20160718_20170222_01_T1_MTL.txt``).
    For an image with a Sentinel-2 name, also ``MTD_TL.xml`` up to two folders up and ``MTD_MSIL1C.xml`` /
    ``MTD_MSIL2A.xml`` up to four (the SAFE layout: ``GRANULE/<granule>/IMG_DATA/R10m/``), if its tile is the
    image's.
    """
    image = Path(image)
    stem = image.name.split(".")[0]
    info = parse_name(image.name)
    stems = [stem]
    if info is not None and info.product_id:
        stems.append(info.product_id)
    if "_" in stem:
        stems.append(stem.rsplit("_", 1)[0])  # a band suffix (_B8, _b08)
    listing = _listing(image.parent)
    for candidate in stems:
        for suffix in SIDECAR_SUFFIXES:
            found = listing.get((candidate + suffix).lower())
            if found is not None:
                return found
    if info is None or not (info.platform or "").startswith("Sentinel-2"):
        return None
    for sidecar, levels in _S2_SIDECARS:
        for folder in [image.parent, *image.parent.parents][: levels + 1]:
            found = _listing(folder).get(sidecar.lower())
            if found is not None:
                try:
                    said = read_sidecar(found)
                except SceneReadError:
                    continue
                if info.tile is None or said.tile is None or said.tile == info.tile:
                    return found
    return None


def _listing(folder: Path) -> dict[str, Path]:
    try:
        return {entry.name.lower(): Path(entry.path) for entry in os.scandir(folder) if entry.is_file()}
    except OSError:
        return {}


def read_sidecar(path: str | os.PathLike[str]) -> SceneInfo:
    """What a Landsat MTL (``.txt`` or ``.json``) or a Sentinel-2 ``MTD_*.xml`` metadata file says.

    Raises
    ------
    SceneReadError
        The file cannot be read, is too large (over 8 MB), or holds no acquisition time.
    """
    path = Path(path)
    try:
        if path.stat().st_size > _MAX_SIDECAR_BYTES:
            raise SceneReadError(f"{path}: {path.stat().st_size:,} bytes, too large for a metadata file.")
        text = path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as err:
        raise SceneReadError(f"{path}: cannot read the metadata file ({err.strerror or err}).") from None
    return parse_sidecar(text, path.name)


def parse_sidecar(text: str, name: str = "metadata") -> SceneInfo:
    """`read_sidecar` on the text of a metadata file; ``name`` is for messages."""
    stripped = text.lstrip()
    try:
        if stripped.startswith("<"):
            info = _from_xml(stripped)
        elif stripped.startswith("{"):
            info = _from_mtl(_flatten(json.loads(stripped)), "landsat-mtl-json")
        else:
            info = _from_mtl(_mtl_fields(text), "landsat-mtl-txt")
    except (ValueError, ET.ParseError) as err:
        raise SceneReadError(f"{name}: not a metadata file icetrack can read ({err}).") from None
    if info.time is None:
        raise SceneReadError(
            f"{name}: no acquisition time in it (DATE_ACQUIRED, SENSING_TIME or PRODUCT_START_TIME)."
        )
    return info


def _mtl_fields(text: str) -> dict[str, str]:
    """``KEY = value`` lines of an MTL.txt (ODL), quotes removed; the first of a repeated key wins."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key and key not in ("GROUP", "END_GROUP"):
            fields.setdefault(key.upper(), value.strip().strip('"'))
    if not fields:
        raise ValueError("no KEY = value lines")
    return fields


def _flatten(tree: Any) -> dict[str, str]:
    """Every leaf of a JSON document by its key (the first occurrence wins)."""
    out: dict[str, str] = {}
    stack = [tree]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, dict | list):
                    stack.append(value)
                elif value is not None:
                    out.setdefault(str(key).upper(), str(value))
        elif isinstance(node, list):
            stack.extend(node)
    return out


_MTL_SENSORS = {
    "OLI_TIRS": "OLI",
    "OLI": "OLI",
    "TIRS": "TIRS",
    "ETM": "ETM+",
    "ETM+": "ETM+",
    "TM": "TM",
    "MSS": "MSS",
}


def _from_mtl(fields: dict[str, str], scheme: str) -> SceneInfo:
    day = fields.get("DATE_ACQUIRED") or fields.get("ACQUISITION_DATE")  # the latter in pre-2012 MTL files
    clock = fields.get("SCENE_CENTER_TIME") or fields.get("SCENE_CENTER_SCAN_TIME")
    time = _timestamp(f"{day}T{clock}" if day and clock else day)
    if time is None and day:
        time = _timestamp(day)
    product = fields.get("LANDSAT_PRODUCT_ID") or fields.get("LANDSAT_SCENE_ID")
    named = parse_name(product) if product else None
    spacecraft = fields.get("SPACECRAFT_ID", "")  # LANDSAT_8
    number = re.search(r"(\d+)$", spacecraft)
    platform = f"Landsat {int(number[1])}" if number else (named.platform if named else None)
    sensor = named.sensor if named else None
    if sensor is None and platform:
        sensor_id = fields.get("SENSOR_ID", "").upper()
        family = _MTL_SENSORS.get(sensor_id, sensor_id or None)
        sensor = f"{platform} {family}" if family else None
    return SceneInfo(
        scheme=scheme,
        time=time,
        platform=platform,
        sensor=sensor,
        path=_int(fields.get("WRS_PATH")),
        row=_int(fields.get("WRS_ROW")),
        product_id=product.upper() if product else None,
        level=fields.get("PROCESSING_LEVEL") or fields.get("DATA_TYPE"),
    )


def _from_xml(text: str) -> SceneInfo:
    head = text[:4096].upper()
    if "<!DOCTYPE" in head or "<!ENTITY" in head:
        raise ValueError("a document type declaration: refused")
    root = ET.fromstring(text)
    values: dict[str, str] = {}
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].upper()
        if element.text and element.text.strip():
            values.setdefault(tag, element.text.strip())
    tile_id = values.get("TILE_ID") or values.get("PRODUCT_URI") or values.get("PRODUCT_URI_2A") or ""
    tile = re.search(r"_T(\d{2}[A-Z]{3})_", tile_id.upper())
    if "SENSING_TIME" in values:
        scheme, time = "sentinel2-mtd-tl", _timestamp(values["SENSING_TIME"])
    else:
        scheme = "sentinel2-mtd-product"
        time = _timestamp(values.get("PRODUCT_START_TIME") or values.get("DATATAKE_SENSING_START") or "")
    spacecraft = values.get("SPACECRAFT_NAME")  # Sentinel-2A
    if spacecraft is None:
        unit = re.match(r"S2([A-D])_", tile_id.upper())
        spacecraft = f"Sentinel-2{unit[1]}" if unit else "Sentinel-2"
    product = values.get("PRODUCT_URI") or values.get("TILE_ID")
    return SceneInfo(
        scheme=scheme,
        time=time,
        platform=spacecraft,
        sensor=f"{spacecraft} MSI",
        tile=tile[1] if tile else None,
        product_id=product.removesuffix(".SAFE") if product else None,
        level=values.get("PROCESSING_LEVEL"),
    )


def _timestamp(text: str | None) -> pd.Timestamp | None:
    """An ISO time as a timezone-naive UTC Timestamp, sub-microsecond digits dropped; None when unreadable."""
    if not text:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip())
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    if stamp is pd.NaT:
        return None
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).strip()) if text is not None else None
    except ValueError:
        return None
