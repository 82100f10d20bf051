"""Image sources for icetrack: where scenes come from, and the plumbing of the remote ones.

Every source is a `Source` (`tracking.sources.base`): ``search(...)`` lists scenes in one normalized table,
``load(scene_id, band, bbox, crs=...)`` reads a scene's area of interest. `get` makes one by its name in
`REGISTRY` (``"demo"``, ``"local"``, ``"file"``, ``"landsat"``, ``"sentinel2"``, ``"landsat-pan"``).

``tracking.sources.demo``
    The embedded synthetic Jakobshavn Isbræ demo glacier (no network needed), with its exact true motion.
``tracking.sources.local``
    The user's own GeoTIFFs: uploaded bytes checked and read as scenes, and a scene table for them.
``tracking.sources.wrs2``
    The Landsat WRS-2 path/row grid, computed from orbit constants (no downloaded shapefile).
``tracking.sources.stac``
    Landsat and Sentinel-2 scenes from STAC APIs: search, one normalized scene table, and AOI reads.
``tracking.sources.itslive``
    NASA's ITS_LIVE velocities: granule search and reading, datacube point series, exported CSVs.
``tracking.sources.base``
    The `Source` interface, the registry of sources by name, and `filter_scenes`.
``tracking.sources.http``
    Shared HTTP plumbing: sessions with retries, error mapping, URL redaction and GDAL settings.
``tracking.sources.cache``
    A download cache on disk: whole files fetched once (resumably), and derived files such as AOI crops.
``tracking.sources.cog``
    Only the area of interest of a (cloud-optimized) GeoTIFF, local or over HTTP, read as a scene.
"""

from __future__ import annotations

from tracking.sources.base import REGISTRY, Source, filter_scenes, get, names

__all__ = ["REGISTRY", "Source", "filter_scenes", "get", "names"]
