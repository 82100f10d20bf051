"""The demo glacier's exact motion: true displacement and velocity, and the surface type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from tracking.exceptions import ParameterError
from tracking.sources.demo.catalogue import hash_ints
from tracking.sources.demo.flow import DEMO_CRS, RK_STEP, front_position, glacier_model, tau_of_days, to_days
from tracking.sources.demo.kernels import advect_points_parallel, advect_points_serial, classify

__all__ = ["surface_type", "true_displacement", "true_velocity", "true_velocity_field"]

# ----------------------------------------------------------------------------------------------------------
# true motion
# ----------------------------------------------------------------------------------------------------------


def true_displacement(t0: Any, t1: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """True displacement (m, east and north) between ``t0`` and ``t1`` of features at ``(x, y)`` at ``t0``.

    This is exactly the motion the generator applied: the integral of ``v0`` along its streamlines over the
    flow time ``tau(t1) - tau(t0)`` (adaptive RK4, steps of at most 40 m). Rock has zero motion; mélange
    west of the front moves with the fjord flow although its texture does not persist.

    Parameters
    ----------
    t0, t1 : datetime-like
        Times of the reference and secondary images (``t1 < t0`` gives the backward displacement).
    x, y : array_like
        Map coordinates in DEMO_CRS (m) at ``t0``; broadcast together.

    Returns
    -------
    (dx, dy) : tuple of ndarray
        Displacements in metres, east and north, with the broadcast shape of x and y.
    """
    xs, ys = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    flow = float(np.diff(tau_of_days(to_days(np.array([t0, t1], dtype=object))))[0])
    model = glacier_model()
    flat_x = np.ascontiguousarray(xs.ravel())
    flat_y = np.ascontiguousarray(ys.ravel())
    kernel = advect_points_parallel if flat_x.size > 4096 else advect_points_serial
    ex, ey = kernel(
        flat_x,
        flat_y,
        np.full(flat_x.size, flow),
        model["vx"],
        model["vy"],
        model["x0"],
        model["y0"],
        model["inv"],
        RK_STEP,
    )
    return (ex - flat_x).reshape(xs.shape), (ey - flat_y).reshape(xs.shape)


def true_velocity(t0: Any, t1: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean true velocity (m/yr, east and north) between ``t0`` and ``t1`` of features at ``(x, y)`` at t0.

    `true_displacement` divided by ``(t1 - t0)`` in years of 365.25 days.
    """
    dt_days = float(np.diff(to_days(np.array([t0, t1], dtype=object)))[0])
    if dt_days == 0:
        raise ParameterError("t0 and t1 are equal: a velocity needs two different times")
    dx, dy = true_displacement(t0, t1, x, y)
    years = dt_days / 365.25
    return dx / years, dy / years


def true_velocity_field(
    reference: xr.DataArray,
    secondary: xr.DataArray,
    *,
    x: Sequence[float] | np.ndarray | None = None,
    y: Sequence[float] | np.ndarray | None = None,
) -> xr.Dataset:
    """The true mean velocity between two demo scenes on the reference grid (or on given x/y vectors).

    Parameters
    ----------
    reference, secondary : xarray.DataArray
        Scenes with a ``time`` attr (see `tracking.scenes`).
    x, y : 1-D array_like, optional
        Coordinates (DEMO_CRS m) of the output grid; default the reference scene's.

    Returns
    -------
    xarray.Dataset
        ``vx``, ``vy``, ``v`` (m/yr) on dims (y, x), CRS written, attrs t0/t1.

    Notes
    -----
    Every node is integrated separately (about 0.1 s per 100 000 nodes for short pairs); for long pairs over
    a whole 15 m grid pass coarser ``x``/``y``.
    """
    t0, t1 = reference.attrs["time"], secondary.attrs["time"]
    xs = np.asarray(reference["x"].values if x is None else x, dtype=float)
    ys = np.asarray(reference["y"].values if y is None else y, dtype=float)
    vx, vy = true_velocity(t0, t1, xs[None, :], ys[:, None])
    attrs = {"units": "m/yr"}
    ds = xr.Dataset(
        {
            "vx": (("y", "x"), vx.astype(np.float32), {**attrs, "long_name": "true velocity, east"}),
            "vy": (("y", "x"), vy.astype(np.float32), {**attrs, "long_name": "true velocity, north"}),
            "v": (("y", "x"), np.hypot(vx, vy).astype(np.float32), {**attrs, "long_name": "true speed"}),
        },
        coords={"x": xs, "y": ys},
        attrs={"t0": t0, "t1": t1, "source": "icetrack demo glacier (truth)"},
    )
    return ds.rio.write_crs(DEMO_CRS)


def surface_type(x: Any, y: Any, t: Any = "2021-06-01", *, seed: int = 0) -> np.ndarray:
    """The surface class at map points at a time: 1 ice, 2 rock, 3 water/mélange, 4 featureless snow
    (0 outside).

    Useful to score a tracker: rock is stable ground (true motion 0), water and snow have no trackable
    texture. Footprints and clouds are not considered.
    """
    xs, ys = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    model = glacier_model()
    codes = classify(
        np.ascontiguousarray(xs.ravel()),
        np.ascontiguousarray(ys.ravel()),
        model["static"],
        model["x0"],
        model["y0"],
        model["inv"],
        front_position(float(to_days(t))),
        hash_ints(seed, 424242),
    )
    return codes.reshape(xs.shape)
