"""Landsat and Sentinel-2 scenes from STAC APIs: search, one normalized scene table, and AOI reads.

Three providers are known (`PROVIDERS`):

``"landsat"``
    Landsat 8/9 Collection 2 Level-2 red band (30 m) on the Microsoft Planetary Computer. Anonymous, but every
    asset href must be signed with a short-lived SAS token (`SasSigner`).
``"sentinel2"``
    Sentinel-2 L2A (collection 1) NIR band B08 (10 m) on Element 84 Earth Search: anonymous public COGs.
``"landsat-pan"``
    Landsat 8/9 Collection 2 Level-1 panchromatic band B8 (15 m) from the USGS LandsatLook STAC server.
    Opt-in: its files are in the requester-pays bucket ``s3://usgs-landsat`` (AWS credentials, you pay the
    transfer) or behind a USGS ERS login.

`search` finds scenes over a point or a lon/lat box with pystac-client and returns them through
`normalize_items`, whose table has the same columns whatever the provider's spelling of the metadata
(``LANDSAT_8`` or ``landsat-8``, ``"084"`` or ``84``, ``proj:epsg`` or ``proj:code``...); the first columns
are those of `tracking.sources.demo.catalog`, so the pair picker works on any source. `load_scene` reads
the area of interest of one row's band over HTTP (`tracking.sources.cog.read_aoi`, cached on disk) and
`load_pair` puts two of them on one grid.

The package's modules, one job each:

``providers``
    `Provider`, `PROVIDERS` and the other asset keys of each band.
``signing``
    `SasSigner`: Planetary Computer SAS tokens, fetched, cached and appended to Azure blob hrefs.
``client``
    `open_client` and `search`, with pystac-client and requests failures mapped to icetrack errors.
``items``
    `normalize_items`, `normalize_platform` and `SCENE_COLUMNS`: STAC items as one scene table.
``load``
    `load_scene` and `load_pair`: a scene's area of interest over HTTP, requester-pays reads included.
"""

from __future__ import annotations

from tracking.sources.stac.client import PAGE_LIMIT as PAGE_LIMIT
from tracking.sources.stac.client import open_client, search
from tracking.sources.stac.items import SCENE_COLUMNS, normalize_items, normalize_platform
from tracking.sources.stac.load import load_pair, load_scene
from tracking.sources.stac.providers import ASSET_ALIASES as ASSET_ALIASES
from tracking.sources.stac.providers import PROVIDERS, Provider
from tracking.sources.stac.signing import DEFAULT_SAS_URL, SasSigner
from tracking.sources.stac.signing import TOKEN_MARGIN_S as TOKEN_MARGIN_S

__all__ = [
    "DEFAULT_SAS_URL",
    "PROVIDERS",
    "SCENE_COLUMNS",
    "Provider",
    "SasSigner",
    "load_pair",
    "load_scene",
    "normalize_items",
    "normalize_platform",
    "open_client",
    "search",
]
