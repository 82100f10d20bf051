"""The velocity map: basemap, grey scene, speed raster and flow arrows, in Web Mercator.

Arrow positions **and tips** are projected from the field's CRS to 3857 (`arrows`), so their direction stays right
where grid convergence is large (a few degrees at 69°N in UTM).
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any

import holoviews as hv
import numpy as np
import xarray as xr

from dashboard.plots.layers import basemap
from dashboard.plots.rasters import (
    crs_string,
    grey_image,
    grid_step,
    is_web_mercator,
    scene_grey,
    speed_image,
    transformer,
    web_mercator,
)
from dashboard.plots.style import DEFAULT_CLIM, MAP_DIMS, MAP_OPTS, WEB_MERCATOR, pair_title
from tracking.velocity import vectors

_ARROW_VDIMS = [
    hv.Dimension("Angle", cyclic=True, range=(0, 2 * np.pi)),
    hv.Dimension("Magnitude", unit="m/yr"),
]


def arrow_stride(shape: tuple[int, int], max_arrows: int) -> int:
    """The smallest integer stride that leaves at most ``max_arrows`` grid nodes.

    Examples
    --------
    >>> arrow_stride((100, 100), 600), arrow_stride((10, 10), 600)
    (5, 1)
    """
    rows, cols = shape
    stride = max(1, math.floor(math.sqrt(rows * cols / max(max_arrows, 1))))
    while math.ceil(rows / stride) * math.ceil(cols / stride) > max_arrows:
        stride += 1
    return stride


def arrows(field: xr.Dataset, layer: str = "filled", *, max_arrows: int = 600) -> hv.VectorField:
    """Flow-direction arrows in Web Mercator, thinned to at most ``max_arrows``.

    Positions and a short step along each vector are projected from the field's CRS to EPSG:3857, so each
    arrow points along the flow on the Web Mercator map (grid convergence is a few degrees at high
    latitude). Lengths are proportional to speed, the fastest arrow spanning one arrow spacing.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField.
    layer : {"raw", "masked", "filled"}
        Which vectors to draw (`tracking.velocity.vectors`).
    max_arrows : int
        Upper bound on the number of arrows (an integer stride thins the grid).

    Returns
    -------
    holoviews.VectorField
        Kdims ``x``, ``y`` (3857); vdims ``Angle`` (radians, counter-clockwise from east) and ``Magnitude``
        (m/yr); white arrows (draw `arrow_outline` underneath for contrast), pivot at the tail.
    """
    vec = vectors(field, layer)  # type: ignore[arg-type]
    stride = arrow_stride((vec.sizes["y"], vec.sizes["x"]), max_arrows)
    start = stride // 2
    thin = vec.isel(y=slice(start, None, stride), x=slice(start, None, stride))
    xx, yy = np.meshgrid(thin["x"].values, thin["y"].values)
    vx, vy, v = (np.asarray(thin[name].values, dtype=np.float64).ravel() for name in ("vx", "vy", "v"))
    xx, yy = xx.ravel(), yy.ravel()
    keep = np.isfinite(vx) & np.isfinite(vy) & (v > 0)
    xx, yy, vx, vy, v = xx[keep], yy[keep], vx[keep], vy[keep], v[keep]
    step = grid_step(vec) * 0.1
    to_3857 = transformer(crs_string(field), WEB_MERCATOR)
    x0, y0 = to_3857.transform(xx, yy)
    x1, y1 = to_3857.transform(xx + step * vx / v, yy + step * vy / v)
    angle = np.mod(np.arctan2(np.asarray(y1) - y0, np.asarray(x1) - x0), 2 * np.pi)
    data = (np.asarray(x0), np.asarray(y0), angle, v)
    vmax = float(v.max()) if v.size else 1.0
    field_el = hv.VectorField(data, kdims=MAP_DIMS, vdims=_ARROW_VDIMS)
    return field_el.opts(
        magnitude=hv.dim("Magnitude") / vmax,
        pivot="tail",
        color="white",
        line_width=1.5,
        rescale_lengths=True,
        tools=[],
        **MAP_OPTS,
    )


def arrow_outline(arrow_field: hv.VectorField) -> hv.VectorField:
    """A wider black copy of `arrows`' output, drawn underneath so white arrows read on any colour."""
    return arrow_field.clone().opts(color="black", line_width=3.5)


def empty_map(message: str) -> hv.Element:
    """A blank, responsive map-sized panel showing ``message`` (no data yet, or an error)."""
    text = hv.Text(0.5, 0.5, message).opts(text_color="#666666", text_font_size="12pt")
    return (hv.Curve([], kdims=["x"], vdims=["y"]) * text).opts(
        hv.opts.Curve(xlim=(0, 1), ylim=(0, 1)),
        hv.opts.Overlay(
            responsive=True, min_height=300, xaxis=None, yaxis=None, toolbar=None, show_legend=False
        ),
    )


def speed_map(
    field: xr.Dataset,
    *,
    projected: xr.Dataset | None = None,
    scene: xr.DataArray | None = None,
    layer: str = "filled",
    basemap_name: str = "None",
    log: bool = True,
    clim: tuple[float, float] = DEFAULT_CLIM,
    cmap: str = "gouldian",
    alpha: float = 0.8,
    show_arrows: bool = True,
    title: str = "",
    dynamic: bool = True,
    max_arrows: int = 600,
) -> hv.Overlay | hv.DynamicMap:
    """The velocity map: basemap, grey scene, speed raster and arrows, in Web Mercator.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField in its own CRS (the arrows are projected from it).
    projected : xarray.Dataset, optional
        ``web_mercator(field, layer)``, when cached by the caller; computed here otherwise.
    scene : xarray.DataArray, optional
        A Scene, or its `scene_grey` output (recognised by its EPSG:3857 CRS), drawn in grey underneath.
    layer : {"raw", "masked", "filled"}
        Which vectors to show.
    basemap_name : str
        One of `BASEMAPS`.
    log, clim, cmap, alpha
        Colour scale, see `speed_image`.
    show_arrows : bool
        Draw flow arrows.
    title : str
        Title; default `pair_title` (the dates and dt).
    dynamic : bool
        Rasterize dynamically (a DynamicMap overlay) or once (an ``hv.Overlay``).
    max_arrows : int
        Most arrows drawn.

    Returns
    -------
    holoviews.Overlay or holoviews.DynamicMap
        An Overlay when ``dynamic`` is False; a DynamicMap of Overlays otherwise.
    """
    layers: list[Any] = []
    tiles = basemap(basemap_name)
    if tiles is not None:
        layers.append(tiles)
    if scene is not None:
        grey = scene if is_web_mercator(scene) else scene_grey(scene)
        layers.append(grey_image(grey, dynamic=dynamic))
    field_3857 = projected if projected is not None else web_mercator(field, layer)
    layers.append(speed_image(field_3857, log=log, clim=clim, cmap=cmap, alpha=alpha, dynamic=dynamic))
    if show_arrows:
        vector_field = arrows(field, layer, max_arrows=max_arrows)
        layers.extend([arrow_outline(vector_field), vector_field])
    overlay = functools.reduce(operator.mul, layers) if len(layers) > 1 else hv.Overlay(layers)
    return overlay.opts(
        hv.opts.Overlay(
            title=title or pair_title(field),
            responsive=True,
            min_height=300,
            data_aspect=1,
            xaxis=None,
            yaxis=None,
            active_tools=["wheel_zoom"],
        )
    )
