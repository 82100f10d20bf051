"""Scene loading shared by every session of the process: the remote endpoints, the download cache and the
Planetary Computer signer, the sources set up with them, and a bounded cache of loaded scenes (each a pure
function of its arguments, loaded once even when several sessions ask at the same time)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import xarray as xr

from tracking import sources

__all__ = ["ENDPOINTS", "remote_cache", "sas_signer", "scene_loader", "source_for"]

#: Remote endpoints, by source key; None means the library's default. Mirrors and tests set them.
ENDPOINTS: dict[str, str | None] = {
    "landsat": None,
    "sentinel2": None,
    "landsat-pan": None,  # STAC API roots
    "sas": None,  # Planetary Computer SAS token endpoint
    "itslive": None,  # ITS_LIVE STAC API root
    "itslive-catalog": None,  # ITS_LIVE datacube GeoJSON catalog
}


_scene_cache: dict[Hashable, xr.DataArray] = {}
_scene_loading: dict[Hashable, Future] = {}
_scene_lock = threading.Lock()
_scene_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="icetrack-scenes")
_SCENE_CACHE_ITEMS = 48


def source_for(name: str, uploads: dict[str, xr.DataArray] | None = None) -> sources.Source:
    """The source called ``name`` set up for this process (`ENDPOINTS`, download cache, signer) and a session's
    uploads."""
    return sources.get(name, scenes=uploads, url=ENDPOINTS.get(name), cache=remote_cache, signer=sas_signer)


@functools.cache
def remote_cache() -> Any:
    """The process's download cache (`tracking.sources.cache.DownloadCache`, under ``$ICETRACK_CACHE``)."""
    from tracking.sources.cache import DownloadCache

    return DownloadCache()


def sas_signer() -> Any:
    """The process's Planetary Computer signer (tokens are cached until they expire)."""
    global _SIGNER
    from tracking.sources.stac import SasSigner

    url = ENDPOINTS["sas"]
    if _SIGNER is None or (url is not None and _SIGNER.token_url != url):
        _SIGNER = SasSigner(url) if url else SasSigner()
    return _SIGNER


_SIGNER: Any = None


def _scene_future(key: Hashable, load: Any) -> Future:
    """The cached crop as a finished future, the crop being loaded, or a newly started ``load()``."""
    with _scene_lock:
        if key in _scene_cache:
            done: Future = Future()
            done.set_result(_scene_cache[key])
            return done
        if key not in _scene_loading:
            _scene_loading[key] = _scene_pool.submit(load)
        return _scene_loading[key]


def scene_loader(
    source: sources.Source,
    scene_id: str,
    band: str,
    bbox: tuple[float, ...] | None,
    *,
    wait: bool = True,
    crs: str | None = None,
) -> xr.DataArray | None:
    """Load one scene's area of interest, cached per process (the same crop is asked for by many pairs).

    A crop asked for twice is loaded once, also when the second request comes while the first is loading
    (the dashboard prefetches the chosen pair's crops while the user sets parameters). Scenes the source holds
    in memory already (its `cache_key` is None) are returned as they are.

    Parameters
    ----------
    source : tracking.sources.Source
    scene_id : str
    band : str
        The band (`AppState.band_name`).
    bbox : (xmin, ymin, xmax, ymax) or None
        Area of interest in ``crs``.
    wait : bool
        False starts the load in the background and returns None (a prefetch).
    crs : str, optional
        CRS of ``bbox`` (default: the source's).
    """
    key = source.cache_key(scene_id, band, bbox, crs=crs)
    if key is None:
        return source.load(scene_id, band, bbox, crs=crs) if wait else None
    future = _scene_future(key, functools.partial(source.load, scene_id, band, bbox, crs=crs))
    if not wait:
        return None
    try:
        scene = future.result()
    except Exception:
        with _scene_lock:  # a failed load is tried again next time (the network may be back)
            _scene_loading.pop(key, None)
        raise
    with _scene_lock:
        _scene_loading.pop(key, None)
        _scene_cache[key] = scene
        while len(_scene_cache) > _SCENE_CACHE_ITEMS:
            _scene_cache.pop(next(iter(_scene_cache)))
    return scene
