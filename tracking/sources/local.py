"""The user's own GeoTIFFs: uploaded bytes checked and read as scenes, and a scene table for them.

`read_upload` turns the bytes of an uploaded file into a `Scene` (`tracking.scenes`) with the same checks and
messages as `tracking.scenes.read_scene`, naming the upload instead of a temporary file; `scene_table` lists
such scenes with the columns of `tracking.sources.demo.catalog`, so the pair picker works on either.

Two `tracking.sources.base.Source`: `LocalSource` (scenes already read, e.g. uploads, by scene id) and
`FileSource` (raster files on disk, by path).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from rasterio.errors import RasterioError
from shapely.geometry import Polygon

from tracking.exceptions import MissingTimeError, SceneReadError, TrackingError
from tracking.naming import find_sidecar, parse_name, read_sidecar
from tracking.scenes import TIME_TAGS, date_from_name, parse_tag_time, read_scene
from tracking.sources.base import Source, filter_scenes
from tracking.times import utc_naive

__all__ = [
    "MAX_UPLOAD_BYTES",
    "FileSource",
    "LocalSource",
    "footprint",
    "read_upload",
    "scene_table",
]

#: The largest upload accepted, bytes (100 MiB).
MAX_UPLOAD_BYTES = 100 * 2**20

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF, both byte orders
_KNOWN_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (unzip it and upload the .tif inside)"),
    (b"\x1f\x8b", "a gzip archive (decompress it and upload the .tif inside)"),
    (b"%PDF", "a PDF document"),
    (b"\x89HDF", "an HDF5/NetCDF-4 file"),
    (b"CDF", "a NetCDF file"),
    (b"\x00\x00\x00\x0cjP", "a JPEG 2000 image (convert it with 'gdal_translate -of GTiff in.jp2 out.tif')"),
)
#: The date given to `read_scene` to run its other checks when a file has no date of its own.
_PLACEHOLDER_TIME = "2000-01-01"


def read_upload(
    data: bytes,
    filename: str,
    *,
    time: str | np.datetime64 | pd.Timestamp | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
    sidecars: Mapping[str, bytes] | None = None,
) -> xr.DataArray:
    """Read an uploaded GeoTIFF as a `Scene`.

    The bytes are written under the upload's own file name in a temporary folder and read with
    `tracking.scenes.read_scene`, so the acquisition date and the sensor are found in the tags or in the name
    as for a file on disk, and the scene id is the name without its suffix.

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        The upload's file name (only its last component is used).
    time : str or datetime-like, optional
        Acquisition time (UTC), for a file without one in its tags or name.
    max_bytes : int
        The largest size accepted, bytes.
    sidecars : mapping of str to bytes, optional
        Metadata files uploaded with it, by file name (``*_MTL.txt``, ``*_MTL.json``, ``MTD_TL.xml``): written
        beside the image, so that `read_scene` finds the one named after it
        (`tracking.naming.find_sidecar`).

    Returns
    -------
    xarray.DataArray
        The scene (float32, NaN nodata, CRS and transform, attrs time/sensor/band/scene_id).

    Raises
    ------
    MissingTimeError
        The file is a valid scene but has no acquisition date and ``time`` was not given: ask for the date and
        call again with ``time=``.
    SceneReadError
        The upload is empty or larger than ``max_bytes``, is not a GeoTIFF, has no CRS or a geographic one, or
        another check of `read_scene` fails; the message names ``filename``.
    """
    name = _safe_name(filename)
    size = len(data)
    if size == 0:
        raise SceneReadError(f"{name} is empty (0 bytes): upload the GeoTIFF again.")
    if size > max_bytes:
        raise SceneReadError(
            f"{name} is {_megabytes(size)}, more than the {_megabytes(max_bytes)} limit: crop it to your glacier "
            f"first, e.g. 'gdal_translate -projwin <xmin> <ymax> <xmax> <ymin> {name} crop.tif'."
        )
    head = bytes(data[:16])
    if not head.startswith(_TIFF_MAGIC):
        raise SceneReadError(f"{name} is not a GeoTIFF: {_what_it_is(head)}. Upload a GeoTIFF (.tif).")
    with tempfile.TemporaryDirectory(prefix="icetrack-upload-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        for sidecar_name, content in (sidecars or {}).items():
            sidecar = Path(folder) / _safe_name(sidecar_name)
            if sidecar != path:
                sidecar.write_bytes(content)
        try:
            if time is None and not _has_time(path):
                read_scene(path, time=_PLACEHOLDER_TIME)  # every other check first: their errors come first
                raise MissingTimeError(
                    f"{name}: no acquisition date in the file's tags or name; type the date (e.g. 2021-05-16)."
                )
            return read_scene(path, time=time)
        except MissingTimeError:
            raise
        except SceneReadError as err:
            message = str(err).replace(str(path), name).replace(folder, ".")
            if message.startswith(f"{name}: not a raster"):
                message = (
                    f"{name} is not a GeoTIFF: GDAL cannot read it ({_gdal_reason(err)}). Upload a GeoTIFF."
                )
            raise SceneReadError(message) from None


def _safe_name(filename: str) -> str:
    """The last component of an uploaded file name, reduced to safe characters; ``upload.tif`` if none."""
    base = re.split(r"[\\/]", str(filename or ""))[-1].strip()
    base = re.sub(r"[^0-9A-Za-z._+-]", "_", base).lstrip(".")
    return base or "upload.tif"


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size} bytes"


def _what_it_is(head: bytes) -> str:
    for magic, what in _KNOWN_MAGIC:
        if head.startswith(magic):
            return f"it is {what}"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "it does not start with the TIFF signature"
    if text.isprintable() or all(c.isprintable() or c.isspace() for c in text):
        return "it is a text file"
    return "it does not start with the TIFF signature"


def _gdal_reason(err: SceneReadError) -> str:
    text = str(err)
    start, end = text.find("("), text.rfind(")")
    return text[start + 1 : end] if 0 <= start < end else text


def _has_time(path: Path) -> bool:
    """Whether `read_scene` will find an acquisition time in the file's tags, its sidecar or its name."""
    if date_from_name(path.name) is not None:
        return True
    sidecar = find_sidecar(path)
    if sidecar is not None:
        try:
            if read_sidecar(sidecar).time is not None:
                return True
        except SceneReadError:
            pass
    try:
        with rasterio.open(path) as src:
            tags = src.tags()
    except RasterioError:
        return True  # not readable: let read_scene say so
    return any(parse_tag_time(tags.get(tag)) is not None for tag in TIME_TAGS)


def footprint(scene: xr.DataArray, *, points_per_side: int = 21) -> Polygon:
    """The outline of a scene's raster bounds in longitude / latitude (EPSG:4326).

    Parameters
    ----------
    scene : xarray.DataArray
        A `Scene` with its CRS.
    points_per_side : int
        Points along each side before projecting, so that the curved edges of a projected rectangle are kept.

    Returns
    -------
    shapely.Polygon
        Counter-clockwise ring of ``4 * (points_per_side - 1)`` vertices, degrees.
    """
    crs = scene.rio.crs
    if crs is None:
        raise SceneReadError("the scene has no CRS: read it with read_scene() or read_upload().")
    left, bottom, right, top = (float(v) for v in scene.rio.bounds())
    t = np.linspace(0.0, 1.0, max(int(points_per_side), 2))[:-1]
    xs = np.concatenate(
        [left + (right - left) * t, np.full(t.size, right), right - (right - left) * t, np.full(t.size, left)]
    )
    ys = np.concatenate(
        [np.full(t.size, bottom), bottom + (top - bottom) * t, np.full(t.size, top), top - (top - bottom) * t]
    )
    transformer = Transformer.from_crs(
        ProjCRS.from_wkt(crs.to_wkt()), ProjCRS.from_epsg(4326), always_xy=True
    )
    lons, lats = transformer.transform(xs, ys)
    return Polygon(zip(np.asarray(lons), np.asarray(lats), strict=True))


def scene_table(scenes: Sequence[xr.DataArray]) -> gpd.GeoDataFrame:
    """A catalog of local scenes with the columns of `tracking.sources.demo.catalog`.

    Parameters
    ----------
    scenes : sequence of xarray.DataArray
        Scenes (`read_upload`, `tracking.scenes.read_scene`).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per scene, sorted by time: ``scene_id``, ``time`` (datetime64[ns], UTC), ``platform``
        (``"local"``), ``sensor`` (the scene's ``sensor`` attr), ``path`` and ``row`` (int: the WRS-2 path and
        row read from a Landsat id in the scene id, e.g. ``LC08_L1TP_009011_...`` or ``LC80090112016200LGN00``,
        else the scene's ``path``/``row`` attrs, else -1 for unknown), ``cloud_cover`` (the ``cloud_cover`` attr, else
        NaN: not known for local files) and ``geometry`` (`footprint`, EPSG:4326).
    """
    records: list[dict[str, Any]] = []
    for scene in scenes:
        attrs = scene.attrs
        scene_id = str(attrs.get("scene_id", ""))
        path, row = _path_row(scene_id, attrs)
        stamp = utc_naive(attrs["time"])
        records.append(
            {
                "scene_id": scene_id,
                "time": stamp,
                "platform": "local",
                "sensor": str(attrs.get("sensor", "unknown")),
                "path": path,
                "row": row,
                "cloud_cover": float(attrs.get("cloud_cover", np.nan)),
                "geometry": footprint(scene),
            }
        )
    columns = ["scene_id", "time", "platform", "sensor", "path", "row", "cloud_cover", "geometry"]
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame = frame.astype(
        {
            "scene_id": object,
            "time": "datetime64[ns]",
            "platform": object,
            "sensor": object,
            "path": np.int64,
            "row": np.int64,
            "cloud_cover": np.float64,
        }
    )
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def _path_row(scene_id: str, attrs: dict[str, Any]) -> tuple[int, int]:
    named = parse_name(scene_id)
    if named is not None and named.path is not None and named.row is not None:
        return named.path, named.row
    try:
        return int(attrs["path"]), int(attrs["row"])
    except (KeyError, TypeError, ValueError):
        return -1, -1


class LocalSource(Source):
    """The user's scenes already read (uploads), by scene id, used whole: they set the place and the grid.

    Parameters
    ----------
    scenes : mapping of str to xarray.DataArray, optional
        The scenes by ``scene_id``; kept by reference, so scenes added to it later are found.
    """

    key = "local"
    label = "My GeoTIFFs"
    crops = False

    def __init__(self, scenes: Mapping[str, xr.DataArray] | None = None) -> None:
        self.scenes = scenes if scenes is not None else {}

    def _first(self) -> xr.DataArray | None:
        """The first scene: the others are brought onto its grid."""
        return next(iter(self.scenes.values()), None)

    def search(
        self,
        *,
        lon: float | None = None,
        lat: float | None = None,
        start: Any = None,
        end: Any = None,
        max_cloud: float = 100.0,
    ) -> gpd.GeoDataFrame:
        """All the scenes (`scene_table`), whatever the place, dates and cloud limit: the user chose them."""
        return scene_table(list(self.scenes.values()))

    def load(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> xr.DataArray:
        """The whole scene (``band`` and ``bbox`` are ignored)."""
        if scene_id not in self.scenes:
            raise TrackingError(f"the uploaded scene {scene_id!r} is gone: upload it again.")
        return self.scenes[scene_id]

    def cache_key(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> Hashable | None:
        """None: the scenes are in memory already."""
        return None

    def aoi_crs(self, lon: float, lat: float) -> str | None:
        """The first scene's CRS (None without scenes)."""
        first = self._first()
        return str(first.rio.crs) if first is not None else None

    def pixel_size(self, band: str | None = None) -> float | None:
        """The first scene's pixel size, m (None without scenes)."""
        first = self._first()
        return float(abs(first.rio.resolution()[0])) if first is not None else None

    def scene_shape(self) -> tuple[int, int] | None:
        """The first scene's ``(rows, cols)``."""
        first = self._first()
        return first.shape if first is not None else None

    def footprints(self, lon: float, lat: float) -> gpd.GeoDataFrame:
        """The scenes' own outlines."""
        return self.search()


class FileSource(Source):
    """Raster files on disk (`tracking.scenes.read_scene`), named by path; tiled tracking reads them by window.

    Parameters
    ----------
    paths : sequence of path, optional
        The files `search` lists (a scene's id is then also the file name without its suffix).
    """

    key = "file"
    label = "GeoTIFF files"

    def __init__(self, paths: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.paths = {Path(p).name.split(".")[0]: Path(p) for p in paths}

    def path(self, scene_id: str) -> Path:
        """The file of a scene: its path, or the file listed under that id."""
        return self.paths.get(scene_id, Path(scene_id))

    def search(
        self,
        *,
        lon: float | None = None,
        lat: float | None = None,
        start: Any = None,
        end: Any = None,
        max_cloud: float = 100.0,
    ) -> gpd.GeoDataFrame:
        """The files (read whole) that contain the point, in the days, under the cloud limit."""
        table = scene_table([read_scene(p) for p in self.paths.values()])
        return filter_scenes(table, lon=lon, lat=lat, start=start, end=end, max_cloud=max_cloud)

    def load(
        self,
        scene_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
        *,
        crs: str | None = None,
    ) -> xr.DataArray:
        """The file read as a scene, cropped to ``bbox`` (in ``crs``, default the file's) if given."""
        scene = read_scene(self.path(scene_id))
        return scene if bbox is None else scene.rio.clip_box(*bbox, crs=crs or scene.rio.crs)

    def tiled_inputs(
        self,
        reference_id: str,
        secondary_id: str,
        band: str | None = None,
        bbox: tuple[float, ...] | None = None,
    ) -> tuple[Any, Any]:
        """The two paths (read window by window); a ``bbox`` loads the crops instead."""
        if bbox is not None:
            return super().tiled_inputs(reference_id, secondary_id, band, bbox)
        return str(self.path(reference_id)), str(self.path(secondary_id))

    def pixel_size(self, band: str | None = None) -> float | None:
        """Not known before a file is read."""
        return None

    def scene_name(self, scene_id: str) -> str:
        """The file name without its folder and suffix."""
        return Path(scene_id).name.split(".")[0]
