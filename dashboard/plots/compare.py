"""Comparison of fields: speed maps side by side on one colour scale, their difference, and a against b."""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any

import holoviews as hv
import numpy as np
import xarray as xr
from rasterio.enums import Resampling

from dashboard.plots.layers import basemap
from dashboard.plots.maps import speed_map
from dashboard.plots.rasters import crs_string, map_dataset, rasterized
from dashboard.plots.style import MAP_DIMS, MAP_OPTS, WEB_MERCATOR, pair_title


def comparison(
    fields: Sequence[xr.Dataset], *, projected: Sequence[xr.Dataset] | None = None, **same_kwargs: Any
) -> hv.Layout:
    """Speed maps side by side, one colour scale, linked pan and zoom, one title per map.

    Parameters
    ----------
    fields : sequence of xarray.Dataset
        VelocityFields (any CRS each).
    projected : sequence of xarray.Dataset, optional
        Their cached `web_mercator` outputs, in the same order.
    **same_kwargs
        `speed_map` keywords applied to every map (``log``, ``clim``, ``cmap``, ``basemap_name``, ...). A
        ``title`` is ignored: each map is titled with its own dates; ``scene`` is not supported here.

    Returns
    -------
    holoviews.Layout
        One column per field, shared axes.
    """
    kwargs = {key: value for key, value in same_kwargs.items() if key not in ("title", "scene")}
    cached = list(projected) if projected is not None else [None] * len(fields)
    if len(cached) != len(fields):
        raise ValueError(f"{len(fields)} fields but {len(cached)} projected fields")
    maps = [
        speed_map(field, projected=field_3857, title=pair_title(field) or f"field {i + 1}", **kwargs)
        for i, (field, field_3857) in enumerate(zip(fields, cached, strict=True))
    ]
    return hv.Layout(maps).cols(max(1, len(maps))).opts(shared_axes=True)


def difference_map(diff: xr.Dataset, *, basemap_name: str = "None", limit: float | None = None) -> hv.Overlay:
    """The speed difference of two fields (`tracking.compare.difference`) on a diverging colour scale.

    Parameters
    ----------
    diff : xarray.Dataset
        ``dv`` (m/yr) with its CRS and the attrs ``label_a``, ``label_b``, ``median_dv``, ``mad_dv``, ``count``.
    basemap_name : str
        One of `BASEMAPS`.
    limit : float, optional
        The colour range is ``(-limit, limit)``; default the 95th percentile of ``|dv|`` (at least 1 m/yr).

    Returns
    -------
    holoviews.Overlay
        Basemap and the rasterized difference, titled with the median and spread of a − b.
    """
    source = diff[["dv"]].rio.write_crs(crs_string(diff))
    source["dv"] = source["dv"].rio.write_nodata(np.nan, encoded=False)
    projected = source.rio.reproject(WEB_MERCATOR, resampling=Resampling.nearest, nodata=np.nan)
    values = np.abs(diff["dv"].values[np.isfinite(diff["dv"].values)])
    if limit is None:
        limit = max(1.0, float(np.percentile(values, 95))) if values.size else 1.0
    image = hv.Image(
        map_dataset(projected),
        kdims=MAP_DIMS,
        vdims=[hv.Dimension("dv", label="speed difference", unit="m/yr")],
    )
    raster = rasterized(image, False, None, None).opts(
        hv.opts.Image(
            cmap="RdBu_r",
            clim=(-limit, limit),
            colorbar=True,
            clabel="a − b (m/yr)",
            tools=["hover"],
            hover_tooltips=[("a − b", "@image{0,0.0} m/yr")],
            **MAP_OPTS,
        )
    )
    attrs = diff.attrs
    title = (
        f"speed a − b: median {attrs.get('median_dv', float('nan')):+.0f} m/yr, spread "
        f"{attrs.get('mad_dv', float('nan')):.0f} m/yr ({attrs.get('count', 0)} nodes)"
    )
    layers = [layer for layer in (basemap(basemap_name), raster) if layer is not None]
    overlay = functools.reduce(operator.mul, layers) if len(layers) > 1 else hv.Overlay(layers)
    return overlay.opts(
        hv.opts.Overlay(title=title, data_aspect=1, xaxis=None, yaxis=None, active_tools=["wheel_zoom"])
    )


def scatter_plot(diff: xr.Dataset, *, max_points: int = 20_000) -> hv.Overlay:
    """Speed of field a against field b node by node (`tracking.compare.difference`), with the 1:1 line.

    Parameters
    ----------
    diff : xarray.Dataset
        ``v_a``, ``v_b`` (m/yr) on one grid, and the attrs ``label_a``, ``label_b``.
    max_points : int
        Most points drawn (an even subsample beyond).

    Returns
    -------
    holoviews.Overlay
        Points (x: b, y: a) and the dashed 1:1 line; axes from 0 to the larger speed.
    """
    a, b = diff["v_a"].values.ravel(), diff["v_b"].values.ravel()
    both = np.isfinite(a) & np.isfinite(b)
    a, b = a[both], b[both]
    if a.size > max_points:
        keep = np.linspace(0, a.size - 1, max_points).astype(int)
        a, b = a[keep], b[keep]
    top = float(max(a.max(), b.max())) * 1.05 if a.size else 1.0
    label_a, label_b = diff.attrs.get("label_a", "a"), diff.attrs.get("label_b", "b")
    x_dim = hv.Dimension("v_b", label=f"b: {label_b}", unit="m/yr")
    y_dim = hv.Dimension("v_a", label=f"a: {label_a}", unit="m/yr")
    points = hv.Points((b, a), kdims=[x_dim, y_dim]).opts(
        size=3, alpha=0.35, color="#0072b2", tools=["hover"]
    )
    line = hv.Curve(([0, top], [0, top]), kdims=[x_dim], vdims=[y_dim]).opts(
        color="#555555", line_dash="dashed"
    )
    return (points * line).opts(
        hv.opts.Overlay(
            title=f"speed a against b ({a.size} nodes; dashed: a = b)",
            xlim=(0, top),
            ylim=(0, top),
            show_grid=True,
        )
    )
