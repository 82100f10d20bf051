"""Numba kernels of the demo glacier: hashing, gradient noise, interpolation, advection and rendering."""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "ALONG",
    "CHEVRON",
    "CREV",
    "EDGE_NOISE",
    "FJORD",
    "ROCK",
    "SNOW",
    "advect_grid",
    "advect_points_parallel",
    "advect_points_serial",
    "classify",
    "cloud_noise",
    "gnoise",
    "hash3",
    "render_window",
]

# ----------------------------------------------------------------------------------------------------------
# numba kernels: hashing, gradient noise, interpolation, advection, rendering
# ----------------------------------------------------------------------------------------------------------

#: Largest offset (m) of the ragged rock edges from the smooth model edge.
EDGE_NOISE = 250.0
_GRAD_X = np.cos(np.arange(16) * (2 * np.pi / 16) + 0.1).astype(np.float64)
_GRAD_Y = np.sin(np.arange(16) * (2 * np.pi / 16) + 0.1).astype(np.float64)
_NOISE_NORM = 4.6  # gradient noise below has std ~ 1 / _NOISE_NORM


@numba.njit(cache=True, inline="always")
def hash3(a: int, b: int, c: int) -> int:
    h = ((a * 0x27D4EB2D) ^ (b * 0x165667B1) ^ ((c & 0xFFFFFFFF) * 0x61C88647)) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & 0xFFFFFFFF
    h ^= h >> 12
    h = (h * 0x297A2D39) & 0xFFFFFFFF
    h ^= h >> 15
    return h


@numba.njit(cache=True, inline="always")
def gnoise(x: float, y: float, seed: int) -> float:
    """2-D gradient (Perlin-like) noise on the unit lattice, zero mean, std ~ 1 / _NOISE_NORM."""
    ix = math.floor(x)
    iy = math.floor(y)
    fx = x - ix
    fy = y - iy
    u = fx * fx * fx * (fx * (fx * 6.0 - 15.0) + 10.0)
    v = fy * fy * fy * (fy * (fy * 6.0 - 15.0) + 10.0)
    h00 = hash3(ix, iy, seed) & 15
    h10 = hash3(ix + 1, iy, seed) & 15
    h01 = hash3(ix, iy + 1, seed) & 15
    h11 = hash3(ix + 1, iy + 1, seed) & 15
    d00 = _GRAD_X[h00] * fx + _GRAD_Y[h00] * fy
    d10 = _GRAD_X[h10] * (fx - 1.0) + _GRAD_Y[h10] * fy
    d01 = _GRAD_X[h01] * fx + _GRAD_Y[h01] * (fy - 1.0)
    d11 = _GRAD_X[h11] * (fx - 1.0) + _GRAD_Y[h11] * (fy - 1.0)
    a = d00 + u * (d10 - d00)
    b = d01 + u * (d11 - d01)
    return a + v * (b - a)


@numba.njit(cache=True, inline="always")
def _gnoise_grad(x: float, y: float, seed: int):
    """`gnoise` and its analytic derivatives (value, d/dx, d/dy) in lattice units."""
    ix = math.floor(x)
    iy = math.floor(y)
    fx = x - ix
    fy = y - iy
    u = fx * fx * fx * (fx * (fx * 6.0 - 15.0) + 10.0)
    v = fy * fy * fy * (fy * (fy * 6.0 - 15.0) + 10.0)
    du = 30.0 * fx * fx * (fx - 1.0) * (fx - 1.0)
    dv = 30.0 * fy * fy * (fy - 1.0) * (fy - 1.0)
    h00 = hash3(ix, iy, seed) & 15
    h10 = hash3(ix + 1, iy, seed) & 15
    h01 = hash3(ix, iy + 1, seed) & 15
    h11 = hash3(ix + 1, iy + 1, seed) & 15
    d00 = _GRAD_X[h00] * fx + _GRAD_Y[h00] * fy
    d10 = _GRAD_X[h10] * (fx - 1.0) + _GRAD_Y[h10] * fy
    d01 = _GRAD_X[h01] * fx + _GRAD_Y[h01] * (fy - 1.0)
    d11 = _GRAD_X[h11] * (fx - 1.0) + _GRAD_Y[h11] * (fy - 1.0)
    k = d00 - d10 - d01 + d11
    n = d00 + u * (d10 - d00) + v * (d01 - d00) + u * v * k
    kx = _GRAD_X[h00] - _GRAD_X[h10] - _GRAD_X[h01] + _GRAD_X[h11]
    ky = _GRAD_Y[h00] - _GRAD_Y[h10] - _GRAD_Y[h01] + _GRAD_Y[h11]
    nx = (
        _GRAD_X[h00]
        + u * (_GRAD_X[h10] - _GRAD_X[h00])
        + v * (_GRAD_X[h01] - _GRAD_X[h00])
        + u * v * kx
        + du * ((d10 - d00) + v * k)
    )
    ny = (
        _GRAD_Y[h00]
        + u * (_GRAD_Y[h10] - _GRAD_Y[h00])
        + v * (_GRAD_Y[h01] - _GRAD_Y[h00])
        + u * v * ky
        + dv * ((d01 - d00) + u * k)
    )
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
        total += amp * gnoise(x / size + 0.37 * k, y / size - 0.61 * k, seed + 7919 * k)
        norm += amp * amp
        amp *= gain
        size *= 0.5
        k += 1
    return total * _NOISE_NORM / math.sqrt(norm)


@numba.njit(cache=True, inline="always")
def _gauss_hash(a: int, b: int, c: int) -> float:
    """A deterministic approximately-normal number (unit std) from three integers."""
    h = hash3(a, b, c)
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
def _advect(
    x: float,
    y: float,
    flow_time: float,
    vx: np.ndarray,
    vy: np.ndarray,
    x0: float,
    y0: float,
    inv: float,
    step_m: float,
):
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


def _advect_points_py(
    xs: np.ndarray,
    ys: np.ndarray,
    flow_time: np.ndarray,
    vx: np.ndarray,
    vy: np.ndarray,
    x0: float,
    y0: float,
    inv: float,
    step_m: float,
):
    """`_advect` for flat arrays of points and flow times."""
    out_x = np.empty_like(xs)
    out_y = np.empty_like(ys)
    for i in numba.prange(xs.size):
        out_x[i], out_y[i] = _advect(xs[i], ys[i], flow_time[i], vx, vy, x0, y0, inv, step_m)
    return out_x, out_y


# thread start-up costs milliseconds: small jobs run serially
advect_points_serial = numba.njit(cache=True)(_advect_points_py)
advect_points_parallel = numba.njit(cache=True, parallel=True)(_advect_points_py)


@numba.njit(cache=True, parallel=True)
def advect_grid(
    gx: np.ndarray,
    gy: np.ndarray,
    flow_time: float,
    vx: np.ndarray,
    vy: np.ndarray,
    x0: float,
    y0: float,
    inv: float,
    step_m: float,
):
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


# layers of the static model stack (see glacier_model)
ROCK, SNOW, FJORD, CREV, ALONG, CHEVRON = range(6)


@numba.njit(cache=True, inline="always")
def _surface(
    x: float,
    y: float,
    static: np.ndarray,
    mx0: float,
    my0: float,
    minv: float,
    front_x: float,
    static_seed: int,
):
    """Surface at a point: (is_rock, snow weight 0..1, is_water) from the static model stack."""
    ny, nx = static.shape[1:]
    ix, iy, wx, wy = _cell(x, y, mx0, my0, minv, nx, ny)
    rock_score = _lerp(static[ROCK], ix, iy, wx, wy)
    if abs(rock_score) < EDGE_NOISE:  # a ragged edge, at most EDGE_NOISE m from the smooth one
        ragged = 0.4 * _fbm(x, y, static_seed + 11, 1600.0, 100.0, 0.55)
        rock_score += EDGE_NOISE * min(max(ragged, -1.0), 1.0)
    if rock_score > 0.0:
        return True, 0.0, False
    if _lerp(static[FJORD], ix, iy, wx, wy) < 700.0:  # any non-rock point of the fjord: as far as the walls
        wiggle = 500.0 * math.sin(y / 2300.0) + 300.0 * _fbm(0.0, y, static_seed + 13, 1200.0, 150.0, 0.6)
        front = front_x + wiggle
        if x < front:
            return False, 0.0, True
    snow_score = _lerp(static[SNOW], ix, iy, wx, wy)
    if snow_score < -1900.0:
        return False, 0.0, False
    snow_score += 350.0 * _fbm(x, y, static_seed + 17, 2400.0, 150.0, 0.6)
    return False, _smoothstep(-150.0, 150.0, snow_score), False


@numba.njit(cache=True)
def classify(
    xs: np.ndarray,
    ys: np.ndarray,
    static: np.ndarray,
    mx0: float,
    my0: float,
    minv: float,
    front_x: float,
    static_seed: int,
) -> np.ndarray:
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
def _ice_texture(
    x: float,
    y: float,
    seed: int,
    finest: float,
    static: np.ndarray,
    mx0: float,
    my0: float,
    minv: float,
    line_sigma: float,
) -> float:
    """One epoch's ice signal at material point (x, y): fractal texture minus crevasse stripes.

    Stripes run across flow (constant along-flow coordinate), bending into chevrons at the margins.
    """
    tex = _fbm(x, y, seed, 960.0, finest, 0.75)
    ny, nx = static.shape[1:]
    ix, iy, wx, wy = _cell(x, y, mx0, my0, minv, nx, ny)
    crev = _lerp(static[CREV], ix, iy, wx, wy)
    if crev <= 0.01:
        return tex
    spacing = 220.0  # constant: a varying spacing times the large along-flow coordinate would alias
    along = _lerp(static[ALONG], ix, iy, wx, wy) + 0.9 * _lerp(static[CHEVRON], ix, iy, wx, wy)
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
def render_window(
    out: np.ndarray,
    row0: int,
    col0: int,
    xmin: float,
    ymax: float,
    px: float,
    finest: float,
    line_sigma: float,
    static: np.ndarray,
    mx0: float,
    my0: float,
    minv: float,
    maps: np.ndarray,
    gx0: float,
    gy0: float,
    ginv: float,
    w_a: float,
    seed_a: int,
    seed_b: int,
    static_seed: int,
    date_seed: int,
    noise_seed: int,
    front_x: float,
    fp: np.ndarray,
    cloud_thr: float,
    gain: float,
    offset: float,
    noise_sigma: float,
) -> None:
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
                crev_here = _lerp(static[CREV], hix, hiy, hwx, hwy)
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
def cloud_noise(xs: np.ndarray, ys: np.ndarray, date_seed: int) -> np.ndarray:
    out = np.empty(xs.size)
    for i in numba.prange(xs.size):
        out[i] = _fbm(xs[i], ys[i], date_seed + 71, 12000.0, 750.0, 0.55)
    return out
