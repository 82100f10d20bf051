"""Pure plotting builders of the dashboard: HoloViews / GeoViews elements and a matplotlib PNG.

Nothing here knows about Panel widgets or session state: every function takes data and options and returns a
HoloViews object (or PNG bytes), so the views can call them from ``pn.bind`` / ``hv.DynamicMap`` callbacks and
the tests can check them without a browser. One module per figure family:

* `style`: colour maps, colours, shared dimensions and options, titles;
* `layers`: basemap tiles, footprints, the marker, the area of interest, sample points;
* `rasters`: fields and scenes reprojected once to Web Mercator, rasterized by datashader;
* `maps`: the velocity map (speed raster, grey scene, flow arrows);
* `compare`: maps side by side, difference map, a-against-b scatter;
* `series`: speed time series at points;
* `figure`: the static PNG.

Map conventions (see ``docs/holoviz.md`` §2): every map element is in **Web Mercator (EPSG:3857)** with kdims
``x``/``y``; GeoViews never reprojects a raster.
"""

from dashboard.plots.compare import comparison, difference_map, scatter_plot
from dashboard.plots.figure import figure_png
from dashboard.plots.layers import aoi_box, basemap, footprints, marker, sample_points
from dashboard.plots.maps import arrow_stride, arrows, empty_map, speed_map
from dashboard.plots.rasters import grey_image, scene_grey, speed_image, web_mercator
from dashboard.plots.series import series_counts, series_plot
from dashboard.plots.style import (
    BASEMAPS,
    DEFAULT_CLIM,
    ITS_LIVE_STOPS,
    POINT_COLOURS,
    SPEED_CMAPS,
    pair_title,
)

__all__ = [
    "BASEMAPS",
    "DEFAULT_CLIM",
    "ITS_LIVE_STOPS",
    "POINT_COLOURS",
    "SPEED_CMAPS",
    "aoi_box",
    "arrow_stride",
    "arrows",
    "basemap",
    "comparison",
    "difference_map",
    "empty_map",
    "figure_png",
    "footprints",
    "grey_image",
    "marker",
    "pair_title",
    "sample_points",
    "scatter_plot",
    "scene_grey",
    "series_counts",
    "series_plot",
    "speed_image",
    "speed_map",
    "web_mercator",
]
