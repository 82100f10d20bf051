"""Synthetic image pairs with known motion, for tests, benchmarks and users checking a set-up.

`synthetic_pair` draws a band-limited random texture, moves it with a glacier-like flow (a channel with sharp
shear margins and along-flow stretching) and returns both images with the exact displacement of every
reference pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from scipy import ndimage

__all__ = ["SyntheticPair", "synthetic_pair", "uniform_field"]


@dataclass(frozen=True)
class SyntheticPair:
    """Two images and the true motion between them.

    Attributes
    ----------
    reference, secondary : ndarray (rows, cols), float32
        The images; NaN marks nodata.
    dx, dy : ndarray (rows, cols), float32
        True displacement of the feature at each reference pixel, px (+ columns right, + rows down).
    textured : ndarray (rows, cols), bool
        Pixels with texture on both dates (not featureless, not nodata).
    """

    reference: np.ndarray
    secondary: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    textured: np.ndarray

    def truth_at(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """True (dx, dy) at (possibly fractional) pixel positions, by bilinear interpolation."""
        coords = np.array(np.broadcast_arrays(rows, cols), dtype=np.float64)
        return (
            ndimage.map_coordinates(self.dx, coords, order=1, mode="nearest"),
            ndimage.map_coordinates(self.dy, coords, order=1, mode="nearest"),
        )


def _texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Band-limited random texture at a few scales, unit variance."""
    texture = np.zeros(shape, np.float32)
    for sigma, weight in ((1.2, 1.0), (3.0, 0.8), (8.0, 0.6)):
        layer = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma)
        texture += weight * layer / layer.std()
    return texture / texture.std()


def _flow(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], peak: float) -> tuple[np.ndarray, ...]:
    """Glacier-like displacement (dx, dy) at positions: an eastward channel, fast in the middle, stretching."""
    height, width = shape
    across = (rows - 0.5 * height) / (0.3 * height)  # -1 .. 1 across the channel
    profile = np.clip(1.0 - across**4, 0.0, None)  # flat centre, sharp shear margins
    along = 0.6 + 0.4 * cols / width  # accelerating downstream (extending flow)
    dx = peak * profile * along
    dy = 0.15 * peak * profile * np.sin(2 * np.pi * cols / width)  # a gentle meander
    return dx, dy


def synthetic_pair(
    shape: tuple[int, int] = (1024, 1024),
    *,
    max_displacement: float = 12.0,
    noise: float = 0.05,
    featureless: bool = True,
    nodata: bool = True,
    seed: int = 0,
) -> SyntheticPair:
    """A pair of images with glacier-like motion of known value everywhere.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)``.
    max_displacement : float
        Largest displacement, px, at the downstream end of the channel's centre line.
    noise : float
        Standard deviation of independent sensor noise on each image, relative to the texture's.
    featureless : bool
        Put a flat, texture-free patch (fresh snow) in the north-west corner.
    nodata : bool
        Put a NaN patch (a cloud mask) in the secondary image's south-east corner.
    seed : int
        Random seed: the same seed gives the same pair.

    Returns
    -------
    SyntheticPair
    """
    rng = np.random.default_rng(seed)
    rows_n, cols_n = shape
    margin = int(np.ceil(max_displacement)) + 8
    big = (rows_n + 2 * margin, cols_n + 2 * margin)
    texture = _texture(big, rng)
    coefficients = ndimage.spline_filter(texture, order=3)
    rows, cols = np.mgrid[0:rows_n, 0:cols_n].astype(np.float32)
    # secondary(p) = texture(p - D(p)); the feature at reference x0 lands at p with p = x0 + D(p).
    dx, dy = _flow(rows, cols, shape, max_displacement)
    sample_r = rows - dy + margin
    sample_c = cols - dx + margin
    secondary = ndimage.map_coordinates(coefficients, [sample_r, sample_c], order=3, prefilter=False)
    reference = texture[margin : margin + rows_n, margin : margin + cols_n].copy()
    land_r, land_c = rows.copy(), cols.copy()
    for _ in range(8):  # fixed point of p = x0 + D(p)
        fdx, fdy = _flow(land_r, land_c, shape, max_displacement)
        land_r, land_c = rows + fdy, cols + fdx
    truth_dx = (land_c - cols).astype(np.float32)
    truth_dy = (land_r - rows).astype(np.float32)
    reference = reference + noise * rng.standard_normal(shape, dtype=np.float32)
    secondary = secondary.astype(np.float32) + noise * rng.standard_normal(shape, dtype=np.float32)
    textured = np.ones(shape, bool)
    if featureless:
        patch = (slice(0, rows_n // 5), slice(0, cols_n // 5))
        flat = 0.5 + 0.01 * rng.standard_normal((2, rows_n // 5, cols_n // 5), dtype=np.float32)
        reference[patch] = flat[0]
        secondary[patch] = flat[1]
        textured[patch] = False
    if nodata:
        patch = (slice(rows_n - rows_n // 6, rows_n), slice(cols_n - cols_n // 6, cols_n))
        secondary[patch] = np.nan
        textured[patch] = False
    return SyntheticPair(
        reference.astype(np.float32), secondary.astype(np.float32), truth_dx, truth_dy, textured
    )


def uniform_field(
    vx: float = 100.0,
    vy: float = 0.0,
    *,
    crs: str = "EPSG:32622",
    origin: tuple[float, float] = (560_000.0, 7_680_000.0),
    spacing: float = 240.0,
    shape: tuple[int, int] = (40, 50),
    dt_days: float = 16.0,
    t0: str = "2021-06-01T14:50:00",
    label: str | None = None,
) -> xr.Dataset:
    """A VelocityField with the same velocity at every node, without tracking anything (for tests and examples).

    Parameters
    ----------
    vx, vy : float
        The velocity, m/yr (east, north).
    crs : str
        The grid's CRS.
    origin : (float, float)
        Upper-left corner of the grid (x, y), m.
    spacing : float
        Node spacing, m (the image pixels are ``spacing / 16``: a tracking step of 16).
    shape : (int, int)
        Nodes (rows, cols).
    dt_days : float
        Time between the two images.
    t0 : str
        Acquisition time of the first image.
    label : str, optional
        The ``label`` attr.

    Returns
    -------
    xarray.Dataset
        The variables and attrs of `tracking.velocity.velocity_field`'s result, all vectors valid.
    """
    rows, cols = shape
    x = origin[0] + spacing * (np.arange(cols) + 0.5)
    y = origin[1] - spacing * (np.arange(rows) + 0.5)
    pixel = spacing / 16.0
    years = dt_days / 365.25
    ones = np.ones(shape, dtype=np.float32)
    dims = ("y", "x")
    start = np.datetime64(t0, "s")
    end = start + np.timedelta64(round(dt_days * 86400), "s")
    field = xr.Dataset(
        {
            "vx": (dims, ones * vx),
            "vy": (dims, ones * vy),
            "v": (dims, ones * np.hypot(vx, vy)),
            "dx": (dims, ones * (vx * years / pixel)),
            "dy": (dims, ones * (-vy * years / pixel)),
            "peak": (dims, ones * 0.9),
            "snr": (dims, ones * 20.0),
            "valid": (dims, np.ones(shape, dtype=bool)),
            "interpolated": (dims, np.zeros(shape, dtype=bool)),
        },
        coords={"y": y, "x": x},
        attrs={
            "acquisition_date_img1": str(start),
            "acquisition_date_img2": str(end),
            "date_center": str(start + (end - start) // 2),
            "date_dt": float(dt_days),
            "image_geotransform": np.array(Affine(pixel, 0, origin[0], 0, -pixel, origin[1]).to_gdal()),
            "label": label or f"uniform {vx:g}, {vy:g} m/yr",
        },
    )
    field = field.rio.write_crs(crs, grid_mapping_name="spatial_ref")
    return field.rio.write_transform(Affine(spacing, 0, origin[0], 0, -spacing, origin[1]))
