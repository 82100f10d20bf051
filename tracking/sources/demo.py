"""The embedded synthetic demo glacier: a Landsat-like scene series of Jakobshavn Isbræ with known motion.

This is icetrack's default data when there is no network. It is deterministic from a seed, generated in a
few seconds per scene and cached on disk, and its true motion is exposed exactly so that a tracker's
accuracy can be measured everywhere.

Model
-----
Geometry (fixed, seed-independent) on the real location, UTM zone 22N (EPSG:32622): a fast trunk flowing
west through a rock-walled fjord to a calving front near x = 546 km, a north and a south branch joining it,
two small outlet glaciers on the fjord walls, the ice sheet east of a margin near x = 575 km with nunataks,
and featureless snowfields. West of the (seasonally moving) front the fjord holds dark ice mélange whose
texture changes between dates.

Motion is ``v(x, t) = v0(x) * s(t)``: a steady spatial field ``v0`` (m/day, up to ~35 m/day at the front)
times the scalar `speed_history` ``s(t)`` (fast 2015-2016, slow-down 2017-2018, faster again by 2021, with a
~15 % summer speed-up). With the flow time ``tau(t) = ∫ s dt`` (days) every particle follows the steady
streamlines of ``v0``, so the true displacement between ``t0`` and ``t1`` of a feature at ``x0`` is the
(adaptive RK4) integration of ``v0`` from ``x0`` over the flow time ``tau(t1) - tau(t0)``; see
`true_displacement`.

Texture lives in "epochs" every `EPOCH_DAYS` days: epoch ``k`` has its own independent texture (band-limited
gradient noise plus crevasse stripes across flow), defined in the material coordinates of its epoch time
``t_k``. The image at ``t`` samples each epoch's texture at ``Φ(x, -(tau(t) - tau(t_k)))`` (backward
integration along ``v0``, computed on a 60 m grid and interpolated) and cross-fades the two epochs around
``t`` with triangular weights. Short pairs correlate well, long pairs decorrelate, shear never accumulates
for more than one epoch, and the features move exactly as `true_displacement` says (to ~1 m). Rock is
static with its own texture; every date gets a little sensor noise, a gain, and maybe clouds.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import pathlib
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from pyproj import Transformer
from scipy.interpolate import CubicSpline, PchipInterpolator
from scipy.ndimage import distance_transform_edt, gaussian_filter, maximum_filter
from shapely.geometry import Polygon

from tracking.exceptions import ParameterError, TrackingError
from tracking.scenes import make_scene

__all__ = [
    "BANDS",
    "DEMO_BOUNDS",
    "DEMO_CRS",
    "EPOCH_DAYS",
    "GENERATOR_VERSION",
    "SURFACE_CODES",
    "catalog",
    "demo_pair",
    "load_scene",
    "speed_history",
    "surface_type",
    "true_displacement",
    "true_velocity",
    "true_velocity_field",
    "write_geotiffs",
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

SURFACE_CODES = {"ice": 1, "rock": 2, "water": 3, "snow": 4}
"""Codes returned by `surface_type` (0 = outside)."""

_T_REF = np.datetime64("2000-01-01T00:00:00", "ns")
_DAY_NS = 86_400 * 10**9
_MODEL_STEP = 150.0  # v0 / masks grid spacing (m)
_MAP_STEP = 60.0  # backward-advection map grid spacing (m)
_RK_STEP = 40.0  # largest distance a particle moves in one RK4 step (m)
_EDGE_NOISE = 250.0  # largest offset (m) of the ragged rock edges from the smooth model edge
_MODEL_BOUNDS = (495000.0, 7620000.0, 650000.0, 7720000.0)
_SEASON = (3, 1, 10, 31)  # sunlit season: 1 March .. 31 October
_L9_START = np.datetime64("2021-10-31")
_END = np.datetime64("2024-12-31")
_PATH_TIME = {8: "14:50:", 9: "14:56:"}  # UTC overpass time (minutes), seconds vary per date
_PATH_DAY_OFFSET = {8: 0, 9: 7}  # adjacent path 9 (west) is imaged 7 days after path 8
_FIRST_L8 = np.datetime64("2015-03-08")
_PLATFORMS = {
    "LANDSAT_8": ("LC08", "Landsat 8 OLI"),
    "LANDSAT_9": ("LC09", "Landsat 9 OLI-2"),
}
# WRS-2 footprint rectangles in DEMO_CRS: centre, cross-track/along-track half sizes; descending pass heading.
_FOOTPRINT_CENTRE = {9: (610000.0, 7690000.0), 8: (667000.0, 7666000.0)}
_FOOTPRINT_HALF = (92500.0, 90000.0)
_HEADING_DEG = 203.0


# ----------------------------------------------------------------------------------------------------------
# time and speed history
# ----------------------------------------------------------------------------------------------------------

_ANNUAL_KNOTS = (
    (2013.5, 1.00), (2014.5, 1.02), (2015.5, 1.00), (2016.5, 0.97), (2017.5, 0.72), (2018.5, 0.57),
    (2019.5, 0.66), (2020.5, 0.82), (2021.5, 0.94), (2022.5, 0.90), (2023.5, 0.86), (2024.5, 0.88),
    (2025.5, 0.88),
)  # fmt: skip
_SUMMER_GAIN = 0.16  # summer speed-up (fraction)
_SUMMER_DOY, _SUMMER_WIDTH = 200.0, 32.0


def _days(t: Any) -> np.ndarray:
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


def _tau(days: np.ndarray) -> np.ndarray:
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
    values = _s_of_days(_days(t))
    return float(values) if np.ndim(values) == 0 else values


# ----------------------------------------------------------------------------------------------------------
# numba kernels: hashing, gradient noise, interpolation, advection, rendering
# ----------------------------------------------------------------------------------------------------------

_GRAD_X = np.cos(np.arange(16) * (2 * np.pi / 16) + 0.1).astype(np.float64)
_GRAD_Y = np.sin(np.arange(16) * (2 * np.pi / 16) + 0.1).astype(np.float64)
_NOISE_NORM = 4.6  # gradient noise below has std ~ 1 / _NOISE_NORM


@numba.njit(cache=True, inline="always")
def _hash3(a: int, b: int, c: int) -> int:
    h = ((a * 0x27D4EB2D) ^ (b * 0x165667B1) ^ ((c & 0xFFFFFFFF) * 0x61C88647)) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & 0xFFFFFFFF
    h ^= h >> 12
    h = (h * 0x297A2D39) & 0xFFFFFFFF
    h ^= h >> 15
    return h


@numba.njit(cache=True, inline="always")
def _gnoise(x: float, y: float, seed: int) -> float:
    """2-D gradient (Perlin-like) noise on the unit lattice, zero mean, std ~ 1 / _NOISE_NORM."""
    ix = math.floor(x)
    iy = math.floor(y)
    fx = x - ix
    fy = y - iy
    u = fx * fx * fx * (fx * (fx * 6.0 - 15.0) + 10.0)
    v = fy * fy * fy * (fy * (fy * 6.0 - 15.0) + 10.0)
    h00 = _hash3(ix, iy, seed) & 15
    h10 = _hash3(ix + 1, iy, seed) & 15
    h01 = _hash3(ix, iy + 1, seed) & 15
    h11 = _hash3(ix + 1, iy + 1, seed) & 15
    d00 = _GRAD_X[h00] * fx + _GRAD_Y[h00] * fy
    d10 = _GRAD_X[h10] * (fx - 1.0) + _GRAD_Y[h10] * fy
    d01 = _GRAD_X[h01] * fx + _GRAD_Y[h01] * (fy - 1.0)
    d11 = _GRAD_X[h11] * (fx - 1.0) + _GRAD_Y[h11] * (fy - 1.0)
    a = d00 + u * (d10 - d00)
    b = d01 + u * (d11 - d01)
    return a + v * (b - a)


@numba.njit(cache=True, inline="always")
def _gnoise_grad(x: float, y: float, seed: int):
    """`_gnoise` and its analytic derivatives (value, d/dx, d/dy) in lattice units."""
    ix = math.floor(x)
    iy = math.floor(y)
    fx = x - ix
    fy = y - iy
    u = fx * fx * fx * (fx * (fx * 6.0 - 15.0) + 10.0)
    v = fy * fy * fy * (fy * (fy * 6.0 - 15.0) + 10.0)
    du = 30.0 * fx * fx * (fx - 1.0) * (fx - 1.0)
    dv = 30.0 * fy * fy * (fy - 1.0) * (fy - 1.0)
    h00 = _hash3(ix, iy, seed) & 15
    h10 = _hash3(ix + 1, iy, seed) & 15
    h01 = _hash3(ix, iy + 1, seed) & 15
    h11 = _hash3(ix + 1, iy + 1, seed) & 15
    d00 = _GRAD_X[h00] * fx + _GRAD_Y[h00] * fy
    d10 = _GRAD_X[h10] * (fx - 1.0) + _GRAD_Y[h10] * fy
    d01 = _GRAD_X[h01] * fx + _GRAD_Y[h01] * (fy - 1.0)
    d11 = _GRAD_X[h11] * (fx - 1.0) + _GRAD_Y[h11] * (fy - 1.0)
    k = d00 - d10 - d01 + d11
    n = d00 + u * (d10 - d00) + v * (d01 - d00) + u * v * k
    kx = _GRAD_X[h00] - _GRAD_X[h10] - _GRAD_X[h01] + _GRAD_X[h11]
    ky = _GRAD_Y[h00] - _GRAD_Y[h10] - _GRAD_Y[h01] + _GRAD_Y[h11]
    nx = (_GRAD_X[h00] + u * (_GRAD_X[h10] - _GRAD_X[h00]) + v * (_GRAD_X[h01] - _GRAD_X[h00]) + u * v * kx
          + du * ((d10 - d00) + v * k))
    ny = (_GRAD_Y[h00] + u * (_GRAD_Y[h10] - _GRAD_Y[h00]) + v * (_GRAD_Y[h01] - _GRAD_Y[h00]) + u * v * ky
          + dv * ((d01 - d00) + u * k))
    return n, nx, ny


@numba.njit(cache=True)
def _fbm_grad(x: float, y: float, seed: int, coarsest: float, finest: float, gain: float):
    """`_fbm` and its gradient (per metre)."""
    total = 0.0
    gx = 0.0
    gy = 0.0
    norm = 0.0
    amp = 1.0
    size = coarsest
    k = 0
    while size >= finest * 0.999:
        n, nx, ny = _gnoise_grad(x / size + 0.37 * k, y / size - 0.61 * k, seed + 7919 * k)
        total += amp * n
        gx += amp * nx / size
        gy += amp * ny / size
        norm += amp * amp
        amp *= gain
        size *= 0.5
        k += 1
    scale = _NOISE_NORM / math.sqrt(norm)
    return total * scale, gx * scale, gy * scale


@numba.njit(cache=True)
def _fbm(x: float, y: float, seed: int, coarsest: float, finest: float, gain: float) -> float:
    """Fractal sum of gradient-noise octaves with lattice sizes coarsest, coarsest/2, ... >= finest (m).

    Normalised to unit standard deviation (approximately).
    """
    total = 0.0
    norm = 0.0
    amp = 1.0
    size = coarsest
    k = 0
    while size >= finest * 0.999:
        total += amp * _gnoise(x / size + 0.37 * k, y / size - 0.61 * k, seed + 7919 * k)
        norm += amp * amp
        amp *= gain
        size *= 0.5
        k += 1
    return total * _NOISE_NORM / math.sqrt(norm)


@numba.njit(cache=True, inline="always")
def _gauss_hash(a: int, b: int, c: int) -> float:
    """A deterministic approximately-normal number (unit std) from three integers."""
    h = _hash3(a, b, c)
    s = (h & 1023) + ((h >> 10) & 1023) + ((h >> 20) & 1023)
    return (s / 1023.0 - 1.5) * 2.0


@numba.njit(cache=True, inline="always")
def _cell(x: float, y: float, x0: float, y0: float, inv: float, nx: int, ny: int):
    """Bilinear cell (ix, iy, wx, wy) of point (x, y) on a grid with ascending x and y, clamped."""
    fx = min(max((x - x0) * inv, 0.0), nx - 1.000001)
    fy = min(max((y - y0) * inv, 0.0), ny - 1.000001)
    ix = int(fx)
    iy = int(fy)
    return ix, iy, fx - ix, fy - iy


@numba.njit(cache=True, inline="always")
def _lerp(a: np.ndarray, ix: int, iy: int, wx: float, wy: float) -> float:
    top = a[iy, ix] + wx * (a[iy, ix + 1] - a[iy, ix])
    bot = a[iy + 1, ix] + wx * (a[iy + 1, ix + 1] - a[iy + 1, ix])
    return top + wy * (bot - top)


@numba.njit(cache=True, inline="always")
def _vel(vx: np.ndarray, vy: np.ndarray, x0: float, y0: float, inv: float, x: float, y: float):
    ny, nx = vx.shape
    ix, iy, wx, wy = _cell(x, y, x0, y0, inv, nx, ny)
    return _lerp(vx, ix, iy, wx, wy), _lerp(vy, ix, iy, wx, wy)


@numba.njit(cache=True)
def _advect(x: float, y: float, flow_time: float, vx: np.ndarray, vy: np.ndarray, x0: float, y0: float,
            inv: float, step_m: float):
    """Move a particle along ``v0`` for ``flow_time`` days (negative: backwards), adaptive-step RK4."""
    remaining = abs(flow_time)
    sign = 1.0 if flow_time >= 0 else -1.0
    for _ in range(1_000_000):
        if remaining <= 0.0:
            break
        u, v = _vel(vx, vy, x0, y0, inv, x, y)
        speed = math.sqrt(u * u + v * v)
        if speed < 1e-9:
            break
        dt = min(remaining, step_m / speed)
        h = sign * dt
        k1x, k1y = u, v
        k2x, k2y = _vel(vx, vy, x0, y0, inv, x + 0.5 * h * k1x, y + 0.5 * h * k1y)
        k3x, k3y = _vel(vx, vy, x0, y0, inv, x + 0.5 * h * k2x, y + 0.5 * h * k2y)
        k4x, k4y = _vel(vx, vy, x0, y0, inv, x + h * k3x, y + h * k3y)
        x += h * (k1x + 2.0 * k2x + 2.0 * k3x + k4x) / 6.0
        y += h * (k1y + 2.0 * k2y + 2.0 * k3y + k4y) / 6.0
        remaining -= dt
    return x, y


def _advect_points_py(xs: np.ndarray, ys: np.ndarray, flow_time: np.ndarray, vx: np.ndarray, vy: np.ndarray,
                      x0: float, y0: float, inv: float, step_m: float):
    """`_advect` for flat arrays of points and flow times."""
    out_x = np.empty_like(xs)
    out_y = np.empty_like(ys)
    for i in numba.prange(xs.size):
        out_x[i], out_y[i] = _advect(xs[i], ys[i], flow_time[i], vx, vy, x0, y0, inv, step_m)
    return out_x, out_y


# thread start-up costs milliseconds: small jobs run serially
_advect_points_serial = numba.njit(cache=True)(_advect_points_py)
_advect_points_parallel = numba.njit(cache=True, parallel=True)(_advect_points_py)


@numba.njit(cache=True, parallel=True)
def _advect_grid(gx: np.ndarray, gy: np.ndarray, flow_time: float, vx: np.ndarray, vy: np.ndarray,
                 x0: float, y0: float, inv: float, step_m: float):
    """Advect every node of the grid ``gx`` x ``gy`` (ascending) by one flow time; arrays (ny, nx)."""
    out_x = np.empty((gy.size, gx.size))
    out_y = np.empty((gy.size, gx.size))
    for i in numba.prange(gy.size):
        for j in range(gx.size):
            out_x[i, j], out_y[i, j] = _advect(gx[j], gy[i], flow_time, vx, vy, x0, y0, inv, step_m)
    return out_x, out_y


@numba.njit(cache=True, inline="always")
def _smoothstep(e0: float, e1: float, x: float) -> float:
    t = min(max((x - e0) / (e1 - e0), 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


# layers of the static model stack (see _model)
_ROCK, _SNOW, _FJORD, _CREV, _ALONG, _CHEVRON = range(6)


@numba.njit(cache=True, inline="always")
def _surface(x: float, y: float, static: np.ndarray, mx0: float, my0: float, minv: float, front_x: float,
             static_seed: int):
    """Surface at a point: (is_rock, snow weight 0..1, is_water) from the static model stack."""
    ny, nx = static.shape[1:]
    ix, iy, wx, wy = _cell(x, y, mx0, my0, minv, nx, ny)
    rock_score = _lerp(static[_ROCK], ix, iy, wx, wy)
    if abs(rock_score) < _EDGE_NOISE:  # a ragged edge, at most _EDGE_NOISE m from the smooth one
        ragged = 0.4 * _fbm(x, y, static_seed + 11, 1600.0, 100.0, 0.55)
        rock_score += _EDGE_NOISE * min(max(ragged, -1.0), 1.0)
    if rock_score > 0.0:
        return True, 0.0, False
    if _lerp(static[_FJORD], ix, iy, wx, wy) < 700.0:  # any non-rock point of the fjord: as far as the walls
        wiggle = 500.0 * math.sin(y / 2300.0) + 300.0 * _fbm(0.0, y, static_seed + 13, 1200.0, 150.0, 0.6)
        front = front_x + wiggle
        if x < front:
            return False, 0.0, True
    snow_score = _lerp(static[_SNOW], ix, iy, wx, wy)
    if snow_score < -1900.0:
        return False, 0.0, False
    snow_score += 350.0 * _fbm(x, y, static_seed + 17, 2400.0, 150.0, 0.6)
    return False, _smoothstep(-150.0, 150.0, snow_score), False


@numba.njit(cache=True)
def _classify(xs: np.ndarray, ys: np.ndarray, static: np.ndarray, mx0: float, my0: float, minv: float,
              front_x: float, static_seed: int) -> np.ndarray:
    out = np.empty(xs.size, dtype=np.uint8)
    for i in range(xs.size):
        is_rock, snow_w, water = _surface(xs[i], ys[i], static, mx0, my0, minv, front_x, static_seed)
        if is_rock:
            out[i] = 2
        elif water:
            out[i] = 3
        elif snow_w > 0.5:
            out[i] = 4
        else:
            out[i] = 1
    return out


@numba.njit(cache=True, inline="always")
def _ice_texture(x: float, y: float, seed: int, finest: float, static: np.ndarray, mx0: float, my0: float,
                 minv: float, line_sigma: float) -> float:
    """One epoch's ice signal at material point (x, y): fractal texture minus crevasse stripes.

    Stripes run across flow (constant along-flow coordinate), bending into chevrons at the margins.
    """
    tex = _fbm(x, y, seed, 960.0, finest, 0.75)
    ny, nx = static.shape[1:]
    ix, iy, wx, wy = _cell(x, y, mx0, my0, minv, nx, ny)
    crev = _lerp(static[_CREV], ix, iy, wx, wy)
    if crev <= 0.01:
        return tex
    spacing = 220.0  # constant: a varying spacing times the large along-flow coordinate would alias
    along = _lerp(static[_ALONG], ix, iy, wx, wy) + 0.9 * _lerp(static[_CHEVRON], ix, iy, wx, wy)
    phase = along / spacing + 0.35 * _fbm(x, y, seed + 101, 1200.0, 300.0, 0.5)
    frac = phase - math.floor(phase) - 0.5
    width = line_sigma / spacing
    line = math.exp(-0.5 * (frac / width) ** 2)
    patch = _smoothstep(-0.7, 0.5, _fbm(x, y, seed + 202, 1600.0, 400.0, 0.5))
    return tex - 3.0 * crev * patch * line


@numba.njit(cache=True, inline="always")
def _rock_value(x: float, y: float, seed: int, finest: float) -> float:
    """Static rock reflectance: albedo variations times a hill-shade of fractal relief (sun from SSE)."""
    h0, gx, gy = _fbm_grad(x, y, seed + 31, 3840.0, finest, 0.58)
    relief = 120.0  # m per unit of noise
    gx *= relief
    gy *= relief
    # sun azimuth ~160 deg (from SSE), elevation ~35 deg; Lambertian shade of the surface normal
    sx, sy, sz = 0.196, -0.539, 0.819
    shade = (-gx * sx - gy * sy + sz) / math.sqrt(gx * gx + gy * gy + 1.0)
    albedo = 0.26 + 0.05 * _fbm(x, y, seed + 37, 6000.0, 750.0, 0.5) - 0.03 * h0
    val = albedo * max(shade, 0.08) / sz
    snowy = -0.35 * shade + 0.25 * _fbm(x, y, seed + 41, 2000.0, 250.0, 0.5) - 0.1 * h0  # shaded hollows
    snow = _smoothstep(0.25, 0.45, snowy)
    return val + snow * (0.75 - val)


@numba.njit(cache=True, parallel=True)
def _render(out: np.ndarray, row0: int, col0: int, xmin: float, ymax: float, px: float, finest: float,
            line_sigma: float, static: np.ndarray, mx0: float, my0: float, minv: float, maps: np.ndarray,
            gx0: float, gy0: float, ginv: float, w_a: float, seed_a: int, seed_b: int, static_seed: int,
            date_seed: int, noise_seed: int, front_x: float, fp: np.ndarray, cloud_thr: float, gain: float,
            offset: float, noise_sigma: float) -> None:
    """Render one scene crop into ``out`` (rows, cols); global pixel (row0, col0) is ``out[0, 0]``.

    ``maps`` = (xa, ya, xb, yb) material positions at the two epochs on the map grid (gx0, gy0, 1/ginv);
    ``fp`` = (centre x, centre y, cross-track unit x, unit y, half cross, half along) of the footprint.
    """
    rows, cols = out.shape
    w_b = 1.0 - w_a
    norm = 1.0 / math.sqrt(w_a * w_a + w_b * w_b)
    gny, gnx = maps.shape[1:]
    mny, mnx = static.shape[1:]
    for i in numba.prange(rows):
        gi = row0 + i
        y = ymax - (gi + 0.5) * px
        for j in range(cols):
            gj = col0 + j
            x = xmin + (gj + 0.5) * px
            dx = x - fp[0]
            dy = y - fp[1]
            if abs(dx * fp[2] + dy * fp[3]) > fp[4] or abs(-dx * fp[3] + dy * fp[2]) > fp[5]:
                out[i, j] = np.nan
                continue
            is_rock, snow_w, water = _surface(x, y, static, mx0, my0, minv, front_x, static_seed)
            if is_rock:
                val = _rock_value(x, y, static_seed, finest)
            elif water:  # ice mélange: blocky, dark, different on every date
                m = _fbm(x, y, date_seed + 53, 480.0, finest, 0.7)
                val = 0.22 + 0.035 * m + 0.04 * _fbm(x, y, date_seed + 59, 4000.0, 1000.0, 0.5)
            else:
                ix, iy, wx, wy = _cell(x, y, gx0, gy0, ginv, gnx, gny)
                sig = 0.0
                if w_a > 0.0:
                    xe = _lerp(maps[0], ix, iy, wx, wy)
                    ye = _lerp(maps[1], ix, iy, wx, wy)
                    sig += w_a * _ice_texture(xe, ye, seed_a, finest, static, mx0, my0, minv, line_sigma)
                if w_b > 0.0:
                    xe = _lerp(maps[2], ix, iy, wx, wy)
                    ye = _lerp(maps[3], ix, iy, wx, wy)
                    sig += w_b * _ice_texture(xe, ye, seed_b, finest, static, mx0, my0, minv, line_sigma)
                sig *= norm
                hix, hiy, hwx, hwy = _cell(x, y, mx0, my0, minv, mnx, mny)
                crev_here = _lerp(static[_CREV], hix, hiy, hwx, hwy)
                ice = 0.6 - 0.06 * crev_here + (0.035 + 0.04 * crev_here) * sig
                val = ice + snow_w * (0.87 + 0.0015 * sig - ice)
            if cloud_thr < 1e9:
                cn = _fbm(x, y, date_seed + 71, 12000.0, 750.0, 0.55)
                if cn > cloud_thr:
                    alpha = 0.93 * _smoothstep(0.0, 0.6, cn - cloud_thr)
                    cloud = 0.8 + 0.05 * _fbm(x, y, date_seed + 73, 3000.0, 375.0, 0.6)
                    val = val + alpha * (cloud - val)
            val = gain * val + offset + noise_sigma * _gauss_hash(gi, gj, noise_seed)
            out[i, j] = min(max(val, 0.0), 1.0)


@numba.njit(cache=True)
def _cloud_noise(xs: np.ndarray, ys: np.ndarray, date_seed: int) -> np.ndarray:
    out = np.empty(xs.size)
    for i in numba.prange(xs.size):
        out[i] = _fbm(xs[i], ys[i], date_seed + 71, 12000.0, 750.0, 0.55)
    return out


# ----------------------------------------------------------------------------------------------------------
# geometry: channels, masks and the steady velocity field v0
# ----------------------------------------------------------------------------------------------------------

# Flow-lines, upstream -> downstream: (x, y, half-width m, speed m/day at s = 1).
_CHANNELS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "trunk": (
        (650000, 7668000, 9500, 0.8), (620000, 7669000, 8500, 1.4), (605000, 7670500, 6500, 3.0),
        (590000, 7671000, 4500, 6.5), (578000, 7670000, 3300, 12.0), (566000, 7669000, 2700, 19.0),
        (556000, 7668200, 2600, 27.0), (548000, 7667500, 2800, 35.0), (538000, 7667800, 3000, 35.0),
        (528000, 7669500, 3200, 35.0), (495000, 7671000, 3500, 35.0),
    ),
    "north": (
        (615000, 7700000, 5000, 1.0), (598000, 7688000, 3500, 3.0), (584000, 7680000, 2400, 7.0),
        (572000, 7673500, 2000, 11.0), (563000, 7669500, 1800, 16.0),
    ),
    "south": (
        (615000, 7642000, 5000, 0.8), (596000, 7653000, 3500, 2.5), (582000, 7661000, 2300, 6.0),
        (571000, 7666000, 1800, 10.0), (562000, 7668500, 1600, 15.0),
    ),
    "wall_north": (
        (553000, 7697000, 1500, 0.6), (552500, 7686000, 1200, 1.2), (551000, 7676000, 900, 2.2),
        (550000, 7669500, 800, 3.0),
    ),
    "wall_south": (
        (542000, 7644000, 1300, 0.5), (545500, 7654000, 1000, 1.0), (548000, 7662500, 800, 1.8),
        (549000, 7666500, 700, 2.5),
    ),
}  # fmt: skip
_NUNATAKS = ((596500, 7660300, 1700), (607000, 7681500, 1400), (585000, 7694000, 2300),
             (614000, 7659000, 1100), (581000, 7648500, 2400))  # fmt: skip
# Featureless snowfields: (x, y, semi-axis a, semi-axis b, rotation deg).
_SNOWFIELDS = ((612000, 7689000, 5500, 2500, 25), (604000, 7646500, 4000, 2200, -30),
               (535000, 7691000, 4500, 2600, 10), (598000, 7696000, 3000, 1800, 0))  # fmt: skip


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
def _model() -> dict[str, Any]:
    """The static glacier model on a 150 m grid.

    Returns a dict with the grid origin ``x0``, ``y0`` and ``inv`` (1 / spacing), the steady velocity
    ``vx``, ``vy`` (m/day at s = 1) and ``static``, a stack of layers indexed by ``_ROCK`` (signed distance
    into rock, m), ``_SNOW`` (into snowfields, m), ``_FJORD`` (signed distance outside the trunk's fjord,
    m), ``_CREV`` (crevasse intensity 0..1), ``_ALONG`` (along-flow coordinate, m) and ``_CHEVRON``
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
    # _EDGE_NOISE): rock never moves, and ice within ~0.5 km of rock is stagnant
    ice_factor = np.clip((-rock - _EDGE_NOISE - 1.5 * _MODEL_STEP) / 600.0, 0.0, 1.0)
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
        "x0": float(gx[0]), "y0": float(gy[0]), "inv": 1.0 / _MODEL_STEP,
        "vx": np.ascontiguousarray(vel[0]), "vy": np.ascontiguousarray(vel[1]),
        "static": np.ascontiguousarray(static, dtype=np.float64),
    }  # fmt: skip


def _front_x(days: float) -> float:
    """Mean x of the calving front at a time: retreats ~2 km in late summer, re-advanced in 2017-2019."""
    year = 2000.0 + days / 365.2425
    doy = (year - math.floor(year)) * 365.2425
    seasonal = -1000.0 * math.cos(2 * math.pi * (doy - 130.0) / 365.2425) + 1000.0  # 0 in May, 2 km in Nov
    readvance = 2200.0 * math.exp(-0.5 * ((year - 2018.4) / 0.9) ** 2)
    return 546500.0 + 1000.0 - seasonal - readvance


# ----------------------------------------------------------------------------------------------------------
# catalog
# ----------------------------------------------------------------------------------------------------------


def _footprint_params(path: int, jitter: float) -> np.ndarray:
    """(cx, cy, cross-track unit x, unit y, half cross, half along) of a path's footprint in DEMO_CRS."""
    heading = math.radians(_HEADING_DEG)
    along = np.array([math.sin(heading), math.cos(heading)])
    cross = np.array([-along[1], along[0]])  # along rotated by -90 deg: points east-ish
    if cross[0] < 0:
        cross = -cross
    cx, cy = np.asarray(_FOOTPRINT_CENTRE[path]) + jitter * along
    return np.array([cx, cy, cross[0], cross[1], *_FOOTPRINT_HALF])


@functools.cache
def _to_lonlat() -> Transformer:
    return Transformer.from_crs(DEMO_CRS, "EPSG:4326", always_xy=True)


def _footprint_polygon(fp: np.ndarray) -> Polygon:
    """The footprint quadrilateral in EPSG:4326."""
    cx, cy, ux, uy, hu, hv = fp
    corners = [(su * hu, sv * hv) for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    xs = [cx + u * ux - v * uy for u, v in corners]
    ys = [cy + u * uy + v * ux for u, v in corners]
    lon, lat = _to_lonlat().transform(xs, ys)
    return Polygon(zip(lon, lat, strict=True))


def _acquisition_dates() -> list[tuple[np.datetime64, str, int]]:
    """(date, platform, path) of every acquisition in the sunlit season, 2015-2024."""
    out = []
    for platform, first, offset in (("LANDSAT_8", _FIRST_L8, 0), ("LANDSAT_9", _L9_START, 8)):
        for path, day_offset in _PATH_DAY_OFFSET.items():
            dates = _FIRST_L8 + np.timedelta64(offset + day_offset, "D") + np.arange(0, 3700, 16).astype(
                "timedelta64[D]"
            )
            for date in dates[(dates >= first) & (dates <= _END)]:
                month, day = pd.Timestamp(date).month, pd.Timestamp(date).day
                if (_SEASON[0], _SEASON[1]) <= (month, day) <= (_SEASON[2], _SEASON[3]):
                    out.append((date, platform, path))
    return out


@functools.cache
def _demo_extent_points() -> tuple[np.ndarray, np.ndarray]:
    """A 1 km grid of points over the demo extent (for cloud cover statistics)."""
    xmin, ymin, xmax, ymax = DEMO_BOUNDS
    xx, yy = np.meshgrid(np.arange(xmin + 500, xmax, 1000.0), np.arange(ymin + 500, ymax, 1000.0))
    return xx.ravel(), yy.ravel()


def _inside(fp: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    dx, dy = x - fp[0], y - fp[1]
    return (np.abs(dx * fp[2] + dy * fp[3]) <= fp[4]) & (np.abs(-dx * fp[3] + dy * fp[2]) <= fp[5])


@functools.cache
def _full_catalog(seed: int) -> pd.DataFrame:
    """The catalog with the private per-scene generator parameters (footprint, seeds, cloud threshold)."""
    records = []
    px, py = _demo_extent_points()
    for date, platform, path in _acquisition_dates():
        day = int((date - np.datetime64("1970-01-01")).astype(int))
        scene_seed = _hash_py(seed, day, path * 10 + (platform == "LANDSAT_9"))
        rng = np.random.default_rng(scene_seed)
        prefix, sensor = _PLATFORMS[platform]
        time = pd.Timestamp(date) + pd.Timedelta(f"{_PATH_TIME[path][:2]}h") + pd.Timedelta(
            minutes=int(_PATH_TIME[path][3:5]), seconds=int(rng.integers(0, 60))
        )
        fp = _footprint_params(path, float(rng.uniform(-1500, 1500)))
        inside = _inside(fp, px, py)
        draw = rng.uniform()
        target = 0.0 if draw < 0.45 else (rng.uniform(0.02, 0.2) if draw < 0.7 else rng.uniform(0.2, 0.9))
        thr, cover = np.inf, 0.0
        if target > 0 and inside.any():
            noise = np.sort(_cloud_noise(px[inside], py[inside], scene_seed))
            thr = float(noise[int((1.0 - target) * (noise.size - 1))])
            cover = float(np.mean(noise > thr))
        records.append({
            "scene_id": f"{prefix}_L1TP_{path:03d}011_{pd.Timestamp(date):%Y%m%d}_DEMO",
            "time": time,
            "platform": platform,
            "sensor": sensor,
            "path": path,
            "row": 11,
            "cloud_cover": round(100.0 * cover, 2),
            "geometry": _footprint_polygon(fp),
            "_fp": fp,
            "_seed": scene_seed,
            "_cloud_thr": thr,
            "_coverage": float(inside.mean()),
            "_gain": float(rng.uniform(0.94, 1.05)),
            "_offset": float(rng.uniform(-0.01, 0.015)),
        })
    frame = pd.DataFrame.from_records(records).sort_values("time", kind="stable").reset_index(drop=True)
    frame["time"] = frame["time"].astype("datetime64[ns]")
    return frame.set_index("scene_id", drop=False)


def _hash_py(*values: int) -> int:
    """A 31-bit deterministic hash of integers (stable across processes, unlike ``hash``)."""
    h = 0x12345
    for v in values:
        h = (h * 1_000_003 ^ (int(v) & 0xFFFFFFFF)) & 0x7FFFFFFF
        h = ((h ^ (h >> 13)) * 0x5BD1E995) & 0x7FFFFFFF
    return h


def catalog(*, seed: int = 0) -> gpd.GeoDataFrame:
    """All demo acquisitions: Landsat 8 (2015-2024) and 9 (2022-2024), WRS-2 paths 8 and 9, row 11.

    Sixteen-day repeats (Landsat 9 eight days after Landsat 8, path 9 seven days after path 8), only in
    the sunlit season (1 March - 31 October). Cheap: no image is generated.

    Parameters
    ----------
    seed : int
        The demo's random seed (it sets the cloud cover of each date).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per acquisition sorted by time: scene_id, time (datetime64[ns], UTC), platform, sensor,
        path, row, cloud_cover (% of the demo extent's imaged pixels under cloud), geometry (the scene
        footprint, EPSG:4326).
    """
    frame = _full_catalog(int(seed))
    cols = ["scene_id", "time", "platform", "sensor", "path", "row", "cloud_cover", "geometry"]
    return gpd.GeoDataFrame(frame[cols].reset_index(drop=True), geometry="geometry", crs="EPSG:4326")


def _entry(scene_id: str, seed: int) -> pd.Series:
    frame = _full_catalog(int(seed))
    if scene_id not in frame.index:
        raise TrackingError(
            f"unknown demo scene id {scene_id!r}; list the valid ids with "
            "tracking.sources.demo.catalog()['scene_id'] (e.g. 'LC08_L1TP_009011_20210516_DEMO')"
        )
    return frame.loc[scene_id]


# ----------------------------------------------------------------------------------------------------------
# scene generation and cache
# ----------------------------------------------------------------------------------------------------------


def _grid_shape(band: str) -> tuple[int, int]:
    px = _pixel_size(band)
    xmin, ymin, xmax, ymax = DEMO_BOUNDS
    return round((ymax - ymin) / px), round((xmax - xmin) / px)


def _pixel_size(band: str) -> float:
    if band not in BANDS:
        raise ParameterError(f"unknown demo band {band!r}; choose one of {sorted(BANDS)}")
    return BANDS[band]


def _epoch_maps(days: float, rows: slice, cols: slice, px: float) -> dict[str, Any]:
    """The two texture epochs around a time and their backward-advection maps on a 60 m grid."""
    model = _model()
    k = math.floor(days / EPOCH_DAYS)
    t_a, t_b = k * EPOCH_DAYS, (k + 1) * EPOCH_DAYS
    w_a = 1.0 - (days - t_a) / EPOCH_DAYS
    tau_now, tau_a, tau_b = _tau(np.array([days, t_a, t_b]))
    xmin, _, _, ymax = DEMO_BOUNDS
    x_lo, x_hi = xmin + cols.start * px, xmin + cols.stop * px
    y_lo, y_hi = ymax - rows.stop * px, ymax - rows.start * px
    gx = np.arange(math.floor(x_lo / _MAP_STEP) - 1, math.ceil(x_hi / _MAP_STEP) + 2) * _MAP_STEP
    gy = np.arange(math.floor(y_lo / _MAP_STEP) - 1, math.ceil(y_hi / _MAP_STEP) + 2) * _MAP_STEP
    args = (model["vx"], model["vy"], model["x0"], model["y0"], model["inv"], _RK_STEP)
    ax, ay = _advect_grid(gx, gy, -(tau_now - tau_a), *args)
    bx, by = _advect_grid(gx, gy, -(tau_now - tau_b), *args)
    maps = np.stack([ax, ay, bx, by])
    return {"w_a": w_a, "k": k, "gx0": float(gx[0]), "gy0": float(gy[0]), "maps": maps}


def _generate(entry: pd.Series, band: str, rows: slice, cols: slice, seed: int) -> np.ndarray:
    """Render the pixels ``[rows, cols]`` of one scene (float32 reflectance, NaN outside the footprint)."""
    px = _pixel_size(band)
    model = _model()
    days = float(_days(entry["time"]))
    maps = _epoch_maps(days, rows, cols, px)
    out = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=np.float32)
    static_seed = _hash_py(seed, 424242)
    date_seed = int(entry["_seed"])  # clouds and mélange: the same in every band
    noise_seed = _hash_py(date_seed, 1 if band == "red" else 2)  # sensor noise: per band
    xmin, _, _, ymax = DEMO_BOUNDS
    _render(
        out, rows.start, cols.start, xmin, ymax, px, 4.0 * px, max(18.0, 0.75 * px),
        model["static"], model["x0"], model["y0"], model["inv"], maps["maps"],
        maps["gx0"], maps["gy0"], 1.0 / _MAP_STEP, maps["w_a"],
        _hash_py(seed, maps["k"], 77), _hash_py(seed, maps["k"] + 1, 77), static_seed, date_seed, noise_seed,
        _front_x(days), np.asarray(entry["_fp"], dtype=np.float64), entry["_cloud_thr"]
        if np.isfinite(entry["_cloud_thr"]) else 1e10, entry["_gain"], entry["_offset"], 0.004,
    )  # fmt: skip
    return out


def _cache_dir(cache_dir: str | os.PathLike | None) -> pathlib.Path:
    if cache_dir is not None:
        return pathlib.Path(cache_dir)
    env = os.environ.get("ICETRACK_CACHE")
    return pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "icetrack" / "demo"


def _cache_path(directory: pathlib.Path, scene_id: str, band: str, seed: int) -> pathlib.Path:
    return directory / f"{scene_id}_{band}_seed{seed}_{GENERATOR_VERSION}.npy"


def _save_atomic(path: pathlib.Path, array: np.ndarray) -> None:
    """Write ``array`` as .npy to ``path`` atomically (temp file in the same folder, then os.replace)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array)
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _full_scene(entry: pd.Series, band: str, seed: int, cache_dir: pathlib.Path) -> np.ndarray:
    """The whole scene, from the cache (memory-mapped) or generated and cached."""
    path = _cache_path(cache_dir, entry["scene_id"], band, seed)
    if path.exists():
        try:
            return np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a corrupt cache file: regenerate
    rows, cols = _grid_shape(band)
    data = _generate(entry, band, slice(0, rows), slice(0, cols), seed)
    with contextlib.suppress(OSError):  # a read-only cache is not an error: the scene is still returned
        _save_atomic(path, data)
    return data


def _window(bbox: tuple[float, float, float, float], band: str) -> tuple[slice, slice]:
    """Rows and columns of the pixel grid covering ``bbox`` (snapped outwards), clipped to the demo."""
    px = _pixel_size(band)
    xmin, _, _, ymax = DEMO_BOUNDS
    nrows, ncols = _grid_shape(band)
    bx0, by0, bx1, by1 = (float(v) for v in bbox)
    if bx1 <= bx0 or by1 <= by0:
        raise ParameterError(f"bbox {bbox} is empty: give (xmin, ymin, xmax, ymax), xmin < xmax, ymin < ymax")
    c0 = max(0, math.floor((bx0 - xmin) / px + 1e-9))
    c1 = min(ncols, math.ceil((bx1 - xmin) / px - 1e-9))
    r0 = max(0, math.floor((ymax - by1) / px + 1e-9))
    r1 = min(nrows, math.ceil((ymax - by0) / px - 1e-9))
    if c1 <= c0 or r1 <= r0:
        raise TrackingError(f"bbox {bbox} does not overlap the demo extent {DEMO_BOUNDS} ({DEMO_CRS})")
    return slice(r0, r1), slice(c0, c1)


def load_scene(
    scene_id: str,
    band: str = "red",
    *,
    bbox: tuple[float, float, float, float] | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> xr.DataArray:
    """One demo scene as a `Scene` DataArray (float32 TOA reflectance 0..1, NaN outside the footprint).

    A whole scene is generated once (about 1-3 s for red) and cached as ``.npy``; a ``bbox`` crop is cut
    from the cache when the scene is there, else only the crop is generated (identical pixels, not cached).

    Parameters
    ----------
    scene_id : str
        An id from `catalog`, e.g. ``"LC08_L1TP_009011_20210516_DEMO"``.
    band : {"red", "pan"}
        30 m red (3333 x 2000 px) or 15 m panchromatic (6666 x 4000 px).
    bbox : (xmin, ymin, xmax, ymax), optional
        Crop in DEMO_CRS metres, snapped outwards to the band's pixel grid.
    seed : int
        Demo seed: the same seed gives identical pixels.
    cache_dir : path, optional
        Cache folder; default ``$ICETRACK_CACHE`` or ``~/.cache/icetrack/demo``.

    Returns
    -------
    xarray.DataArray
        The scene with attrs time, sensor, band, scene_id, platform, path, row and cloud_cover.

    Raises
    ------
    TrackingError
        An unknown scene id, or a bbox outside the demo extent.
    ParameterError
        An unknown band.
    """
    entry = _entry(scene_id, seed)
    px = _pixel_size(band)
    nrows, ncols = _grid_shape(band)
    rows, cols = (slice(0, nrows), slice(0, ncols)) if bbox is None else _window(bbox, band)
    cached = _cache_path(_cache_dir(cache_dir), scene_id, band, seed)
    if bbox is None or cached.exists():
        data = np.array(_full_scene(entry, band, seed, _cache_dir(cache_dir))[rows, cols])
    else:
        data = _generate(entry, band, rows, cols, seed)
    xmin, _, _, ymax = DEMO_BOUNDS
    transform = Affine(px, 0.0, xmin + cols.start * px, 0.0, -px, ymax - rows.start * px)
    scene = make_scene(data, transform=transform, crs=DEMO_CRS, time=entry["time"], sensor=entry["sensor"],
                       band=band, scene_id=scene_id)  # fmt: skip
    scene.attrs.update(platform=entry["platform"], path=int(entry["path"]), row=int(entry["row"]),
                       cloud_cover=float(entry["cloud_cover"]))  # fmt: skip
    return scene


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
    flow = float(np.diff(_tau(_days(np.array([t0, t1], dtype=object))))[0])
    model = _model()
    flat_x = np.ascontiguousarray(xs.ravel())
    flat_y = np.ascontiguousarray(ys.ravel())
    kernel = _advect_points_parallel if flat_x.size > 4096 else _advect_points_serial
    ex, ey = kernel(flat_x, flat_y, np.full(flat_x.size, flow), model["vx"], model["vy"],
                            model["x0"], model["y0"], model["inv"], _RK_STEP)  # fmt: skip
    return (ex - flat_x).reshape(xs.shape), (ey - flat_y).reshape(xs.shape)


def true_velocity(t0: Any, t1: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean true velocity (m/yr, east and north) between ``t0`` and ``t1`` of features at ``(x, y)`` at t0.

    `true_displacement` divided by ``(t1 - t0)`` in years of 365.25 days.
    """
    dt_days = float(np.diff(_days(np.array([t0, t1], dtype=object)))[0])
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
    """The surface class at map points at a time: 1 ice, 2 rock, 3 water/mélange, 4 featureless snow.

    Useful to score a tracker: rock is stable ground (true motion 0), water and snow have no trackable
    texture. Footprints and clouds are not considered.
    """
    xs, ys = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    model = _model()
    codes = _classify(np.ascontiguousarray(xs.ravel()), np.ascontiguousarray(ys.ravel()), model["static"],
                      model["x0"], model["y0"], model["inv"], _front_x(float(_days(t))),
                      _hash_py(seed, 424242))  # fmt: skip
    return codes.reshape(xs.shape)


# ----------------------------------------------------------------------------------------------------------
# pairs and GeoTIFF export
# ----------------------------------------------------------------------------------------------------------


def _pick_pair(t0: Any, dt_days: float, *, seed: int) -> tuple[str, str]:
    """Ids of the cloud-free same-path pair that `demo_pair` loads."""
    frame = _full_catalog(int(seed))
    clear = frame[frame["cloud_cover"] == 0]
    target = pd.Timestamp(t0).to_datetime64()
    best: tuple[float, str, str] | None = None
    for _, group in clear.groupby("path"):
        times = group["time"].to_numpy()
        ids = group["scene_id"].to_numpy()
        cover = group["_coverage"].to_numpy()
        sep = (times[None, :] - times[:, None]) / np.timedelta64(1, "D")
        i, j = np.nonzero(sep > 0)
        score = (np.abs(sep[i, j] - dt_days) * 100.0 + np.abs((times[i] - target) / np.timedelta64(1, "D"))
                 + 10.0 * (1.0 - cover[i]))  # fmt: skip
        if score.size:
            k = int(np.argmin(score))
            if best is None or score[k] < best[0]:
                best = (float(score[k]), ids[i[k]], ids[j[k]])
    if best is None:
        raise TrackingError("no cloud-free demo pair found; try another seed")
    return best[1], best[2]


def demo_pair(
    t0: Any = "2021-05-01", dt_days: float = 16, band: str = "red", *, seed: int = 0
) -> tuple[xr.DataArray, xr.DataArray]:
    """A cloud-free pair of whole scenes on the same path, the first near ``t0``, ``dt_days`` apart.

    Among the cloud-free same-path pairs the one whose separation is closest to ``dt_days`` and then whose
    first date is closest to ``t0`` wins; full-coverage path 9 is preferred on ties.

    Returns
    -------
    (reference, secondary) : tuple of xarray.DataArray
    """
    _pixel_size(band)  # fail fast on an unknown band
    ref_id, sec_id = _pick_pair(t0, dt_days, seed=seed)
    return load_scene(ref_id, band, seed=seed), load_scene(sec_id, band, seed=seed)


def write_geotiffs(
    directory: str | os.PathLike,
    *,
    band: str = "red",
    scene_ids: Iterable[str] | None = None,
    seed: int = 0,
    limit: int | None = None,
) -> list[pathlib.Path]:
    """Write demo scenes as GeoTIFFs ``<scene_id>_<band>.tif`` (tiled, deflate, float32, NaN nodata).

    Tags: ``TIFFTAG_DATETIME`` ("YYYY:MM:DD HH:MM:SS") and ACQUISITION_TIME (ISO), SENSOR, BAND, SCENE_ID,
    CLOUD_COVER. Each file is written to a temporary name in ``directory`` then moved in place.

    Parameters
    ----------
    directory : path
        Output folder, created if missing.
    band : {"red", "pan"}
    scene_ids : iterable of str, optional
        Which scenes; default all of the catalog, in time order.
    seed : int
    limit : int, optional
        Write at most this many scenes.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    import rasterio

    out_dir = pathlib.Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = list(catalog(seed=seed)["scene_id"] if scene_ids is None else scene_ids)
    if limit is not None:
        ids = ids[: max(0, int(limit))]
    written = []
    for scene_id in ids:
        scene = load_scene(scene_id, band, seed=seed)
        stamp = pd.Timestamp(scene.attrs["time"])
        target = out_dir / f"{scene_id}_{band}.tif"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp.tif", dir=out_dir)
        os.close(fd)
        rows, cols = scene.shape
        profile = {
            "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32",
            "crs": DEMO_CRS, "transform": scene.rio.transform(), "nodata": float("nan"), "tiled": True,
            "blockxsize": 256, "blockysize": 256, "compress": "deflate", "predictor": 3,
        }  # fmt: skip
        try:
            with rasterio.open(tmp, "w", **profile) as dst:
                dst.write(scene.values.astype(np.float32), 1)
                dst.update_tags(
                    TIFFTAG_DATETIME=f"{stamp:%Y:%m:%d %H:%M:%S}", ACQUISITION_TIME=stamp.isoformat(),
                    SENSOR=scene.attrs["sensor"], BAND=band, SCENE_ID=scene_id,
                    CLOUD_COVER=str(scene.attrs["cloud_cover"]),
                )  # fmt: skip
                dst.set_band_description(1, band)
            os.replace(tmp, target)
        except BaseException:
            pathlib.Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
