"""Compare two velocity fields on one grid: resample one onto the other's, and take their difference.

Fields from different sources rarely share a grid: ITS_LIVE posts on a 120 m polar stereographic grid (EPSG:3413
in Greenland), our own fields on the tracking step of a UTM grid. `onto_grid` brings a field onto another's grid
and CRS — it samples the components bilinearly at the target nodes and rotates the vectors by the local angle
between the two projections' grid norths, so that ``vx`` stays the eastward component of the target grid.
`difference` then subtracts node by node.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import Transformer

from tracking.exceptions import NoOverlapError, TrackingError
from tracking.velocity import vectors

__all__ = ["difference", "onto_grid"]

Layer = Literal["raw", "masked", "filled"]


def _crs(field: xr.Dataset) -> str:
    crs = field.rio.crs
    if crs is None:
        raise TrackingError("a field has no CRS: write one with field.rio.write_crs(...) before comparing.")
    return crs.to_string()


def onto_grid(field: xr.Dataset, like: xr.Dataset, *, layer: Layer = "masked") -> xr.Dataset:
    """The velocity of ``field`` on the grid of ``like``.

    Parameters
    ----------
    field : xarray.Dataset
        The VelocityField to resample.
    like : xarray.Dataset
        The VelocityField whose grid (``x``, ``y``, CRS) the result takes.
    layer : {"raw", "masked", "filled"}
        Which vectors of ``field`` to use (`tracking.velocity.vectors`).

    Returns
    -------
    xarray.Dataset
        ``vx``, ``vy``, ``v`` (m/yr, float32) on ``like``'s grid, NaN where ``field`` has no value; ``vx``/``vy``
        are the components along ``like``'s x (east) and y (north) axes.

    Raises
    ------
    NoOverlapError
        If the two fields share no node.
    """
    source = vectors(field, layer)
    src_crs, dst_crs = _crs(field), _crs(like)
    xx, yy = np.meshgrid(like["x"].values, like["y"].values)
    if src_crs == dst_crs:
        sx, sy = xx, yy
    else:
        sx, sy = Transformer.from_crs(dst_crs, src_crs, always_xy=True).transform(xx, yy)
    points = {"x": xr.DataArray(sx, dims=("y", "x")), "y": xr.DataArray(sy, dims=("y", "x"))}
    sampled = source[["vx", "vy"]].interp(points, method="linear")
    vx, vy = sampled["vx"].values.astype(np.float64), sampled["vy"].values.astype(np.float64)
    if not np.isfinite(vx).any():
        raise NoOverlapError("the two fields do not overlap: compare fields of the same place.")
    if src_crs != dst_crs:
        vx, vy = _rotate(vx, vy, sx, sy, Transformer.from_crs(src_crs, dst_crs, always_xy=True))
    out = xr.Dataset(
        {
            "vx": (("y", "x"), vx.astype(np.float32), {"units": "m/yr"}),
            "vy": (("y", "x"), vy.astype(np.float32), {"units": "m/yr"}),
            "v": (("y", "x"), np.hypot(vx, vy).astype(np.float32), {"units": "m/yr"}),
        },
        coords={"y": like["y"], "x": like["x"]},
        attrs=dict(field.attrs),
    )
    return out.rio.write_crs(dst_crs)


def _rotate(
    vx: np.ndarray, vy: np.ndarray, sx: np.ndarray, sy: np.ndarray, to_target: Transformer
) -> tuple[np.ndarray, np.ndarray]:
    """Express vectors given in the source CRS at (sx, sy) along the target CRS's axes (and its scale)."""
    step = 1.0e-3  # years: a displacement of metres, small enough for the local linear map
    x0, y0 = to_target.transform(sx, sy)
    x1, y1 = to_target.transform(sx + vx * step, sy + vy * step)
    return (np.asarray(x1) - np.asarray(x0)) / step, (np.asarray(y1) - np.asarray(y0)) / step


def difference(a: xr.Dataset, b: xr.Dataset, *, layer: Layer = "masked") -> xr.Dataset:
    """The difference ``a - b`` of two velocity fields on ``a``'s grid.

    Parameters
    ----------
    a, b : xarray.Dataset
        VelocityFields of the same place; ``b`` is resampled onto ``a``'s grid (`onto_grid`).
    layer : {"raw", "masked", "filled"}
        Which vectors of both fields to compare.

    Returns
    -------
    xarray.Dataset
        ``dvx``, ``dvy`` (component differences), ``dv`` (difference of the speeds) and ``v_a``, ``v_b``, all m/yr
        on ``a``'s grid with its CRS; attrs ``label_a``, ``label_b``, and over the nodes where both have a value:
        ``count``, ``median_dv``, ``mad_dv`` (median absolute deviation, scaled by 1.4826 to match a normal
        standard deviation) and ``rms_dv``.

    Examples
    --------
    >>> from tracking.testing import uniform_field
    >>> d = difference(uniform_field(vx=110.0), uniform_field(vx=100.0))
    >>> round(d.attrs["median_dv"], 3), d.attrs["count"] > 0
    (10.0, True)
    """
    va = vectors(a, layer)
    vb = onto_grid(b, a, layer=layer)
    dv = va["v"].values - vb["v"].values
    both = np.isfinite(dv)
    diffs = dv[both]
    median = float(np.median(diffs)) if diffs.size else float("nan")
    attrs = {
        "label_a": str(a.attrs.get("label", "field a")),
        "label_b": str(b.attrs.get("label", "field b")),
        "count": int(both.sum()),
        "median_dv": median,
        "mad_dv": float(1.4826 * np.median(np.abs(diffs - median))) if diffs.size else float("nan"),
        "rms_dv": float(np.sqrt(np.mean(diffs**2))) if diffs.size else float("nan"),
    }
    dims = ("y", "x")
    out = xr.Dataset(
        {
            "dvx": (dims, (va["vx"].values - vb["vx"].values).astype(np.float32), {"units": "m/yr"}),
            "dvy": (dims, (va["vy"].values - vb["vy"].values).astype(np.float32), {"units": "m/yr"}),
            "dv": (dims, dv.astype(np.float32), {"units": "m/yr", "long_name": "speed difference a - b"}),
            "v_a": (dims, va["v"].values.astype(np.float32), {"units": "m/yr"}),
            "v_b": (dims, vb["v"].values.astype(np.float32), {"units": "m/yr"}),
        },
        coords={"y": a["y"], "x": a["x"]},
        attrs=attrs,
    )
    return out.rio.write_crs(_crs(a))
