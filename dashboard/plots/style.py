"""Shared styling of the dashboard's plots: colour maps, colours, map dimensions and options, titles.

Speeds are m/yr; the default colour scale is logarithmic, 1-10 000 m/yr (`DEFAULT_CLIM`), values outside the range
are drawn in `CLIP_COLOURS` and NaN is transparent. Importing this module makes Bokeh HoloViews' backend.
"""

from __future__ import annotations

from typing import Any

import colorcet
import holoviews as hv
import holoviews.plotting.bokeh  # makes Bokeh the current backend for .opts (no notebook set-up)
import numpy as np
import pandas as pd
import xarray as xr
from bokeh.palettes import Viridis256

if hv.Store.current_backend != "bokeh" or "Image" not in dir(hv.opts):
    hv.Store.set_current_backend("bokeh")  # what hv.extension("bokeh") does, minus the notebook set-up

#: The CRS of every map element: Web Mercator.
WEB_MERCATOR = "EPSG:3857"

#: Default speed colour range, m/yr (log scale).
DEFAULT_CLIM = (1.0, 10_000.0)

#: Colours of speeds below / above the colour range (NaN is transparent).
CLIP_COLOURS = {"min": "#bfbfbf", "max": "#ff00ff", "NaN": "transparent"}

#: ITS_LIVE browse-image colour stops: ``(value m/yr, R, G, B)``, from ``COLOR_MAP`` in hyp3-autorift's
#: ``src/hyp3_autorift/image.py`` (ASFHyP3/hyp3-autorift, BSD-3-Clause). Value 0 is transparent there.
ITS_LIVE_STOPS: tuple[tuple[int, int, int, int], ...] = (
    (0, 255, 255, 255),
    (2, 166, 238, 255),
    (4, 97, 195, 219),
    (9, 84, 169, 254),
    (16, 84, 130, 254),
    (25, 84, 85, 254),
    (36, 50, 119, 220),
    (49, 16, 153, 186),
    (64, 16, 186, 153),
    (81, 50, 220, 119),
    (100, 84, 254, 85),
    (121, 118, 221, 51),
    (144, 153, 186, 16),
    (169, 187, 152, 17),
    (196, 221, 118, 51),
    (225, 255, 85, 85),
    (289, 255, 25, 85),
    (324, 213, 1, 72),
    (361, 158, 1, 66),
    (400, 140, 0, 51),
    (441, 122, 0, 166),
    (484, 140, 0, 191),
    (529, 159, 0, 217),
    (576, 213, 0, 255),
    (625, 255, 0, 138),
)


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
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
]

#: Colour-bar label of speed.
SPEED_LABEL = "speed (m/yr)"
#: The key dimensions of every map element (Web Mercator metres; axes hidden).
MAP_DIMS = [hv.Dimension("x", label="x (Web Mercator, m)"), hv.Dimension("y", label="y (Web Mercator, m)")]
#: Plot options shared by the map elements.
MAP_OPTS: dict[str, Any] = {"xaxis": None, "yaxis": None, "active_tools": ["wheel_zoom"]}


def palette(cmap: str) -> list[str] | str:
    """The 256 colours of a `SPEED_CMAPS` name, or ``cmap`` itself (a colour map name HoloViews knows)."""
    return SPEED_CMAPS.get(cmap, cmap)


def check_clim(clim: tuple[float, float], log: bool) -> tuple[float, float]:
    """A usable colour range: increasing, and positive on a log scale (a low end <= 0 becomes 1 m/yr, or
    ``high / 1000`` when ``high <= 1``).

    Examples
    --------
    >>> check_clim((0, 10_000), log=True), check_clim((0, 10_000), log=False)
    ((1.0, 10000.0), (0.0, 10000.0))
    """
    low, high = (float(c) for c in clim)
    if not high > low or (log and high <= 0):
        raise ValueError(f"the colour range must increase (and be positive on a log scale), got {clim}")
    if log and low <= 0:
        low = 1.0 if high > 1.0 else high / 1000.0
    return low, high


def date_text(text: Any) -> str:
    """``YYYY-MM-DD`` of a time stamp, or the text itself when it is not one.

    Examples
    --------
    >>> date_text("2021-05-01T14:56:00"), date_text("spring")
    ('2021-05-01', 'spring')
    """
    try:
        return pd.Timestamp(str(text)).strftime("%Y-%m-%d")
    except ValueError:
        return str(text)


def dt_text(dt_days: float) -> str:
    """A time separation in days: whole when it nearly is, else one decimal.

    Examples
    --------
    >>> dt_text(16.02), dt_text(5.5)
    ('16', '5.5')
    """
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
    text = f"{date_text(attrs['acquisition_date_img1'])} – {date_text(attrs['acquisition_date_img2'])}"
    if "date_dt" in attrs:
        text += f" ({dt_text(float(attrs['date_dt']))} d)"
    return text
