"""Pure plotting builders of the dashboard: HoloViews / GeoViews elements and a matplotlib PNG.

Nothing here knows about Panel widgets or session state: every function takes data and options and returns a
HoloViews object (or PNG bytes), so the views can call them from ``pn.bind`` / ``hv.DynamicMap`` callbacks and
the tests can check them without a browser.

Map conventions (see ``docs/holoviz.md`` §2):

* Every map element is in **Web Mercator (EPSG:3857)** with kdims ``x``/``y``. Rasters are reprojected once with
  rioxarray (`web_mercator`, `scene_grey`) and drawn as plain ``hv.Image`` rasterized by datashader; GeoViews
  never reprojects a raster. Footprints are ``to_crs(3857)`` and declared ``crs=ccrs.GOOGLE_MERCATOR``.
* Arrow positions **and tips** are projected from the field's CRS to 3857 (`arrows`), so their direction stays
  right where grid convergence is large (a few degrees at 69°N in UTM).
* Speeds are m/yr; the default colour scale is logarithmic, 1-10 000 m/yr (`DEFAULT_CLIM`), values outside the
  range are drawn in `CLIP_COLOURS` and NaN is transparent.
"""

from __future__ import annotations

import functools
import io
import math
import operator
from collections.abc import Sequence
from typing import Any

import cartopy.crs as ccrs
import colorcet
import geopandas as gpd
import geoviews as gv
import geoviews.plotting.bokeh  # registers GeoViews' Bokeh plotting classes
import holoviews as hv
import holoviews.plotting.bokeh  # makes Bokeh the current backend for .opts (no notebook set-up)
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from bokeh.palettes import Viridis256
from holoviews.operation.datashader import rasterize
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform

import tracking
from tracking.timeseries import is_own
from tracking.velocity import vectors

if hv.Store.current_backend != "bokeh" or "Image" not in dir(hv.opts):
    hv.Store.set_current_backend("bokeh")  # what hv.extension("bokeh") does, minus the notebook set-up

__all__ = [
    "BASEMAPS",
    "CLIP_COLOURS",
    "DEFAULT_CLIM",
    "ITS_LIVE_STOPS",
    "POINT_COLOURS",
    "SPEED_CMAPS",
    "aoi_box",
    "arrows",
    "basemap",
    "comparison",
    "empty_map",
    "field_title",
    "figure_png",
    "footprints",
    "grey_image",
    "marker",
    "pair_title",
    "sample_points",
    "scene_grey",
    "series_counts",
    "series_plot",
    "speed_image",
    "speed_map",
    "web_mercator",
]

WEB_MERCATOR = "EPSG:3857"

#: Default speed colour range, m/yr (log scale).
DEFAULT_CLIM = (1.0, 10_000.0)

#: Colours of speeds below / above the colour range (NaN is transparent).
CLIP_COLOURS = {"min": "#bfbfbf", "max": "#ff00ff", "NaN": "transparent"}

#: ITS_LIVE browse-image colour stops: ``(value m/yr, R, G, B)``, from ``COLOR_MAP`` in hyp3-autorift's
#: ``src/hyp3_autorift/image.py`` (ASFHyP3/hyp3-autorift, BSD-3-Clause). Value 0 is transparent there.
ITS_LIVE_STOPS: tuple[tuple[int, int, int, int], ...] = (
    (0, 255, 255, 255), (2, 166, 238, 255), (4, 97, 195, 219), (9, 84, 169, 254), (16, 84, 130, 254),
    (25, 84, 85, 254), (36, 50, 119, 220), (49, 16, 153, 186), (64, 16, 186, 153), (81, 50, 220, 119),
    (100, 84, 254, 85), (121, 118, 221, 51), (144, 153, 186, 16), (169, 187, 152, 17), (196, 221, 118, 51),
    (225, 255, 85, 85), (289, 255, 25, 85), (324, 213, 1, 72), (361, 158, 1, 66), (400, 140, 0, 51),
    (441, 122, 0, 166), (484, 140, 0, 191), (529, 159, 0, 217), (576, 213, 0, 255), (625, 255, 0, 138),
)  # fmt: skip


def _its_live_palette(n: int = 256) -> list[str]:
    """The ITS_LIVE colour stops interpolated to ``n`` hex colours.

    Stops sit at ``sqrt(value) / 25`` along the palette (values 0, 2, 4, 9, ..., 625 are nearly squares, so
    the stops are nearly even, as in hyp3-autorift's browse images; note the gap where 256 would be).
    """
    stops = np.array(ITS_LIVE_STOPS, dtype=float)
    position = np.sqrt(stops[:, 0]) / np.sqrt(stops[-1, 0])
    grid = np.linspace(0.0, 1.0, n)
    rgb = np.stack([np.interp(grid, position, stops[:, k]) for k in (1, 2, 3)], axis=1)
    return ["#{:02x}{:02x}{:02x}".format(*(round(c) for c in row)) for row in rgb]


#: Speed colour maps, name -> 256 hex colours. "gouldian" (colorcet, perceptually uniform, colour-blind
#: safe) is the default; "ITS_LIVE" mimics the ITS_LIVE browse images (not perceptually uniform).
SPEED_CMAPS: dict[str, list[str]] = {
    "gouldian": list(colorcet.gouldian),
    "viridis": list(Viridis256),
    "ITS_LIVE": _its_live_palette(),
}

#: Basemap choices; "None" draws nothing (offline / tests).
BASEMAPS = ("None", "Satellite imagery", "OpenStreetMap")

#: Colour-blind-safe categorical colours for sample points: Okabe-Ito (black omitted) then Paul Tol's
#: "muted" scheme.
POINT_COLOURS: list[str] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499",
]  # fmt: skip

_SPEED_LABEL = "speed (m/yr)"
_MAP_DIMS = [hv.Dimension("x", label="x (Web Mercator, m)"), hv.Dimension("y", label="y (Web Mercator, m)")]
_MAP_OPTS: dict[str, Any] = {"xaxis": None, "yaxis": None, "active_tools": ["wheel_zoom"]}


# ----------------------------------------------------------------------------------------------------------
# basemaps and vector overlays
# ----------------------------------------------------------------------------------------------------------


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


def footprints(
    gdf: gpd.GeoDataFrame, *, color: str = "#e8a33d", selected: Sequence[str] = ()
) -> gv.Polygons:
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
    polys = gv.Polygons(data, kdims=_MAP_DIMS, vdims=vdims, crs=ccrs.GOOGLE_MERCATOR)
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
    x, y = _transformer("EPSG:4326", WEB_MERCATOR).transform(lon, lat)
    points = gv.Points([(x, y)], kdims=_MAP_DIMS, crs=ccrs.GOOGLE_MERCATOR)
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
    box = gv.Rectangles([(xmin, ymin, xmax, ymax)], kdims=[*_MAP_DIMS, "x1", "y1"], crs=ccrs.GOOGLE_MERCATOR)
    return box.opts(fill_alpha=0.0, line_color="#e8a33d", line_width=2, line_dash="dashed")


# ----------------------------------------------------------------------------------------------------------
# rasters in Web Mercator
# ----------------------------------------------------------------------------------------------------------


@functools.cache
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def _crs_string(obj: xr.Dataset | xr.DataArray) -> str:
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
    source = source.rio.write_crs(_crs_string(field))
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


def _rasterize(element: hv.Image, dynamic: bool, width: int | None, height: int | None) -> Any:
    kwargs: dict[str, Any] = {"dynamic": dynamic}
    if width is not None:
        kwargs["width"] = width
    if height is not None:
        kwargs["height"] = height
    return rasterize(element, **kwargs)


def _map_dataset(data: xr.Dataset | xr.DataArray) -> xr.Dataset | xr.DataArray:
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
    data = _map_dataset(field_3857[["v", "vx", "vy", "peak"]])
    image = hv.Image(data, kdims=_MAP_DIMS, vdims=vdims)
    raster = _rasterize(image, dynamic, width, height)
    return raster.opts(
        hv.opts.Image(
            cmap=_palette(cmap),
            logz=log,
            clim=_check_clim(clim, log),
            clipping_colors=CLIP_COLOURS,
            colorbar=True,
            clabel=_SPEED_LABEL,
            alpha=alpha,
            tools=["hover", "tap"],
            hover_tooltips=[
                ("speed", "@image{0,0.0} m/yr"),
                ("vx (east)", "@vx{0,0.0} m/yr"),
                ("vy (north)", "@vy{0,0.0} m/yr"),
                ("peak NCC", "@peak{0.00}"),
            ],
            title=title,
            **_MAP_OPTS,
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
    data = _map_dataset(scene_3857.rename("image"))
    image = hv.Image(data, kdims=_MAP_DIMS, vdims=[hv.Dimension("image", label="reflectance")])
    raster = _rasterize(image, dynamic, width, height)
    return raster.opts(
        hv.opts.Image(cmap="gray", clim=(float(low), float(high)), colorbar=False, tools=[], **_MAP_OPTS)
    )


def _palette(cmap: str) -> list[str] | str:
    return SPEED_CMAPS.get(cmap, cmap)


def _check_clim(clim: tuple[float, float], log: bool) -> tuple[float, float]:
    """A usable colour range: increasing, and positive on a log scale (a low end <= 0 becomes 1 m/yr, or
    ``high / 1000`` when ``high <= 1``).

    Examples
    --------
    >>> _check_clim((0, 10_000), log=True), _check_clim((0, 10_000), log=False)
    ((1.0, 10000.0), (0.0, 10000.0))
    """
    low, high = (float(c) for c in clim)
    if not high > low or (log and high <= 0):
        raise ValueError(f"the colour range must increase (and be positive on a log scale), got {clim}")
    if log and low <= 0:
        low = 1.0 if high > 1.0 else high / 1000.0
    return low, high


# ----------------------------------------------------------------------------------------------------------
# arrows
# ----------------------------------------------------------------------------------------------------------

_ARROW_VDIMS = [hv.Dimension("Angle", cyclic=True, range=(0, 2 * np.pi)), hv.Dimension("Magnitude", unit="m/yr")]


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
    step = _grid_step(vec) * 0.1
    to_3857 = _transformer(_crs_string(field), WEB_MERCATOR)
    x0, y0 = to_3857.transform(xx, yy)
    x1, y1 = to_3857.transform(xx + step * vx / v, yy + step * vy / v)
    angle = np.mod(np.arctan2(np.asarray(y1) - y0, np.asarray(x1) - x0), 2 * np.pi)
    data = (np.asarray(x0), np.asarray(y0), angle, v)
    vmax = float(v.max()) if v.size else 1.0
    field_el = hv.VectorField(data, kdims=_MAP_DIMS, vdims=_ARROW_VDIMS)
    return field_el.opts(
        magnitude=hv.dim("Magnitude") / vmax,
        pivot="tail",
        color="white",
        line_width=1.5,
        rescale_lengths=True,
        tools=[],
        **_MAP_OPTS,
    )


def arrow_outline(arrow_field: hv.VectorField) -> hv.VectorField:
    """A wider black copy of `arrows`' output, drawn underneath so white arrows read on any colour."""
    return arrow_field.clone().opts(color="black", line_width=3.5)


def _grid_step(data: xr.Dataset) -> float:
    steps = [abs(float(np.diff(data[axis].values[:2])[0])) for axis in ("x", "y") if data.sizes[axis] > 1]
    return min(steps) if steps else 1.0


# ----------------------------------------------------------------------------------------------------------
# maps
# ----------------------------------------------------------------------------------------------------------


def _date(text: Any) -> str:
    try:
        return pd.Timestamp(str(text)).strftime("%Y-%m-%d")
    except ValueError:
        return str(text)


def _dt_text(dt_days: float) -> str:
    return f"{dt_days:.0f}" if abs(dt_days - round(dt_days)) < 0.05 else f"{dt_days:.1f}"


def pair_title(field: xr.Dataset) -> str:
    """``"<t0> – <t1> (<dt> d)"`` from a VelocityField's attrs (empty when they are missing).

    Examples
    --------
    >>> pair_title(xr.Dataset(attrs={"acquisition_date_img1": "2021-05-01T14:56:00",
    ...                              "acquisition_date_img2": "2021-05-17T14:56:00", "date_dt": 16.0}))
    '2021-05-01 – 2021-05-17 (16 d)'
    """
    attrs = field.attrs
    if "acquisition_date_img1" not in attrs or "acquisition_date_img2" not in attrs:
        return ""
    text = f"{_date(attrs['acquisition_date_img1'])} – {_date(attrs['acquisition_date_img2'])}"
    if "date_dt" in attrs:
        text += f" ({_dt_text(float(attrs['date_dt']))} d)"
    return text


#: Alias of `pair_title`.
field_title = pair_title


def empty_map(message: str) -> hv.Element:
    """A blank, responsive map-sized panel showing ``message`` (no data yet, or an error)."""
    text = hv.Text(0.5, 0.5, message).opts(text_color="#666666", text_font_size="12pt")
    return (hv.Curve([], kdims=["x"], vdims=["y"]) * text).opts(
        hv.opts.Curve(xlim=(0, 1), ylim=(0, 1)),
        hv.opts.Overlay(responsive=True, min_height=300, xaxis=None, yaxis=None, toolbar=None,
                        show_legend=False),
    )


def sample_points(points: pd.DataFrame | None) -> gv.Points:
    """Named sample points (columns ``name``, ``lon``, ``lat``) as labelled markers in Web Mercator.

    Point ``i`` (row order) gets ``POINT_COLOURS[i]``, as in `series_plot` with ``colour_by="point"``.
    """
    vdims = ["name", "colour"]
    if points is None or not len(points):
        return gv.Points([], kdims=_MAP_DIMS, vdims=vdims, crs=ccrs.GOOGLE_MERCATOR)
    x, y = _transformer("EPSG:4326", WEB_MERCATOR).transform(
        points["lon"].to_numpy(float), points["lat"].to_numpy(float)
    )
    colours = [POINT_COLOURS[i % len(POINT_COLOURS)] for i in range(len(points))]
    frame = pd.DataFrame({"x": x, "y": y, "name": points["name"].astype(str).to_numpy(), "colour": colours})
    markers = gv.Points(frame, kdims=_MAP_DIMS, vdims=vdims, crs=ccrs.GOOGLE_MERCATOR)
    return markers.opts(color="colour", size=10, line_color="white", line_width=1.5, marker="circle",
                        tools=["hover"], hover_tooltips=[("point", "@name")])


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
        grey = scene if _is_web_mercator(scene) else scene_grey(scene)
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


def _is_web_mercator(data: xr.DataArray) -> bool:
    crs = data.rio.crs
    return crs is not None and crs.to_epsg() == 3857


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
    maps = [speed_map(field, projected=field_3857, title=pair_title(field) or f"field {i + 1}", **kwargs)
            for i, (field, field_3857) in enumerate(zip(fields, cached, strict=True))]
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
    source = diff[["dv"]].rio.write_crs(_crs_string(diff))
    source["dv"] = source["dv"].rio.write_nodata(np.nan, encoded=False)
    projected = source.rio.reproject(WEB_MERCATOR, resampling=Resampling.nearest, nodata=np.nan)
    values = np.abs(diff["dv"].values[np.isfinite(diff["dv"].values)])
    if limit is None:
        limit = max(1.0, float(np.percentile(values, 95))) if values.size else 1.0
    image = hv.Image(_map_dataset(projected), kdims=_MAP_DIMS,
                     vdims=[hv.Dimension("dv", label="speed difference", unit="m/yr")])  # fmt: skip
    raster = _rasterize(image, False, None, None).opts(
        hv.opts.Image(cmap="RdBu_r", clim=(-limit, limit), colorbar=True, clabel="a − b (m/yr)",
                      tools=["hover"], hover_tooltips=[("a − b", "@image{0,0.0} m/yr")], **_MAP_OPTS)
    )  # fmt: skip
    attrs = diff.attrs
    title = (f"speed a − b: median {attrs.get('median_dv', float('nan')):+.0f} m/yr, spread "
             f"{attrs.get('mad_dv', float('nan')):.0f} m/yr ({attrs.get('count', 0)} nodes)")  # fmt: skip
    layers = [layer for layer in (basemap(basemap_name), raster) if layer is not None]
    overlay = functools.reduce(operator.mul, layers) if len(layers) > 1 else hv.Overlay(layers)
    return overlay.opts(hv.opts.Overlay(title=title, data_aspect=1, xaxis=None, yaxis=None,
                                        active_tools=["wheel_zoom"]))  # fmt: skip


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
    points = hv.Points((b, a), kdims=[x_dim, y_dim]).opts(size=3, alpha=0.35, color="#0072b2",
                                                          tools=["hover"])  # fmt: skip
    line = hv.Curve(([0, top], [0, top]), kdims=[x_dim], vdims=[y_dim]).opts(color="#555555",
                                                                            line_dash="dashed")  # fmt: skip
    return (points * line).opts(hv.opts.Overlay(title=f"speed a against b ({a.size} nodes; dashed: a = b)",
                                                xlim=(0, top), ylim=(0, top), show_grid=True))  # fmt: skip


# ----------------------------------------------------------------------------------------------------------
# time series
# ----------------------------------------------------------------------------------------------------------

_TIME = hv.Dimension("time", label="date")
_SPEED = hv.Dimension("speed", label="speed", unit="m/yr")
_SERIES_OPTS: dict[str, Any] = {"responsive": True, "min_height": 250, "ylim": (0, None), "show_grid": True}
_SERIES_HOVER = [
    ("point", "@point"), ("dates", "@t0_text – @t1_text"), ("dt", "@dt_days{0.0} d"),
    ("speed", "@speed{0,0.0} m/yr"), ("source", "@source"),
]  # fmt: skip


def _finite(series: pd.DataFrame) -> pd.DataFrame:
    if series.empty or "v" not in series.columns:
        return series.iloc[0:0]
    return series[np.isfinite(pd.to_numeric(series["v"], errors="coerce"))]


def series_counts(series: pd.DataFrame, dt_range: tuple[float, float]) -> tuple[int, int]:
    """How many finite-speed rows fall in ``dt_range`` (inclusive), and how many there are.

    Examples
    --------
    >>> frame = pd.DataFrame({"v": [1.0, 2.0, np.nan, 4.0], "dt_days": [5, 16, 16, 200]})
    >>> series_counts(frame, (1, 120))
    (2, 3)
    """
    finite = _finite(series)
    low, high = dt_range
    return int(finite["dt_days"].between(low, high).sum()) if len(finite) else 0, len(finite)


def _prepare(series: pd.DataFrame, dt_range: tuple[float, float]) -> pd.DataFrame:
    finite = _finite(series)
    frame = finite[finite["dt_days"].between(*dt_range)].copy()
    for name in ("t0", "t1", "mid_date"):
        frame[name] = pd.to_datetime(frame[name])
    frame["point"] = frame["point"].astype(str)
    for name, default in (("v_error", np.nan), ("source", ""), ("label", "")):
        if name not in frame.columns:
            frame[name] = default
    frame["source"] = frame["source"].fillna("").astype(str)
    frame["v_error"] = pd.to_numeric(frame["v_error"], errors="coerce")
    frame["t0_text"] = frame["t0"].dt.strftime("%Y-%m-%d")
    frame["t1_text"] = frame["t1"].dt.strftime("%Y-%m-%d")
    frame["speed"] = frame["v"].astype(float)
    frame["speed_end"] = frame["speed"]
    frame["time"] = frame["mid_date"]
    return frame


def _layers_of(frame: pd.DataFrame, color: Any, label: str = "", marker: str = "circle",
               **style: Any) -> list[hv.Element]:  # fmt: skip
    """Span bars t0 -> t1, error bars and a mid-date dot for one group of rows."""
    extra = ["point", "t0_text", "t1_text", "dt_days", "source"]
    segments = hv.Segments(frame, kdims=[hv.Dimension("t0", label="date"), _SPEED, "t1", "speed_end"],
                           vdims=extra).opts(color=color, line_width=2.5, alpha=0.7, show_legend=False, **style)
    layers: list[hv.Element] = [segments]
    with_error = frame[np.isfinite(frame["v_error"])]
    if len(with_error):
        layers.append(hv.ErrorBars(with_error, kdims=[_TIME], vdims=[_SPEED, "v_error"]).opts(
            color="#555555", line_width=1, show_legend=False))
    scatter = hv.Scatter(frame, kdims=[_TIME], vdims=[_SPEED, *extra], label=label)
    layers.append(scatter.opts(color=color, size=6, line_color="white", tools=["hover"], marker=marker,
                               hover_tooltips=_SERIES_HOVER, **style))
    return layers


def _by_dt(frame: pd.DataFrame, dt_range: tuple[float, float], cmap_dt: str) -> list[hv.Element]:
    ordered = frame.sort_values("dt_days", ascending=False, kind="stable")  # short dt drawn last, on top
    colour = {"cmap": cmap_dt, "clim": (float(dt_range[0]), float(dt_range[1]))}
    layers = _layers_of(ordered, hv.dim("dt_days"), **colour)
    layers[-1] = layers[-1].opts(colorbar=True, clabel="dt (days)")
    return layers


def _point_colour(name: str, order: Sequence[str]) -> str:
    return POINT_COLOURS[order.index(name) % len(POINT_COLOURS)] if name in order else "#444444"


def _by_point(frame: pd.DataFrame, order: Sequence[str]) -> list[hv.Element]:
    """One colour per point; series from other sources (ITS_LIVE) in the point's colour with square dots."""
    layers: list[hv.Element] = []
    for (name, source), group in frame.groupby(["point", "source"], sort=False):
        external = not is_own(source)
        label = f"{name} · {source}" if external else str(name)
        layers.extend(_layers_of(group, _point_colour(str(name), order), label=label,
                                 marker="square" if external else "circle"))  # fmt: skip
    return layers


def _truth_layers(truth: pd.DataFrame, points: Sequence[str]) -> list[hv.Element]:
    layers: list[hv.Element] = []
    frame = truth.assign(time=pd.to_datetime(truth["time"]), speed=truth["v"].astype(float),
                         point=truth["point"].astype(str))
    for i, (name, group) in enumerate(frame.groupby("point", sort=False)):
        colour = _point_colour(str(name), points)
        curve = hv.Curve(group.sort_values("time"), kdims=[_TIME], vdims=[_SPEED],
                         label="true speed (demo)")
        layers.append(curve.opts(color=colour, line_dash="dashed", line_width=1.5, show_legend=i == 0))
    return layers


def _placeholder(message: str) -> hv.Overlay:
    text = hv.Text(0.5, 0.5, message).opts(text_color="#666666", text_font_size="12pt")
    frame = hv.Curve([], kdims=["x"], vdims=["y"]).opts(xlim=(0, 1), ylim=(0, 1))
    return hv.Overlay([frame, text]).opts(
        responsive=True, min_height=250, xaxis=None, yaxis=None, toolbar=None, show_legend=False
    )


def _fit_layers(fits: pd.DataFrame, order: Sequence[str]) -> list[hv.Element]:
    """The robust fit of each series (`tracking.trends.fit_series`) as a thin line in the point's colour."""
    from tracking.trends import fitted_curve

    layers: list[hv.Element] = []
    for i, fit in enumerate(fits.itertuples(index=False)):
        if not np.isfinite(fit.mean) or pd.isna(fit.t_start):
            continue
        times = pd.date_range(fit.t_start, fit.t_end, periods=200)
        curve = hv.Curve((times, fitted_curve(fit._asdict(), times)), kdims=[_TIME], vdims=[_SPEED],
                         label="robust fit")  # fmt: skip
        layers.append(curve.opts(color=_point_colour(str(fit.point).split(" · ")[0], order), line_width=1.5,
                                 alpha=0.9, show_legend=i == 0))  # fmt: skip
    return layers


def _outlier_layer(outliers: pd.DataFrame) -> hv.Element:
    frame = outliers.assign(time=pd.to_datetime(outliers["mid_date"]), speed=outliers["v"].astype(float))
    return hv.Scatter(frame, kdims=[_TIME], vdims=[_SPEED], label="rejected").opts(
        color="#999999", marker="x", size=7, alpha=0.8)


def series_plot(
    series: pd.DataFrame,
    *,
    colour_by: str = "point",
    dt_range: tuple[float, float] = (1, 120),
    truth: pd.DataFrame | None = None,
    cmap_dt: str = "viridis",
    outliers: pd.Series | None = None,
    fits: pd.DataFrame | None = None,
) -> hv.Overlay:
    """Speed time series at sample points: a span bar per pair (t0 -> t1), a dot at the mid-date, error bars.

    Parameters
    ----------
    series : pandas.DataFrame
        Columns ``point``, ``t0``, ``t1``, ``mid_date``, ``dt_days``, ``v`` (m/yr), and optionally
        ``v_error`` (may be NaN), ``source``, ``label``. Rows with NaN ``v`` or ``dt_days`` outside
        ``dt_range`` are not drawn.
    colour_by : {"point", "dt"}
        ``"point"``: one `POINT_COLOURS` colour per point, with a legend; ``"dt"``: colour by ``dt_days`` on
        ``cmap_dt`` (colour bar "dt (days)", range ``dt_range``), short pairs drawn on top. Point colours
        follow the order of first appearance in ``series`` (the points' order, as in `sample_points`).
    dt_range : (float, float)
        Inclusive range of ``dt_days`` to show.
    truth : pandas.DataFrame, optional
        Columns ``point``, ``time``, ``v``: the demo's true speed, drawn as dashed curves.
    cmap_dt : str
        Colour map for ``colour_by="dt"``.
    outliers : pandas.Series of bool, optional
        Rows of ``series`` rejected by `tracking.trends.reject_outliers`: drawn as grey crosses, not as pairs.
    fits : pandas.DataFrame, optional
        `tracking.trends.fit_series` rows, drawn as thin lines in their point's colour (a ``point`` of
        ``"P1 · ITS_LIVE"`` takes P1's colour).

    Returns
    -------
    holoviews.Overlay
        x "date", y "speed (m/yr)" from 0; a text prompt when there is nothing to show.
    """
    if colour_by not in ("point", "dt"):
        raise ValueError(f"colour_by must be 'point' or 'dt', not {colour_by!r}")
    if _finite(series).empty:
        return _placeholder("Click the map to add points")
    rejected = series.iloc[0:0]
    if outliers is not None and outliers.any():
        rejected = _prepare(series[outliers.reindex(series.index, fill_value=False)], dt_range)
        series = series[~outliers.reindex(series.index, fill_value=False)]
    frame = _prepare(series, dt_range)
    if frame.empty:
        return _placeholder(f"No pairs with dt in {dt_range[0]:g}–{dt_range[1]:g} days: widen the dt range")
    order = list(dict.fromkeys(series["point"].astype(str)))  # first appearance: the points' order
    layers = _by_dt(frame, dt_range, cmap_dt) if colour_by == "dt" else _by_point(frame, order)
    if len(rejected):
        layers.append(_outlier_layer(rejected))
    if fits is not None and len(fits):
        layers.extend(_fit_layers(fits, order))
    if truth is not None and len(truth):
        layers = _truth_layers(truth, order) + layers
    return hv.Overlay(layers).opts(
        hv.opts.Overlay(legend_position="top_left", **_SERIES_OPTS),
        hv.opts.Segments(ylim=(0, None)),
    )


# ----------------------------------------------------------------------------------------------------------
# static figure
# ----------------------------------------------------------------------------------------------------------


def _mpl_cmap(cmap: str) -> Any:
    from matplotlib.colors import ListedColormap

    colours = SPEED_CMAPS.get(cmap)
    base = ListedColormap(colours, name=cmap) if colours is not None else _named_mpl_cmap(cmap)
    return base.with_extremes(under=CLIP_COLOURS["min"], over=CLIP_COLOURS["max"], bad=(0, 0, 0, 0))


def _named_mpl_cmap(cmap: str) -> Any:
    from matplotlib import colormaps

    return colormaps[cmap]


def figure_png(
    field: xr.Dataset,
    *,
    layer: str = "filled",
    log: bool = True,
    clim: tuple[float, float] = DEFAULT_CLIM,
    cmap: str = "gouldian",
    place: str = "",
    dpi: int = 120,
) -> bytes:
    """A static PNG of the speed map in the field's own CRS, for download and reports.

    Parameters
    ----------
    field : xarray.Dataset
        A VelocityField.
    layer : {"raw", "masked", "filled"}
        Which vectors to show.
    log, clim, cmap
        Colour scale, as in `speed_image`.
    place : str
        Place name for the title.
    dpi : int
        Resolution.

    Returns
    -------
    bytes
        The PNG file.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.figure import Figure

    low, high = _check_clim(clim, log)
    speed = np.asarray(vectors(field, layer)["v"].values, dtype=np.float64)  # type: ignore[arg-type]
    x_km, y_km = field["x"].values / 1000.0, field["y"].values / 1000.0
    half_x, half_y = _grid_step(field) / 2000.0, _grid_step(field) / 2000.0
    extent = (x_km.min() - half_x, x_km.max() + half_x, y_km.min() - half_y, y_km.max() + half_y)
    origin = "upper" if y_km.size < 2 or y_km[0] > y_km[-1] else "lower"

    fig = Figure(figsize=(8.0, 6.0), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    norm = LogNorm(vmin=low, vmax=high, clip=False) if log else Normalize(vmin=low, vmax=high)
    image = ax.imshow(np.ma.masked_invalid(speed), extent=extent, origin=origin, cmap=_mpl_cmap(cmap),
                      norm=norm, interpolation="nearest")
    ax.set_aspect("equal")
    crs = field.rio.crs
    crs_name = crs.to_string() if crs is not None else "map"
    ax.set_xlabel(f"x (km, {crs_name})")
    ax.set_ylabel(f"y (km, {crs_name})")
    ax.set_title(_figure_title(field, place))
    fig.colorbar(image, ax=ax, extend="both", shrink=0.9, label=_SPEED_LABEL)
    version = field.attrs.get("icetrack_software_version", tracking.__version__)
    fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
    fig.text(0.5, 0.01, f"icetrack {version} · NCC feature tracking", ha="center", va="bottom",
             fontsize=8, color="#555555")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _figure_title(field: xr.Dataset, place: str) -> str:
    attrs = field.attrs
    text = f"{place} ice speed".strip()
    if "acquisition_date_img1" in attrs and "acquisition_date_img2" in attrs:
        text += f" {_date(attrs['acquisition_date_img1'])} – {_date(attrs['acquisition_date_img2'])}"
    if "date_dt" in attrs:
        text += f" (dt {_dt_text(float(attrs['date_dt']))} d)"
    return text[0].upper() + text[1:] if not place else text
