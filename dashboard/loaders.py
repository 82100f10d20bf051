"""What the dashboard opens beside its own tracking: ITS_LIVE granules and datacube series, and the fields of a
batch run on the server.

Each function takes the session's `AppState` (or only a path) and returns data; the network and disk work is meant
to run in a worker thread (``asyncio.to_thread``). The views add what comes back to the state (`AppState.add_result`,
`AppState.add_series`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from dashboard.scenes import ENDPOINTS, remote_cache
from dashboard.state import AppState
from tracking import keys
from tracking.exceptions import ParameterError, TrackingError
from tracking.pairs import pair_label

__all__ = [
    "DATA_ROOT_VARIABLE",
    "data_root",
    "find_cube_series",
    "find_granules",
    "granule_key",
    "load_granule",
    "open_batch",
    "server_path",
    "set_granules",
]

# ----------------------------------------------------------------------------------------------------------
# ITS_LIVE
# ----------------------------------------------------------------------------------------------------------


def find_granules(state: AppState) -> pd.DataFrame:
    """ITS_LIVE image pairs at the marker, in the dates, with enough valid pixels; sets nothing (network).

    Raises
    ------
    RemoteError
        No network, or the ITS_LIVE API failed.
    """
    from tracking.sources import itslive

    if state.start > state.end:
        raise ParameterError(f"the date range starts ({state.start}) after it ends ({state.end}): swap them.")
    return itslive.search_granules(
        lon=state.lon,
        lat=state.lat,
        start=state.start,
        end=state.end,
        min_valid=state.itslive_min_valid,
        dt_days=state.itslive_dt,
        mission=None if state.itslive_mission == "any" else state.itslive_mission,
        url=ENDPOINTS["itslive"] or itslive.STAC_URL,
    )


def set_granules(state: AppState, table: pd.DataFrame) -> None:
    """Show the ITS_LIVE granules found, and log it."""
    state.granules = table
    state.add_log(
        f"ITS_LIVE: {len(table)} image pairs between {state.start} and {state.end} with >= "
        f"{state.itslive_min_valid:.0f}% valid pixels at {state.lat:.3f} N, {state.lon:.3f} E."
    )


def granule_key(state: AppState, granule_id: str) -> str:
    """The result key of an ITS_LIVE granule cropped to the area of interest."""
    west, south, east, north = state.aoi_bounds("EPSG:4326")
    text = f"{granule_id}|{west:.4f},{south:.4f},{east:.4f},{north:.4f}"
    return "itslive-" + keys.digest(text)


def load_granule(state: AppState, row: Any) -> xr.Dataset:
    """Load one ITS_LIVE granule's velocity over the area of interest, through the result store (network; run in
    a worker thread)."""
    from tracking.sources import itslive

    key = granule_key(state, str(row["granule_id"]))
    field = state.store.get(key)
    if field is None:
        field = itslive.load_granule(row["href"], bbox=state.aoi_bounds("EPSG:4326"), cache=remote_cache())
        state.store.put(key, field)
    return field


def find_cube_series(state: AppState) -> pd.DataFrame:
    """ITS_LIVE datacube series at every sample point (network; run in a worker thread)."""
    from tracking.sources import itslive

    if not len(state.points):
        raise ParameterError("add a point first: click the speed map, or add one on the time-series tab.")
    frames = [
        itslive.cube_series(p.lon, p.lat, name=p.name, catalog=ENDPOINTS["itslive-catalog"])
        for p in state.points.itertuples()
    ]
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------------------------------------
# batch results on the server
# ----------------------------------------------------------------------------------------------------------

#: The folder under which the dashboard may open server paths (batch results); unset, it opens none.
DATA_ROOT_VARIABLE = "ICETRACK_DATA_ROOT"


def data_root() -> Path | None:
    """The operator's ``ICETRACK_DATA_ROOT``, resolved, or None when it is not set (server paths are off)."""
    root = os.environ.get(DATA_ROOT_VARIABLE)
    return Path(root).expanduser().resolve() if root else None


def server_path(text: str) -> Path:
    """The server path a visitor typed, confined to `data_root`.

    Only relative paths are taken, and only if they resolve (``..`` and symbolic links followed) to a place
    inside the root: a public server must not open ``/etc`` or ``../..`` for a visitor.

    Raises
    ------
    TrackingError
        No root set, an absolute path, or a path that leads out of the root.
    """
    root = data_root()
    if root is None:
        raise TrackingError(
            f"opening folders on the server is off: the operator sets {DATA_ROOT_VARIABLE} to the "
            "folder that holds the batch runs."
        )
    typed = Path(text.strip())
    if typed.is_absolute() or text.strip().startswith("~"):
        raise TrackingError(
            f"{text}: give a path relative to the server's data folder, e.g. runs/jakobshavn."
        )
    where = (root / typed).resolve()
    if not where.is_relative_to(root):
        raise TrackingError(f"{text}: that leads out of the server's data folder; give a path inside it.")
    return where


def open_batch(path: str) -> list[tuple[str, xr.Dataset]]:
    """The fields of a batch run (`tracking.batch`): a Zarr stack or a folder of its NetCDF fields.

    Reads only (the dashboard adds them with `AppState.add_result`); keys are stable per path and pair.

    Raises
    ------
    TrackingError
        Opening server folders is off, a path outside ``ICETRACK_DATA_ROOT`` (see `server_path`), no such
        stack or folder, or nothing icetrack wrote in it.
    """
    from tracking.io import read_field
    from tracking.stack import open_stack, stack_fields

    where = server_path(path)
    if where.is_dir() and ((where / ".zmetadata").exists() or (where / "zarr.json").exists()):
        fields = stack_fields(open_stack(where))
    elif where.is_dir():
        fields = [read_field(p) for p in sorted(where.glob("*.nc"))]
    else:
        raise TrackingError(
            f"{path}: no such stack or folder on the server: give the path 'icetrack batch' "
            "wrote (its -o folder or its --stack .zarr)."
        )
    if not fields:
        raise TrackingError(
            f"{path}: no velocity field in it: give the -o folder of an 'icetrack batch' run."
        )
    out = []
    for field in fields:
        field.attrs.setdefault(
            "label",
            pair_label(
                pd.Series(
                    {
                        "t0": pd.Timestamp(field.attrs["acquisition_date_img1"]),
                        "t1": pd.Timestamp(field.attrs["acquisition_date_img2"]),
                        "dt_days": float(field.attrs["date_dt"]),
                    }
                )
            ),
        )
        text = (
            f"{where.resolve()}|{field.attrs['acquisition_date_img1']}|{field.attrs['acquisition_date_img2']}"
        )
        out.append(("batch-" + keys.digest(text), field))
    return out
