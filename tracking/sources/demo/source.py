"""`DemoSource`: the demo glacier as a `tracking.sources.base.Source` (offline, with its true motion)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import geopandas as gpd
import xarray as xr
from pyproj import Transformer

from tracking.sources.base import Source, filter_scenes
from tracking.sources.demo.catalogue import catalog
from tracking.sources.demo.flow import BANDS, DEMO_CRS
from tracking.sources.demo.render import load_scene

__all__ = ["DemoSource"]


class DemoSource(Source):
    """The synthetic Jakobshavn Isbræ scenes (`tracking.sources.demo`), cropped in the demo's CRS.

    Parameters
    ----------
    seed : int
        The demo's random seed.
    """

    key = "demo"
    label = "Demo glacier (offline)"
    place = "Jakobshavn demo"
    has_truth = True

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = int(seed)

    def search(
        self,
        *,
        lon: float | None = None,
        lat: float | None = None,
        start: Any = None,
        end: Any = None,
        max_cloud: float = 100.0,
    ) -> gpd.GeoDataFrame:
        """The demo acquisitions (`catalog`) that contain the point, in the days, under the cloud limit."""
        return filter_scenes(
            catalog(seed=self.seed), lon=lon, lat=lat, start=start, end=end, max_cloud=max_cloud
        )

    def load(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> xr.DataArray:
        """A demo scene (`load_scene`) of ``band`` (default red), cropped to ``bbox`` (in ``crs``, default the
        demo's)."""
        if bbox is not None and crs is not None and crs != DEMO_CRS:
            bbox = Transformer.from_crs(crs, DEMO_CRS, always_xy=True).transform_bounds(*bbox)
        return load_scene(scene_id, band or "red", bbox=bbox, seed=self.seed)

    def cache_key(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> Hashable:
        """The scene, band, box and seed."""
        return (self.key, self.seed, scene_id, band, bbox, crs or DEMO_CRS)

    def aoi_crs(self, lon: float, lat: float) -> str:
        """The demo's UTM zone 22N, wherever the point."""
        return DEMO_CRS

    def pixel_size(self, band: str | None = None) -> float:
        """30 m (red) or 15 m (pan)."""
        return BANDS[band or "red"]
