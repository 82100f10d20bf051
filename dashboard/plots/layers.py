"""Vector layers of the maps: basemap tiles, scene footprints, the marker, the area of interest, sample points.

Every element is in Web Mercator (EPSG:3857) with kdims ``x``/``y``: footprints are ``to_crs(3857)`` and declared
``crs=ccrs.GOOGLE_MERCATOR``, so GeoViews never reprojects them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cartopy.crs as ccrs
import geopandas as gpd
import geoviews as gv
import geoviews.plotting.bokeh  # registers GeoViews' Bokeh plotting classes
import holoviews as hv
import pandas as pd

from dashboard.plots.rasters import transformer
from dashboard.plots.style import BASEMAPS, MAP_DIMS, POINT_COLOURS, WEB_MERCATOR


def basemap(name: str) -> hv.Element | None:
    """A web tile layer by its `BASEMAPS` name.

    Tiles are fetched by the browser; offline the plot still renders, without them.

    Parameters
    ----------
    name : str
        One of `BASEMAPS`.

    Returns
    -------
    geoviews.WMTS or None
        ``None`` for ``"None"``.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if name == "None":
        return None
    if name == "Satellite imagery":
        return gv.tile_sources.EsriImagery()
    if name == "OpenStreetMap":
        return gv.tile_sources.OSM()
    raise ValueError(f"unknown basemap {name!r}; choose one of {', '.join(BASEMAPS)}")


def footprints(gdf: gpd.GeoDataFrame, *, color: str = "#e8a33d", selected: Sequence[str] = ()) -> gv.Polygons:
    """Scene footprints as Web Mercator polygons with hover and tap.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Footprints in any CRS (it must be set), e.g. `tracking.sources.demo.catalog`. The columns
        ``scene_id``, ``time`` (shown as ``YYYY-MM-DD HH:MM``) and ``cloud_cover`` become value dimensions
        when present.
    color : str
        Outline and fill colour.
    selected : sequence of str
        Scene ids drawn with a thicker outline and a stronger fill.

    Returns
    -------
    geoviews.Polygons
        With ``crs=ccrs.GOOGLE_MERCATOR`` and a boolean ``selected`` value dimension.

    Raises
    ------
    ValueError
        If ``gdf`` has no CRS.
    """
    if gdf.crs is None:
        raise ValueError("the footprints have no CRS: set one with gdf.set_crs(...) first")
    frame = gdf.to_crs(WEB_MERCATOR)
    vdims = [name for name in ("scene_id", "time", "cloud_cover") if name in frame.columns]
    if "time" in frame.columns:
        frame["time"] = pd.to_datetime(frame["time"]).dt.strftime("%Y-%m-%d %H:%M")
    ids = frame["scene_id"] if "scene_id" in frame.columns else pd.Series("", index=frame.index)
    frame["selected"] = ids.isin(list(selected))
    frame = frame[["geometry", *vdims, "selected"]]
    vdims.append("selected")
    data: Any = frame if len(frame) else []
    polys = gv.Polygons(data, kdims=MAP_DIMS, vdims=vdims, crs=ccrs.GOOGLE_MERCATOR)
    return polys.opts(
        color=color,
        line_color=color,
        line_width=hv.dim("selected").categorize({True: 3.0, False: 1.0}, default=1.0),
        fill_alpha=hv.dim("selected").categorize({True: 0.35, False: 0.05}, default=0.05),
        tools=["hover", "tap"],
        hover_tooltips=[(name, f"@{{{name}}}") for name in vdims if name != "selected"],
    )


def marker(lon: float, lat: float) -> gv.Points:
    """A point marker at a longitude/latitude, in Web Mercator.

    Parameters
    ----------
    lon, lat : float
        Degrees (WGS 84).

    Returns
    -------
    geoviews.Points
    """
    x, y = transformer("EPSG:4326", WEB_MERCATOR).transform(lon, lat)
    points = gv.Points([(x, y)], kdims=MAP_DIMS, crs=ccrs.GOOGLE_MERCATOR)
    return points.opts(marker="circle", size=11, color="#e8a33d", line_color="black", line_width=1.5)


def aoi_box(bounds_3857: tuple[float, float, float, float]) -> gv.Rectangles:
    """A dashed, unfilled rectangle around an area of interest.

    Parameters
    ----------
    bounds_3857 : (xmin, ymin, xmax, ymax)
        Web Mercator metres.

    Returns
    -------
    geoviews.Rectangles
    """
    xmin, ymin, xmax, ymax = (float(b) for b in bounds_3857)
    box = gv.Rectangles([(xmin, ymin, xmax, ymax)], kdims=[*MAP_DIMS, "x1", "y1"], crs=ccrs.GOOGLE_MERCATOR)
    return box.opts(fill_alpha=0.0, line_color="#e8a33d", line_width=2, line_dash="dashed")


def sample_points(points: pd.DataFrame | None) -> gv.Points:
    """Named sample points (columns ``name``, ``lon``, ``lat``) as labelled markers in Web Mercator.

    Point ``i`` (row order) gets ``POINT_COLOURS[i]``, as in `series_plot` with ``colour_by="point"``.
    """
    vdims = ["name", "colour"]
    if points is None or not len(points):
        return gv.Points([], kdims=MAP_DIMS, vdims=vdims, crs=ccrs.GOOGLE_MERCATOR)
    x, y = transformer("EPSG:4326", WEB_MERCATOR).transform(
        points["lon"].to_numpy(float), points["lat"].to_numpy(float)
    )
    colours = [POINT_COLOURS[i % len(POINT_COLOURS)] for i in range(len(points))]
    frame = pd.DataFrame({"x": x, "y": y, "name": points["name"].astype(str).to_numpy(), "colour": colours})
    markers = gv.Points(frame, kdims=MAP_DIMS, vdims=vdims, crs=ccrs.GOOGLE_MERCATOR)
    return markers.opts(
        color="colour",
        size=10,
        line_color="white",
        line_width=1.5,
        marker="circle",
        tools=["hover"],
        hover_tooltips=[("point", "@name")],
    )
