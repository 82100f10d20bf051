"""One ITS_LIVE granule: a V2 image-pair NetCDF read as a VelocityField (`load_granule`).

The file is local or downloaded once through the cache; its velocities, masks, projection, pair dates and
sensors become our variable names and attrs (`tracking.velocity`), optionally cropped to a box, so it plots
and samples like our own fields.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from pyproj.exceptions import CRSError

from tracking.exceptions import NoOverlapError, ParameterError, SceneReadError
from tracking.schema import COORD_ATTRS, VARIABLE_ATTRS
from tracking.sources import http
from tracking.sources.itslive.common import (
    FILL_VALUE,
    SOURCE,
    default_cache,
    https_url,
    parse_time,
    sensor_name,
)
from tracking.times import DAYS_PER_YEAR

if TYPE_CHECKING:
    from tracking.sources.cache import DownloadCache

__all__ = ["load_granule"]

_GRANULE_VARIABLES = ("vx", "vy")


def load_granule(
    source: str | os.PathLike[str],
    *,
    bbox: tuple[float, float, float, float] | None = None,
    bbox_crs: str = "EPSG:4326",
    cache: DownloadCache | None = None,
) -> xr.Dataset:
    """Read an ITS_LIVE V2 granule NetCDF as a VelocityField.

    Parameters
    ----------
    source : str or path-like
        A local file, or an ``https://`` (or ``s3://its-live-data/``) URL, downloaded once into ``cache``.
    bbox : (xmin, ymin, xmax, ymax), optional
        Keep only the grid nodes in this box (in ``bbox_crs``, transformed into the granule's projection).
    bbox_crs : str
        The CRS of ``bbox``.
    cache : DownloadCache, optional
        Where a URL is downloaded to; default ``DownloadCache()``.

    Returns
    -------
    xarray.Dataset
        A VelocityField (`tracking.velocity`): ``vx``, ``vy``, ``v`` (float32 m/yr, NaN at fill), ``dx``,
        ``dy`` (float32 px offsets over the pair, derived from the velocities), ``peak`` and ``snr`` (NaN:
        ITS_LIVE does not publish them), ``valid`` (measured) and ``interpolated`` (``interp_mask``); the CRS
        in ``spatial_ref``; attrs ``acquisition_date_img1/2``, ``date_center`` (ISO), ``date_dt`` (days),
        ``id_img1/2``, ``sensor_img1/2``, ``satellite``, ``source="ITS_LIVE"``, ``label``, ``granule_id``,
        ``v_error`` (m/yr, NaN if unknown), ``roi_valid_percentage`` and ``title``.

    Raises
    ------
    SceneReadError
        The file is not an ITS_LIVE V2 granule (a `TrackingError`).
    NoOverlapError
        ``bbox`` misses the granule.
    NoNetworkError, MissingAssetError, RemoteError
        The download failed.
    """
    path, name = _local_granule(source, cache)
    try:
        ds = xr.open_dataset(path, engine="netcdf4", decode_times=False, decode_timedelta=False)
    except (OSError, ValueError, TypeError) as err:
        raise SceneReadError(
            f"{name} is not a NetCDF file xarray can read ({err}): give an ITS_LIVE V2 granule "
            "(*_G0120V02_*.nc)."
        ) from None
    with ds:
        return _granule_field(ds, name, bbox, bbox_crs)


def _local_granule(source: str | os.PathLike[str], cache: DownloadCache | None) -> tuple[Path, str]:
    text = os.fspath(source)
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https", "s3"):
        url = https_url(text)
        if urlsplit(url).scheme not in ("http", "https"):
            raise ParameterError(
                f"cannot download {http.redact(url)}: only http(s) and s3://its-live-data URLs."
            )
        name = Path(urlsplit(url).path).name
        store = cache if cache is not None else default_cache()
        return Path(store.fetch(url, what=f"ITS_LIVE granule {name}")), Path(name).stem
    path = Path(text)
    if not path.is_file():
        raise SceneReadError(f"no such granule file: {path}.")
    return path, path.stem


def _granule_field(
    ds: xr.Dataset, name: str, bbox: tuple[float, float, float, float] | None, bbox_crs: str
) -> xr.Dataset:
    missing = [v for v in ("vx", "vy", "img_pair_info", "mapping") if v not in ds.variables]
    if missing or "x" not in ds.coords or "y" not in ds.coords:
        what = ", ".join(missing) or "x/y coordinates"
        raise SceneReadError(
            f"{name} is not an ITS_LIVE V2 granule (it lacks {what}): give an image-pair velocity file "
            "(*_G0120V02_*.nc) from ITS_LIVE."
        )
    crs = _granule_crs(ds["mapping"].attrs, ds.attrs, name)
    info = ds["img_pair_info"].attrs
    x_all = np.asarray(ds["x"].values, dtype=np.float64)
    y_all = np.asarray(ds["y"].values, dtype=np.float64)
    if x_all.size < 1 or y_all.size < 1:
        raise SceneReadError(f"{name} has an empty grid.")
    rows, cols = slice(None), slice(None)
    if bbox is not None:
        rows, cols = _crop(x_all, y_all, bbox, bbox_crs, crs, name)
    sub = ds.isel(y=rows, x=cols)
    x = np.asarray(sub["x"].values, dtype=np.float64)
    y = np.asarray(sub["y"].values, dtype=np.float64)

    vx, vy = _velocity(sub, "vx"), _velocity(sub, "vy")
    v = _velocity(sub, "v") if "v" in sub else np.hypot(vx, vy)
    v = np.where(np.isfinite(v), v, np.hypot(vx, vy))
    measured = np.isfinite(vx) & np.isfinite(vy)
    if "interp_mask" in sub:
        mask = np.asarray(sub["interp_mask"].transpose("y", "x").values)
        flagged = np.isfinite(mask) & (mask == 1) if mask.dtype.kind == "f" else mask == 1
    else:
        flagged = np.zeros(measured.shape, dtype=bool)
    valid, interpolated = measured & ~flagged, measured & flagged

    t0, t1 = parse_time(info.get("acquisition_date_img1")), parse_time(info.get("acquisition_date_img2"))
    if t0 is None or t1 is None:
        raise SceneReadError(
            f"{name} lacks the image acquisition dates (img_pair_info.acquisition_date_img1/2)."
        )
    dt_days = _float(info.get("date_dt"))
    if not (math.isfinite(dt_days) and dt_days > 0):
        dt_days = (t1 - t0) / pd.Timedelta(days=1)
    centre = parse_time(info.get("date_center")) or t0 + (t1 - t0) / 2
    spacing_x = float(abs(x_all[1] - x_all[0])) if x_all.size > 1 else _geotransform_step(ds, 1)
    spacing_y = float(abs(y_all[1] - y_all[0])) if y_all.size > 1 else _geotransform_step(ds, 5)
    step_y = spacing_y if y.size > 1 and y[1] > y[0] else -spacing_y  # rows grow southward when y decreases
    transform = Affine(spacing_x, 0.0, float(x[0]) - spacing_x / 2, 0.0, step_y, float(y[0]) - step_y / 2)
    # the offsets over the pair that `tracking.velocity.offsets_to_velocity` turns back into vx, vy
    years = dt_days / DAYS_PER_YEAR
    dx = np.where(measured, vx * years / transform.a, np.nan)
    dy = np.where(measured, vy * years / transform.e, np.nan)

    dims = ("y", "x")
    offset_note = "derived from the ITS_LIVE velocities (ITS_LIVE publishes no raw offsets)"
    data = {
        "vx": vx,
        "vy": vy,
        "v": v,
        "dx": dx,
        "dy": dy,
        "peak": np.full(vx.shape, np.nan),
        "snr": np.full(vx.shape, np.nan),
    }
    variables: dict[str, tuple[Any, ...]] = {}
    for key, values in data.items():
        attrs = dict(VARIABLE_ATTRS[key])
        if key in ("dx", "dy"):
            attrs["description"] = offset_note
        elif key in ("peak", "snr"):
            attrs["description"] = "not published by ITS_LIVE"
        variables[key] = (dims, np.asarray(values, dtype=np.float32), attrs)
    variables["valid"] = (dims, valid, VARIABLE_ATTRS["valid"])
    variables["interpolated"] = (dims, interpolated, VARIABLE_ATTRS["interpolated"])

    sensors = (
        sensor_name(info.get("mission_img1"), info.get("satellite_img1"), info.get("id_img1")),
        sensor_name(info.get("mission_img2"), info.get("satellite_img2"), info.get("id_img2")),
    )
    satellite = str(
        ds.attrs.get("satellite") or (sensors[0] if sensors[0] == sensors[1] else " and ".join(sensors))
    )
    title = str(ds.attrs.get("title") or "autoRIFT surface velocities")
    attrs: dict[str, Any] = {
        "Conventions": "CF-1.8",
        "title": title if "ITS_LIVE" in title else f"ITS_LIVE {title}",
        "source": SOURCE,
        "source_description": str(ds.attrs.get("source", "")),
        "institution": str(ds.attrs.get("institution", "")),
        "references": "ITS_LIVE, NASA MEaSUREs (https://its-live.jpl.nasa.gov)",
        "granule_id": name,
        "label": f"{SOURCE} {t0:%Y-%m-%d} → {t1:%Y-%m-%d}",
        "GDAL_AREA_OR_POINT": "Area",
        "scene_pair_type": str(ds.attrs.get("scene_pair_type", "optical")),
        "motion_detection_method": str(ds.attrs.get("motion_detection_method", "feature")),
        "motion_coordinates": "map",
        "satellite": satellite,
        "sensor_img1": sensors[0],
        "sensor_img2": sensors[1],
        "id_img1": str(info.get("id_img1", "")),
        "id_img2": str(info.get("id_img2", "")),
        "acquisition_date_img1": t0.isoformat(),
        "acquisition_date_img2": t1.isoformat(),
        "date_center": centre.isoformat(),
        "date_dt": float(dt_days),
        "image_geotransform": np.array(transform.to_gdal(), dtype=np.float64),
        "roi_valid_percentage": _float(info.get("roi_valid_percentage"), float(100.0 * measured.mean())),
        "v_error": _granule_error(sub),
    }
    if "autoRIFT_software_version" in ds.attrs:
        attrs["autoRIFT_software_version"] = str(ds.attrs["autoRIFT_software_version"])
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    units = "m" if unit in ("metre", "meter") else unit
    field = xr.Dataset(
        variables,
        coords={
            "y": ("y", y, {**COORD_ATTRS["y"], "units": units}),
            "x": ("x", x, {**COORD_ATTRS["x"], "units": units}),
        },
        attrs=attrs,
    )
    field = field.rio.write_crs(crs.to_wkt(), grid_mapping_name="spatial_ref")
    field = field.rio.write_transform(transform)
    epsg = crs.to_epsg()
    if epsg is not None:
        field["spatial_ref"].attrs["spatial_epsg"] = int(epsg)
    return field


def _granule_crs(mapping: Mapping[str, Any], attrs: Mapping[str, Any], name: str) -> ProjCRS:
    """The granule's CRS from its ``mapping`` variable: ``spatial_epsg``, else ``crs_wkt``/``spatial_ref``."""
    candidates: list[Any] = []
    epsg = mapping.get("spatial_epsg")
    if epsg is not None and _float(epsg) > 0:
        candidates.append(int(_float(epsg)))
    candidates += [mapping.get("crs_wkt"), mapping.get("spatial_ref"), attrs.get("projection")]
    for candidate in candidates:
        if candidate is None or (isinstance(candidate, str) and not candidate.strip()):
            continue
        try:
            if isinstance(candidate, int):
                return ProjCRS.from_epsg(candidate)
            text = str(candidate).strip()
            return ProjCRS.from_epsg(int(text)) if text.isdigit() else ProjCRS.from_user_input(text)
        except (CRSError, ValueError):
            continue
    raise SceneReadError(
        f"{name} has no usable projection in its 'mapping' variable (spatial_epsg or crs_wkt)."
    )


def _crop(
    x: np.ndarray,
    y: np.ndarray,
    bbox: tuple[float, float, float, float],
    bbox_crs: str,
    crs: ProjCRS,
    name: str,
) -> tuple[slice, slice]:
    try:
        source = ProjCRS.from_user_input(bbox_crs)
    except CRSError as err:
        raise ParameterError(f"bbox_crs {bbox_crs!r} is not a CRS ({err}).") from None
    west, south, east, north = (float(v) for v in bbox)
    if not (west < east and south < north):
        raise ParameterError(
            f"bbox must be (xmin, ymin, xmax, ymax) with xmin < xmax and ymin < ymax, got {bbox}."
        )
    if source != crs:
        transformer = Transformer.from_crs(source, crs, always_xy=True)
        west, south, east, north = transformer.transform_bounds(west, south, east, north, densify_pts=21)
    half_x = 0.5 * (float(abs(x[1] - x[0])) if x.size > 1 else 0.0)
    half_y = 0.5 * (float(abs(y[1] - y[0])) if y.size > 1 else 0.0)
    in_x = np.nonzero((x >= west - half_x) & (x <= east + half_x))[0]
    in_y = np.nonzero((y >= south - half_y) & (y <= north + half_y))[0]
    if in_x.size == 0 or in_y.size == 0:
        raise NoOverlapError(
            f"the box {tuple(round(float(v), 4) for v in bbox)} ({bbox_crs}) does not overlap the granule "
            f"{name}: pick a box inside its footprint."
        )
    return slice(int(in_y.min()), int(in_y.max()) + 1), slice(int(in_x.min()), int(in_x.max()) + 1)


def _velocity(ds: xr.Dataset, name: str) -> np.ndarray:
    """A velocity variable as float64, NaN at the fill value (decoded or not)."""
    values = np.asarray(ds[name].transpose("y", "x").values, dtype=np.float64)
    return np.where(values == FILL_VALUE, np.nan, values)


def _granule_error(ds: xr.Dataset) -> float:
    """The granule's velocity error, m/yr: median of ``v_error``, else the ``error`` attr of vx/vy."""
    if "v_error" in ds:
        values = _velocity(ds, "v_error")
        finite = values[np.isfinite(values)]
        if finite.size:
            return float(np.median(finite))
    errors = [_float(ds[name].attrs.get("error")) for name in _GRANULE_VARIABLES if name in ds]
    errors = [e for e in errors if math.isfinite(e)]
    return float(max(errors)) if errors else float("nan")


def _geotransform_step(ds: xr.Dataset, index: int) -> float:
    text = str(ds["mapping"].attrs.get("GeoTransform", ""))
    try:
        return abs(float(text.split()[index]))
    except (IndexError, ValueError):
        return 120.0


def _float(value: Any, default: float = float("nan")) -> float:
    try:
        out = float(np.asarray(value).ravel()[0]) if value is not None else default
    except (TypeError, ValueError, IndexError):
        return default
    return out
