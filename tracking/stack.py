"""A time-series stack: the per-pair VelocityFields of one area, on one grid, as a Zarr cube.

`stack` gathers the fields a batch wrote (`tracking.batch`) into a cube on dims ``(mid_date, y, x)`` with the
per-pair dates, sensors, ids and error estimates as coordinates and the shared parameters as attrs, written
atomically; `open_stack` reads one back and `stack_fields` turns it into the per-pair VelocityFields that
`tracking.timeseries.sample_fields` samples.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from tracking.exceptions import TrackingError
from tracking.files import atomic_path
from tracking.times import utc_naive

__all__ = ["QUALITY_COORDS", "STACK_COORDS", "STACK_VARIABLES", "open_stack", "stack", "stack_fields"]

#: Variables of a stack, on dims (mid_date, y, x).
#: Error estimates of each pair (`tracking.quality.assess`) kept in a stack, NaN when a field has none.
QUALITY_COORDS = (
    "v_error",
    "stable_shift_x",
    "stable_shift_y",
    "stable_spread_x",
    "stable_spread_y",
    "metric_static_terrain_x",
    "metric_static_terrain_y",
)
STACK_VARIABLES = ("vx", "vy", "v", "dx", "dy", "peak", "valid", "interpolated")
#: Per-pair coordinates of a stack, on dim mid_date (besides mid_date itself).
STACK_COORDS = (
    "date_dt",
    "acquisition_date_img1",
    "acquisition_date_img2",
    "sensor_img1",
    "sensor_img2",
    "id_img1",
    "id_img2",
    "roi_valid_percentage",
    *QUALITY_COORDS,
)
_TIME_COORDS = ("acquisition_date_img1", "acquisition_date_img2")
#: Bytes of one variable's chunk in a stack (several pairs' layers per chunk when the grid is small).
_CHUNK_BYTES = 32 * 2**20
_TIME_ENCODING = {
    "units": "nanoseconds since 1970-01-01",
    "calendar": "proleptic_gregorian",
    "dtype": "int64",
}
_PER_PAIR_ATTRS = {*STACK_COORDS, "date_center", "date_created", "satellite", "pair_key"}


def stack(
    out_dir_or_paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    zarr_path: str | os.PathLike[str],
) -> xr.Dataset:
    """Stack per-pair VelocityFields on one grid into a Zarr time-series cube, atomically.

    The fields are read a chunk of pairs at a time, so memory stays bounded however many there are.

    Parameters
    ----------
    out_dir_or_paths : path or iterable of paths
        A folder of ``.nc`` fields (as `run_batch` writes them), or the field files.
    zarr_path : path
        The Zarr store to write; it replaces any store there once complete (written to a temporary folder
        beside it first, then renamed).

    Returns
    -------
    xarray.Dataset
        The stack as written, opened from ``zarr_path`` (lazily): dims ``(mid_date, y, x)`` sorted by
        ``mid_date``; variables `STACK_VARIABLES`; per-pair coordinates `STACK_COORDS` on ``mid_date``; the
        attrs the fields share (the ``param_<name>`` parameters among them); the CRS in ``spatial_ref``.

    Raises
    ------
    TrackingError
        No field to stack, or fields on different grids (other area, step or CRS).
    """
    paths = _field_paths(out_dir_or_paths)
    heads = [_field_header(path) for path in paths]
    _check_one_grid(heads, paths)
    order = sorted(
        range(len(paths)), key=lambda k: (heads[k]["mid_date"], heads[k]["date_dt"], heads[k]["id_img1"])
    )
    target = Path(zarr_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, directory=True) as tmp:
        first = _load_layer(paths[order[0]])
        rows, cols = first.sizes["y"], first.sizes["x"]
        per_chunk = max(1, min(len(order), _CHUNK_BYTES // (4 * rows * cols)))
        template = _template(first, [heads[k] for k in order], per_chunk)
        encoding = {name: dict(_TIME_ENCODING) for name in (*_TIME_COORDS, "mid_date")}
        template.to_zarr(tmp, mode="w", compute=False, zarr_format=2, consolidated=True, encoding=encoding)
        for start in range(0, len(order), per_chunk):
            group = order[start : start + per_chunk]
            layers = [first if k == order[0] else _load_layer(paths[k]) for k in group]
            block = xr.concat(
                layers,
                dim="mid_date",
                coords="minimal",
                compat="override",
                join="override",
                combine_attrs="drop",
            )
            block = block.drop_vars(list(block.coords))
            block.to_zarr(tmp, region={"mid_date": slice(start, start + len(group))}, zarr_format=2)
        if target.exists() and not (target / ".zgroup").exists() and not (target / "zarr.json").exists():
            raise TrackingError(
                f"{target} exists and is not a Zarr store: choose another path for the stack."
            )
    return open_stack(target)


def open_stack(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a stack written by `stack` (lazily), with its CRS and boolean flags.

    Parameters
    ----------
    path : path
        The Zarr store.

    Returns
    -------
    xarray.Dataset
    """
    path = Path(path)
    if not path.is_dir():
        raise TrackingError(
            f"{path}: no such Zarr stack: write one with 'icetrack batch --stack' or stack()."
        )
    return xr.open_zarr(path, decode_coords="all", consolidated=True)


def stack_fields(ds: xr.Dataset) -> list[xr.Dataset]:
    """The per-pair VelocityFields of a stack, in ``mid_date`` order.

    Each has the variables of the stack on ``(y, x)``, the CRS, and the attrs `tracking.timeseries.sample_fields`
    reads (``acquisition_date_img1/2``, ``date_dt``, ``date_center``, ...), so that
    ``sample_fields(stack_fields(open_stack(path)), points)`` gives the stack's series at points.

    Parameters
    ----------
    ds : xarray.Dataset
        A stack (`open_stack` or `stack`).

    Returns
    -------
    list of xarray.Dataset
    """
    crs = ds.rio.crs
    transform = ds.rio.transform()
    per_pair = [name for name in STACK_COORDS if name in ds.coords]
    values = {name: ds[name].values for name in (*per_pair, "mid_date")}  # one read of each coordinate
    fields = []
    for i in range(ds.sizes["mid_date"]):
        attrs = dict(ds.attrs)
        for name in per_pair:
            value = values[name][i]
            attrs[name] = pd.Timestamp(value).isoformat() if name in _TIME_COORDS else _plain(value)
        attrs["date_center"] = pd.Timestamp(values["mid_date"][i]).isoformat()
        one = ds.isel(mid_date=i).drop_vars(["mid_date", *per_pair])
        one.attrs = attrs
        fields.append(one.rio.write_crs(crs, grid_mapping_name="spatial_ref").rio.write_transform(transform))
    return fields


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _field_paths(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(source, str | os.PathLike):
        folder = Path(source)
        if not folder.is_dir():
            raise TrackingError(f"{folder}: no such folder of velocity fields.")
        paths = sorted(folder.glob("*.nc"))
    else:
        paths = [Path(p) for p in source]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise TrackingError(f"no such velocity field file: {', '.join(missing)}.")
    if not paths:
        raise TrackingError(f"no velocity field (.nc) to stack in {source}: run the batch first.")
    return paths


def _field_header(path: Path) -> dict[str, Any]:
    """What the stack needs of a field before its pixels: its grid, CRS, times and attrs (a light read)."""
    import netCDF4

    try:
        with netCDF4.Dataset(path) as nc:
            attrs = {key: nc.getncattr(key) for key in nc.ncattrs()}
            x, y = np.asarray(nc["x"][:]), np.asarray(nc["y"][:])
            wkt = nc["spatial_ref"].getncattr("crs_wkt") if "spatial_ref" in nc.variables else ""
    except (OSError, KeyError, IndexError) as err:
        raise TrackingError(f"{path}: not a velocity field written by icetrack ({err}).") from None
    missing = [key for key in ("acquisition_date_img1", "acquisition_date_img2") if key not in attrs]
    if missing:
        raise TrackingError(
            f"{path}: the field lacks the attrs {', '.join(missing)}: stack fields made by icetrack."
        )
    t0, t1 = utc_naive(str(attrs["acquisition_date_img1"])), utc_naive(str(attrs["acquisition_date_img2"]))
    mid = utc_naive(str(attrs["date_center"])) if "date_center" in attrs else t0 + (t1 - t0) / 2
    return {
        "x": x,
        "y": y,
        "crs_wkt": wkt,
        "attrs": attrs,
        "mid_date": mid.to_datetime64(),
        "date_dt": float(attrs.get("date_dt", (t1 - t0) / pd.Timedelta(days=1))),
        "acquisition_date_img1": t0.to_datetime64(),
        "acquisition_date_img2": t1.to_datetime64(),
        "sensor_img1": str(attrs.get("sensor_img1", "unknown")),
        "sensor_img2": str(attrs.get("sensor_img2", "unknown")),
        "id_img1": str(attrs.get("id_img1", "")),
        "id_img2": str(attrs.get("id_img2", "")),
        "roi_valid_percentage": float(attrs.get("roi_valid_percentage", np.nan)),
        **{name: float(attrs.get(name, np.nan)) for name in QUALITY_COORDS},
    }


def _check_one_grid(heads: list[dict[str, Any]], paths: list[Path]) -> None:
    from rasterio.crs import CRS

    first = heads[0]
    crs = CRS.from_wkt(first["crs_wkt"]) if first["crs_wkt"] else None
    for head, path in zip(heads, paths, strict=True):
        same = (
            head["x"].shape == first["x"].shape
            and head["y"].shape == first["y"].shape
            and np.allclose(head["x"], first["x"])
            and np.allclose(head["y"], first["y"])
            and (
                head["crs_wkt"] == first["crs_wkt"]
                or (crs is not None and CRS.from_wkt(head["crs_wkt"]) == crs)
            )
        )
        if not same:
            raise TrackingError(
                f"{path.name} is not on the grid of {paths[0].name} (other area, step or CRS): stack fields "
                "tracked over the same area with the same step (one 'icetrack batch' run gives such fields)."
            )


def _load_layer(path: Path) -> xr.Dataset:
    """A field's stacked variables, in memory."""
    from tracking.io import read_field

    field = read_field(path)
    return field[[name for name in STACK_VARIABLES if name in field]]


def _template(first: xr.Dataset, heads: list[dict[str, Any]], per_chunk: int) -> xr.Dataset:
    """The stack's layout: per-pair coordinates written at once, variables as lazy placeholders to fill."""
    import dask.array

    full = first.rio.write_crs(first.rio.crs)  # read_field restored the CRS; keep it for the template
    n, rows, cols = len(heads), first.sizes["y"], first.sizes["x"]
    variables = {
        name: (
            ("mid_date", "y", "x"),
            dask.array.empty((n, rows, cols), chunks=(per_chunk, rows, cols), dtype=first[name].dtype),
            {k: v for k, v in first[name].attrs.items() if k not in ("grid_mapping", "flag_values")},
        )
        for name in first.data_vars
    }
    coords: dict[str, Any] = {
        "mid_date": (
            "mid_date",
            np.array([h["mid_date"] for h in heads], dtype="datetime64[ns]"),
            {"long_name": "midpoint between the acquisitions of the pair"},
        ),
        "x": ("x", first["x"].values, dict(first["x"].attrs)),
        "y": ("y", first["y"].values, dict(first["y"].attrs)),
    }
    for name in STACK_COORDS:
        values = [h[name] for h in heads]
        if name in _TIME_COORDS:
            array = np.array(values, dtype="datetime64[ns]")
        elif isinstance(values[0], str):
            array = np.array(values, dtype=object)
        else:
            array = np.array(values, dtype=np.float64)
        coords[name] = ("mid_date", array)
    cube = xr.Dataset(variables, coords=coords, attrs=_common_attrs([h["attrs"] for h in heads]))
    cube["date_dt"].attrs = {"long_name": "time between the acquisitions", "units": "days"}
    return cube.rio.write_crs(full.rio.crs, grid_mapping_name="spatial_ref").rio.write_transform(
        first.rio.transform()
    )


def _common_attrs(all_attrs: list[dict[str, Any]]) -> dict[str, Any]:
    """The attrs every field has with the same value (parameters, grid, software), less the per-pair ones."""
    common: dict[str, Any] = {}
    for key, value in all_attrs[0].items():
        if key in _PER_PAIR_ATTRS:
            continue
        if all(
            key in other and np.array_equal(np.asarray(other[key]), np.asarray(value)) for other in all_attrs
        ):
            common[key] = value.tolist() if isinstance(value, np.ndarray) else _plain(value)
    common["title"] = "icetrack surface velocity stack"
    return common
