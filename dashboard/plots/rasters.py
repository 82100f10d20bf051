"""Rasters in Web Mercator: a VelocityField and a scene reprojected once with rioxarray, drawn as plain
``hv.Image`` rasterized by datashader (GeoViews never reprojects a raster).
"""

from __future__ import annotations

import functools
from typing import Any

import holoviews as hv
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from holoviews.operation.datashader import rasterize
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform

from dashboard.plots.style import (
    CLIP_COLOURS,
    DEFAULT_CLIM,
    MAP_DIMS,
    MAP_OPTS,
    SPEED_LABEL,
    WEB_MERCATOR,
    check_clim,
    palette,
)
from tracking.velocity import vectors


@functools.cache
def transformer(src: str, dst: str) -> Transformer:
    """A cached ``always_xy`` transformer from CRS ``src`` to CRS ``dst``."""
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def crs_string(obj: xr.Dataset | xr.DataArray) -> str:
    """The WKT of a dataset's CRS; `ValueError` when it has none."""
    crs = obj.rio.crs
    if crs is None:
        raise ValueError("the data has no CRS (no spatial_ref): write one with .rio.write_crs(...)")
    return crs.to_wkt()


def web_mercator(field: xr.Dataset, layer: str = "filled") -> xr.Dataset:
    """A VelocityField's map variables reprojected once to Web Mercator, for the interactive map.

    Nearest-neighbour resampling: NaN-safe, keeps measured values (no blending across gaps) and is exact for
    the ``valid`` mask; the output grid keeps about the input's number of pixels.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField (`tracking.velocity`).
    layer : {"raw", "masked", "filled"}
        Which vectors give ``v``, ``vx``, ``vy`` (`tracking.velocity.vectors`).

    Returns
    -------
    xarray.Dataset
        ``v``, ``vx``, ``vy`` (m/yr; ``vx``/``vy`` stay the east/north components of the field's own CRS),
        ``peak`` and ``valid`` (bool) on an EPSG:3857 grid, with the field's attrs.
    """
    vec = vectors(field, layer)  # type: ignore[arg-type]
    source = xr.Dataset(
        {
            "v": vec["v"].astype(np.float32),
            "vx": vec["vx"].astype(np.float32),
            "vy": vec["vy"].astype(np.float32),
            "peak": field["peak"].astype(np.float32),
            "valid": field["valid"].astype(np.float32),
        }
    )
    source = source.rio.write_crs(crs_string(field))
    for name in source.data_vars:
        source[name] = source[name].rio.write_nodata(np.nan, encoded=False)
    out = source.rio.reproject(WEB_MERCATOR, resampling=Resampling.nearest, nodata=np.nan)
    out["valid"] = out["valid"] == 1.0
    out.attrs = dict(field.attrs)
    for name in ("v", "vx", "vy"):
        out[name].attrs = {"long_name": field[name].attrs.get("long_name", name), "units": "meter/year"}
    return out


def scene_grey(scene: xr.DataArray, *, max_size: int = 2000) -> xr.DataArray:
    """A Scene reprojected to Web Mercator for a grey backdrop, downsampled to at most ~``max_size`` px a side.

    Parameters
    ----------
    scene : xarray.DataArray
        A `Scene` (`tracking.scenes.make_scene` / `read_scene`) with a CRS.
    max_size : int
        Largest output side, px (approximately); larger scenes are averaged down while reprojecting.

    Returns
    -------
    xarray.DataArray
        float32, NaN outside the footprint, on an EPSG:3857 grid, with the scene's attrs.
    """
    height, width = scene.shape
    left, bottom, right, top = scene.rio.bounds()
    transform, _, _ = calculate_default_transform(
        scene.rio.crs, WEB_MERCATOR, width, height, left=left, bottom=bottom, right=right, top=top
    )
    factor = max(1.0, max(height, width) / max_size)
    resolution = (abs(transform.a) * factor, abs(transform.e) * factor)
    source = scene.astype(np.float32).rio.write_nodata(np.nan, encoded=False)
    resampling = Resampling.average if factor > 1 else Resampling.bilinear
    out = source.rio.reproject(WEB_MERCATOR, resolution=resolution, resampling=resampling, nodata=np.nan)
    out.attrs = dict(scene.attrs)
    return out.rename("image")


def rasterized(element: hv.Image, dynamic: bool, width: int | None, height: int | None) -> Any:
    """``rasterize(element)``, dynamic or once, at the given aggregation size (datashader's default if None)."""
    kwargs: dict[str, Any] = {"dynamic": dynamic}
    if width is not None:
        kwargs["width"] = width
    if height is not None:
        kwargs["height"] = height
    return rasterize(element, **kwargs)


def map_dataset(data: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
    """Drop the grid-mapping coordinate, which HoloViews would take for a dimension."""
    return data.drop_vars("spatial_ref", errors="ignore")


def speed_image(
    field_3857: xr.Dataset,
    *,
    log: bool = True,
    clim: tuple[float, float] = DEFAULT_CLIM,
    cmap: str = "gouldian",
    alpha: float = 0.8,
    title: str = "",
    dynamic: bool = True,
    width: int | None = None,
    height: int | None = None,
) -> hv.DynamicMap | hv.Image:
    """The speed raster, rasterized by datashader, with a colour bar and hover.

    Parameters
    ----------
    field_3857 : xarray.Dataset
        The output of `web_mercator`.
    log : bool
        Logarithmic colour scale (default) or linear.
    clim : (float, float)
        Colour range, m/yr; values outside are drawn in `CLIP_COLOURS`.
    cmap : str
        A `SPEED_CMAPS` name (or any colour map name HoloViews knows).
    alpha : float
        Opacity.
    title : str
        Plot title.
    dynamic : bool
        Re-aggregate on every zoom (a DynamicMap) or once (an ``hv.Image``, e.g. for tests).
    width, height : int, optional
        Aggregation size in pixels (``rasterize`` defaults when omitted).

    Returns
    -------
    holoviews.DynamicMap or holoviews.Image
        Value dimensions ``v``, ``vx``, ``vy``, ``peak``; ``tap`` tool on.
    """
    vdims = [
        hv.Dimension("v", label="speed", unit="m/yr"),
        hv.Dimension("vx", label="vx (east)", unit="m/yr"),
        hv.Dimension("vy", label="vy (north)", unit="m/yr"),
        hv.Dimension("peak", label="peak NCC"),
    ]
    data = map_dataset(field_3857[["v", "vx", "vy", "peak"]])
    image = hv.Image(data, kdims=MAP_DIMS, vdims=vdims)
    raster = rasterized(image, dynamic, width, height)
    return raster.opts(
        hv.opts.Image(
            cmap=palette(cmap),
            logz=log,
            clim=check_clim(clim, log),
            clipping_colors=CLIP_COLOURS,
            colorbar=True,
            clabel=SPEED_LABEL,
            alpha=alpha,
            tools=["hover", "tap"],
            hover_tooltips=[
                ("speed", "@image{0,0.0} m/yr"),
                ("vx (east)", "@vx{0,0.0} m/yr"),
                ("vy (north)", "@vy{0,0.0} m/yr"),
                ("peak NCC", "@peak{0.00}"),
            ],
            title=title,
            **MAP_OPTS,
        )
    )


def grey_image(
    scene_3857: xr.DataArray, *, dynamic: bool = True, width: int | None = None, height: int | None = None
) -> hv.DynamicMap | hv.Image:
    """A reprojected scene (`scene_grey`) as a rasterized grey image without colour bar or hover.

    The grey range is the 2nd-98th percentile of the scene, so clouds and shadows do not wash it out.

    Parameters
    ----------
    scene_3857 : xarray.DataArray
        The output of `scene_grey`.
    dynamic : bool
        Re-aggregate on every zoom (a DynamicMap) or once (an ``hv.Image``).
    width, height : int, optional
        Aggregation size in pixels.

    Returns
    -------
    holoviews.DynamicMap or holoviews.Image
    """
    values = np.asarray(scene_3857.values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
    if not high > low:
        high = low + 1.0
    data = map_dataset(scene_3857.rename("image"))
    image = hv.Image(data, kdims=MAP_DIMS, vdims=[hv.Dimension("image", label="reflectance")])
    raster = rasterized(image, dynamic, width, height)
    return raster.opts(
        hv.opts.Image(cmap="gray", clim=(float(low), float(high)), colorbar=False, tools=[], **MAP_OPTS)
    )


def grid_step(data: xr.Dataset) -> float:
    """The smaller grid spacing of ``x`` and ``y``, in the data's units (1 for a single node)."""
    steps = [abs(float(np.diff(data[axis].values[:2])[0])) for axis in ("x", "y") if data.sizes[axis] > 1]
    return min(steps) if steps else 1.0


def is_web_mercator(data: xr.DataArray) -> bool:
    """Whether the data's CRS is EPSG:3857."""
    crs = data.rio.crs
    return crs is not None and crs.to_epsg() == 3857
