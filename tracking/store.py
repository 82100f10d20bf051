"""A cache of VelocityFields keyed by everything that determines them, shared by dashboard sessions.

`result_key` hashes the inputs of a run (the two scene ids, the parameters, the image source, the band and the
crop); `ResultStore` keeps the most recently used fields in memory and, given a directory, every field on disk
as ``<key>.nc`` so that results survive a restart.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from tracking.exceptions import ParameterError
from tracking.io import read_field, write_netcdf
from tracking.keys import canonical_json, digest
from tracking.params import TrackingParameters

__all__ = ["ResultStore", "result_key"]

_KEY = re.compile(r"[0-9A-Za-z_.-]+")


def result_key(
    reference_id: str,
    secondary_id: str,
    params: TrackingParameters,
    *,
    source: str,
    band: str,
    bbox: tuple[float, float, float, float] | None,
) -> str:
    """A stable 16-hex-digit key for a tracking run's inputs.

    The SHA-1 of a canonical JSON (sorted keys, no whitespace) of the scene ids, every parameter value
    (`TrackingParameters.to_dict`), the source, the band and the bbox rounded to 0.01 m. The same inputs give the
    same key in any process; changing any of them changes it.

    Parameters
    ----------
    reference_id, secondary_id : str
        Scene ids of the pair.
    params : TrackingParameters
        The parameters of the run.
    source : str
        Where the scenes come from (e.g. ``"demo"``, ``"local"``).
    band : str
        The band tracked.
    bbox : (xmin, ymin, xmax, ymax) or None
        The crop, in the scenes' CRS (m); None for whole scenes.

    Returns
    -------
    str
        16 lowercase hex digits.

    Examples
    --------
    >>> key = result_key("A", "B", TrackingParameters(), source="demo", band="red", bbox=None)
    >>> len(key), key == result_key("A", "B", TrackingParameters(), source="demo", band="red", bbox=None)
    (16, True)
    """
    if bbox is not None:
        if len(bbox) != 4:
            raise ParameterError(f"bbox must be (xmin, ymin, xmax, ymax), got {bbox!r}.")
        box: list[float] | None = [round(float(v), 2) + 0.0 for v in bbox]  # + 0.0: -0.0 -> 0.0
    else:
        box = None
    payload = {
        "reference": str(reference_id),
        "secondary": str(secondary_id),
        "params": {k: _plain(v) for k, v in params.to_dict().items()},
        "source": str(source),
        "band": str(band),
        "bbox": box,
    }
    return digest(canonical_json(payload), 16)


def _plain(value: Any) -> Any:
    """A JSON-stable form of a parameter value: numpy scalars as Python ones, non-finite floats as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return repr(value)
    if isinstance(value, bool | str | int | float) or value is None:
        return value
    return str(value)


class ResultStore:
    """Velocity fields by `result_key`: the most recently used in memory, all of them on disk if asked.

    Thread-safe: every method may be called from several threads (dashboard sessions share one store).
    The fields returned are shared between callers: treat them as read-only (copy before changing them).

    Parameters
    ----------
    directory : str or path-like, optional
        Where to keep every field as ``<key>.nc`` (created if missing). Without it the store is memory-only.
    max_items : int
        Fields kept in memory; the least recently used one is dropped beyond it (it stays on disk). 0 keeps
        none in memory.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, max_items: int = 64) -> None:
        if max_items < 0:
            raise ParameterError(f"max_items must be 0 or more, got {max_items}.")
        self.max_items = int(max_items)
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._memory: OrderedDict[str, xr.Dataset] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ResultStore(directory={self.directory!r}, max_items={self.max_items}, in_memory={len(self._memory)})"

    def _path(self, key: str) -> Path | None:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ParameterError(f"invalid result key {key!r}: use tracking.store.result_key() to make one.")
        return None if self.directory is None else self.directory / f"{key}.nc"

    def _remember(self, key: str, field: xr.Dataset) -> None:
        """Put ``field`` first in the LRU order and evict beyond ``max_items``; call with the lock held."""
        self._memory[key] = field
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_items:
            self._memory.popitem(last=False)

    def get(self, key: str) -> xr.Dataset | None:
        """The field stored under ``key`` (from memory, else from disk), or None.

        A file that cannot be read (e.g. truncated by a crash) counts as missing.
        """
        path = self._path(key)
        with self._lock:
            field = self._memory.get(key)
            if field is not None:
                self._memory.move_to_end(key)
                return field
        if path is None or not path.is_file():
            return None
        try:
            field = read_field(path)
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        with self._lock:
            self._remember(key, field)
        return field

    def put(self, key: str, field: xr.Dataset) -> None:
        """Store ``field`` under ``key`` in memory and, with a directory, as ``<directory>/<key>.nc``.

        The file is written atomically (`tracking.io.write_netcdf`): a concurrent reader sees the old file or
        the new one, never half of one.
        """
        path = self._path(key)
        if not isinstance(field, xr.Dataset):
            raise ParameterError(f"a ResultStore holds VelocityField datasets, not {type(field).__name__}.")
        if path is not None:
            write_netcdf(field, path)
        with self._lock:
            self._remember(key, field)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            return False
        with self._lock:
            if key in self._memory:
                return True
        path = self._path(key)
        return path is not None and path.is_file()

    def keys(self) -> list[str]:
        """Every stored key: those in memory (least recently used first), then those only on disk (sorted)."""
        with self._lock:
            in_memory = list(self._memory)
        on_disk = [] if self.directory is None else sorted(p.stem for p in self.directory.glob("*.nc"))
        known = set(in_memory)
        return in_memory + [k for k in on_disk if k not in known and _KEY.fullmatch(k)]

    def __len__(self) -> int:
        return len(self.keys())
