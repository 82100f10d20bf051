"""Hostile inputs for the robustness tests: broken, lying, hostile or absurd files, each a few kB at most.

Every function writes one file and returns its path (or returns bytes, for uploads). The rasters are small
(128 x 128 px, 30 m, EPSG:32622) so that the cases that do reach tracking finish in a blink.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from affine import Affine
from scipy import ndimage

SIZE = 128
#: The 30 m grid of the test rasters (EPSG:32622, in the demo glacier's UTM zone).
T30 = Affine(30.0, 0.0, 500_000.0, 0.0, -30.0, 7_000_000.0)
#: Parameters that make tracking trivial on the 128 px rasters.
FAST = ["--chip-size", "32", "--search-range", "4", "--step", "32", "--subpixel", "parabolic"]
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(64)


def texture(shape: tuple[int, int] = (SIZE, SIZE), seed: int = 3) -> np.ndarray:
    """A smooth random image, float32."""
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), 2.0).astype(np.float32) * 100 + 1000


def geotiff(
    path: str | os.PathLike[str],
    data: np.ndarray | None = None,
    *,
    crs: str | None = "EPSG:32622",
    transform: Affine | None = T30,
    nodata: float | None = np.nan,
    tags: dict[str, str] | None = None,
    dtype: str = "float32",
    **profile: object,
) -> Path:
    """Write ``data`` (default: `texture`) as a one-band GeoTIFF."""
    data = texture() if data is None else data
    kwargs: dict[str, object] = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": dtype,
        "nodata": nodata,
        **profile,
    }
    if crs is not None:
        kwargs["crs"] = crs
    if transform is not None:
        kwargs["transform"] = transform
    with rasterio.open(
        path, "w", **kwargs
    ) as dst:  # without a transform: NotGeoreferencedWarning, on purpose
        dst.write(data.astype(dtype), 1)
        if tags:
            dst.update_tags(**tags)
    return Path(path)


def truncated_geotiff(path: str | os.PathLike[str], keep: float = 0.5) -> Path:
    """A valid uncompressed GeoTIFF cut after ``keep`` of its bytes (the header survives, the pixels do not)."""
    path = geotiff(path, tiled=True, blockxsize=64, blockysize=64)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def huge_geotiff(path: str | os.PathLike[str], side: int = 100_000) -> Path:
    """A GeoTIFF whose header declares ``side`` x ``side`` float32 pixels, written sparse: a few kB on disk."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=side,
        height=side,
        count=1,
        dtype="float32",
        crs="EPSG:32622",
        transform=T30,
        nodata=np.nan,
        tiled=True,
        blockxsize=4096,
        blockysize=4096,
        compress="deflate",
        sparse_ok=True,
    ):
        pass
    return Path(path)


def velocity_netcdf(path: str | os.PathLike[str], **kwargs: object) -> Path:
    """A small valid velocity field (`tracking.testing.uniform_field`) as NetCDF."""
    from tracking.io import write_netcdf
    from tracking.testing import uniform_field

    return write_netcdf(uniform_field(shape=(8, 8), **kwargs), path)  # type: ignore[arg-type]


def other_netcdf(path: str | os.PathLike[str]) -> Path:
    """A NetCDF that is not a velocity field: a temperature grid on lat/lon."""
    ds = xr.Dataset(
        {"temperature": (("lat", "lon"), np.full((4, 5), 271.5, np.float32))},
        coords={"lat": np.arange(4.0), "lon": np.arange(5.0)},
    )
    ds.to_netcdf(path, engine="netcdf4")
    return Path(path)


def text_file(path: str | os.PathLike[str], text: str = "reference,secondary\nnot,a raster\n") -> Path:
    path = Path(path)
    path.write_text(text)
    return path


def binary_garbage(path: str | os.PathLike[str], size: int = 2048, seed: int = 7) -> Path:
    path = Path(path)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


SERIES_HEADER = (
    "mid_date,lat,lon,v [m/yr],v_error [m/yr],vx [m/yr],vx_error [m/yr],vy [m/yr],vy_error [m/yr],"
    "date_dt [days],mission,satellite,epsg"
)
SERIES_ROW = "2018-05-12T00:00:00,69.1,-49.5,7000,40,-6500,30,-2500,30,16,L8,8,3413"


def snapshot(root: str | os.PathLike[str]) -> dict[str, str]:
    """Every entry under ``root`` (relative name -> content hash, link target or 'dir'), to compare later."""
    root = Path(root)
    entries: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                entries[rel] = f"link -> {os.readlink(path)}"
            elif path.is_dir():
                entries[rel] = "dir"
            else:
                entries[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries
