"""What the dashboard keeps between calls: the process's result store and Dask clients, and each session's
results and scenes reprojected to Web Mercator.

(The scene crops and the download cache, shared by every session, live with the scene loading in `state`.)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import panel as pn
import xarray as xr

from dashboard import plots
from tracking.store import ResultStore

__all__ = ["ProjectedCache", "dask_client", "shared_store"]

#: Most reprojected results and scenes a session keeps.
PROJECTED_ITEMS = 32


def shared_store() -> ResultStore:
    """The process's result store, shared by all sessions (``ICETRACK_RESULTS`` keeps it on disk)."""
    return pn.state.as_cached(
        "icetrack-result-store", ResultStore, directory=os.environ.get("ICETRACK_RESULTS"), max_items=128
    )


@functools.cache
def dask_client(address: str) -> Any:
    """The process's `distributed.Client` of the scheduler at ``address`` (connects on the first call)."""
    from tracking.cluster import open_client

    return open_client(address, timeout="10s", set_as_default=False)


class ProjectedCache:
    """Results and scenes reprojected to Web Mercator once, shared by the views of a session."""

    def __init__(self) -> None:
        self._items: dict[tuple, xr.Dataset | xr.DataArray] = {}

    def field(self, key: str, field: xr.Dataset, layer: str) -> xr.Dataset:
        """``plots.web_mercator(field, layer)``, computed once per (result, layer)."""
        return self._get(("field", key, layer), lambda: plots.web_mercator(field, layer))

    def scene(self, scene: xr.DataArray) -> xr.DataArray:
        """``plots.scene_grey(scene)``, computed once per scene crop."""
        ident = (scene.attrs.get("scene_id"), tuple(round(b, 1) for b in scene.rio.bounds()))
        return self._get(("scene", *ident), lambda: plots.scene_grey(scene))

    def _get(self, key: tuple, make: Callable[[], Any]) -> Any:
        if key not in self._items:
            self._items[key] = make()
            while len(self._items) > PROJECTED_ITEMS:
                self._items.pop(next(iter(self._items)))
        return self._items[key]
