"""Read only the area of interest of a (cloud-optimized) GeoTIFF, local or over HTTP, as a `Scene`.

A COG is tiled, with its tile index at the start of the file, so GDAL fetches the header and then only the
tiles that cover the window, in a few HTTP range requests, instead of the whole file (a Landsat band is 50 to
100 MB; a 20 km box of it a few hundred kB). The scene keeps the file's own CRS and pixel grid: pairs are put on
one grid later by `tracking.scenes.Pair.from_scenes`.

With a `~tracking.sources.cache.DownloadCache` the crop is kept as a small GeoTIFF (with the ``ACQUISITION_TIME``,
``SENSOR``, ``BAND`` and ``SCENE_ID`` tags that `tracking.scenes.read_scene` reads), and the next call for the
same file, box and band reads it from disk without any request.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError, WindowError
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from tracking.exceptions import MissingAssetError, NoOverlapError, ParameterError, RemoteError
from tracking.scene_checks import check_memory
from tracking.scenes import make_scene
from tracking.sources import http
from tracking.sources.cache import DownloadCache

try:
    from rasterio._err import CPLE_BaseError
except ImportError:  # pragma: no cover - rasterio moved it
    CPLE_BaseError = RasterioError  # type: ignore[assignment,misc]

__all__ = ["read_aoi"]

#: Tolerance, in pixels, before a box edge counts as reaching into the next pixel (float round-off).
_EDGE_EPS = 1e-6
_GDAL_ERRORS = (RasterioError, CPLE_BaseError)


def read_aoi(
    href: str,
    bbox: tuple[float, float, float, float],
    *,
    bbox_crs: str | int | CRS | None = None,
    time: str | np.datetime64 | pd.Timestamp,
    sensor: str,
    band: str,
    scene_id: str,
    cache: DownloadCache | None = None,
    cache_key: str | None = None,
    band_index: int = 1,
    what: str | None = None,
) -> xr.DataArray:
    """Read the pixels of a GeoTIFF that cover a box, as a `Scene` in the file's CRS.

    Parameters
    ----------
    href : str
        The file: an ``https://`` URL (signed or not), ``s3://`` URL, or local path.
    bbox : (xmin, ymin, xmax, ymax)
        The area of interest, in ``bbox_crs``.
    bbox_crs : str, int or rasterio.crs.CRS, optional
        The CRS of ``bbox``, e.g. ``"EPSG:4326"``; defaults to the file's. A box in another CRS is transformed
        (its edges densified) to the file's CRS, and the window covers the transformed box.
    time : str or datetime-like
        Acquisition time (UTC).
    sensor, band, scene_id : str
        The scene's attrs.
    cache : DownloadCache, optional
        Keep the crop on disk and read it from there next time (no request at all).
    cache_key : str, optional
        The cache key; defaults to ``"<redacted href>|<bbox>|<bbox_crs>|<band_index>"``.
    band_index : int
        The band to read, from 1.
    what : str, optional
        What is read, for messages; defaults to ``"<scene_id> (<band>)"``.

    Returns
    -------
    xarray.DataArray
        The scene (float32, nodata as NaN) covering the box rounded outward to whole pixels and clipped to the
        raster, with the window's transform and the file's CRS.

    Raises
    ------
    NoOverlapError
        When the box lies outside the raster.
    ParameterError
        When the box is empty or inverted.
    NoNetworkError, AuthenticationError, MissingAssetError, RemoteError
        When the file cannot be read (see `tracking.sources.http.classify_gdal_error`).
    """
    xmin, ymin, xmax, ymax = (float(v) for v in bbox)
    if not (xmin < xmax and ymin < ymax):
        raise ParameterError(
            f"the area of interest {tuple(bbox)} is empty or inverted: give it as (xmin, ymin, xmax, ymax) with "
            "xmin < xmax and ymin < ymax."
        )
    what = what or f"{scene_id} ({band})"
    attrs = {"time": time, "sensor": sensor, "band": band, "scene_id": scene_id}
    key = None
    if cache is not None:
        key = cache_key or f"{http.redact(href)}|{tuple(bbox)}|{bbox_crs}|{band_index}"
        hit = cache.get(key, ".tif")
        if hit is not None:
            scene = _read_cached(hit, attrs)
            if scene is not None:
                return scene
    try:
        with http.gdal_env(), rasterio.open(href) as src:
            data, transform, crs = _read_window(src, (xmin, ymin, xmax, ymax), bbox_crs, band_index, what)
    except _GDAL_ERRORS as err:
        raise _remote_error(err, href, what) from None
    scene = make_scene(data, transform=transform, crs=crs, **attrs)
    if cache is not None and key is not None:
        cache.put(key, ".tif", lambda path: _write_crop(scene, path))
    return scene


def _read_window(
    src: rasterio.io.DatasetReader,
    bbox: tuple[float, float, float, float],
    bbox_crs: str | int | CRS | None,
    band_index: int,
    what: str,
) -> tuple[np.ndarray, Affine, CRS]:
    """The pixels of ``src`` covering ``bbox`` (float32, NaN nodata), their transform and the file's CRS."""
    if not 1 <= band_index <= src.count:
        raise MissingAssetError(
            f"{what}: the file has {src.count} band(s), so there is no band {band_index}: pick a band from 1 to "
            f"{src.count}."
        )
    bounds = bbox
    if bbox_crs is not None and src.crs is not None and CRS.from_user_input(bbox_crs) != src.crs:
        bounds = transform_bounds(CRS.from_user_input(bbox_crs), src.crs, *bbox, densify_pts=21)
    window = _pixel_window(bounds, src.transform, src.width, src.height)
    if window is None:
        left, bottom, right, top = src.bounds
        raise NoOverlapError(
            f"{what}: the area of interest {_fmt(bounds)} lies outside the scene, which covers "
            f"{_fmt((left, bottom, right, top))} in {src.crs}: move the point or box onto the scene, or pick "
            "another scene."
        )
    check_memory(what, int(window.height), int(window.width))  # before a pixel comes over the network
    data = src.read(band_index, window=window, masked=True)
    values = np.ma.filled(data.astype(np.float32), np.nan)
    return values, src.window_transform(window), src.crs


def _pixel_window(
    bounds: tuple[float, float, float, float], transform: Affine, width: int, height: int
) -> Window | None:
    """The whole-pixel window covering ``bounds``, clipped to the raster; None if they do not intersect."""
    try:
        exact = from_bounds(*bounds, transform=transform)
    except WindowError:
        return None
    col0 = max(math.floor(exact.col_off + _EDGE_EPS), 0)
    row0 = max(math.floor(exact.row_off + _EDGE_EPS), 0)
    col1 = min(math.ceil(exact.col_off + exact.width - _EDGE_EPS), width)
    row1 = min(math.ceil(exact.row_off + exact.height - _EDGE_EPS), height)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def _fmt(bounds: tuple[float, float, float, float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"


def _remote_error(err: BaseException, href: str, what: str) -> RemoteError:
    """The icetrack error for a GDAL failure on ``href``.

    GDAL reports the HTTP status when opening fails, but a failed tile read says only "Read failed": then one
    quick range request on the href finds out why (401, 404, 5xx, or no network).
    """
    error = http.classify_gdal_error(err if isinstance(err, Exception) else Exception(str(err)), href, what)
    if type(error) is RemoteError and str(href).startswith(("http://", "https://")):
        try:
            probe = http.get(
                href,
                what=what,
                session=http.session(retries=0),
                headers={"Range": "bytes=0-0"},
                timeout=(5.0, 10.0),
                stream=True,
            )
            probe.close()
        except RemoteError as found:
            return found
    return error


def _read_cached(path: Path, attrs: dict[str, object]) -> xr.DataArray | None:
    """The scene in a cached crop; None (and the entry removed) if it cannot be read."""
    try:
        with rasterio.open(path) as src:
            data = np.ma.filled(src.read(1, masked=True).astype(np.float32), np.nan)
            transform, crs = src.transform, src.crs
    except _GDAL_ERRORS:
        path.unlink(missing_ok=True)  # a damaged entry: read the remote file again
        return None
    return make_scene(data, transform=transform, crs=crs, **attrs)  # type: ignore[arg-type]


def _write_crop(scene: xr.DataArray, path: Path) -> None:
    """Write ``scene`` as a small tiled GeoTIFF with the tags `tracking.scenes.read_scene` reads."""
    rows, cols = scene.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": "float32",
        "crs": scene.rio.crs,
        "transform": scene.rio.transform(),
        "nodata": np.nan,
        "compress": "deflate",
        "predictor": 3,
    }
    if rows >= 256 and cols >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(scene.values, 1)
        dst.set_band_description(1, str(scene.attrs["band"]))
        dst.update_tags(
            ACQUISITION_TIME=scene.attrs["time"],
            SENSOR=scene.attrs["sensor"],
            BAND=scene.attrs["band"],
            SCENE_ID=scene.attrs["scene_id"],
        )
