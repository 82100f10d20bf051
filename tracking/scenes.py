"""``Scene``: one georeferenced single-band image; ``Pair``: two scenes on one grid.

A scene is an ``xarray.DataArray`` with dims ``("y", "x")``, float32 values (NaN = nodata), pixel-centre
coordinates ``x`` (east, increasing) and ``y`` (north, decreasing: rows grow southward), its CRS and transform
written with rioxarray, and these attrs:

``time``
    acquisition time, ISO 8601 string (UTC).
``sensor``
    e.g. ``"Landsat 8 OLI"``.
``band``
    e.g. ``"red"`` or ``"pan"``.
``scene_id``
    an identifier, unique within its source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from rasterio.crs import CRS

__all__ = ["make_scene", "scene_time"]


def make_scene(
    data: np.ndarray,
    *,
    transform: Affine,
    crs: str | int | CRS,
    time: str | np.datetime64 | pd.Timestamp,
    sensor: str,
    band: str,
    scene_id: str | None = None,
) -> xr.DataArray:
    """Wrap a 2-D array as a `Scene` DataArray.

    Parameters
    ----------
    data : ndarray of shape (rows, cols)
        Pixel values; converted to float32. NaN marks nodata.
    transform : affine.Affine
        The GDAL-style transform of the pixel *corners* (north-up: ``transform.e < 0``).
    crs : str, int or rasterio.crs.CRS
        A projected CRS in metres, e.g. ``"EPSG:32622"``.
    time : str or datetime-like
        Acquisition time (UTC).
    sensor, band : str
        Sensor name and band name, kept in attrs.
    scene_id : str, optional
        Identifier; defaults to ``"<sensor>_<date>_<band>"``.

    Returns
    -------
    xarray.DataArray
        The scene, with ``x``/``y`` pixel-centre coordinates and the CRS and transform written.
    """
    values = np.asarray(data, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"a scene is 2-D (rows, cols); got an array of shape {values.shape}")
    rows, cols = values.shape
    x = transform.c + transform.a * (np.arange(cols) + 0.5)
    y = transform.f + transform.e * (np.arange(rows) + 0.5)
    stamp = pd.Timestamp(time)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    iso = stamp.isoformat()
    scene = xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": y, "x": x},
        name="image",
        attrs={
            "time": iso,
            "sensor": sensor,
            "band": band,
            "scene_id": scene_id or f"{sensor.replace(' ', '_')}_{stamp:%Y%m%d}_{band}",
        },
    )
    scene = scene.rio.write_crs(CRS.from_user_input(crs))
    return scene.rio.write_transform(transform)


def scene_time(scene: xr.DataArray) -> pd.Timestamp:
    """The acquisition time of a scene, as a timezone-naive UTC `pandas.Timestamp`."""
    return pd.Timestamp(scene.attrs["time"])
