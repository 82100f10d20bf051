"""ITS_LIVE: search and read NASA's published glacier velocities, to compare with our own.

A thin client of the public, anonymous ITS_LIVE services (``shared/docs/data-sources.md`` §1):

`search_granules`
    Image-pair granules from the STAC API (``https://stac.itslive.cloud``, collection ``itslive-granules``),
    one row per pair.
`load_granule`
    One granule NetCDF (V2, ``*_G0120V02_P*.nc``), local or downloaded once through the cache, as a
    VelocityField (`tracking.velocity`) with our variable names, so it plots and samples like our own fields.
`find_cube`, `open_cube`, `cube_series`
    The Zarr datacube covering a point, and the velocity time series of its nearest cell as a series table
    (`tracking.schema.SERIES_COLUMNS`).
`read_series_csv`
    A point time series saved by ``itslive-export --format csv``, as the same series table.

The package's modules, one job each: ``search`` (granule search), ``granules`` (one granule NetCDF as a
VelocityField), ``catalog`` (which datacube covers a point), ``cubes`` (reading a datacube), ``exports``
(exported CSVs) and ``common`` (the service's addresses and the helpers they share).
"""

from __future__ import annotations

from tracking.sources.itslive.catalog import find_cube
from tracking.sources.itslive.common import CATALOG_URL, CUBES, GRANULES, MISSIONS, STAC_URL
from tracking.sources.itslive.cubes import cube_series, open_cube
from tracking.sources.itslive.exports import read_series_csv
from tracking.sources.itslive.granules import load_granule
from tracking.sources.itslive.search import GRANULE_COLUMNS, granule_filter, search_granules

__all__ = [
    "CATALOG_URL",
    "CUBES",
    "GRANULES",
    "GRANULE_COLUMNS",
    "MISSIONS",
    "STAC_URL",
    "cube_series",
    "find_cube",
    "granule_filter",
    "load_granule",
    "open_cube",
    "read_series_csv",
    "search_granules",
]
