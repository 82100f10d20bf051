"""`StacSource`: one STAC provider (`PROVIDERS`) as a `tracking.sources.base.Source`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import geopandas as gpd
import xarray as xr

from tracking.exceptions import TrackingError
from tracking.sources.base import Source, filter_scenes
from tracking.sources.cache import DownloadCache
from tracking.sources.stac.client import search
from tracking.sources.stac.load import load_scene
from tracking.sources.stac.providers import required_provider
from tracking.sources.stac.signing import SasSigner

__all__ = ["StacSource"]

#: The rows of every search of the process, by (provider, scene id): `StacSource.load` reads a row's asset.
_SEARCHED: dict[tuple[str, str], dict[str, Any]] = {}
_SEARCHED_LOCK = threading.Lock()


class StacSource(Source):
    """The band of one STAC provider's scenes, searched over the network and read by area of interest.

    Parameters
    ----------
    key : str
        A key of `tracking.sources.stac.PROVIDERS`: ``"landsat"``, ``"sentinel2"`` or ``"landsat-pan"``.
    url : str, optional
        Another root of the provider's STAC API (a mirror, a test server).
    cache : DownloadCache or callable, optional
        Where crops are kept on disk, or a function that returns it (called when a scene is first loaded).
    signer : SasSigner or callable, optional
        Signs Planetary Computer hrefs, or a function that returns one (called at each search and load).
    """

    remote = True

    def __init__(
        self,
        key: str = "landsat",
        *,
        url: str | None = None,
        cache: DownloadCache | Callable[[], DownloadCache] | None = None,
        signer: SasSigner | Callable[[], SasSigner] | None = None,
    ) -> None:
        self.provider = required_provider(key)
        self.key, self.label, self.band = self.provider.key, self.provider.label, self.provider.band
        self.url, self.endpoint = url, url or self.provider.url
        self._cache, self._signer = cache, signer

    @property
    def cache(self) -> DownloadCache | None:
        """The download cache (None: crops are not kept)."""
        return self._cache() if callable(self._cache) else self._cache

    @property
    def signer(self) -> SasSigner | None:
        """The Planetary Computer signer (None: the process-wide default)."""
        return self._signer() if callable(self._signer) else self._signer

    def search(
        self,
        *,
        lon: float | None = None,
        lat: float | None = None,
        start: Any = None,
        end: Any = None,
        max_cloud: float = 100.0,
    ) -> gpd.GeoDataFrame:
        """The provider's scenes over the point (`tracking.sources.stac.search`), remembered for `load`.

        Raises
        ------
        NoNetworkError, AuthenticationError, RemoteError
            The API failed.
        """
        table = search(
            self.provider,
            lon=lon,
            lat=lat,
            start=start,
            end=end,
            max_cloud=max_cloud,
            url=self.url,
            signer=self.signer,
        )
        with _SEARCHED_LOCK:
            for row in table.to_dict("records"):
                _SEARCHED[(self.key, str(row["scene_id"]))] = row
        return filter_scenes(table, lon=lon, lat=lat, start=start, end=end, max_cloud=max_cloud)

    def load(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> xr.DataArray:
        """The area of interest of a scene found by an earlier `search` (`tracking.sources.stac.load_scene`).

        Raises
        ------
        TrackingError
            The scene was not in a search of this process, or ``bbox`` is missing.
        """
        row = _SEARCHED.get((self.key, scene_id))
        if row is None:
            raise TrackingError(f"scene {scene_id} is not in the last search: search again.")
        if bbox is None:
            raise TrackingError(
                f"scene {scene_id}: give an area of interest; remote scenes are read by area."
            )
        return load_scene(
            row,
            bbox,
            bbox_crs=crs or "EPSG:4326",
            cache=self.cache,
            signer=self.signer,
            provider=self.provider,
        )

    def cache_key(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> Hashable:
        """The provider, scene, band, box and its CRS."""
        return (self.key, scene_id, band, bbox, crs)

    def pixel_size(self, band: str | None = None) -> float:
        """The provider's band's pixel size, m."""
        return float(self.provider.pixel_size)
