"""The one interface of every image source (`Source`), and the registry of sources by name (`get`).

A source finds scenes (`Source.search`, one normalized scene table) and loads a scene's area of interest
(`Source.load`) or a pair of them on one grid (`Source.load_pair`). The dashboard, the batch runner and the
command line hold a `Source` and ask it; none of them branches on the source's name.

Adding a source is one module with a `Source` subclass, and one line in `REGISTRY`.
"""

from __future__ import annotations

import importlib
import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from tracking.exceptions import ParameterError

if TYPE_CHECKING:
    import geopandas as gpd
    import xarray as xr

    from tracking.scenes import Pair

__all__ = ["REGISTRY", "SCENE_COLUMNS", "Source", "filter_scenes", "get", "names"]

#: The columns of every scene table (`Source.search`), first and in this order; sources may add more.
SCENE_COLUMNS = ("scene_id", "time", "platform", "sensor", "path", "row", "cloud_cover", "geometry")

#: Sources by name: ``"module:factory"``, imported when first asked for (`get`).
REGISTRY: dict[str, str] = {
    "demo": "tracking.sources.demo.source:DemoSource",
    "local": "tracking.sources.local:LocalSource",
    "file": "tracking.sources.local:FileSource",
    "landsat": "tracking.sources.stac.source:StacSource",
    "sentinel2": "tracking.sources.stac.source:StacSource",
    "landsat-pan": "tracking.sources.stac.source:StacSource",
    "folder": "tracking.sources.folder:LocalFolderSource",
}


class Source(ABC):
    """Where scenes come from: a search that lists them and a loader that reads their area of interest.

    Attributes
    ----------
    key : str
        The source's name in `REGISTRY` (also part of result keys).
    label : str
        What a user sees, in words.
    remote : bool
        Whether it needs the network.
    endpoint : str or None
        The service a remote source talks to (checked for reachability); None offline.
    band : str or None
        The band the source always delivers; None when the caller chooses (the demo's red or pan).
    crops : bool
        True when `load` reads the area of interest around a place; False when scenes are used whole (the
        user's own files), so that the scenes set the place, the grid and its shape.
    place : str or None
        A fixed place name for titles and file names; None: the place is named by its coordinates.
    has_truth : bool
        Whether the source knows the true motion (the demo).
    """

    key: str = ""
    label: str = ""
    remote: bool = False
    endpoint: str | None = None
    band: str | None = None
    crops: bool = True
    place: str | None = None
    has_truth: bool = False

    @abstractmethod
    def search(
        self,
        *,
        lon: float | None = None,
        lat: float | None = None,
        start: Any = None,
        end: Any = None,
        max_cloud: float = 100.0,
    ) -> gpd.GeoDataFrame:
        """The scenes that contain a point, acquired between two dates, under a cloud limit.

        Parameters
        ----------
        lon, lat : float, optional
            The point, degrees.
        start, end : date-like, optional
            First and last acquisition day, both included.
        max_cloud : float
            Largest cloud cover kept, %.

        Returns
        -------
        geopandas.GeoDataFrame
            One row per scene, sorted by time, with `SCENE_COLUMNS` first (EPSG:4326 footprints).
        """

    @abstractmethod
    def load(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> xr.DataArray:
        """One scene's area of interest as a `Scene` (`tracking.scenes`).

        Parameters
        ----------
        scene_id : str
            A ``scene_id`` of `search` (for file sources, also a path).
        band : str, optional
            The band, where the source offers a choice.
        bbox : (xmin, ymin, xmax, ymax), optional
            The area of interest in ``crs``; None loads the whole scene.
        crs : str, optional
            CRS of ``bbox``; defaults to the source's own (`aoi_crs`).
        """

    def load_pair(
        self,
        reference_id: str,
        secondary_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> Pair:
        """Two scenes' areas of interest on one grid (`tracking.scenes.Pair`), the reference first."""
        from tracking.scenes import Pair

        return Pair.from_scenes(*(self.load(i, band, bbox, crs=crs) for i in (reference_id, secondary_id)))

    def tiled_inputs(
        self,
        reference_id: str,
        secondary_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
    ) -> tuple[Any, Any]:
        """The two inputs of `tracking.tiles.track_tiled`: the pair's scenes on one grid (file sources give their
        paths, read window by window)."""
        pair = self.load_pair(reference_id, secondary_id, band, bbox)
        return pair.reference, pair.secondary

    def cache_key(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> Hashable | None:
        """A key naming what `load` returns, for caches of loaded scenes; None: not worth caching (in memory)."""
        return (self.key, scene_id, band, bbox, crs)

    def aoi_crs(self, lon: float, lat: float) -> str | None:
        """The CRS of an area of interest around ``(lon, lat)``: the local UTM zone unless the source has its own;
        None when it is not known yet (no scene)."""
        from tracking.aoi import local_crs

        return local_crs(lon, lat)

    @abstractmethod
    def pixel_size(self, band: str | None = None) -> float | None:
        """Pixel size of the scenes (of ``band``), metres; None when not known yet (no scene)."""

    def scene_shape(self) -> tuple[int, int] | None:
        """``(rows, cols)`` of the scenes when they are used whole (``crops`` False); None otherwise."""
        return None

    def footprints(self, lon: float, lat: float) -> gpd.GeoDataFrame:
        """Outlines to draw on a map around ``(lon, lat)``: the daytime WRS-2 path/rows that cover it."""
        import geopandas as gpd
        import pandas as pd

        from tracking.sources import wrs2

        covering = wrs2.path_rows(lon, lat)
        if not covering:
            return gpd.GeoDataFrame({c: [] for c in SCENE_COLUMNS[:-1]}, geometry=[], crs="EPSG:4326")
        frames = [wrs2.grid(paths=[path], rows=[row]) for path, row in covering]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")

    def scene_name(self, scene_id: str) -> str:
        """A short name of a scene for file names (file sources drop the folder and the suffix)."""
        return scene_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.key!r})"


def filter_scenes(
    table: gpd.GeoDataFrame,
    *,
    lon: float | None = None,
    lat: float | None = None,
    start: Any = None,
    end: Any = None,
    max_cloud: float = 100.0,
) -> gpd.GeoDataFrame:
    """The rows of a scene table that contain the point, fall within the days and the cloud limit, by time.

    Parameters
    ----------
    table : geopandas.GeoDataFrame
        A scene table (`SCENE_COLUMNS`, EPSG:4326).
    lon, lat : float, optional
        Keep scenes whose footprint contains this point (degrees).
    start, end : date-like, optional
        Keep scenes acquired on these days or between them (times are compared by day, UTC).
    max_cloud : float
        Keep scenes with at most this cloud cover, % (unknown cover counts as 0).

    Returns
    -------
    geopandas.GeoDataFrame
        The rows kept, sorted by time, with a fresh index (``table`` itself when it is empty).
    """
    import pandas as pd
    from shapely.geometry import Point

    if table.empty:
        return table
    times = pd.to_datetime(table["time"]).dt.tz_localize(None).dt.normalize()
    keep = table["cloud_cover"].fillna(0) <= max_cloud
    if start is not None:
        keep &= times >= pd.Timestamp(start)
    if end is not None:
        keep &= times <= pd.Timestamp(end)
    if lon is not None and lat is not None:
        keep &= table.intersects(Point(lon, lat))
    return table[keep].sort_values("time").reset_index(drop=True)


def names() -> list[str]:
    """The names of the registered sources."""
    return list(REGISTRY)


def get(name: str, **options: Any) -> Source:
    """The source called ``name``, made with the ``options`` its factory takes (the others are left out).

    Parameters
    ----------
    name : str
        A key of `REGISTRY`.
    **options
        Settings of the source, e.g. ``seed`` (demo), ``scenes`` (local uploads), ``url``, ``cache`` and
        ``signer`` (STAC); ``key`` is ``name``. A caller may give every setting it has: each source takes its own.

    Raises
    ------
    ParameterError
        No source of that name.
    """
    if name not in REGISTRY:
        raise ParameterError(f"unknown image source {name!r}: choose one of {', '.join(REGISTRY)}.")
    module, _, attr = REGISTRY[name].partition(":")
    factory: Callable[..., Source] = getattr(importlib.import_module(module), attr)
    options = {"key": name, **options}
    taken = inspect.signature(factory).parameters
    return factory(**{k: v for k, v in options.items() if k in taken})
