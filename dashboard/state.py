"""``AppState``: one browser session's selections and results, with no widgets.

Every view of the dashboard reads and sets one `AppState`; the state itself knows nothing of Panel, so it is
tested by constructing it, setting parameters and asserting on its data (tests/test_state.py).

Data flows one way: source -> scenes (search) -> candidate pairs -> selected pairs -> results (VelocityFields)
-> points and time series.
"""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import param
import xarray as xr
from pyproj import Transformer
from shapely.geometry import Point, box

from tracking.estimate import chip_count, estimated_seconds, format_duration, max_detectable_speed
from tracking.exceptions import ParameterError, TrackingError
from tracking.pairs import candidate_pairs, pair_label
from tracking.params import TrackingParameters
from tracking.scenes import Pair
from tracking.sources import demo, wrs2
from tracking.store import ResultStore, result_key
from tracking.timeseries import SERIES_COLUMNS, sample_fields

__all__ = ["PRESETS", "SOURCES", "AppState", "scene_loader"]

#: Data sources the session can search. Remote sources (Landsat STAC, ITS_LIVE) join with issue 4.
SOURCES = {"Demo glacier (offline)": "demo", "My GeoTIFFs": "local"}

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
_PAIR_COLUMNS = ["reference", "secondary", "t0", "t1", "dt_days", "mid_date", "sensors", "path_row",
                 "cloud_cover", "tracked"]  # fmt: skip


def _empty_scenes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in _SCENE_COLUMNS[:-1]}, geometry=[], crs="EPSG:4326")


# ----------------------------------------------------------------------------------------------------------
# scene loading, shared by every session of the process (pure functions of their arguments)
# ----------------------------------------------------------------------------------------------------------

_scene_cache: dict[tuple, xr.DataArray] = {}
_scene_loading: dict[tuple, Future] = {}
_scene_lock = threading.Lock()
_scene_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="icetrack-scenes")
_SCENE_CACHE_ITEMS = 48


def _load_demo(key: tuple) -> xr.DataArray:
    _, scene_id, band, bbox = key
    return demo.load_scene(scene_id, band, bbox=bbox)


def _scene_future(key: tuple) -> Future:
    """The cached crop as a finished future, the crop being loaded, or a newly started load."""
    with _scene_lock:
        if key in _scene_cache:
            done: Future = Future()
            done.set_result(_scene_cache[key])
            return done
        if key not in _scene_loading:
            _scene_loading[key] = _scene_pool.submit(_load_demo, key)
        return _scene_loading[key]


def scene_loader(source: str, scene_id: str, band: str, bbox: tuple[float, ...] | None,
                 uploads: dict[str, xr.DataArray], *, wait: bool = True) -> xr.DataArray | None:  # fmt: skip
    """Load one scene's area of interest, cached per process (the same crop is asked for by many pairs).

    A crop asked for twice is loaded once, also when the second request comes while the first is loading
    (the dashboard prefetches the chosen pair's crops while the user sets parameters).

    Parameters
    ----------
    source : {"demo", "local"}
    scene_id : str
    band : str
        Demo band ("red" or "pan"); ignored for local files.
    bbox : (xmin, ymin, xmax, ymax) or None
        Area of interest in the source's CRS.
    uploads : dict
        The session's uploaded scenes by id (the local source).
    wait : bool
        False starts the load in the background and returns None (a prefetch).
    """
    if source == "local":
        if scene_id not in uploads:
            raise TrackingError(f"the uploaded scene {scene_id!r} is gone: upload it again.")
        return uploads[scene_id]
    key = (source, scene_id, band, bbox)
    future = _scene_future(key)
    if not wait:
        return None
    scene = future.result()
    with _scene_lock:
        _scene_loading.pop(key, None)
        _scene_cache[key] = scene
        while len(_scene_cache) > _SCENE_CACHE_ITEMS:
            _scene_cache.pop(next(iter(_scene_cache)))
    return scene


class AppState(param.Parameterized):
    """The selections and results of one dashboard session."""

    # --- 1. where and when ----------------------------------------------------------------------------------
    source = param.Selector(default="demo", objects=list(SOURCES.values()), doc="Where scenes come from.")
    lon = param.Number(DEFAULT_LON, bounds=(-180, 180), doc="Marker longitude, degrees east.")
    lat = param.Number(DEFAULT_LAT, bounds=(-90, 90), doc="Marker latitude, degrees north.")
    aoi_km = param.Number(30.0, bounds=(5.0, 100.0), step=5.0,
                          doc="Side of the square area of interest around the marker, km.")  # fmt: skip
    band = param.Selector(default="red", objects=["red", "pan"],
                          doc="Landsat band: red (30 m) or panchromatic (15 m, 4x the pixels).")  # fmt: skip
    start = param.CalendarDate(dt.date(2021, 4, 1), doc="First acquisition date searched.")
    end = param.CalendarDate(dt.date(2021, 7, 31), doc="Last acquisition date searched.")
    max_cloud = param.Number(30.0, bounds=(0.0, 100.0), step=5.0, doc="Largest cloud cover kept, %.")
    scenes = param.DataFrame(default=None, allow_None=True, doc="The scenes found by the last search.")

    # --- 2. pairs ---------------------------------------------------------------------------------------------
    pair_mode = param.Selector(default="one", objects=["one", "many"],
                               doc="Track one chosen pair, or every pair within the time separation range.")  # fmt: skip
    dt_window = param.Range((1.0, 48.0), bounds=(1.0, 400.0),
                            doc="Smallest and largest time separation of the pairs, days.")  # fmt: skip
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
    layer = param.Selector(default="masked", objects=["raw", "masked", "filled"],
                           doc="raw: every kernel offset; masked: valid vectors (the default: only what was "
                               "measured); filled: valid + interpolated.")  # fmt: skip
    log_scale = param.Boolean(True, doc="Logarithmic speed colour scale (linear when off).")
    clim = param.Range((1.0, 10_000.0), bounds=(0.0, 50_000.0), doc="Speed colour range, m/yr.")
    cmap = param.Selector(default="gouldian", objects=["gouldian", "viridis", "ITS_LIVE"],
                          doc="Speed colour map (gouldian and viridis are colour-blind safe).")  # fmt: skip
    basemap = param.Selector(default="None", objects=["None", "Satellite imagery", "OpenStreetMap"],
                             doc="Background map tiles (fetched by the browser; none offline).")  # fmt: skip
    opacity = param.Number(0.8, bounds=(0.0, 1.0), step=0.05, doc="Opacity of the speed layer.")
    show_arrows = param.Boolean(True, doc="Draw thinned flow-direction arrows.")

    # --- 6. points and time series ----------------------------------------------------------------------------
    points = param.DataFrame(default=None, allow_None=True, doc="Named sample points: name, lon, lat.")
    series_dt = param.Range((1.0, 120.0), bounds=(1.0, 545.0), doc="Pairs shown in the series, dt in days.")
    colour_by = param.Selector(default="point", objects=["point", "dt"], doc="Colour series by point or dt.")

    def __init__(self, store: ResultStore | None = None, **params: Any) -> None:
        params.setdefault("params", TrackingParameters())
        params.setdefault("scenes", _empty_scenes())
        params.setdefault("points", pd.DataFrame({c: pd.Series(dtype=float) for c in _POINT_COLUMNS}
                                                 ).astype({"name": str}))  # fmt: skip
        super().__init__(**params)
        self.store = store if store is not None else ResultStore()
        self.uploads: dict[str, xr.DataArray] = {}
        self.cancel_event = threading.Event()
        self._applying_preset = False
        self.params.param.watch(self._params_changed, list(self.params.param))
        self._update_pairs()

    # ------------------------------------------------------------------------------------------------------
    # where and when
    # ------------------------------------------------------------------------------------------------------

    def _first_upload(self) -> xr.DataArray:
        """The first uploaded scene: the others are brought onto its grid."""
        return next(iter(self.uploads.values()))

    @property
    def crs(self) -> str:
        """CRS of the area of interest: the demo's UTM zone, or the first uploaded scene's CRS."""
        if self.source == "local" and self.uploads:
            return str(self._first_upload().rio.crs)
        return demo.DEMO_CRS

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

    def catalog(self) -> gpd.GeoDataFrame:
        """Every scene of the current source, before filtering."""
        if self.source == "demo":
            return demo.catalog()
        from tracking.sources.local import scene_table

        return scene_table(list(self.uploads.values()))

    def footprints(self) -> gpd.GeoDataFrame:
        """The map's outlines: the WRS-2 path/rows (daytime) that cover the marker, or the uploaded scenes."""
        if self.source == "local":
            return self.catalog()
        covering = wrs2.path_rows(self.lon, self.lat)
        if not covering:
            return _empty_scenes()
        frames = [wrs2.grid(paths=[path], rows=[row]) for path, row in covering]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")

    def search(self) -> gpd.GeoDataFrame:
        """Find the scenes that cover the marker, in the date range and under the cloud limit.

        Returns
        -------
        geopandas.GeoDataFrame
            The scenes found (also stored in ``scenes``), sorted by time.
        """
        if self.start > self.end:
            raise ParameterError(f"the date range starts ({self.start}) after it ends ({self.end}): swap them.")
        table = self.catalog()
        if self.source == "local":
            table = table.sort_values("time").reset_index(drop=True)
            if len(table):
                centre = table.union_all().centroid
                self.move_marker(centre.x, centre.y)
        elif not table.empty:
            times = pd.to_datetime(table["time"]).dt.tz_localize(None).dt.normalize()
            keep = ((times >= pd.Timestamp(self.start)) & (times <= pd.Timestamp(self.end))
                    & table.intersects(Point(self.lon, self.lat)))  # fmt: skip
            keep &= table["cloud_cover"].fillna(0) <= self.max_cloud
            table = table[keep].sort_values("time").reset_index(drop=True)
            aoi = box(*self.aoi_bounds())
            covered = table.to_crs(self.crs).intersection(aoi).area / aoi.area * 100.0
            table["aoi_cover"] = covered.round(1).to_numpy()
        self.scenes = table
        self.add_log(f"Search: {len(table)} scenes between {self.start} and {self.end} "
                     f"with cloud cover <= {self.max_cloud:.0f}% at {self.lat:.3f} N, {self.lon:.3f} E.")  # fmt: skip
        return table

    # ------------------------------------------------------------------------------------------------------
    # pairs
    # ------------------------------------------------------------------------------------------------------

    @param.depends("scenes", "dt_window", watch=True)
    def _update_pairs(self) -> None:
        lo, hi = self.dt_window
        scenes = self.scenes
        if scenes is None or len(scenes) < 2:
            self.pairs = pd.DataFrame({c: [] for c in _PAIR_COLUMNS})
        else:
            table = candidate_pairs(pd.DataFrame(scenes.drop(columns="geometry")), min_dt_days=lo, max_dt_days=hi)
            self.pairs = self._with_tracked(table.reset_index(drop=True))
        self.selected = [self._default_pair()] if len(self.pairs) else []

    def _default_pair(self) -> int:
        """The row chosen after a search: the first same-path pair with the least cloud, closest to 16 days."""
        pairs = self.pairs
        same_path = ~pairs["path_row"].astype(str).str.contains("·")
        cover = dict(zip(self.scenes["scene_id"], self.scenes.get("aoi_cover", 100.0), strict=True))
        uncovered = 200.0 - pairs["reference"].map(cover).fillna(100.0) - pairs["secondary"].map(cover).fillna(100.0)
        score = ((pairs["dt_days"] - 16.0).abs() + pairs["cloud_cover"].fillna(0) + 10.0 * uncovered
                 + 1000.0 * ~same_path)  # fmt: skip
        return int(np.argmin(score.to_numpy()))

    @param.depends("selected", "pair_mode", watch=True)
    def _prefetch(self) -> None:
        """Start loading the chosen pair's crops in the background, so that Run starts from memory."""
        if self.source == "local" or self.pair_mode != "one":
            return
        bbox = self.aoi_bounds()
        for _, row in self.pairs_to_run().iterrows():
            for scene_id in (row["reference"], row["secondary"]):
                scene_loader(self.source, scene_id, self.band, bbox, self.uploads, wait=False)

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

    def _bbox(self) -> tuple[float, float, float, float] | None:
        """The area of interest to load (None: uploaded scenes are used whole)."""
        return None if self.source == "local" else self.aoi_bounds()

    def result_key(self, row: Any, *, bbox: Any = "aoi") -> str:
        """The result-store key of a pair row (its scenes, the area, the band and the parameters)."""
        bbox = self._bbox() if bbox == "aoi" else bbox
        return result_key(row.reference, row.secondary, self.params, source=self.source, band=self.band,
                          bbox=bbox)  # fmt: skip

    def load_pair(self, row: Any) -> Pair:
        """Load the area of interest of a pair's two scenes and put them on one grid."""
        bbox = self._bbox()
        reference = scene_loader(self.source, row.reference, self.band, bbox, self.uploads)
        secondary = scene_loader(self.source, row.secondary, self.band, bbox, self.uploads)
        return Pair.from_scenes(reference, secondary)

    # ------------------------------------------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------------------------------------------

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
        if self.source == "local" and self.uploads:
            return float(abs(self._first_upload().rio.resolution()[0]))
        return demo.BANDS[self.band]

    def aoi_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the area of interest in the scenes' pixels."""
        if self.source == "local" and self.uploads:
            return self._first_upload().shape
        side = round(self.aoi_km * 1000.0 / self.pixel_size())
        return side, side

    def estimate(self) -> dict[str, Any]:
        """Live parameter physics for the chosen pairs: chips, run time and the largest detectable speed."""
        pairs = self.pairs_to_run()
        n_pairs = max(1, len(pairs))
        chips = chip_count(self.aoi_shape(), self.params)
        seconds = estimated_seconds(chips, self.params) * n_pairs
        dt_days = float(pairs["dt_days"].min()) if len(pairs) else 16.0
        fastest = max_detectable_speed(self.params.search_range, self.pixel_size(), dt_days)
        return {"chips": chips, "pairs": len(pairs), "seconds": seconds, "duration": format_duration(seconds),
                "max_speed": fastest, "dt_days": dt_days}  # fmt: skip

    # ------------------------------------------------------------------------------------------------------
    # results
    # ------------------------------------------------------------------------------------------------------

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
            return scene_loader(self.source, scene_id, self.band, self._bbox(), self.uploads)
        except TrackingError:
            return None

    def place(self) -> str:
        """A short place name for titles and file names."""
        if self.source == "demo":
            return "Jakobshavn demo"
        return f"{abs(self.lat):.2f}{'N' if self.lat >= 0 else 'S'} {abs(self.lon):.2f}{'E' if self.lon >= 0 else 'W'}"

    def file_stem(self, field: xr.Dataset) -> str:
        """A file name stem carrying the place and the two dates: ``jakobshavn-demo_20210516_20210601``."""
        place = "".join(c if c.isalnum() else "-" for c in self.place().lower()).strip("-")
        d0 = pd.Timestamp(field.attrs["acquisition_date_img1"]).strftime("%Y%m%d")
        d1 = pd.Timestamp(field.attrs["acquisition_date_img2"]).strftime("%Y%m%d")
        return f"{place}_{d0}_{d1}"

    # ------------------------------------------------------------------------------------------------------
    # points and time series
    # ------------------------------------------------------------------------------------------------------

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

    def series(self) -> pd.DataFrame:
        """Speed at every point in every result: one row per (result, point), see `tracking.timeseries`."""
        if not len(self.points) or not self.results:
            return pd.DataFrame({c: [] for c in SERIES_COLUMNS})
        series = sample_fields(list(self.results.values()), self.points, layer=self.layer)
        order = {name: i for i, name in enumerate(self.points["name"])}  # the points' order sets their colours
        rank = series["point"].map(order)
        return series.assign(_rank=rank).sort_values(["_rank", "mid_date"], kind="stable").drop(columns="_rank")

    def truth(self) -> pd.DataFrame | None:
        """For the demo: the true speed at each point, sampled every 8 days over the results' span."""
        if self.source != "demo" or not len(self.points) or not self.results:
            return None
        fields = list(self.results.values())
        t_min = min(pd.Timestamp(f.attrs["acquisition_date_img1"]) for f in fields) - pd.Timedelta(days=8)
        t_max = max(pd.Timestamp(f.attrs["acquisition_date_img2"]) for f in fields) + pd.Timedelta(days=8)
        times = pd.date_range(t_min, t_max, freq="4D")
        to_xy = Transformer.from_crs("EPSG:4326", demo.DEMO_CRS, always_xy=True)
        frames = []
        for p in self.points.itertuples():
            x, y = to_xy.transform(p.lon, p.lat)
            speeds = [np.hypot(*demo.true_velocity(t, t + pd.Timedelta(days=1), x, y)) for t in times]
            frames.append(pd.DataFrame({"point": p.name, "time": times + pd.Timedelta(hours=12),
                                        "v": np.asarray(speeds, dtype=float).ravel()}))  # fmt: skip
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------------------------------------------
    # log
    # ------------------------------------------------------------------------------------------------------

    def add_log(self, message: str) -> None:
        """Append a time-stamped line to the session log."""
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        self.log = [*self.log[-199:], f"{stamp}  {message}"]

    # ------------------------------------------------------------------------------------------------------
    # a link that restores the view
    # ------------------------------------------------------------------------------------------------------

    def to_query(self) -> dict[str, str]:
        """The place, dates, pair, changed parameters and points as URL query arguments."""
        query = {"lon": f"{self.lon:.4f}", "lat": f"{self.lat:.4f}", "aoi": f"{self.aoi_km:g}", "band": self.band,
                 "start": str(self.start), "end": str(self.end), "cloud": f"{self.max_cloud:g}"}  # fmt: skip
        pairs = self.pairs_to_run()
        if self.pair_mode == "one" and len(pairs):
            query["pair"] = f"{pairs.iloc[0]['reference']}~{pairs.iloc[0]['secondary']}"
        defaults = TrackingParameters().to_dict()
        for name, value in self.params.to_dict().items():
            if value != defaults[name]:
                query[f"p.{name}"] = str(value)
        if len(self.points):
            query["points"] = ";".join(f"{p.name}:{p.lat:.5f}:{p.lon:.5f}" for p in self.points.itertuples())
        return query

    def from_query(self, args: dict[str, str]) -> None:
        """Restore what `to_query` wrote (unknown or bad arguments raise `ParameterError`)."""
        try:
            self.param.update(
                lon=float(args.get("lon", self.lon)), lat=float(args.get("lat", self.lat)),
                aoi_km=float(args.get("aoi", self.aoi_km)), band=args.get("band", self.band),
                start=dt.date.fromisoformat(args.get("start", str(self.start))),
                end=dt.date.fromisoformat(args.get("end", str(self.end))),
                max_cloud=float(args.get("cloud", self.max_cloud)),
            )
            overrides = {k[2:]: v for k, v in args.items() if k.startswith("p.")}
            if overrides:
                current = self.params.to_dict()
                typed = {k: _parse_like(current.get(k), v) for k, v in overrides.items()}
                new = TrackingParameters.from_overrides(self.params, **typed)
                self.params.param.update(**{k: getattr(new, k) for k in typed})
                if "prefilter_size" in typed:
                    self.params.prefilter_size = typed["prefilter_size"]
            if args.get("points"):
                self.points = self.points.iloc[0:0]
                for item in args["points"].split(";"):
                    name, lat, lon = item.rsplit(":", 2)
                    self.add_point(float(lon), float(lat), name)
        except (ValueError, KeyError) as err:
            raise ParameterError(f"the link is not valid ({err}): open the app without arguments.") from None
        if "pair" in args:
            self.search()
            ref, _, sec = args["pair"].partition("~")
            match = self.pairs.index[(self.pairs["reference"] == ref) & (self.pairs["secondary"] == sec)]
            if len(match):
                self.selected = [int(match[0])]


def _parse_like(current: Any, text: str) -> Any:
    """Parse a query value to the type of the parameter's current value."""
    if text in ("None", ""):
        return None
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes", "on")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float) or current is None:
        try:
            return float(text)
        except ValueError:
            return text
    return text
