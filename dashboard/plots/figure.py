"""A static matplotlib PNG of the speed map in the field's own CRS, for download and reports."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import xarray as xr

import tracking
from dashboard.plots.rasters import grid_step
from dashboard.plots.style import (
    CLIP_COLOURS,
    DEFAULT_CLIM,
    SPEED_CMAPS,
    SPEED_LABEL,
    check_clim,
    date_text,
    dt_text,
)
from tracking.velocity import vectors


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

    low, high = check_clim(clim, log)
    speed = np.asarray(vectors(field, layer)["v"].values, dtype=np.float64)  # type: ignore[arg-type]
    x_km, y_km = field["x"].values / 1000.0, field["y"].values / 1000.0
    half_x, half_y = grid_step(field) / 2000.0, grid_step(field) / 2000.0
    extent = (x_km.min() - half_x, x_km.max() + half_x, y_km.min() - half_y, y_km.max() + half_y)
    origin = "upper" if y_km.size < 2 or y_km[0] > y_km[-1] else "lower"

    fig = Figure(figsize=(8.0, 6.0), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    norm = LogNorm(vmin=low, vmax=high, clip=False) if log else Normalize(vmin=low, vmax=high)
    image = ax.imshow(
        np.ma.masked_invalid(speed),
        extent=extent,
        origin=origin,
        cmap=_mpl_cmap(cmap),
        norm=norm,
        interpolation="nearest",
    )
    ax.set_aspect("equal")
    crs = field.rio.crs
    crs_name = crs.to_string() if crs is not None else "map"
    ax.set_xlabel(f"x (km, {crs_name})")
    ax.set_ylabel(f"y (km, {crs_name})")
    ax.set_title(_figure_title(field, place))
    fig.colorbar(image, ax=ax, extend="both", shrink=0.9, label=SPEED_LABEL)
    version = field.attrs.get("icetrack_software_version", tracking.__version__)
    fig.get_layout_engine().set(rect=(0, 0.04, 1, 0.96))
    fig.text(
        0.5,
        0.01,
        f"icetrack {version} · NCC feature tracking",
        ha="center",
        va="bottom",
        fontsize=8,
        color="#555555",
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _figure_title(field: xr.Dataset, place: str) -> str:
    attrs = field.attrs
    text = f"{place} ice speed".strip()
    if "acquisition_date_img1" in attrs and "acquisition_date_img2" in attrs:
        text += f" {date_text(attrs['acquisition_date_img1'])} – {date_text(attrs['acquisition_date_img2'])}"
    if "date_dt" in attrs:
        text += f" (dt {dt_text(float(attrs['date_dt']))} d)"
    return text[0].upper() + text[1:] if not place else text
