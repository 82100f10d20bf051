"""``AppState``: one browser session's selections and results, with no widgets.

Every view of the dashboard reads and sets one `AppState`; the state itself knows nothing of Panel, so it is
tested by constructing it, setting parameters and asserting on its data (tests/test_state.py).

Data flows one way: source -> scenes (search) -> candidate pairs -> selected pairs -> results (VelocityFields)
-> points and time series.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import param
import xarray as xr
from pyproj import Transformer
from shapely.geometry import box

from dashboard.scenes import scene_loader, source_for
from tracking import sources
from tracking.exceptions import ParameterError, TrackingError
from tracking.pairs import candidate_pairs, pair_label
from tracking.params import TrackingParameters
from tracking.scenes import Pair
from tracking.sources import demo
from tracking.store import ResultStore, result_key

__all__ = ["PRESETS", "SOURCES", "AppState", "empty_scenes"]

#: Data sources the session can search, by label (keys of `tracking.sources.REGISTRY`).
SOURCES = {
    "Demo glacier (offline)": "demo",
    "My GeoTIFFs": "local",
    "Landsat 8/9 · red, 30 m (Planetary Computer)": "landsat",
    "Sentinel-2 · NIR B08, 10 m (Earth Search)": "sentinel2",
    "Landsat 8/9 · pan, 15 m (USGS, needs credentials)": "landsat-pan",
}
#: Parameter presets: a quick look, the defaults, and a fine grid with the most accurate sub-pixel fit.
PRESETS: dict[str, dict[str, Any]] = {
    "quick look": {"chip_size": 32, "step": 32, "subpixel": "parabolic"},
    "standard": {"chip_size": 32, "step": 16, "subpixel": "lucas-kanade"},
    "fine": {"chip_size": 32, "step": 8, "subpixel": "lucas-kanade"},
}

# Jakobshavn Isbrae's demo trunk, 25 km upstream of the calving front (EPSG:32622 x 572 km, y 7670 km).
_DEFAULT_XY = (572_000.0, 7_670_000.0)
_TO_LONLAT = Transformer.from_crs(demo.DEMO_CRS, "EPSG:4326", always_xy=True)
DEFAULT_LON, DEFAULT_LAT = (round(float(c), 4) for c in _TO_LONLAT.transform(*_DEFAULT_XY))

_POINT_COLUMNS = ["name", "lon", "lat"]
_MAX_POINTS = 12
_SCENE_COLUMNS = ["scene_id", "time", "platform", "sensor", "path", "row", "cloud_cover", "geometry"]
_PAIR_COLUMNS = [
    "reference",
    "secondary",
    "t0",
    "t1",
    "dt_days",
    "mid_date",
    "sensors",
    "path_row",
    "cloud_cover",
    "tracked",
]


def empty_scenes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in _SCENE_COLUMNS[:-1]}, geometry=[], crs="EPSG:4326")


class AppState(param.Parameterized):
    """The selections and results of one dashboard session."""

    # --- 1. where and when ----------------------------------------------------------------------------------
    source = param.Selector(default="demo", objects=list(SOURCES.values()), doc="Where scenes come from.")
    lon = param.Number(DEFAULT_LON, bounds=(-180, 180), doc="Marker longitude, degrees east.")
    lat = param.Number(DEFAULT_LAT, bounds=(-90, 90), doc="Marker latitude, degrees north.")
    aoi_km = param.Number(
        30.0, bounds=(5.0, 100.0), step=5.0, doc="Side of the square area of interest around the marker, km."
    )
    band = param.Selector(
        default="red",
        objects=["red", "pan"],
        doc="Landsat band: red (30 m) or panchromatic (15 m, 4x the pixels).",
    )
    start = param.CalendarDate(dt.date(2021, 4, 1), doc="First acquisition date searched.")
    end = param.CalendarDate(dt.date(2021, 7, 31), doc="Last acquisition date searched.")
    max_cloud = param.Number(30.0, bounds=(0.0, 100.0), step=5.0, doc="Largest cloud cover kept, %.")
    scenes = param.DataFrame(default=None, allow_None=True, doc="The scenes found by the last search.")

    # --- 2. pairs ---------------------------------------------------------------------------------------------
    pair_mode = param.Selector(
        default="one",
        objects=["one", "many"],
        doc="Track one chosen pair, or every pair within the time separation range.",
    )
    dt_window = param.Range(
        (1.0, 48.0), bounds=(1.0, 400.0), doc="Smallest and largest time separation of the pairs, days."
    )
    pairs = param.DataFrame(default=None, allow_None=True, doc="Candidate pairs of the found scenes.")
    selected = param.List(default=[], item_type=int, doc="Rows of `pairs` chosen in 'one' mode.")

    # --- 3. parameters ----------------------------------------------------------------------------------------
    params = param.ClassSelector(class_=TrackingParameters, doc="Tracking parameters.")
    preset = param.Selector(default="standard", objects=[*PRESETS, "custom"], doc="Parameter preset.")

    # --- 4. run -----------------------------------------------------------------------------------------------
    running = param.Boolean(False, doc="A tracking job is running.")
    pair_progress = param.Number(0.0, bounds=(0.0, 100.0), doc="Progress of the pair being tracked, %.")
    overall_progress = param.Number(0.0, bounds=(0.0, 100.0), doc="Progress of the whole job, %.")
    status = param.String("Search the demo scenes, pick a pair, then Run.", doc="One line of job status.")
    log = param.List(default=[], item_type=str, doc="What each step did, oldest first.")

    # --- 5. results -------------------------------------------------------------------------------------------
    results = param.Dict(default={}, doc="VelocityFields by result key, in the order they arrived.")
    current = param.String(default=None, allow_None=True, doc="Key of the result on the speed map.")
    compare = param.List(default=[], item_type=str, doc="Keys of the results shown side by side.")
    layer = param.Selector(
        default="masked",
        objects=["raw", "masked", "filled"],
        doc="raw: every kernel offset; masked: valid vectors (the default: only what was "
        "measured); filled: valid + interpolated.",
    )
    log_scale = param.Boolean(True, doc="Logarithmic speed colour scale (linear when off).")
    clim = param.Range((1.0, 10_000.0), bounds=(0.0, 50_000.0), doc="Speed colour range, m/yr.")
    cmap = param.Selector(
        default="gouldian",
        objects=["gouldian", "viridis", "ITS_LIVE"],
        doc="Speed colour map (gouldian and viridis are colour-blind safe).",
    )
    basemap = param.Selector(
        default="None",
        objects=["None", "Satellite imagery", "OpenStreetMap"],
        doc="Background map tiles (fetched by the browser; none offline).",
    )
    opacity = param.Number(0.8, bounds=(0.0, 1.0), step=0.05, doc="Opacity of the speed layer.")
    show_arrows = param.Boolean(True, doc="Draw thinned flow-direction arrows.")

    # --- 6. points and time series ----------------------------------------------------------------------------
    points = param.DataFrame(default=None, allow_None=True, doc="Named sample points: name, lon, lat.")
    series_dt = param.Range((1.0, 120.0), bounds=(1.0, 545.0), doc="Pairs shown in the series, dt in days.")
    colour_by = param.Selector(default="point", objects=["point", "dt"], doc="Colour series by point or dt.")
    analyse_series = param.Boolean(
        True, doc="Reject outliers within dt bins and fit mean, trend and seasonal cycle per point (robust)."
    )
    external_series = param.DataFrame(
        default=None,
        allow_None=True,
        doc="Series from elsewhere (ITS_LIVE datacubes or CSV files), plotted "
        "beside our own; the columns of tracking.timeseries.",
    )

    # --- ITS_LIVE ---------------------------------------------------------------------------------------------
    granules = param.DataFrame(default=None, allow_None=True, doc="ITS_LIVE image-pair granules found.")
    itslive_min_valid = param.Number(
        20.0, bounds=(0.0, 100.0), step=5.0, doc="Smallest share of valid pixels of an ITS_LIVE granule, %."
    )
    itslive_dt = param.Range(
        (5.0, 120.0), bounds=(1.0, 545.0), doc="Time separation of ITS_LIVE pairs, days."
    )
    itslive_mission = param.Selector(
        default="landsat",
        objects=["landsat", "sentinel2", "any"],
        doc="Which ITS_LIVE pairs: Landsat 8/9, Sentinel-2, or any.",
    )

    def __init__(self, store: ResultStore | None = None, **params: Any) -> None:
        params.setdefault("params", TrackingParameters())
        params.setdefault("scenes", empty_scenes())
        params.setdefault(
            "points", pd.DataFrame({c: pd.Series(dtype=float) for c in _POINT_COLUMNS}).astype({"name": str})
        )
        super().__init__(**params)
        self.store = store if store is not None else ResultStore()
        self.uploads: dict[str, xr.DataArray] = {}
        self.pending: dict[str, xr.DataArray] = {}  # uploads waiting for their date (dashboard.uploads)
        self.cancel_event = threading.Event()
        self._applying_preset = False
        self.params.param.watch(self._params_changed, list(self.params.param))
        self._update_pairs()

    # --- where and when ---------------------------------------------------------------------------------------------

    @property
    def source_obj(self) -> sources.Source:
        """The chosen source (`tracking.sources.Source`), set up with `ENDPOINTS` and the session's uploads."""
        return source_for(self.source, self.uploads)

    @property
    def remote(self) -> bool:
        """Whether the source needs the network."""
        return self.source_obj.remote

    @property
    def crs(self) -> str:
        """CRS of the area of interest: the source's (the demo's UTM zone, the first uploaded scene's CRS, or the
        marker's own UTM zone), else the demo's."""
        return self.source_obj.aoi_crs(self.lon, self.lat) or demo.DEMO_CRS

    @property
    def band_name(self) -> str:
        """The band tracked: the source's own band (red, nir, pan), or the chosen one (demo)."""
        return self.source_obj.band or self.band

    def aoi_bounds(self, crs: str | None = None) -> tuple[float, float, float, float]:
        """The square area of interest around the marker, ``(xmin, ymin, xmax, ymax)`` in ``crs``.

        Defaults to the source's CRS; ``"EPSG:3857"`` gives the box as drawn on the map.
        """
        source_crs = self.crs
        x, y = Transformer.from_crs("EPSG:4326", source_crs, always_xy=True).transform(self.lon, self.lat)
        half = self.aoi_km * 500.0
        bounds = (x - half, y - half, x + half, y + half)
        if crs is None or crs == source_crs:
            return bounds
        to = Transformer.from_crs(source_crs, crs, always_xy=True)
        return to.transform_bounds(*bounds)

    def move_marker(self, lon: float, lat: float) -> None:
        """Put the marker at ``(lon, lat)`` (degrees), as a click on the map does."""
        self.param.update(lon=round(float(lon), 4), lat=round(float(lat), 4))

    def footprints(self) -> gpd.GeoDataFrame:
        """The map's outlines: the WRS-2 path/rows (daytime) that cover the marker, or the uploaded scenes."""
        if self.source == "local":
            from dashboard.uploads import footprints

            return footprints(self)  # the files waiting for a date too
        return self.source_obj.footprints(self.lon, self.lat)

    def find_scenes(self) -> gpd.GeoDataFrame:
        """The scenes that cover the marker, in the date range and under the cloud limit; sets nothing.

        For remote sources this queries the STAC API (seconds; the dashboard calls it in a worker thread).

        Returns
        -------
        geopandas.GeoDataFrame
            The scenes, sorted by time, with ``aoi_cover`` (% of the area of interest inside the footprint).

        Raises
        ------
        ParameterError
            If the date range is reversed.
        RemoteError
            (remote sources) no network, refused credentials, a failing service.
        """
        if self.start > self.end:
            raise ParameterError(
                f"the date range starts ({self.start}) after it ends ({self.end}): swap them."
            )
        source = self.source_obj
        table = source.search(
            lon=self.lon, lat=self.lat, start=self.start, end=self.end, max_cloud=self.max_cloud
        )
        if table.empty or not source.crops:  # scenes used whole (uploads) cover the area they set
            return table
        aoi = box(*self.aoi_bounds())
        covered = table.to_crs(self.crs).intersection(aoi).area / aoi.area * 100.0
        table["aoi_cover"] = covered.round(1).to_numpy()
        return table

    def set_scenes(self, table: gpd.GeoDataFrame) -> None:
        """Show a search's scenes (and their pairs), and log it."""
        whole = not self.source_obj.crops  # scenes used whole: they set the place
        if whole and len(table):
            centre = table.union_all().centroid
            self.move_marker(centre.x, centre.y)
        self.scenes = table
        where = "your files" if whole else f"{self.lat:.3f} N, {self.lon:.3f} E"
        self.add_log(
            f"Search: {len(table)} scenes ({self.source}) between {self.start} and {self.end} "
            f"with cloud cover <= {self.max_cloud:.0f}% at {where}."
        )

    def search(self) -> gpd.GeoDataFrame:
        """`find_scenes`, then `set_scenes`: search and show the result in one call.

        Returns
        -------
        geopandas.GeoDataFrame
            The scenes found (also stored in ``scenes``), sorted by time.
        """
        table = self.find_scenes()
        self.set_scenes(table)
        return table

    @param.depends("source", watch=True)
    def _forget_scenes(self) -> None:
        """Another source: the scenes found belong to the old one."""
        self.scenes = empty_scenes()

    # --- pairs ------------------------------------------------------------------------------------------------------

    @param.depends("scenes", "dt_window", watch=True)
    def _update_pairs(self) -> None:
        lo, hi = self.dt_window
        scenes = self.scenes
        if scenes is None or len(scenes) < 2:
            self.pairs = pd.DataFrame({c: [] for c in _PAIR_COLUMNS})
        else:
            table = candidate_pairs(
                pd.DataFrame(scenes.drop(columns="geometry")), min_dt_days=lo, max_dt_days=hi
            )
            self.pairs = self._with_tracked(table.reset_index(drop=True))
        self.selected = [self._default_pair()] if len(self.pairs) else []

    def _default_pair(self) -> int:
        """The row chosen after a search: the first same-path pair with the least cloud, closest to 16 days."""
        pairs = self.pairs
        same_path = ~pairs["path_row"].astype(str).str.contains("·")
        covers = (
            self.scenes["aoi_cover"] if "aoi_cover" in self.scenes else [100.0] * len(self.scenes)
        )  # local: none
        cover = dict(zip(self.scenes["scene_id"], covers, strict=True))
        uncovered = (
            200.0 - pairs["reference"].map(cover).fillna(100.0) - pairs["secondary"].map(cover).fillna(100.0)
        )
        score = (
            (pairs["dt_days"] - 16.0).abs()
            + pairs["cloud_cover"].fillna(0)
            + 10.0 * uncovered
            + 1000.0 * ~same_path
        )
        return int(np.argmin(score.to_numpy()))

    @param.depends("selected", "pair_mode", watch=True)
    def _prefetch(self) -> None:
        """Start loading the chosen pair's crops in the background, so that Run starts from memory."""
        if self.pair_mode != "one":
            return
        source, bbox = self.source_obj, self._bbox()
        for _, row in self.pairs_to_run().iterrows():
            for scene_id in (row["reference"], row["secondary"]):
                scene_loader(source, scene_id, self.band_name, bbox, wait=False, crs=self.crs)

    def refresh_tracked(self) -> None:
        """Recompute the pairs' ``tracked`` column (after a run or a parameter change)."""
        if self.pairs is not None and len(self.pairs):
            self.pairs = self._with_tracked(self.pairs.copy())

    def _with_tracked(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """``pairs`` with its ``tracked`` column: whether the store holds each pair's result."""
        bbox = self._bbox()
        pairs["tracked"] = [self.result_key(r, bbox=bbox) in self.store for r in pairs.itertuples()]
        return pairs

    def pairs_to_run(self) -> pd.DataFrame:
        """The pairs a Run tracks: the selected rows ('one' mode) or every candidate ('many' mode)."""
        if self.pairs is None or self.pairs.empty:
            return self.pairs if self.pairs is not None else pd.DataFrame({c: [] for c in _PAIR_COLUMNS})
        if self.pair_mode == "many":
            return self.pairs
        rows = [i for i in self.selected if 0 <= i < len(self.pairs)]
        return self.pairs.iloc[rows]

    def next_step(self) -> str:
        """What is missing before a Run, in the words of the chosen source; empty when a pair is ready."""
        if len(self.pairs_to_run()):
            return ""
        if self.source == "local":
            from dashboard.uploads import missing

            return missing(self) or "Pick a pair in the Pairs table, then Run."
        if self.scenes is None or self.scenes.empty:
            if self.source == "demo":
                return "Search the demo scenes, pick a pair, then Run."
            label = next(k for k, v in SOURCES.items() if v == self.source)
            return f"Search {label} scenes at the marker (Search scenes, step 1), pick a pair, then Run."
        if self.pairs is None or self.pairs.empty:
            lo, hi = self.dt_window
            return (
                f"The {len(self.scenes)} scenes found make no pair with dt between {lo:g} and {hi:g} days: widen "
                "the time separation (step 2) or the dates (step 1)."
            )
        return "Pick a pair in the Pairs table, then Run."

    @param.depends("pairs", "selected", "pair_mode", watch=True)
    def show_next_step(self) -> None:
        """The status line: what is missing when no pair can run; that pairs are ready, in place of an older
        such line (a job's own message stays)."""
        if self.running:
            return
        missing = self.next_step()
        n = len(self.pairs_to_run())
        line = missing or f"Ready: {n} pair{'s' if n != 1 else ''} to run; press Run."
        if missing or self.status in (getattr(self, "_next_step", None), self.param["status"].default):
            self.status = line
        self._next_step = line

    def _bbox(self) -> tuple[float, float, float, float] | None:
        """The area of interest to load (None: the source's scenes are used whole, e.g. uploads)."""
        return self.aoi_bounds() if self.source_obj.crops else None

    def result_key(self, row: Any, *, bbox: Any = "aoi") -> str:
        """The result-store key of a pair row (its scenes, the area, the band and the parameters)."""
        bbox = self._bbox() if bbox == "aoi" else bbox
        return result_key(
            row.reference, row.secondary, self.params, source=self.source, band=self.band_name, bbox=bbox
        )

    def load_pair(self, row: Any) -> Pair:
        """Load the area of interest of a pair's two scenes and put them on one grid."""
        source, bbox = self.source_obj, self._bbox()
        reference = scene_loader(source, row.reference, self.band_name, bbox, crs=self.crs)
        secondary = scene_loader(source, row.secondary, self.band_name, bbox, crs=self.crs)
        return Pair.from_scenes(reference, secondary)

    # --- parameters -------------------------------------------------------------------------------------------------

    @param.depends("preset", watch=True)
    def _apply_preset(self) -> None:
        if self.preset in PRESETS:
            self._applying_preset = True
            try:
                self.params.param.update(**PRESETS[self.preset])
            finally:
                self._applying_preset = False

    def _params_changed(self, *_events: Any) -> None:
        if not self._applying_preset and self.preset != "custom":
            preset = PRESETS.get(self.preset, {})
            if any(getattr(self.params, k) != v for k, v in preset.items()):
                self.preset = "custom"
        self.refresh_tracked()

    def pixel_size(self) -> float:
        """Pixel size of the scenes tracked, m."""
        size = self.source_obj.pixel_size(self.band)
        return float(size) if size is not None else demo.BANDS[self.band]

    def aoi_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the area of interest in the scenes' pixels."""
        shape = self.source_obj.scene_shape()
        if shape is not None:
            return shape
        side = round(self.aoi_km * 1000.0 / self.pixel_size())
        return side, side

    # --- results ----------------------------------------------------------------------------------------------------

    def add_result(self, key: str, field: xr.Dataset, row: Any | None = None) -> None:
        """Add a VelocityField to the session's results and show it."""
        if row is not None:
            field.attrs.setdefault("label", pair_label(row))
            field.attrs.update(reference_id=str(row.reference), secondary_id=str(row.secondary))
        field.attrs.setdefault("source", "icetrack")
        field.attrs.setdefault("place", self.place())
        results = dict(self.results)
        results[key] = field
        self.param.update(results=results, current=key)

    def result_labels(self) -> dict[str, str]:
        """Result key by label, for selectors."""
        return {f.attrs.get("label", k): k for k, f in self.results.items()}

    def current_field(self) -> xr.Dataset | None:
        """The result on the speed map, or None."""
        return self.results.get(self.current) if self.current else None

    def reference_scene(self, field: xr.Dataset) -> xr.DataArray | None:
        """The reference scene of a result (for the grey backdrop), if it can be loaded."""
        scene_id = field.attrs.get("reference_id")
        if scene_id is None:
            return None
        try:
            return scene_loader(self.source_obj, scene_id, self.band_name, self._bbox(), crs=self.crs)
        except TrackingError:
            return None

    def place(self) -> str:
        """A short place name for titles and file names."""
        if self.source_obj.place:
            return self.source_obj.place
        return f"{abs(self.lat):.2f}{'N' if self.lat >= 0 else 'S'} {abs(self.lon):.2f}{'E' if self.lon >= 0 else 'W'}"

    # --- points and time series -------------------------------------------------------------------------------------

    def add_point(self, lon: float, lat: float, name: str | None = None) -> str:
        """Add a named sample point (degrees); returns its name. At most 12 points."""
        if len(self.points) >= _MAX_POINTS:
            raise ParameterError(f"at most {_MAX_POINTS} points: remove one before adding another.")
        taken = set(self.points["name"])
        if name is None:
            name = next(f"P{i}" for i in range(1, 100) if f"P{i}" not in taken)
        elif name in taken:
            raise ParameterError(f"a point named {name!r} exists: choose another name.")
        row = pd.DataFrame({"name": [name], "lon": [round(float(lon), 5)], "lat": [round(float(lat), 5)]})
        self.points = pd.concat([self.points, row], ignore_index=True) if len(self.points) else row
        return name

    def remove_point(self, name: str) -> None:
        """Remove the point called ``name``."""
        self.points = self.points[self.points["name"] != name].reset_index(drop=True)

    def add_series(self, frame: pd.DataFrame) -> None:
        """Add external series (e.g. `tracking.sources.itslive.cube_series`) to the time-series plot.

        Rows of a (point, source) already present are replaced, so loading the same series twice keeps one copy.
        """
        current = self.external_series
        if current is not None and len(current):
            again = current.set_index(["point", "source"]).index.isin(
                frame.set_index(["point", "source"]).index
            )
            frame = pd.concat([current[~again], frame], ignore_index=True)
        self.external_series = frame.reset_index(drop=True)
        names = ", ".join(pd.unique(frame["point"]).astype(str))
        self.add_log(f"Series added: {len(frame)} rows ({names}).")

    # --- log --------------------------------------------------------------------------------------------------------

    def add_log(self, message: str) -> None:
        """Append a time-stamped line to the session log."""
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        self.log = [*self.log[-199:], f"{stamp}  {message}"]
