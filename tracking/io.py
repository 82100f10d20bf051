"""Write and read VelocityFields: CF-1.8 NetCDF and Cloud-Optimized GeoTIFF.

NetCDF keeps everything: float32 variables (zlib), bool flags as uint8 with ``flag_values``/``flag_meanings``,
the CRS in the grid-mapping variable ``spatial_ref`` (``crs_wkt``, ``spatial_epsg``, and a GDAL pixel-*corner*
``GeoTransform``, unlike ITS_LIVE granules whose ``GeoTransform`` holds the centre of the first pixel; read
``x``/``y`` to be safe), and every attr. A GeoTIFF holds the chosen variables as float32 bands (NaN nodata),
named by their band descriptions, with the attrs as JSON in the ``ICETRACK_ATTRS`` tag.

Every write is atomic: the file is written to a temporary in the destination directory and moved into place with
`os.replace`, so a reader never sees half a file and a failed write leaves any previous file untouched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from rasterio.errors import RasterioError

from tracking.exceptions import FieldReadError
from tracking.files import atomic_path
from tracking.schema import COORD_ATTRS

__all__ = [
    "ATTRS_TAG",
    "GEOTIFF_SUFFIXES",
    "NETCDF_SUFFIXES",
    "read_field",
    "write_geotiff",
    "write_netcdf",
]

NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".cdf")
GEOTIFF_SUFFIXES = (".tif", ".tiff", ".gtiff", ".cog")
#: GeoTIFF tag holding the field's attrs as JSON.
ATTRS_TAG = "ICETRACK_ATTRS"
_BOOL_TAG = "ICETRACK_DTYPE"
_COMPRESSION = {"zlib": True, "complevel": 4, "shuffle": True}


# --- NetCDF ---------------------------------------------------------------------------------------------------------


def write_netcdf(field: xr.Dataset, path: str | os.PathLike[str]) -> Path:
    """Write a VelocityField as CF-1.8 NetCDF-4, atomically.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField (`tracking.velocity.velocity_field`).
    path : str or path-like
        Destination file; replaced if it exists.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    ds, encoding = _netcdf_ready(field)
    with atomic_path(path, write_only=True) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
    return path


def _netcdf_ready(field: xr.Dataset) -> tuple[xr.Dataset, dict[str, dict[str, Any]]]:
    """A copy of ``field`` fit for netCDF (bools as uint8 flags, safe attrs) and its encoding."""
    ds = field.copy()
    ds.attrs = _safe_attrs(ds.attrs)
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.data_vars.items():
        attrs = {**_safe_attrs(var.attrs), "grid_mapping": "spatial_ref"}
        var.encoding = {}
        if var.dtype == bool:
            ds[name] = var.astype(np.uint8)
            attrs["flag_values"] = np.array([0, 1], dtype=np.uint8)
            attrs.setdefault("flag_meanings", "false true")
            encoding[str(name)] = {**_COMPRESSION, "dtype": "uint8", "_FillValue": None}
        else:
            encoding[str(name)] = {**_COMPRESSION, "dtype": "float32", "_FillValue": np.float32(np.nan)}
        ds[name].attrs = attrs
    for axis in ("x", "y"):
        if axis in ds.coords:
            ds[axis].encoding = {}
            encoding[axis] = {"dtype": "float64", "_FillValue": None}
    return ds, encoding


def _safe_attrs(attrs: dict[Any, Any]) -> dict[str, Any]:
    """Attrs netCDF can store: None -> "none", bool -> "true"/"false", others as they are."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if value is None:
            value = "none"
        elif isinstance(value, bool | np.bool_):
            value = "true" if value else "false"
        out[str(key)] = value
    return out


def _read_netcdf(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="netcdf4", decode_coords="all") as opened:
        ds = opened.load()
    for name, var in ds.data_vars.items():
        flags = var.attrs.get("flag_values")
        if flags is not None and list(np.ravel(flags)) == [0, 1]:
            attrs = {k: v for k, v in var.attrs.items() if k != "flag_values"}
            ds[name] = var.astype(bool)
            ds[name].attrs = attrs
        ds[name].attrs.pop("grid_mapping", None)
        ds[name].encoding["grid_mapping"] = "spatial_ref"
    return ds


# --- GeoTIFF --------------------------------------------------------------------------------------------------------


def write_geotiff(
    field: xr.Dataset,
    path: str | os.PathLike[str],
    variables: Sequence[str] = ("vx", "vy", "v"),
) -> Path:
    """Write variables of a VelocityField as a Cloud-Optimized GeoTIFF, one float32 band each, atomically.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField.
    path : str or path-like
        Destination file; replaced if it exists.
    variables : sequence of str
        The variables to write, in band order; bool ones are written as 0/1 and read back as bool.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    missing = [name for name in variables if name not in field.data_vars]
    if missing or not variables:
        raise ValueError(
            f"cannot write {missing or 'no variables'}: the field has {', '.join(map(str, field.data_vars))}."
        )
    profile = {
        "driver": "COG",
        "width": field.sizes["x"],
        "height": field.sizes["y"],
        "count": len(variables),
        "dtype": "float32",
        "crs": field.rio.crs,
        "transform": field.rio.transform(),
        "nodata": np.nan,
        "compress": "deflate",
        "predictor": "yes",
    }
    with atomic_path(path, write_only=True) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        for band, name in enumerate(variables, start=1):
            var = field[name].transpose("y", "x")
            dst.write(var.values.astype(np.float32), band)
            dst.set_band_description(band, name)
            tags = {k: str(v) for k, v in var.attrs.items() if k not in ("grid_mapping", "_FillValue")}
            if var.dtype == bool:
                tags[_BOOL_TAG] = "bool"
            dst.update_tags(band, **tags)
        attrs = _safe_attrs(field.attrs)
        dst.update_tags(**{k: _tag_text(v) for k, v in attrs.items()})
        dst.update_tags(**{ATTRS_TAG: json.dumps(attrs, default=_json_default)})
    return path


def _tag_text(value: Any) -> str:
    if isinstance(value, np.ndarray | list | tuple):
        return " ".join(str(v) for v in np.ravel(value))
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in GeoTIFF tags")


def _read_geotiff(path: Path) -> xr.Dataset:
    with rasterio.open(path) as src:
        transform: Affine = src.transform
        rows, cols = src.height, src.width
        x = transform.c + transform.a * (np.arange(cols) + 0.5)
        y = transform.f + transform.e * (np.arange(rows) + 0.5)
        variables: dict[str, Any] = {}
        for band in range(1, src.count + 1):
            name = src.descriptions[band - 1] or f"band_{band}"
            tags = src.tags(band)
            values = src.read(band).astype(np.float32)
            if tags.pop(_BOOL_TAG, None) == "bool":
                values = values == 1
            variables[name] = (("y", "x"), values, tags)
        attrs = _attrs_from_tags(src.tags())
        crs = src.crs
    ds = xr.Dataset(
        variables,
        coords={
            "y": ("y", y, dict(COORD_ATTRS["y"], units="m")),
            "x": ("x", x, dict(COORD_ATTRS["x"], units="m")),
        },
        attrs=attrs,
    )
    if crs is not None:
        ds = ds.rio.write_crs(crs, grid_mapping_name="spatial_ref")
        epsg = crs.to_epsg()
        if epsg is not None:
            ds["spatial_ref"].attrs["spatial_epsg"] = int(epsg)
    return ds.rio.write_transform(transform)


def _attrs_from_tags(tags: dict[str, str]) -> dict[str, Any]:
    if ATTRS_TAG not in tags:
        return {k: v for k, v in tags.items() if k != "AREA_OR_POINT"}
    attrs = json.loads(tags[ATTRS_TAG])
    return {k: np.asarray(v) if isinstance(v, list) else v for k, v in attrs.items()}


# --- either ---------------------------------------------------------------------------------------------------------


def read_field(path: str | os.PathLike[str]) -> xr.Dataset:
    """Read a VelocityField written by `write_netcdf` or `write_geotiff` (bools and CRS restored).

    Parameters
    ----------
    path : str or path-like
        A NetCDF or GeoTIFF file; the format is told from the file's first bytes.

    Returns
    -------
    xarray.Dataset
        The field, loaded into memory (the file is closed).

    Raises
    ------
    FileNotFoundError
        No such file.
    FieldReadError
        The file is empty, is not NetCDF or GeoTIFF, is truncated, or has no ``vx`` and ``vy``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    with path.open("rb") as f:
        magic = f.read(4)
    if not magic:
        raise FieldReadError(f"{path} is empty (0 bytes): write or download the velocity field again.")
    try:
        field = _read_netcdf(path) if magic.startswith((b"\x89HDF", b"CDF")) else _read_geotiff(path)
    except (OSError, ValueError, RasterioError) as err:
        raise FieldReadError(
            f"{path}: not a velocity field icetrack can read: not NetCDF or GeoTIFF, or truncated ({err}); give "
            "a file written by 'icetrack track' or 'icetrack itslive field'."
        ) from None
    missing = [name for name in ("vx", "vy") if name not in field.data_vars]
    if missing:
        raise FieldReadError(
            f"{path}: not a velocity field: no {' or '.join(missing)} among its variables "
            f"({', '.join(map(str, field.data_vars)) or 'none'}); give a file written by 'icetrack track' or "
            "'icetrack itslive field'."
        )
    return field
