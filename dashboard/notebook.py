"""`IceTrack`: the whole dashboard as one Python object, for notebooks and for ``panel serve``.

``app = IceTrack(lon=-49.2, lat=69.13, start="2021-05-01", end="2021-07-31")`` as the last expression of a
notebook cell shows the dashboard inline (JupyterLab, classic Notebook; Panel's notebook extension is loaded on
first display); ``panel serve dashboard/app.py`` serves the same class. The session's state lives in Python and
is shared both ways with the page: ``app.params.chip_size = 64`` moves the slider, a click on the speed map adds
a row to ``app.points``. What a button does is a method, usable without the page: `IceTrack.search`,
`IceTrack.run` (blocking, with a progress bar), `IceTrack.run_async`, `IceTrack.add_points`,
`IceTrack.export`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import threading
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param
import xarray as xr

from dashboard.state import SOURCES, AppState
from tracking.exceptions import ParameterError, TrackingError
from tracking.params import TrackingParameters
from tracking.store import ResultStore

__all__ = ["IceTrack"]

_NOTEBOOK_EXTENSIONS = ("tabulator",)


def _date(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def _source_key(source: str) -> str:
    """A source key ("demo", "landsat", ...) from a key or a label of `dashboard.state.SOURCES`."""
    if source in SOURCES.values():
        return source
    if source in SOURCES:
        return SOURCES[source]
    raise ParameterError(f"unknown source {source!r}: choose one of {', '.join(SOURCES.values())}.")


def _in_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _progress_bar(total: float, desc: str) -> Any:
    """A tqdm bar: the notebook widget when ipywidgets is there (tqdm.auto), else text."""
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm(
        total=total,
        desc=desc,
        unit="%",
        file=sys.stdout,
        leave=True,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}",
    )


class IceTrack(pn.viewable.Viewer):
    """The icetrack dashboard and its state: display it, or drive it from Python.

    Parameters
    ----------
    lon, lat : float, optional
        The marker (degrees); default the demo glacier's trunk.
    start, end : date-like, optional
        The dates searched (anything `pandas.Timestamp` reads: ``"2021-05-01"``).
    source : str
        ``"demo"`` (offline, the default), ``"landsat"``, ``"sentinel2"``, ``"landsat-pan"``, ``"local"``, or
        a label of `dashboard.state.SOURCES`.
    aoi_km, band, max_cloud, dt_window : optional
        The other choices of step 1 and 2 (see `dashboard.state.AppState`).
    state : AppState, optional
        Wrap an existing session state instead of making one.
    store : ResultStore, optional
        The result store of a new state; default the process's shared store (as the served app).

    Examples
    --------
    >>> app = IceTrack(start="2021-05-01", end="2021-06-30", aoi_km=10)
    >>> app.params.chip_size = 64          # the slider moves
    >>> int(app.params.chip_size)
    64
    """

    state = param.ClassSelector(class_=AppState, constant=True, doc="The session state the page shows.")

    def __init__(
        self,
        lon: float | None = None,
        lat: float | None = None,
        start: Any = None,
        end: Any = None,
        source: str = "demo",
        *,
        aoi_km: float | None = None,
        band: str | None = None,
        max_cloud: float | None = None,
        dt_window: tuple[float, float] | None = None,
        state: AppState | None = None,
        store: ResultStore | None = None,
        **params: Any,
    ) -> None:
        if state is None:
            if store is None:
                from dashboard.caches import shared_store

                store = shared_store()
            state = AppState(store=store)
        super().__init__(state=state, **params)
        where = {
            "source": _source_key(source) if source is not None else None,
            "lon": lon,
            "lat": lat,
            "start": None if start is None else _date(start),
            "end": None if end is None else _date(end),
            "aoi_km": aoi_km,
            "band": band,
            "max_cloud": max_cloud,
            "dt_window": dt_window,
        }
        self.state.param.update(**{k: v for k, v in where.items() if v is not None})
        self._page: pn.viewable.Viewable | None = None
        self._page_lock = threading.Lock()
        self.state.param.watch(self._log_reads, "running")

    # ------------------------------------------------------------------------------------------------------
    # the page
    # ------------------------------------------------------------------------------------------------------

    def __panel__(self) -> pn.viewable.Viewable:
        """The page (`dashboard.page.create_app` on this state), built once and shown by every display."""
        with self._page_lock:
            if self._page is None:
                from dashboard.page import create_app

                self._page = create_app(self.state)
            return self._page

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Show the page inline in a notebook; loads Panel's notebook extension on first display."""
        from panel.config import panel_extension

        if not panel_extension._loaded:
            import dashboard.page  # noqa: F401 - its pn.extension(...) loads the notebook extension in a kernel
        if not panel_extension._loaded:
            pn.extension(*_NOTEBOOK_EXTENSIONS, notifications=True)
        return super()._repr_mimebundle_(include, exclude)

    def __repr__(self) -> str:
        s = self.state
        return (
            f"IceTrack({s.source}, lon={s.lon:.4f}, lat={s.lat:.4f}, {s.start} to {s.end}, aoi {s.aoi_km:g} km: "
            f"{len(s.scenes)} scenes, {len(s.pairs)} pairs, {len(s.results)} results, "
            f"{len(s.points)} points)"
        )

    __str__ = __repr__

    # ------------------------------------------------------------------------------------------------------
    # the state, both ways
    # ------------------------------------------------------------------------------------------------------

    @property
    def params(self) -> TrackingParameters:
        """The tracking parameters the sliders show: ``app.params.chip_size = 64`` moves the slider."""
        return self.state.params

    @params.setter
    def params(self, values: TrackingParameters | Mapping[str, Any]) -> None:
        new = values.to_dict() if isinstance(values, TrackingParameters) else dict(values)
        checked = TrackingParameters.from_overrides(self.state.params, **new)  # bounds and rules checked
        self.state.params.param.update(**{k: getattr(checked, k) for k in new})

    @property
    def results(self) -> Mapping[str, xr.Dataset]:
        """The velocity fields by label, in the order the page lists them (read-only)."""
        out: dict[str, xr.Dataset] = {}
        for key, field in self.state.results.items():
            label = str(field.attrs.get("label", key))
            name, n = label, 2
            while name in out:
                name, n = f"{label} ({n})", n + 1
            out[name] = field
        return types.MappingProxyType(out)

    @property
    def field(self) -> xr.Dataset | None:
        """The velocity field on the speed map; assign a label of `results` to show another."""
        return self.state.current_field()

    @field.setter
    def field(self, label: str) -> None:
        keys = dict(zip(self.results, self.state.results, strict=True))
        if label not in keys:
            raise ParameterError(f"no result called {label!r}: choose one of {list(keys)}.")
        self.state.current = keys[label]

    @property
    def points(self) -> pd.DataFrame:
        """The sample points (name, lon, lat), as the page's points table; assign a DataFrame to replace them."""
        return self.state.points.copy()

    @points.setter
    def points(self, frame: pd.DataFrame | None) -> None:
        self.state.points = self._checked_points(frame)

    def _checked_points(self, frame: pd.DataFrame | None, keep: pd.DataFrame | None = None) -> pd.DataFrame:
        """``keep`` plus ``frame``'s points, named and checked as the page's clicks are (`AppState.add_point`)."""
        scratch = AppState(store=self.state.store)
        if keep is not None and len(keep):
            scratch.points = keep.copy()
        if frame is not None:
            if not {"lon", "lat"} <= set(frame.columns):
                raise ParameterError(
                    f"points need lon and lat columns (and optionally name), not {list(frame.columns)}."
                )
            for row in frame.to_dict("records"):
                name = row.get("name")
                scratch.add_point(
                    row["lon"], row["lat"], None if name is None or pd.isna(name) else str(name)
                )
        return scratch.points

    def add_points(self, points: Any = None, /, **named: tuple[float, float]) -> list[str]:
        """Add sample points, as clicks on the speed map do; returns their names.

        Parameters
        ----------
        points : DataFrame, (lon, lat), list of (lon, lat) or (name, lon, lat), or {name: (lon, lat)}
        **named : (lon, lat)
            ``app.add_points(trunk=(-49.5, 69.17), upstream=(-49.2, 69.1))``.
        """
        rows: list[dict[str, Any]] = []
        if isinstance(points, pd.DataFrame):
            rows = points.to_dict("records")
        elif isinstance(points, Mapping):
            rows = [{"name": k, "lon": v[0], "lat": v[1]} for k, v in points.items()]
        elif points is not None:
            items = (
                [points] if len(points) in (2, 3) and not isinstance(points[0], Iterable | str) else points
            )
            for item in items:
                item = tuple(item)
                rows.append(
                    {"name": item[0], "lon": item[1], "lat": item[2]}
                    if len(item) == 3
                    else {"name": None, "lon": item[0], "lat": item[1]}
                )
        rows += [{"name": k, "lon": v[0], "lat": v[1]} for k, v in named.items()]
        before = len(self.state.points)
        frame = pd.DataFrame(rows, columns=["name", "lon", "lat"])
        self.state.points = self._checked_points(frame, keep=self.state.points)
        return list(self.state.points["name"].iloc[before:])

    def remove_point(self, name: str) -> None:
        """Remove one sample point."""
        self.state.remove_point(name)

    @property
    def series(self) -> pd.DataFrame:
        """The time-series table: speed at every point in every result (`tracking.timeseries` columns)."""
        from dashboard.derived import point_series

        return point_series(self.state)

    @property
    def truth(self) -> pd.DataFrame | None:
        """The demo's true speed at each point over the results' span (point, time, v), or None."""
        from dashboard.derived import demo_truth

        return demo_truth(self.state)

    @property
    def scenes(self) -> pd.DataFrame:
        """The scenes found by the last search."""
        return self.state.scenes

    @property
    def pairs(self) -> pd.DataFrame:
        """The candidate pairs of the scenes found (the Pairs table)."""
        return self.state.pairs

    @property
    def log(self) -> list[str]:
        """What each step did, oldest first (the Log tab), with the URL of every remote file read."""
        return list(self.state.log)

    # ------------------------------------------------------------------------------------------------------
    # what the buttons do
    # ------------------------------------------------------------------------------------------------------

    def search(self, **where: Any) -> pd.DataFrame:
        """Search scenes (the *Search scenes* button); ``where`` first sets lon, lat, start, end, aoi_km, ...

        Returns
        -------
        geopandas.GeoDataFrame
            The scenes found, sorted by time (also in `scenes`; their pairs in `pairs`).
        """
        if "start" in where:
            where["start"] = _date(where["start"])
        if "end" in where:
            where["end"] = _date(where["end"])
        if "source" in where:
            where["source"] = _source_key(where["source"])
        self.state.param.update(**where)
        return self.state.search()

    def select(self, pairs: Any = None) -> pd.DataFrame:
        """Choose the pairs a run tracks, as the Pairs table does; returns them.

        Parameters
        ----------
        pairs : None, int, list of int, "all", DataFrame, or (reference, secondary) scene ids
            None keeps the current choice; ints are rows of `pairs`; ``"all"`` every pair in the dt range;
            a DataFrame its rows (by index or by scene ids); tuples of scene ids those pairs.
        """
        s = self.state
        if pairs is None:
            return s.pairs_to_run()
        if isinstance(pairs, str) and pairs == "all":
            s.pair_mode = "many"
            return s.pairs_to_run()
        table = s.pairs
        if isinstance(pairs, pd.Series):
            pairs = pairs.to_frame().T
        if isinstance(pairs, pd.DataFrame):
            pairs = list(zip(pairs["reference"], pairs["secondary"], strict=True))
        if isinstance(pairs, int) or (
            isinstance(pairs, tuple) and len(pairs) == 2 and isinstance(pairs[0], str)
        ):
            pairs = [pairs]
        rows = []
        for item in pairs:
            if isinstance(item, int):
                if not 0 <= item < len(table):
                    raise ParameterError(f"no pair {item}: the table has {len(table)} rows; search first.")
                rows.append(item)
            else:
                ref, sec = item
                match = table.index[(table["reference"] == ref) & (table["secondary"] == sec)]
                if not len(match):
                    raise ParameterError(
                        f"{ref} ~ {sec} is not among the pairs found: search with its dates."
                    )
                rows.append(int(match[0]))
        s.param.update(pair_mode="one", selected=sorted(set(rows)))
        return s.pairs_to_run()

    def _log_reads(self, event: param.parameterized.Event) -> None:
        """When a run starts, log the URL of each remote scene it reads (only its area of interest is read)."""
        s = self.state
        if not event.new or not s.remote or s.scenes is None or "href" not in s.scenes:
            return
        hrefs = dict(zip(s.scenes["scene_id"].astype(str), s.scenes["href"], strict=True))
        seen: set[str] = set()
        for row in s.pairs_to_run().itertuples():
            for scene_id in (str(row.reference), str(row.secondary)):
                if scene_id not in seen and hrefs.get(scene_id):
                    seen.add(scene_id)
                    s.add_log(f"Reading {scene_id} (area of interest only): {hrefs[scene_id]}")

    async def run_async(
        self, pairs: Any = None, *, progress: Callable[[float, str], None] | None = None
    ) -> list[xr.Dataset]:
        """Track the chosen pairs without blocking the event loop (``await app.run_async()`` in a notebook).

        Parameters
        ----------
        pairs : see `select`
        progress : callable, optional
            ``progress(percent, status)`` as the job advances.

        Returns
        -------
        list of xarray.Dataset
            The velocity fields of the pairs, in order (also in `results`).

        Raises
        ------
        TrackingError
            A pair could not be loaded or tracked (the message says what to do; the log has it too).
        """
        from dashboard.jobs import run_pairs

        rows = self.select(pairs)
        if rows is None or rows.empty:
            raise ParameterError("no pair to track: search scenes first (app.search()), then choose pairs.")
        keys = [self.state.result_key(row) for row in rows.itertuples()]
        problems: list[str] = []

        def notify(level: str, message: str) -> None:
            if level == "error":
                problems.append(message)
            elif level == "warning":
                print(message, file=sys.stderr)

        watcher = None
        if progress is not None:
            watcher = self.state.param.watch(lambda e: progress(e.new, self.state.status), "overall_progress")
        try:
            await run_pairs(self.state, notify)
        finally:
            if watcher is not None:
                self.state.param.unwatch(watcher)
        if problems:
            raise TrackingError(problems[0])
        return [self.state.results[k] for k in keys if k in self.state.results]

    def run(self, pairs: Any = None, *, progress: bool = True) -> list[xr.Dataset]:
        """Track the chosen pairs and wait (the *Run* button), with a progress bar; see `run_async`.

        In a notebook (where an event loop is running) the job runs on its own loop in a helper thread while
        the cell waits; the page updates as results arrive.
        """
        bar = _progress_bar(100.0, "icetrack") if progress else None

        def advance(percent: float, status: str) -> None:
            if bar is not None:
                if status.startswith("Tracking"):
                    bar.set_description_str(status, refresh=False)
                bar.update(max(0.0, percent - bar.n))

        job = self.run_async(pairs, progress=advance)
        try:
            if not _in_running_loop():
                return asyncio.run(job)
            outcome: dict[str, Any] = {}

            def work() -> None:
                try:
                    outcome["value"] = asyncio.run(job)
                except BaseException as err:  # noqa: BLE001 - handed back to the caller's thread
                    outcome["error"] = err

            worker = threading.Thread(target=work, name="icetrack-run", daemon=True)
            worker.start()
            try:
                while worker.is_alive():
                    worker.join(0.2)
            except KeyboardInterrupt:
                self.cancel()
                worker.join()
                raise
            if "error" in outcome:
                raise outcome["error"]
            return outcome["value"]
        finally:
            if bar is not None:
                bar.close()

    def cancel(self) -> None:
        """Stop a running job between chips (the *Cancel* button)."""
        self.state.cancel_event.set()

    def add_itslive(self, count: int = 3, **where: Any) -> list[xr.Dataset]:
        """Find ITS_LIVE image-pair velocities at the marker and add the ``count`` with most valid pixels
        (step 7's *Find* and *Add to results*; needs the internet). ``where`` first sets start, end, ...

        Returns
        -------
        list of xarray.Dataset
            The fields added, in time order (also in `results`, labelled with their dates).
        """
        if "start" in where:
            where["start"] = _date(where["start"])
        if "end" in where:
            where["end"] = _date(where["end"])
        s = self.state
        s.param.update(**where)
        from dashboard import loaders

        table = loaders.find_granules(s)
        loaders.set_granules(s, table)
        if table.empty:
            raise TrackingError(
                "no ITS_LIVE pair here with these dates and filters: widen the dates or lower "
                "itslive_min_valid."
            )
        best = table.sort_values("percent_valid", ascending=False, kind="stable").head(count)
        fields = []
        for _, row in best.sort_values("mid_date", kind="stable").iterrows():
            s.add_log(f"Reading ITS_LIVE {row['granule_id']} (area of interest only): {row['href']}")
            field = loaders.load_granule(s, row)
            s.add_result(loaders.granule_key(s, str(row["granule_id"])), field.copy())
            fields.append(s.current_field())
        s.add_log(f"Added {len(fields)} ITS_LIVE field{'s' if len(fields) != 1 else ''} to the results.")
        return fields

    def export(self, path: str | Path, field: str | xr.Dataset | None = None) -> Path:
        """Write a result or the series, by suffix: ``.tif`` (vx, vy, v), ``.nc``, ``.csv`` (the series),
        ``.png`` (the map figure). Atomic: a temporary file in the same folder, then a rename.

        Parameters
        ----------
        path : path
            The file; its folder must exist.
        field : label or Dataset, optional
            Which result (for .tif, .nc, .png); default the one on the speed map.
        """
        from tracking.files import atomic_path
        from tracking.io import write_geotiff, write_netcdf
        from tracking.timeseries import write_csv

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return write_csv(self.series, path)
        if suffix not in (".tif", ".tiff", ".nc", ".png"):
            raise ParameterError(f"{path.name}: export to .tif, .nc, .csv or .png.")
        chosen = (
            self.results.get(field)
            if isinstance(field, str)
            else (field if field is not None else self.field)
        )
        if chosen is None:
            raise ParameterError(
                "nothing to export: run a pair first (app.run()), or name a result of app.results."
            )
        if suffix == ".nc":
            return write_netcdf(chosen, path)
        if suffix in (".tif", ".tiff"):
            return write_geotiff(chosen, path)
        from dashboard import plots

        s = self.state
        png = plots.figure_png(
            chosen, layer=s.layer, log=s.log_scale, clim=s.clim, cmap=s.cmap, place=s.place()
        )
        with atomic_path(path, write_only=True) as tmp:
            tmp.write_bytes(png)
        return path
