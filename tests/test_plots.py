"""Tests of the dashboard's pure plotting builders (the ``dashboard.plots`` package), browserless.

Rendering is checked by building the Bokeh model (``pn.pane.HoloViews(...).get_root()``) and by the static
``rasterize(..., dynamic=False)`` path, whose arrays can be asserted on.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cartopy.crs as ccrs
import geopandas as gpd
import holoviews as hv
import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr
from affine import Affine
from shapely.geometry import box

import tracking
from tracking.scenes import make_scene
from tracking.testing import synthetic_pair

try:
    from dashboard import plots
except ModuleNotFoundError:  # an editable install made before dashboard/ existed: `pip install -e .` fixes it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from dashboard import plots

T30 = Affine(30.0, 0.0, 560_000.0, 0.0, -30.0, 7_670_000.0)  # UTM 22N, about 69.1 N
FAST = {"search_range": 8, "step": 8, "chip_size": 32}


def _scene(data: np.ndarray, time: str) -> xr.DataArray:
    return make_scene(data, transform=T30, crs="EPSG:32622", time=time, sensor="Landsat 8 OLI", band="red")


@pytest.fixture(scope="module")
def scenes() -> tuple[xr.DataArray, xr.DataArray]:
    pair = synthetic_pair((192, 192), max_displacement=4.0, seed=3)
    return _scene(pair.reference, "2021-05-01T14:56:00"), _scene(pair.secondary, "2021-05-17T14:56:00")


@pytest.fixture(scope="module")
def field(scenes: tuple[xr.DataArray, xr.DataArray]) -> xr.Dataset:
    """A small tracked VelocityField in UTM 22N."""
    return tracking.track(tracking.Pair.from_scenes(*scenes), **FAST)


def uniform_field(
    vx: float = 1000.0, vy: float = 0.0, *, shape=(30, 40), x0=600_000.0, y0=7_670_000.0, dt: float = 16.0
) -> xr.Dataset:
    """A hand-made VelocityField of uniform flow on a 300 m UTM 22N grid."""
    x = x0 + 300.0 * np.arange(shape[1])
    y = y0 - 300.0 * np.arange(shape[0])
    values = {"vx": vx, "vy": vy, "v": np.hypot(vx, vy), "peak": 0.6, "snr": 3.0, "dx": 1.0, "dy": 0.0}
    ds = xr.Dataset(
        {name: (("y", "x"), np.full(shape, value, np.float32)) for name, value in values.items()},
        coords={"x": x, "y": y},
    )
    ds["valid"] = (("y", "x"), np.ones(shape, bool))
    ds["interpolated"] = (("y", "x"), np.zeros(shape, bool))
    ds.attrs.update(
        acquisition_date_img1="2021-05-01T14:56:00",
        acquisition_date_img2=str(pd.Timestamp("2021-05-01T14:56:00") + pd.Timedelta(days=dt)),
        date_dt=dt,
    )
    return ds.rio.write_crs("EPSG:32622")


def root_of(obj) -> object:
    import panel as pn

    return pn.pane.HoloViews(obj).get_root()


def plot_opts(element) -> dict:
    return hv.Store.lookup_options("bokeh", element, "plot").kwargs


def style_opts(element) -> dict:
    return hv.Store.lookup_options("bokeh", element, "style").kwargs


# --- colour maps and constants -----------------------------------------------------------------------------


def test_palettes_and_constants() -> None:
    assert set(plots.SPEED_CMAPS) == {"gouldian", "viridis", "ITS_LIVE"}
    assert all(len(colours) == 256 for colours in plots.SPEED_CMAPS.values())
    its_live = plots.SPEED_CMAPS["ITS_LIVE"]
    assert its_live[0] == "#ffffff" and its_live[-1] == "#ff008a"  # first and last hyp3-autorift stops
    assert len(plots.ITS_LIVE_STOPS) == 25
    assert plots.DEFAULT_CLIM == (1.0, 10_000.0)
    assert plots.BASEMAPS == ("None", "Satellite imagery", "OpenStreetMap")
    assert len(plots.POINT_COLOURS) >= 12 and len(set(plots.POINT_COLOURS)) == len(plots.POINT_COLOURS)


def test_basemap() -> None:
    assert plots.basemap("None") is None
    assert "arcgisonline" in plots.basemap("Satellite imagery").data
    assert "openstreetmap" in plots.basemap("OpenStreetMap").data
    with pytest.raises(ValueError, match="unknown basemap"):
        plots.basemap("Stamen")


# --- rasters -----------------------------------------------------------------------------------------------


def test_web_mercator(field: xr.Dataset) -> None:
    out = plots.web_mercator(field)
    assert out.rio.crs.to_epsg() == 3857
    assert set(out.data_vars) >= {"v", "vx", "vy", "peak", "valid"}
    assert out["valid"].dtype == bool
    assert out.attrs["date_dt"] == field.attrs["date_dt"]
    # the grid sits where the field is (Web Mercator x about -5.5e6 m at 49.6 W)
    lon, lat = pyproj.Transformer.from_crs(3857, 4326, always_xy=True).transform(
        float(out.x.mean()), float(out.y.mean())
    )
    assert -50.5 < lon < -49.0 and 68.8 < lat < 69.4
    # nearest-neighbour: the same speeds, finite where the field has them
    speeds = out["v"].values[np.isfinite(out["v"].values)]
    original = field["v"].values[np.isfinite(field["v"].values)]
    assert speeds.size > 0.7 * original.size
    assert np.nanmin(original) <= speeds.min() and speeds.max() <= np.nanmax(original)
    assert np.nanmedian(speeds) == pytest.approx(np.nanmedian(original), rel=0.1)
    masked = plots.web_mercator(field, "masked")
    assert np.isfinite(masked["v"].values).sum() <= np.isfinite(out["v"].values).sum()


def test_speed_image_static(field: xr.Dataset) -> None:
    image = plots.speed_image(plots.web_mercator(field), dynamic=False, width=15, height=10)
    assert isinstance(image, hv.Image)
    assert [d.name for d in image.vdims] == ["v", "vx", "vy", "peak"]
    assert [d.name for d in image.kdims] == ["x", "y"]
    values = image.dimension_values("v", flat=False)
    assert values.shape == (10, 15)  # rasterize never upsamples: stay below the source grid
    finite = values[np.isfinite(values)]
    assert finite.size > 0.5 * values.size
    assert finite.min() >= 0 and finite.max() <= float(np.nanmax(field["v"])) + 1e-3
    opts = plot_opts(image)
    assert opts["logz"] is True and opts["clim"] == (1.0, 10_000.0) and opts["clabel"] == "speed (m/yr)"
    assert opts["clipping_colors"]["NaN"] == "transparent" and "min" in opts["clipping_colors"]
    assert "tap" in opts["tools"] and "hover" in opts["tools"]
    assert style_opts(image)["cmap"] == plots.SPEED_CMAPS["gouldian"]


def test_speed_image_linear_and_dynamic(field: xr.Dataset) -> None:
    projected = plots.web_mercator(field)
    image = plots.speed_image(projected, log=False, clim=(0, 3000), cmap="ITS_LIVE", dynamic=False)
    assert plot_opts(image)["logz"] is False and plot_opts(image)["clim"] == (0.0, 3000.0)
    assert style_opts(image)["cmap"] == plots.SPEED_CMAPS["ITS_LIVE"]
    assert plot_opts(plots.speed_image(projected, clim=(0, 5000), dynamic=False))["clim"] == (1.0, 5000.0)
    dmap = plots.speed_image(projected)
    assert isinstance(dmap, hv.DynamicMap)
    assert {type(s).__name__ for s in dmap.streams} >= {"RangeXY"}


def test_scene_grey(scenes: tuple[xr.DataArray, xr.DataArray]) -> None:
    grey = plots.scene_grey(scenes[0])
    assert grey.rio.crs.to_epsg() == 3857
    assert np.isfinite(grey.values).mean() > 0.5
    small = plots.scene_grey(scenes[0], max_size=50)
    assert max(small.shape) <= 55
    image = plots.grey_image(grey, dynamic=False, width=40, height=40)
    assert isinstance(image, hv.Image)
    assert style_opts(image)["cmap"] == "gray" and plot_opts(image)["colorbar"] is False


# --- arrows ------------------------------------------------------------------------------------------------


def test_arrows_are_thinned(field: xr.Dataset) -> None:
    for limit in (10, 50, 600):
        vectors = plots.arrows(field, max_arrows=limit)
        assert isinstance(vectors, hv.VectorField)
        assert 0 < len(vectors) <= limit
    assert plots.arrow_stride((100, 100), 600) == 5
    opts = plot_opts(vectors)
    assert opts["pivot"] == "tail"


def test_arrow_tips_are_projected_at_69n() -> None:
    """Pure eastward flow in UTM 22N points a grid convergence off east in Web Mercator."""
    east = uniform_field(1000.0, 0.0)
    vectors = plots.arrows(east, max_arrows=100)
    angles = np.degrees(vectors.dimension_values("Angle"))
    angles = (angles + 180.0) % 360.0 - 180.0
    lon, lat = pyproj.Transformer.from_crs(32622, 4326, always_xy=True).transform(606_000.0, 7_665_500.0)
    convergence = pyproj.Proj("EPSG:32622").get_factors(lon, lat).meridian_convergence  # ~2.5 degrees
    assert 1.0 < convergence < 5.0
    assert np.all(np.abs(angles) > 1.0)  # not the UTM angle (0)
    np.testing.assert_allclose(np.abs(angles), convergence, atol=0.3)
    assert np.ptp(vectors.dimension_values("Magnitude")) == 0  # magnitude is the speed, m/yr
    assert vectors.dimension_values("Magnitude")[0] == pytest.approx(1000.0)


def test_arrows_of_an_empty_field_render() -> None:
    empty = uniform_field(np.nan, np.nan)
    vectors = plots.arrows(empty)
    assert isinstance(vectors, hv.VectorField) and len(vectors) == 0
    root_of(vectors)


# --- maps --------------------------------------------------------------------------------------------------


def test_speed_map_overlay(field: xr.Dataset, scenes) -> None:
    overlay = plots.speed_map(field, scene=scenes[0], dynamic=False, clim=(10, 5000))
    assert isinstance(overlay, hv.Overlay)
    kinds = [type(el).__name__ for el in overlay]
    assert kinds == ["Image", "Image", "VectorField", "VectorField"]  # grey, speed, arrow outline, arrows
    assert plot_opts(overlay.get(1))["clim"] == (10.0, 5000.0)
    title = plot_opts(overlay)["title"]
    assert "2021-05-01" in title and "2021-05-17" in title and "16 d" in title
    no_arrows = plots.speed_map(field, show_arrows=False, dynamic=False)
    assert [type(el).__name__ for el in no_arrows] == ["Image"]


@pytest.mark.parametrize("basemap_name", ["None", "Satellite imagery"])
def test_speed_map_builds_a_bokeh_model(field: xr.Dataset, scenes, basemap_name: str) -> None:
    from bokeh.models import LogColorMapper

    projected = plots.web_mercator(field)
    grey = plots.scene_grey(scenes[0])
    dmap = plots.speed_map(field, projected=projected, scene=grey, basemap_name=basemap_name)
    assert isinstance(dmap, hv.DynamicMap)
    root = root_of(dmap)
    mappers = list(root.select({"type": LogColorMapper}))
    assert mappers and mappers[0].low == 1.0 and mappers[0].high == 10_000.0
    assert mappers[0].nan_color in ("transparent", "rgba(0, 0, 0, 0)")


def test_comparison_shares_the_colour_scale(field: xr.Dataset) -> None:
    fields = [field, uniform_field(500.0, 200.0, dt=32.0), uniform_field(50.0, -20.0, dt=8.0)]
    layout = plots.comparison(fields, clim=(5.0, 2000.0), cmap="viridis", dynamic=False, title="ignored")
    assert isinstance(layout, hv.Layout) and len(layout) == 3
    titles = []
    for overlay in layout:
        assert isinstance(overlay, hv.Overlay)
        speed = overlay.get(0)
        assert plot_opts(speed)["clim"] == (5.0, 2000.0) and plot_opts(speed)["logz"] is True
        assert style_opts(speed)["cmap"] == plots.SPEED_CMAPS["viridis"]
        titles.append(plot_opts(overlay)["title"])
    assert titles[1].endswith("(32 d)") and titles[2].endswith("(8 d)") and len(set(titles)) == 3
    root_of(layout)


def test_footprints_markers_and_box() -> None:
    utm = gpd.GeoDataFrame(
        {
            "scene_id": ["A", "B"],
            "time": pd.to_datetime(["2021-05-01 14:56", "2021-05-17 14:56"]),
            "cloud_cover": [0.0, 12.5],
            "path": [9, 9],
        },
        geometry=[box(560_000, 7_660_000, 580_000, 7_680_000), box(570_000, 7_650_000, 590_000, 7_670_000)],
        crs="EPSG:32622",
    )
    polys = plots.footprints(utm, selected=["B"])
    assert polys.crs.proj4_params == ccrs.GOOGLE_MERCATOR.proj4_params
    assert [d.name for d in polys.vdims] == ["scene_id", "time", "cloud_cover", "selected"]
    expected = utm.to_crs(3857).total_bounds
    xs, ys = polys.dimension_values(0), polys.dimension_values(1)
    np.testing.assert_allclose([np.nanmin(xs), np.nanmin(ys), np.nanmax(xs), np.nanmax(ys)], expected)
    assert list(polys.dimension_values("selected", expanded=False)) == [False, True]
    assert polys.dimension_values("time", expanded=False)[0] == "2021-05-01 14:56"
    with pytest.raises(ValueError, match="no CRS"):
        plots.footprints(utm.set_crs(None, allow_override=True))
    point = plots.marker(-49.9, 69.2)
    x, y = pyproj.Transformer.from_crs(4326, 3857, always_xy=True).transform(-49.9, 69.2)
    assert point.dimension_values(0)[0] == pytest.approx(x) and point.dimension_values(1)[0] == pytest.approx(
        y
    )
    rect = plots.aoi_box((x - 1000, y - 1000, x + 1000, y + 1000))
    assert style_opts(rect)["line_dash"] == "dashed"
    empty = plots.footprints(utm.iloc[0:0])
    points = plots.sample_points(
        pd.DataFrame({"name": ["P1", "P2"], "lon": [-49.9, -49.8], "lat": [69.2, 69.1]})
    )
    assert list(points.dimension_values("colour")) == plots.POINT_COLOURS[:2]
    root_of(plots.basemap("OpenStreetMap") * polys * empty * rect * point * points)
    root_of(plots.empty_map("Run a pair to see its speed map here"))


# --- time series -------------------------------------------------------------------------------------------


def series_frame() -> pd.DataFrame:
    t0 = pd.to_datetime(["2021-05-01", "2021-05-01", "2021-05-17", "2021-05-01", "2021-06-02", "2021-05-01"])
    dt = np.array([16.0, 64.0, 8.0, 200.0, 16.0, 32.0])
    t1 = t0 + pd.to_timedelta(dt, unit="D")
    return pd.DataFrame(
        {
            "point": ["P1", "P1", "P1", "P1", "P2", "P2"],
            "t0": t0,
            "t1": t1,
            "mid_date": t0 + (t1 - t0) / 2,
            "dt_days": dt,
            "v": [1200.0, 1100.0, 1300.0, 900.0, np.nan, 400.0],
            "v_error": [50.0, np.nan, 80.0, 20.0, np.nan, np.nan],
            "source": "icetrack",
            "label": [f"pair {i}" for i in range(6)],
        }
    )


def test_series_counts() -> None:
    frame = series_frame()
    assert plots.series_counts(frame, (1, 120)) == (4, 5)
    assert plots.series_counts(frame, (1, 500)) == (5, 5)
    assert plots.series_counts(frame.iloc[0:0], (1, 120)) == (0, 0)


def test_series_plot_by_point() -> None:
    frame = series_frame()
    truth = pd.DataFrame(
        {
            "point": ["P1"] * 3 + ["P2"] * 3,
            "time": pd.to_datetime(["2021-05-01", "2021-06-01", "2021-07-01"] * 2),
            "v": [1150.0, 1250.0, 1200.0, 410.0, 420.0, 400.0],
        }
    )
    overlay = plots.series_plot(frame, colour_by="point", dt_range=(1, 120), truth=truth)
    assert isinstance(overlay, hv.Overlay)
    segments = [el for el in overlay if isinstance(el, hv.Segments)]
    assert len(segments) == 2  # one per point
    p1 = segments[0]
    shown = frame[(frame.point == "P1") & (frame.dt_days <= 120)]
    np.testing.assert_array_equal(p1.dimension_values("t0"), shown["t0"].to_numpy())
    np.testing.assert_array_equal(p1.dimension_values("t1"), shown["t1"].to_numpy())
    assert 200.0 not in p1.dimension_values("dt_days")  # dt filter
    assert all(np.isfinite(el.dimension_values("speed")).all() for el in segments)  # NaN v dropped
    scatters = [el for el in overlay if isinstance(el, hv.Scatter)]
    assert [s.label for s in scatters] == ["P1", "P2"]
    np.testing.assert_array_equal(scatters[0].dimension_values("time"), shown["mid_date"].to_numpy())
    colours = [style_opts(s)["color"] for s in scatters]
    assert colours == plots.POINT_COLOURS[:2]
    errors = [el for el in overlay if isinstance(el, hv.ErrorBars)]
    assert len(errors) == 1 and len(errors[0]) == 2  # P1's finite v_error within dt range
    curves = [el for el in overlay if isinstance(el, hv.Curve)]
    assert len(curves) == 2 and curves[0].label == "true speed (demo)"
    assert style_opts(curves[0])["line_dash"] == "dashed"
    assert plot_opts(overlay)["ylim"] == (0, None)
    root_of(overlay)


def test_series_plot_by_dt_draws_short_pairs_last() -> None:
    overlay = plots.series_plot(series_frame(), colour_by="dt", dt_range=(1, 500))
    segments = next(el for el in overlay if isinstance(el, hv.Segments))
    dts = segments.dimension_values("dt_days")
    assert list(dts) == sorted(dts, reverse=True) and dts[-1] == 8.0
    assert 200.0 in dts
    scatter = next(el for el in overlay if isinstance(el, hv.Scatter))
    assert plot_opts(scatter)["colorbar"] is True and plot_opts(scatter)["clabel"] == "dt (days)"
    assert list(scatter.dimension_values("dt_days")) == list(dts)
    root_of(overlay)


def test_series_plot_empty_still_renders() -> None:
    empty = pd.DataFrame({c: [] for c in ("point", "t0", "t1", "mid_date", "dt_days", "v", "v_error")})
    overlay = plots.series_plot(empty)
    texts = [el for el in overlay if isinstance(el, hv.Text)]
    assert texts and texts[0].text == "Click the map to add points"
    root_of(overlay)
    nothing_in_range = plots.series_plot(series_frame(), dt_range=(300, 400))
    assert any(isinstance(el, hv.Text) for el in nothing_in_range)
    with pytest.raises(ValueError, match="colour_by"):
        plots.series_plot(series_frame(), colour_by="sensor")


# --- static figure -----------------------------------------------------------------------------------------


def test_figure_png(field: xr.Dataset) -> None:
    png = plots.figure_png(field, place="Synthetic")
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    linear = plots.figure_png(field, log=False, clim=(0, 3000), cmap="ITS_LIVE", dpi=60)
    assert linear.startswith(b"\x89PNG") and len(linear) < len(png)


def test_pair_title() -> None:
    assert plots.pair_title(uniform_field(dt=16.0)) == "2021-05-01 – 2021-05-17 (16 d)"
    assert plots.pair_title(xr.Dataset()) == ""


def test_difference_map_is_centred_on_zero_and_titled_with_the_median():
    from tracking.compare import difference
    from tracking.testing import uniform_field

    diff = difference(uniform_field(vx=110.0), uniform_field(vx=100.0))
    overlay = plots.difference_map(diff)
    image = next(e for e in overlay if isinstance(e, hv.Image))
    low, high = image.opts.get().kwargs["clim"]
    assert low == -high and high >= 10.0
    assert "median +10 m/yr" in overlay.opts.get().kwargs["title"]


def test_scatter_plot_puts_a_against_b_with_the_one_to_one_line():
    from tracking.compare import difference
    from tracking.testing import uniform_field

    diff = difference(uniform_field(vx=1100.0), uniform_field(vx=1000.0))
    overlay = plots.scatter_plot(diff)
    points = next(e for e in overlay if isinstance(e, hv.Points))
    assert len(points) == diff["v_a"].size
    assert np.allclose(points.dimension_values(0), 1000.0) and np.allclose(points.dimension_values(1), 1100.0)
    line = next(e for e in overlay if isinstance(e, hv.Curve))
    assert list(line.dimension_values(0)) == list(line.dimension_values(1))
