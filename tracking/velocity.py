"""Pixel offsets -> map displacement -> m/yr, and the ``VelocityField`` dataset.

This module alone turns a kernel's pixel offsets (``dx`` columns right, ``dy`` rows down) into velocities in the
map frame (``vx`` east, ``vy`` north), using the linear part of the grid's affine transform, and divides by the
time between the scenes in years of 365.25 days.

The VelocityField
-----------------
An ``xarray.Dataset`` on the chip-centre grid, dims ``("y", "x")`` with map coordinates (pixel centres, ``y``
decreasing), the CRS in a ``spatial_ref`` grid-mapping variable, and these variables:

``vx``, ``vy``, ``v`` (float32, m/yr)
    The **final** velocities: measured where ``valid``, interpolated where ``interpolated``, NaN elsewhere.
``dx``, ``dy`` (float32, px)
    The **raw** kernel offsets at every node, also where the outlier tests rejected them (NaN only where the
    kernel found no match at all).
``peak``, ``snr`` (float32)
    Correlation peak height and peak-to-second-peak ratio.
``valid`` (bool)
    The vector passed every test (kernel, peak, SNR, normalized median and ``max_speed``).
``interpolated`` (bool)
    The vector was rejected (or missing) and filled from its neighbours; never true where ``valid``.

`vectors` returns any of the three views a user may want to toggle between: ``"raw"`` (every offset the kernel
found), ``"masked"`` (valid vectors only) and ``"filled"`` (valid + interpolated, i.e. ``vx``/``vy``/``v``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import param
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine

from tracking.exceptions import InvalidPairError
from tracking.params import TrackingParameters, value_text
from tracking.scenes import Pair
from tracking.schema import COORD_ATTRS, field_source, software_version, variable_attrs
from tracking.times import DAYS_PER_YEAR

__all__ = [
    "chip_coordinates",
    "field_attrs",
    "grid_transform",
    "offsets_to_velocity",
    "params_from_attrs",
    "vectors",
    "velocity_field",
]


def chip_coordinates(
    row: np.ndarray | float, col: np.ndarray | float, transform: Affine
) -> tuple[np.ndarray, np.ndarray]:
    """Map coordinates of chip centres given in pixel-index units.

    Pixel ``i``'s centre has index ``i``, i.e. lies at ``i + 0.5`` in the transform's corner convention.
    ``row`` and ``col`` broadcast against each other.

    Parameters
    ----------
    row, col : array_like
        Chip-centre positions, pixel-index units (may be fractional).
    transform : affine.Affine
        The image's GDAL-style (pixel-corner) transform.

    Returns
    -------
    x, y : ndarray
        Map coordinates of the chip centres.

    Examples
    --------
    >>> t = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 7000000.0)
    >>> [float(v) for v in chip_coordinates(0, 0, t)]
    [500015.0, 6999985.0]
    >>> x, y = chip_coordinates(np.array([15.5]), np.array([15.5, 31.5]), t)
    >>> x.tolist(), y.tolist()
    ([500480.0, 500960.0], [6999520.0, 6999520.0])
    """
    r = np.asarray(row, dtype=np.float64) + 0.5
    c = np.asarray(col, dtype=np.float64) + 0.5
    x = transform.a * c + transform.b * r + transform.c
    y = transform.d * c + transform.e * r + transform.f
    return x, y


def offsets_to_velocity(
    dx: np.ndarray | float, dy: np.ndarray | float, transform: Affine, dt_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """Turn pixel offsets into map-frame velocities, m/yr.

    The displacement is the transform's linear part applied to ``(dx, dy)``: east ``dx*a + dy*b``, north
    ``dx*d + dy*e``. With a north-up grid ``e < 0``, so a positive ``dy`` (rows down) is a southward motion.

    Parameters
    ----------
    dx, dy : array_like
        Offsets in pixels, ``dx`` along columns (right), ``dy`` along rows (down).
    transform : affine.Affine
        The image's affine transform (map units per pixel, metres).
    dt_days : float
        Time between the scenes, days; must be positive.

    Returns
    -------
    vx, vy : ndarray
        East and north velocity, m/yr (years of 365.25 days).

    Examples
    --------
    >>> t = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 7000000.0)
    >>> [float(v) for v in offsets_to_velocity(2.5, 0.0, t, 16.0)]  # 2.5 px east in 16 days
    [1712.109375, 0.0]
    >>> [float(v) for v in offsets_to_velocity(0.0, -1.0, t, 365.25)]  # one pixel up: 30 m north in a year
    [0.0, 30.0]
    """
    if not dt_days > 0:
        raise InvalidPairError(f"the time between the scenes must be positive, got {dt_days} days.")
    dx = np.asarray(dx, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    years = dt_days / DAYS_PER_YEAR
    east = dx * transform.a + dy * transform.b
    north = dx * transform.d + dy * transform.e
    return east / years, north / years


def grid_transform(row: np.ndarray, col: np.ndarray, transform: Affine, step: float) -> Affine:
    """The pixel-corner transform of the chip-centre grid.

    Parameters
    ----------
    row, col : ndarray
        Evenly spaced chip-centre positions, pixel-index units.
    transform : affine.Affine
        The image's transform.
    step : float
        The spacing to use along an axis with a single node, px.

    Returns
    -------
    affine.Affine
        A transform whose pixel ``(i, j)`` is centred on chip ``(row[i], col[j])``.

    Examples
    --------
    >>> t = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 7000000.0)
    >>> grid_transform(np.array([15.5, 31.5]), np.array([15.5, 31.5, 47.5]), t, 16)
    Affine(480.0, 0.0, 500240.0,
           0.0, -480.0, 6999760.0)
    """
    row_step = float(row[1] - row[0]) if len(row) > 1 else float(step)
    col_step = float(col[1] - col[0]) if len(col) > 1 else float(step)
    origin_col = float(col[0]) + 0.5 - col_step / 2
    origin_row = float(row[0]) + 0.5 - row_step / 2
    return transform @ Affine.translation(origin_col, origin_row) @ Affine.scale(col_step, row_step)


def velocity_field(offsets: xr.Dataset, pair: Pair, params: TrackingParameters | None = None) -> xr.Dataset:
    """Build the VelocityField of a pair from a kernel's offsets.

    Parameters
    ----------
    offsets : xarray.Dataset
        On dims ``("row", "col")`` (chip centres, pixel-index units of the reference): ``dx``, ``dy``, ``peak``,
        ``snr``, ``valid``, and optionally ``interpolated`` with the filled offsets ``dx_filled``/``dy_filled``
        (as `tracking.pipeline.track` passes them). Without them nothing counts as interpolated.
    pair : Pair
        The pair the offsets were measured on: its grid and times.
    params : TrackingParameters, optional
        The parameters used, recorded as ``param_<name>`` attrs (defaults when omitted).

    Returns
    -------
    xarray.Dataset
        The VelocityField (see the module docstring for its variables).
    """
    params = params if params is not None else TrackingParameters()
    transform = pair.transform
    if transform.b != 0 or transform.d != 0:
        raise InvalidPairError("the pair's grid is rotated: warp the scenes to a north-up grid first.")
    row = np.asarray(offsets["row"].values, dtype=np.float64)
    col = np.asarray(offsets["col"].values, dtype=np.float64)
    x, _ = chip_coordinates(0.0, col, transform)
    _, y = chip_coordinates(row, 0.0, transform)

    valid = np.asarray(offsets["valid"].values, dtype=bool)
    interpolated = _optional_flag(offsets, "interpolated", valid.shape) & ~valid
    dx_final = np.where(valid, offsets["dx"].values, offsets.get("dx_filled", offsets["dx"]).values)
    dy_final = np.where(valid, offsets["dy"].values, offsets.get("dy_filled", offsets["dy"]).values)
    keep = valid | interpolated
    vx, vy = offsets_to_velocity(
        np.where(keep, dx_final, np.nan), np.where(keep, dy_final, np.nan), transform, pair.dt_days
    )

    dims = ("y", "x")
    data = {
        "vx": vx,
        "vy": vy,
        "v": np.hypot(vx, vy),
        "dx": offsets["dx"].values,
        "dy": offsets["dy"].values,
        "peak": offsets["peak"].values,
        "snr": offsets["snr"].values,
    }
    attrs = variable_attrs(params.kernel)
    variables: dict[str, tuple[Any, ...]] = {
        name: (dims, np.asarray(values, dtype=np.float32), attrs[name]) for name, values in data.items()
    }
    variables["valid"] = (dims, valid, attrs["valid"])
    variables["interpolated"] = (dims, interpolated, attrs["interpolated"])
    field = xr.Dataset(
        variables,
        coords={"y": ("y", y, _coord_attrs("y", pair)), "x": ("x", x, _coord_attrs("x", pair))},
        attrs=field_attrs(pair, params, valid),
    )
    field = field.rio.write_crs(pair.crs, grid_mapping_name="spatial_ref")
    field = field.rio.write_transform(grid_transform(row, col, transform, params.step))
    return _with_epsg(field, pair)


def _optional_flag(offsets: xr.Dataset, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name in offsets:
        return np.asarray(offsets[name].values, dtype=bool)
    return np.zeros(shape, dtype=bool)


def _coord_attrs(axis: str, pair: Pair) -> dict[str, str]:
    units, _ = pair.crs.linear_units_factor
    return {**COORD_ATTRS[axis], "units": "m" if units in ("metre", "meter", "m") else units}


def _with_epsg(field: xr.Dataset, pair: Pair) -> xr.Dataset:
    """Add ``spatial_epsg`` (ITS_LIVE's name) to the grid-mapping variable."""
    epsg = pair.crs.to_epsg()
    if epsg is not None:
        field["spatial_ref"].attrs["spatial_epsg"] = int(epsg)
    return field


def field_attrs(pair: Pair, params: TrackingParameters, valid: np.ndarray) -> dict[str, Any]:
    """Global attrs of a VelocityField, ITS_LIVE names where they exist; all netCDF-safe (str or number)."""
    ref, sec = pair.reference.attrs, pair.secondary.attrs
    sensors = (ref.get("sensor", "unknown"), sec.get("sensor", "unknown"))
    attrs: dict[str, Any] = {
        "Conventions": "CF-1.8",
        "title": "icetrack surface velocities",
        "institution": "",
        "source": field_source(params.kernel),
        "date_created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "icetrack_software_version": software_version(),
        "GDAL_AREA_OR_POINT": "Area",
        "scene_pair_type": "optical",
        "motion_detection_method": "feature",
        "motion_coordinates": "map",
        "satellite": sensors[0] if sensors[0] == sensors[1] else " and ".join(sensors),
        "sensor_img1": sensors[0],
        "sensor_img2": sensors[1],
        "band": ref.get("band", "unknown"),
        "id_img1": ref.get("scene_id", ""),
        "id_img2": sec.get("scene_id", ""),
        "acquisition_date_img1": pair.t0.isoformat(),
        "acquisition_date_img2": pair.t1.isoformat(),
        "date_center": pair.mid_date.isoformat(),
        "date_dt": float(pair.dt_days),
        "image_geotransform": np.array(pair.transform.to_gdal(), dtype=np.float64),
        "roi_valid_percentage": float(100.0 * valid.mean()) if valid.size else 0.0,
    }
    attrs.update({f"param_{name}": _attr_value(value) for name, value in params.to_dict().items()})
    return attrs


def _attr_value(value: Any) -> Any:
    """A netCDF-safe attribute value: numbers as they are, None and bool as text (`value_text`)."""
    return value_text(value) if value is None or isinstance(value, bool | np.bool_) else value


def params_from_attrs(attrs: Mapping[str, Any]) -> TrackingParameters:
    """The `TrackingParameters` recorded in a VelocityField's ``param_<name>`` attrs.

    Examples
    --------
    >>> p = params_from_attrs({"param_chip_size": 64, "param_max_speed": "none", "param_fill_holes": "false"})
    >>> p.chip_size, p.max_speed, p.fill_holes
    (64, None, False)
    """
    values: dict[str, Any] = {}
    for name in TrackingParameters.param:
        key = f"param_{name}"
        if name == "name" or key not in attrs:
            continue
        value = attrs[key]
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, str):
            value = TrackingParameters.parse_text(name, value)
        elif isinstance(TrackingParameters.param[name], param.Integer) and not isinstance(value, str):
            value = int(value)
        values[name] = value
    return TrackingParameters.from_overrides(**values)


def vectors(field: xr.Dataset, which: Literal["raw", "masked", "filled"] = "filled") -> xr.Dataset:
    """One view of a VelocityField's vectors: ``vx``, ``vy``, ``v`` in m/yr.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField.
    which : {"raw", "masked", "filled"}
        ``"raw"``: every offset the kernel found, outliers included (from ``dx``/``dy``); ``"masked"``: valid
        vectors only; ``"filled"``: valid and interpolated vectors (the field's own ``vx``/``vy``/``v``).

    Returns
    -------
    xarray.Dataset
        ``vx``, ``vy``, ``v`` on the field's grid.
    """
    if which == "filled":
        return field[["vx", "vy", "v"]]
    if which == "masked":
        return field[["vx", "vy", "v"]].where(field["valid"])
    if which != "raw":
        raise ValueError(f"which must be 'raw', 'masked' or 'filled', not {which!r}")
    image_transform = _image_transform(field)
    vx, vy = offsets_to_velocity(
        field["dx"].values, field["dy"].values, image_transform, field.attrs["date_dt"]
    )
    out = field[["vx", "vy", "v"]].copy()
    out["vx"].values = vx.astype(np.float32)
    out["vy"].values = vy.astype(np.float32)
    out["v"].values = np.hypot(vx, vy).astype(np.float32)
    return out


def _image_transform(field: xr.Dataset) -> Affine:
    """The transform of the reference image's pixels, recorded in the ``image_geotransform`` attr."""
    return Affine.from_gdal(*(float(v) for v in np.ravel(field.attrs["image_geotransform"])))
