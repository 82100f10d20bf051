"""The normalized scene table: STAC items of any provider as one table with the same columns.

`normalize_items` reads each item's id, time, platform, sensor, WRS-2 path/row, MGRS tile, cloud cover,
footprint, band href and CRS, whatever the provider's spelling of them (``LANDSAT_8`` or ``landsat-8``,
``"084"`` or ``84``, ``proj:epsg`` or ``proj:code``...), into the columns `SCENE_COLUMNS`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import make_valid

from tracking.sources.stac.providers import ASSET_ALIASES, PROVIDERS, Provider, provider_for
from tracking.times import utc_naive

__all__ = ["SCENE_COLUMNS", "normalize_items", "normalize_platform"]

#: Columns of the scene table (`normalize_items`, `search`); the first eight are those of the demo catalog.
SCENE_COLUMNS = (
    "scene_id",
    "time",
    "platform",
    "sensor",
    "path",
    "row",
    "cloud_cover",
    "geometry",
    "tile",
    "href",
    "s3_href",
    "crs",
    "collection",
    "provider",
)

_LANDSAT_ID = re.compile(r"^L([COTEM])0?(\d)_[A-Z0-9]{4}_(\d{3})(\d{3})_", re.IGNORECASE)
_SENTINEL_ID = re.compile(r"^S([12])([A-D])_", re.IGNORECASE)
_MGRS_IN_ID = re.compile(r"(?:^S2[A-D]_|_)T?(\d{2}[C-X][A-Z]{2})_", re.IGNORECASE)
_LANDSAT_SENSORS = {
    "9": "Landsat 9 OLI-2",
    "8": "Landsat 8 OLI",
    "7": "Landsat 7 ETM+",
    "5": "Landsat 5 TM",
    "4": "Landsat 4 TM",
}


def normalize_platform(name: str | None) -> str:
    """A platform name in lower case with dashes: ``"LANDSAT_8"``, ``"Sentinel-2B"`` -> ``"landsat-8"``, ...

    Examples
    --------
    >>> normalize_platform("LANDSAT_9"), normalize_platform("Sentinel-2B"), normalize_platform("landsat-8")
    ('landsat-9', 'sentinel-2b', 'landsat-8')
    """
    text = re.sub(r"[\s_]+", "-", str(name or "").strip().lower())
    return re.sub(r"^(landsat|sentinel)-?(\d)", r"\1-\2", text)


def normalize_items(
    items: Iterable[pystac.Item | Mapping[str, Any]] | Mapping[str, Any],
    provider: Provider | str | None = None,
) -> gpd.GeoDataFrame:
    """One scene table from STAC items, whatever the provider's spelling of their metadata.

    Parameters
    ----------
    items : iterable of pystac.Item or dict, or a FeatureCollection dict
        Items (a search page's ``features``, ``pystac`` items).
    provider : Provider or str, optional
        Whose band asset gives ``href``; guessed from each item's collection when not given (Landsat
        Level-1 -> ``"landsat-pan"``, other Landsat -> ``"landsat"``, Sentinel-2 -> ``"sentinel2"``).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per item, sorted by time (EPSG:4326), with the columns `SCENE_COLUMNS`:

        - ``scene_id``: the item id;
        - ``time``: acquisition time (datetime64[ns], UTC without a time zone);
        - ``platform``: normalized (`normalize_platform`), from ``platform`` or the id
          (``LC08_`` -> landsat-8);
        - ``sensor``: e.g. ``"Landsat 9 OLI-2"``, ``"Sentinel-2A MSI"``;
        - ``path``, ``row``: WRS-2 path and row (int) from ``landsat:wrs_path``/``landsat:wrs_row`` or the
          Landsat product id; -1 for other platforms;
        - ``cloud_cover``: ``eo:cloud_cover`` (percent, NaN when absent);
        - ``geometry``: the item's footprint (its bbox if it has no geometry; None if neither);
        - ``tile``: the Sentinel-2 MGRS tile (``"13TDE"``), "" otherwise;
        - ``href``: the band asset's href ("" when the item has no such asset);
        - ``s3_href``: the asset's ``alternate.s3.href`` (requester-pays copy), else "";
        - ``crs``: ``"EPSG:<n>"`` from ``proj:epsg``/``proj:code`` of the asset or the item, else "";
        - ``collection``, ``provider``: the item's collection and the provider's key ("" if unknown).
    """
    if isinstance(items, Mapping):
        items = items.get("features") or ([items] if items.get("type") == "Feature" else [])
    prov = provider_for(provider)
    records = [_record(_as_dict(item), prov) for item in items]
    frame = pd.DataFrame.from_records(records, columns=list(SCENE_COLUMNS))
    frame = frame.astype(
        {
            "scene_id": object,
            "time": "datetime64[ns]",
            "platform": object,
            "sensor": object,
            "path": np.int64,
            "row": np.int64,
            "cloud_cover": np.float64,
            "tile": object,
            "href": object,
            "s3_href": object,
            "crs": object,
            "collection": object,
            "provider": object,
        }
    )
    frame = frame.sort_values(["time", "scene_id"], kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def _as_dict(item: pystac.Item | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(item, pystac.Item):
        return item.to_dict(include_self_link=False, transform_hrefs=False)
    if isinstance(item, Mapping):
        return item
    raise TypeError(f"expected a pystac.Item or an item dict; got {type(item).__name__}")


def _record(item: Mapping[str, Any], provider: Provider | None) -> dict[str, Any]:
    props = item.get("properties") or {}
    scene_id = str(item.get("id") or "")
    collection = str(item.get("collection") or "")
    prov = provider or _guess_provider(collection, scene_id)
    platform = normalize_platform(props.get("platform")) or _platform_from_id(scene_id)
    asset = _band_asset(item.get("assets") or {}, prov)
    path, row = _path_row(props, scene_id)
    return {
        "scene_id": scene_id,
        "time": _item_time(props),
        "platform": platform,
        "sensor": _sensor(platform, props.get("instruments")),
        "path": path,
        "row": row,
        "cloud_cover": _float(props.get("eo:cloud_cover")),
        "geometry": _geometry(item),
        "tile": _tile(props, scene_id) if platform.startswith("sentinel-2") else "",
        "href": str(asset.get("href") or ""),
        "s3_href": str(((asset.get("alternate") or {}).get("s3") or {}).get("href") or ""),
        "crs": _crs(asset) or _crs(props),
        "collection": collection,
        "provider": prov.key if prov is not None else "",
    }


def _guess_provider(collection: str, scene_id: str) -> Provider | None:
    """The provider whose band an item most likely carries, from its collection (or id)."""
    name = (collection or scene_id).lower().replace("-", "").replace("_", "")
    landsat = "landsat" in name or _LANDSAT_ID.match(scene_id) is not None
    if landsat and ("c2l1" in name or re.match(r"^l[co]0\d_l1", scene_id, re.IGNORECASE)):
        return PROVIDERS["landsat-pan"]
    if landsat:
        return PROVIDERS["landsat"]
    if "sentinel2" in name or scene_id.upper().startswith("S2"):
        return PROVIDERS["sentinel2"]
    return None


def _platform_from_id(scene_id: str) -> str:
    """The platform from a Landsat or Sentinel product id (``LC08_...`` -> landsat-8), else ""."""
    match = _LANDSAT_ID.match(scene_id)
    if match:
        return f"landsat-{match[2]}"
    match = _SENTINEL_ID.match(scene_id)
    if match:
        return f"sentinel-{match[1]}{match[2].lower()}"
    return ""


def _sensor(platform: str, instruments: Any) -> str:
    """The human name of a platform's imager, as in `tracking.scenes` (``"Landsat 8 OLI"``)."""
    names = [str(i).lower() for i in instruments] if isinstance(instruments, list | tuple) else []
    match = re.fullmatch(r"landsat-(\d)", platform)
    if match:
        if "mss" in names:
            return f"Landsat {match[1]} MSS"
        return _LANDSAT_SENSORS.get(match[1], f"Landsat {match[1]}")
    match = re.fullmatch(r"sentinel-([12])([a-d])", platform)
    if match:
        imager = "MSI" if match[1] == "2" else "C-SAR"
        return f"Sentinel-{match[1]}{match[2].upper()} {imager}"
    if not platform:
        return "unknown"
    label = platform.replace("-", " ").title()
    return f"{label} {' '.join(n.upper() for n in names)}".strip()


def _path_row(props: Mapping[str, Any], scene_id: str) -> tuple[int, int]:
    """WRS-2 (path, row) from the landsat extension, else the product id, else (-1, -1)."""
    try:
        return int(props["landsat:wrs_path"]), int(props["landsat:wrs_row"])
    except (KeyError, TypeError, ValueError):
        pass
    match = _LANDSAT_ID.match(scene_id)
    if match:
        return int(match[3]), int(match[4])
    code = str(props.get("grid:code") or "")
    if code.upper().startswith("WRS2-") and len(code) == 11 and code[5:].isdigit():
        return int(code[5:8]), int(code[8:11])
    return -1, -1


def _tile(props: Mapping[str, Any], scene_id: str) -> str:
    """The MGRS tile (``"20EPT"``) of a Sentinel-2 item, else ""."""
    tile = props.get("s2:mgrs_tile") or props.get("sentinel:mgrs_tile")
    if tile:
        return str(tile).upper().lstrip("T")
    zone, band, square = (props.get(f"mgrs:{k}") for k in ("utm_zone", "latitude_band", "grid_square"))
    if zone is not None and band and square:
        return f"{int(zone):02d}{band}{square}".upper()
    code = str(props.get("grid:code") or "")
    if code.upper().startswith("MGRS-"):
        return code[5:].upper()
    match = _MGRS_IN_ID.search(scene_id)
    return match[1].upper() if match else ""


def _item_time(props: Mapping[str, Any]) -> pd.Timestamp:
    """``datetime`` (or ``start_datetime``) as a naive UTC timestamp; NaT if absent."""
    for key in ("datetime", "start_datetime"):
        value = props.get(key)
        if value:
            try:
                return utc_naive(value)
            except (TypeError, ValueError):
                continue
    return pd.NaT


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _geometry(item: Mapping[str, Any]) -> BaseGeometry | None:
    """The item's footprint (lon/lat), or its bbox as a box, or None."""
    geom = item.get("geometry")
    if isinstance(geom, Mapping) and geom.get("type"):
        try:
            found = shape(geom)
        except (ValueError, TypeError, AttributeError, IndexError):
            found = None
        if found is not None and not found.is_empty:
            return found if found.is_valid else make_valid(found)
    bbox = item.get("bbox")
    if isinstance(bbox, list | tuple) and len(bbox) in (4, 6):
        west, south, east, north = (
            (bbox[0], bbox[1], bbox[2], bbox[3]) if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4])
        )
        return box(float(west), float(south), float(east), float(north))
    return None


def _crs(fields: Mapping[str, Any]) -> str:
    """``"EPSG:<n>"`` from ``proj:epsg`` or ``proj:code`` in an asset's or item's fields, else ""."""
    epsg = fields.get("proj:epsg")
    if epsg is not None:
        try:
            return f"EPSG:{int(epsg)}"
        except (TypeError, ValueError):
            pass
    code = fields.get("proj:code")
    if isinstance(code, str) and code.strip():
        code = code.strip()
        return code.upper() if code.upper().startswith("EPSG:") else code
    return ""


def _band_asset(assets: Mapping[str, Any], provider: Provider | None) -> Mapping[str, Any]:
    """The provider's band asset (by key, then by the known aliases), or {}."""
    if provider is None:
        return {}
    for key in (provider.asset, *ASSET_ALIASES.get(provider.asset, ())):
        asset = assets.get(key)
        if isinstance(asset, Mapping) and asset.get("href"):
            return asset
    return {}
