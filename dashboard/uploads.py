"""The session's uploaded files, without widgets: add them, date the ones without a date, list them.

A file whose date is found (TIFF tags, a sidecar uploaded with it, its name) becomes a scene of the *My GeoTIFFs*
source at once (``state.uploads``); a valid file without one waits in ``state.pending`` until its date is typed
(`set_date`), and is drawn on the map meanwhile. `file_rows` is the table the upload view shows, and `missing`
says what the *My GeoTIFFs* source still lacks before a Run. Tested without a browser (tests/test_uploads.py).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from tracking.exceptions import MissingTimeError, ParameterError, SceneReadError, TrackingError
from tracking.naming import SIDECAR_SUFFIXES, parse_sidecar
from tracking.scene_checks import check_content
from tracking.sources.local import read_upload, scene_table

if TYPE_CHECKING:
    from dashboard.state import AppState

__all__ = ["SIDECAR_ACCEPT", "add_files", "file_rows", "missing", "set_date"]

#: What the file input accepts: GeoTIFFs and the metadata sidecars read beside them.
SIDECAR_ACCEPT = ".txt,.json,.xml"
_PLACEHOLDER_TIME = "2000-01-01"  # the time of a file that waits for its date (never shown, never tracked)
_COLUMNS = ["file", "date", "sensor", "path/row", "size", "id"]


def _is_sidecar(name: str, data: bytes) -> bool:
    """A metadata file icetrack reads (anything else is checked as an image, and refused with its reason)."""
    if not name.lower().endswith((".txt", ".json", ".xml")) or len(data) > 8 * 2**20:
        return False
    try:
        parse_sidecar(bytes(data).decode("utf-8-sig", errors="replace"), name)
    except SceneReadError:
        return False
    return True


def add_files(state: AppState, files: list[tuple[str, bytes]]) -> tuple[list[str], list[str], list[str]]:
    """Check and add ``(file name, bytes)`` uploads, sidecars (``*_MTL.txt``, ``*_MTL.json``, ``MTD_TL.xml``)
    among them read beside the images of the same upload. A file that is empty, not a GeoTIFF, or has nothing to
    track (all nodata, one value everywhere: `tracking.scenes.check_content`) is refused with its reason.

    Returns
    -------
    (added, pending, problems)
        The ids of the files that became scenes, of those that wait for a date, and one message per refused file.
    """
    sidecars = {name: data for name, data in files if _is_sidecar(name, data)}
    images = [(name, data) for name, data in files if name not in sidecars]
    added, pending, problems = [], [], []
    for name, data in images:
        try:
            try:
                scene = read_upload(data, name, sidecars=sidecars)
            except MissingTimeError:
                scene = read_upload(data, name, time=_PLACEHOLDER_TIME, sidecars=sidecars)
                check_content(
                    scene, _base_name(name)
                )  # nothing to track in it: say so now, not after its date
                scene.attrs.update(upload_name=name, upload_bytes=len(data))
                _forget(state, scene.attrs["scene_id"])
                state.pending[scene.attrs["scene_id"]] = scene
                pending.append(scene.attrs["scene_id"])
                continue
            check_content(scene, _base_name(name))  # all nodata or constant: nothing to track in it
        except TrackingError as err:
            problems.append(str(err))
            continue
        scene.attrs.update(upload_name=name, upload_bytes=len(data))
        _forget(state, scene.attrs["scene_id"])
        state.uploads[scene.attrs["scene_id"]] = scene
        added.append(scene.attrs["scene_id"])
    if sidecars and not images:
        problems.append(
            f"{', '.join(sidecars)}: metadata only; upload it together with its GeoTIFF "
            f"(named alike, e.g. X.tif with X{SIDECAR_SUFFIXES[0]})."
        )
    if added or pending:
        _refresh(state)
    return added, pending, problems


def set_date(state: AppState, scene_id: str, date: Any) -> str:
    """Give an uploaded file its acquisition date (also to change a date read from the file).

    The file gets a new id carrying the date (``glacier@20210501``), so that a result tracked with the old date
    is never taken for the new one. Returns the new id.

    Raises
    ------
    ParameterError
        No such file, or a date that cannot be read.
    """
    scene = state.pending.get(scene_id)
    if scene is None:
        scene = state.uploads.get(scene_id)
    if scene is None:
        raise ParameterError(f"no uploaded file {scene_id!r}: upload it again.")
    stamp = _parse_date(date)
    base = scene_id.split("@")[0]
    new_id = f"{base}@{stamp:%Y%m%d}" + (f"T{stamp:%H%M%S}" if stamp != stamp.normalize() else "")
    dated = scene.copy(deep=False)
    dated.attrs = {**scene.attrs, "time": stamp.isoformat(), "scene_id": new_id}
    state.pending.pop(scene_id, None)
    state.uploads.pop(scene_id, None)
    state.uploads[new_id] = dated
    _refresh(state)
    return new_id


def file_rows(state: AppState) -> pd.DataFrame:
    """The uploaded files as listed: file name, date (None while pending), sensor, path/row or tile, size, id."""
    rows = []
    for scene_id, scene in [*state.uploads.items(), *state.pending.items()]:
        attrs = scene.attrs
        waiting = scene_id in state.pending
        path, row, tile = attrs.get("path"), attrs.get("row"), attrs.get("tile")
        rows.append(
            {
                "file": str(attrs.get("upload_name", scene_id)),
                "date": None if waiting else pd.Timestamp(attrs["time"]).date(),
                "sensor": str(attrs.get("sensor", "unknown")).replace("unknown", "–"),
                "path/row": f"{int(path):03d}/{int(row):03d}"
                if path is not None and row is not None
                else (tile or "–"),
                "size": _size(attrs.get("upload_bytes")),
                "id": scene_id,
            }
        )
    frame = pd.DataFrame(rows, columns=_COLUMNS)
    return frame.astype(
        {"file": object, "date": object, "sensor": object, "path/row": object, "size": object, "id": object}
    )


def missing(state: AppState) -> str:
    """What the *My GeoTIFFs* source lacks before a Run, in the user's words (empty when a pair is ready)."""
    waiting = [str(s.attrs.get("upload_name", i)) for i, s in state.pending.items()]
    dated = len(state.uploads)
    if waiting:
        names = ", ".join(waiting[:3]) + (f" and {len(waiting) - 3} more" if len(waiting) > 3 else "")
        return f"Type the date of {names} in the Date column of your files, then Run."
    if dated == 0:
        return (
            "Upload two GeoTIFFs of the same area taken at different dates (My GeoTIFFs, in step 1), "
            "then Run."
        )
    if dated == 1:
        return "One file so far: upload a second GeoTIFF of the same area, taken at another date, then Run."
    pairs = state.pairs
    if pairs is None or pairs.empty:
        lo, hi = state.dt_window
        return (
            f"Your {dated} files make no pair with dt between {lo:g} and {hi:g} days: widen the time separation "
            "(step 2) or check their dates."
        )
    return ""


def footprints(state: AppState) -> Any:
    """The outlines of every uploaded file, dated or waiting for its date (EPSG:4326)."""
    return scene_table([*state.uploads.values(), *state.pending.values()])


def _refresh(state: AppState) -> None:
    """Show the files: search the *My GeoTIFFs* source and move the map to their footprint."""
    if state.source != "local":
        state.source = "local"
    state.search()
    state.show_next_step()
    outlines = footprints(state)
    if len(outlines):
        centre = outlines.union_all().centroid
        state.move_marker(centre.x, centre.y)


def _forget(state: AppState, scene_id: str) -> None:
    """Drop an earlier upload of the same file (also one dated by hand: ``<id>@<date>``)."""
    for table in (state.uploads, state.pending):
        for key in [k for k in table if k == scene_id or k.split("@")[0] == scene_id]:
            del table[key]


def _parse_date(value: Any) -> pd.Timestamp:
    if isinstance(value, int | float) and not isinstance(value, bool):
        stamp = pd.Timestamp(value, unit="ms")  # what a table's date editor sends: ms since 1970
    else:
        try:
            stamp = pd.Timestamp(value.isoformat() if isinstance(value, dt.date) else str(value).strip())
        except (ValueError, TypeError):
            stamp = pd.NaT
    if stamp is pd.NaT or pd.isna(stamp):
        raise ParameterError(f"cannot read the date {value!r}: type it as 2021-05-16.")
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    if not 1972 <= stamp.year <= pd.Timestamp.now().year + 1:
        raise ParameterError(f"{stamp:%Y-%m-%d} is not a date of a satellite image: type it as 2021-05-16.")
    return stamp


def _base_name(name: str) -> str:
    """The last component of an uploaded file's name (a browser may send a path)."""
    return re.split(r"[\\/]", str(name))[-1]


def _size(n: Any) -> str:
    if n is None:
        return "–"
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"
