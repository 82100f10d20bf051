"""The demo glacier's flow model: where it is, how fast it moves when, and its steady velocity field.

The constants of the demo (`DEMO_CRS`, `DEMO_BOUNDS`, `BANDS`, ...), the speed history ``s(t)`` and the
flow time ``tau(t)``, and the static model (`model`): channels, masks and the steady field ``v0``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.interpolate import CubicSpline, PchipInterpolator
from scipy.ndimage import distance_transform_edt, gaussian_filter, maximum_filter

from tracking.sources.demo.kernels import EDGE_NOISE

__all__ = [
    "BANDS",
    "DEMO_BOUNDS",
    "DEMO_CRS",
    "EPOCH_DAYS",
    "GENERATOR_VERSION",
    "MAP_STEP",
    "RK_STEP",
    "front_position",
    "glacier_model",
    "speed_history",
    "tau_of_days",
    "to_days",
]

DEMO_CRS = "EPSG:32622"
#: (xmin, ymin, xmax, ymax) in DEMO_CRS metres: 99.99 km x 60 km, a whole number of 30 m and 15 m pixels.
DEMO_BOUNDS = (520000.0, 7640000.0, 619990.0, 7700000.0)
#: Band name -> pixel size (m).
BANDS = {"red": 30.0, "pan": 15.0}
#: Bump this when the generator's output changes: it is part of the cache key.
GENERATOR_VERSION = "jak-1"
#: Length of one texture epoch (days).
EPOCH_DAYS = 80.0

_T_REF = np.datetime64("2000-01-01T00:00:00", "ns")
_DAY_NS = 86_400 * 10**9
_MODEL_STEP = 150.0  # v0 / masks grid spacing (m)
MAP_STEP = 60.0  # backward-advection map grid spacing (m)
RK_STEP = 40.0  # largest distance a particle moves in one RK4 step (m)
_MODEL_BOUNDS = (495000.0, 7620000.0, 650000.0, 7720000.0)


# ----------------------------------------------------------------------------------------------------------
# time and speed history
# ----------------------------------------------------------------------------------------------------------

_ANNUAL_KNOTS = (
    (2013.5, 1.00),
    (2014.5, 1.02),
    (2015.5, 1.00),
    (2016.5, 0.97),
    (2017.5, 0.72),
    (2018.5, 0.57),
    (2019.5, 0.66),
    (2020.5, 0.82),
    (2021.5, 0.94),
    (2022.5, 0.90),
    (2023.5, 0.86),
    (2024.5, 0.88),
    (2025.5, 0.88),
)

_SUMMER_GAIN = 0.16  # summer speed-up (fraction)
_SUMMER_DOY, _SUMMER_WIDTH = 200.0, 32.0


def to_days(t: Any) -> np.ndarray:
    """Times (anything `pandas.to_datetime` accepts) as float days since 2000-01-01 (UTC, naive)."""
    stamps = pd.to_datetime(np.atleast_1d(np.asarray(t, dtype=object)).ravel(), utc=True)
    ns = stamps.tz_localize(None).to_numpy("datetime64[ns]")
    days = (ns - _T_REF).astype(np.int64) / _DAY_NS
    return days.reshape(np.shape(t))


def _s_of_days(days: np.ndarray) -> np.ndarray:
    """`speed_history` as a function of days since 2000-01-01."""
    days = np.asarray(days, dtype=float)
    year = 2000.0 + days / 365.2425
    knots = np.array(_ANNUAL_KNOTS)
    annual = PchipInterpolator(knots[:, 0], knots[:, 1], extrapolate=False)(
        np.clip(year, knots[0, 0], knots[-1, 0])
    )
    doy = (year - np.floor(year)) * 365.2425
    summer = 1.0 + _SUMMER_GAIN * np.exp(-0.5 * ((doy - _SUMMER_DOY) / _SUMMER_WIDTH) ** 2)
    return annual * summer


@functools.cache
def _tau_table() -> tuple[np.ndarray, np.ndarray]:
    """Flow time ``tau`` (days) tabulated every 0.25 day from 2000 to 2040, ``tau(2000-01-01) = 0``."""
    grid = np.arange(0.0, 40 * 365.25 + 1, 0.25)
    mids = _s_of_days(grid[:-1] + 0.125)
    tau = np.concatenate([[0.0], np.cumsum(mids) * 0.25])
    return grid, tau


def tau_of_days(days: np.ndarray) -> np.ndarray:
    """Flow time ``tau = ∫ s dt`` (days) at days since 2000-01-01: exactly what the generator uses."""
    grid, tau = _tau_table()
    return np.interp(days, grid, tau)


def speed_history(t: Any) -> float | np.ndarray:
    """The scalar speed factor ``s(t)`` of the demo glacier: ``v(x, t) = v0(x) * s(t)``.

    About 1.0 in 2015-2016, 0.57 in mid 2018 (the slow-down of Jakobshavn's cold-water years), back to ~0.9
    from 2021, times a summer speed-up of up to 16 % peaking in mid-July.

    Parameters
    ----------
    t : datetime-like or array of them
        Time(s), UTC.

    Returns
    -------
    float or ndarray
        ``s(t)``, dimensionless; a float for a scalar ``t``.
    """
    values = _s_of_days(to_days(t))
    return float(values) if np.ndim(values) == 0 else values


# ----------------------------------------------------------------------------------------------------------
# geometry: channels, masks and the steady velocity field v0
# ----------------------------------------------------------------------------------------------------------

# Flow-lines, upstream -> downstream: (x, y, half-width m, speed m/day at s = 1).
_CHANNELS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "trunk": (
        (650000, 7668000, 9500, 0.8),
        (620000, 7669000, 8500, 1.4),
        (605000, 7670500, 6500, 3.0),
        (590000, 7671000, 4500, 6.5),
        (578000, 7670000, 3300, 12.0),
        (566000, 7669000, 2700, 19.0),
        (556000, 7668200, 2600, 27.0),
        (548000, 7667500, 2800, 35.0),
        (538000, 7667800, 3000, 35.0),
        (528000, 7669500, 3200, 35.0),
        (495000, 7671000, 3500, 35.0),
    ),
    "north": (
        (615000, 7700000, 5000, 1.0),
        (598000, 7688000, 3500, 3.0),
        (584000, 7680000, 2400, 7.0),
        (572000, 7673500, 2000, 11.0),
        (563000, 7669500, 1800, 16.0),
    ),
    "south": (
        (615000, 7642000, 5000, 0.8),
        (596000, 7653000, 3500, 2.5),
        (582000, 7661000, 2300, 6.0),
        (571000, 7666000, 1800, 10.0),
        (562000, 7668500, 1600, 15.0),
    ),
    "wall_north": (
        (553000, 7697000, 1500, 0.6),
        (552500, 7686000, 1200, 1.2),
        (551000, 7676000, 900, 2.2),
        (550000, 7669500, 800, 3.0),
    ),
    "wall_south": (
        (542000, 7644000, 1300, 0.5),
        (545500, 7654000, 1000, 1.0),
        (548000, 7662500, 800, 1.8),
        (549000, 7666500, 700, 2.5),
    ),
}
_NUNATAKS = (
    (596500, 7660300, 1700),
    (607000, 7681500, 1400),
    (585000, 7694000, 2300),
    (614000, 7659000, 1100),
    (581000, 7648500, 2400),
)
# Featureless snowfields: (x, y, semi-axis a, semi-axis b, rotation deg).
_SNOWFIELDS = (
    (612000, 7689000, 5500, 2500, 25),
    (604000, 7646500, 4000, 2200, -30),
    (535000, 7691000, 4500, 2600, 10),
    (598000, 7696000, 3000, 1800, 0),
)


def _margin_x(y: np.ndarray) -> np.ndarray:
    """x of the ice-sheet margin (west of it: rock except the glaciers)."""
    t = y - 7640000.0
    return 575000.0 + 4000.0 * np.sin(t / 11000.0) + 2500.0 * np.sin(t / 4700.0 + 1.0)


def _densify(vertices: Sequence[tuple[float, float, float, float]], step: float = 50.0) -> dict:
    """Resample a flow-line every ``step`` m: points, unit downstream tangents, half-widths, speeds."""
    v = np.asarray(vertices, dtype=float)
    chord = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(v[:, 0]), np.diff(v[:, 1])))])
    spline = CubicSpline(chord, v[:, :2], bc_type="natural")
    s = np.arange(0.0, chord[-1] + step, step)
    pts = spline(s)
    tan = spline(s, 1)
    tan /= np.hypot(tan[:, 0], tan[:, 1])[:, None]
    return {
        "pts": pts,
        "tan": tan,
        "hw": np.interp(s, chord, v[:, 2]),
        "speed": np.exp(np.interp(s, chord, np.log(v[:, 3]))),
    }


def _nearest_on_line(line_pts: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) from every node of the model grid to a densified line, and the nearest sample's index.

    A Euclidean distance transform finds the nearest line cell, then the samples around it refine it.
    """
    x0, y0 = xx[0, 0], yy[0, 0]
    ix = np.round((line_pts[:, 0] - x0) / _MODEL_STEP).astype(int)
    iy = np.round((line_pts[:, 1] - y0) / _MODEL_STEP).astype(int)
    ok = (ix >= 0) & (ix < xx.shape[1]) & (iy >= 0) & (iy < xx.shape[0])
    label = np.full(xx.shape, -1)
    label[iy[ok], ix[ok]] = np.nonzero(ok)[0]
    _, (near_y, near_x) = distance_transform_edt(label < 0, return_indices=True)
    guess = label[near_y, near_x]
    best_d = np.full(xx.shape, np.inf)
    best_i = guess.copy()
    for off in range(-6, 7):
        j = np.clip(guess + off, 0, len(line_pts) - 1)
        d = np.hypot(xx - line_pts[j, 0], yy - line_pts[j, 1])
        better = d < best_d
        best_d[better] = d[better]
        best_i[better] = j[better]
    return best_d, best_i


@functools.cache
def glacier_model() -> dict[str, Any]:
    """The static glacier model on a 150 m grid.

    Returns a dict with the grid origin ``x0``, ``y0`` and ``inv`` (1 / spacing), the steady velocity
    ``vx``, ``vy`` (m/day at s = 1) and ``static``, a stack of layers indexed by ``ROCK`` (signed distance
    into rock, m), ``SNOW`` (into snowfields, m), ``FJORD`` (signed distance outside the trunk's fjord,
    m), ``CREV`` (crevasse intensity 0..1), ``ALONG`` (along-flow coordinate, m) and ``CHEVRON``
    (distance into the shear margin, m).
    """
    xmin, ymin, xmax, ymax = _MODEL_BOUNDS
    gx = np.arange(xmin, xmax + 1, _MODEL_STEP)
    gy = np.arange(ymin, ymax + 1, _MODEL_STEP)
    xx, yy = np.meshgrid(gx, gy)
    east_of_margin = xx - _margin_x(yy)

    num = np.zeros((2, *xx.shape))
    den = np.zeros(xx.shape)
    prof_max = np.zeros(xx.shape)
    outside = np.full(xx.shape, np.inf)  # distance outside all glacier channels (m; < 0 inside)
    best_w = np.zeros(xx.shape)
    along = np.zeros(xx.shape)
    chevron = np.zeros(xx.shape)
    for k, (name, vertices) in enumerate(_CHANNELS.items()):
        line = _densify(vertices)
        dist, idx = _nearest_on_line(line["pts"], xx, yy)
        hw = line["hw"][idx]
        speed = line["speed"][idx]
        prof = np.clip(1.0 - (dist / hw) ** 4, 0.0, 1.0)
        w = prof * speed + 1e-12
        num += w * prof * speed * line["tan"][idx].transpose(2, 0, 1)
        den += w
        prof_max = np.maximum(prof_max, prof)
        outside = np.minimum(outside, dist - hw)
        dominant = w > best_w
        best_w[dominant] = w[dominant]
        along[dominant] = idx[dominant] * 50.0 + 7777.0 * k
        chevron[dominant] = np.maximum(0.0, dist - 0.45 * hw)[dominant]
        if name == "trunk":
            fjord = dist - hw
            to_trunk = line["pts"][idx].transpose(2, 0, 1) - np.stack([xx, yy])
    vel = num / den * prof_max  # speed-weighted blend of the channels, times the strongest profile

    # slow sheet flow east of the margin, converging westwards into the trunk
    dist_trunk = np.hypot(*to_trunk) + 1.0
    bg = np.stack([-np.ones_like(xx), np.zeros_like(xx)]) * 0.6 + 0.8 * to_trunk / dist_trunk
    bg *= (0.35 + 0.6 * np.exp(-dist_trunk / 15000.0)) / np.hypot(*bg)
    sheet = 1.0 / (1.0 + np.exp(-east_of_margin / 1500.0))
    vel += (1.0 - prof_max) * sheet * bg

    # rock: west of the margin outside the channels, plus nunataks; ice is stagnant next to rock
    rock = np.minimum(outside, -east_of_margin)
    for cx, cy, r in _NUNATAKS:
        rock = np.maximum(rock, r - np.hypot(xx - cx, yy - cy))
    # v0 is exactly 0 on every grid node within a cell diagonal of any rock pixel (edges are ragged by up to
    # EDGE_NOISE): rock never moves, and ice within ~0.5 km of rock is stagnant
    ice_factor = np.clip((-rock - EDGE_NOISE - 1.5 * _MODEL_STEP) / 600.0, 0.0, 1.0)
    vel = np.stack([gaussian_filter(c, 2.0, mode="nearest") for c in vel]) * ice_factor

    snow = np.full(xx.shape, -1e4)
    for cx, cy, a, b, rot in _SNOWFIELDS:
        c, s = np.cos(np.radians(rot)), np.sin(np.radians(rot))
        du = ((xx - cx) * c + (yy - cy) * s) / a
        dv = (-(xx - cx) * s + (yy - cy) * c) / b
        snow = np.maximum(snow, (1.0 - np.hypot(du, dv)) * min(a, b))

    speed = np.hypot(*vel)
    gyy, gxx = np.gradient(gaussian_filter(speed, 1.5), _MODEL_STEP)
    strain = np.hypot(gxx, gyy)  # 1/day
    crev = np.clip(np.maximum((speed - 3.0) / 14.0, (strain - 0.004) / 0.012), 0.0, 1.0)
    crev = gaussian_filter(crev, 1.5) * (ice_factor > 0)
    ay, ax = np.gradient(along + 0.9 * chevron, _MODEL_STEP)
    seam = maximum_filter(np.hypot(ax, ay) > 3.0, size=3)  # where the along-flow coordinate jumps
    crev[seam] = 0.0
    static = np.stack([rock, snow, fjord, crev, along, chevron])
    return {
        "x0": float(gx[0]),
        "y0": float(gy[0]),
        "inv": 1.0 / _MODEL_STEP,
        "vx": np.ascontiguousarray(vel[0]),
        "vy": np.ascontiguousarray(vel[1]),
        "static": np.ascontiguousarray(static, dtype=np.float64),
    }


def front_position(days: float) -> float:
    """Mean x of the calving front at a time: retreats ~2 km in late summer, re-advanced in 2017-2019."""
    year = 2000.0 + days / 365.2425
    doy = (year - math.floor(year)) * 365.2425
    seasonal = -1000.0 * math.cos(2 * math.pi * (doy - 130.0) / 365.2425) + 1000.0  # 0 in May, 2 km in Nov
    readvance = 2200.0 * math.exp(-0.5 * ((year - 2018.4) / 0.9) ** 2)
    return 546500.0 + 1000.0 - seasonal - readvance
