"""ITS_LIVE: find ready-made image-pair velocities, add them to the results; datacube and CSV point series."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pandas as pd
import panel as pn
from panel import ui

from dashboard.loaders import find_cube_series, find_granules, granule_key, load_granule, set_granules
from dashboard.views.base import StateView, notify
from dashboard.views.file_input import LimitedFileInput
from tracking.exceptions import TrackingError

#: The largest series CSV taken (an ITS_LIVE export of a few thousand pairs is well under 1 MB).
MAX_CSV_BYTES = 20 * 2**20

#: Most granules added by one click (each is a download of a few MB).
MAX_GRANULES = 10


class ItsLiveView(StateView):
    """Search ITS_LIVE granules at the marker; add the chosen ones as results; add point series."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        s = self.state
        self.mission = ui.RadioButtonGroup.from_param(
            s.param.itslive_mission,
            options={"Landsat": "landsat", "Sentinel-2": "sentinel2", "Any": "any"},
            label="Mission",
        )
        self.min_valid = ui.FloatSlider.from_param(
            s.param.itslive_min_valid, label="Valid pixels at least (%)"
        )
        self.dt = ui.RangeSlider.from_param(
            s.param.itslive_dt, start=1, end=545, step=1, label="Time separation (days)"
        )
        self.find = ui.Button(
            label="Find ITS_LIVE pairs",
            icon="travel_explore",
            variant="outlined",
            sizing_mode="stretch_width",
        )
        self.find.on_click(self._find)
        self.count = ui.IntInput(label="Pairs to add", value=3, start=1, end=MAX_GRANULES, width=120)
        self.add = ui.Button(label="Add to results", icon="add", variant="outlined", disabled=True)
        self.add.on_click(self._add)
        self.cube = ui.Button(
            label="Datacube series at the points",
            icon="timeline",
            variant="outlined",
            sizing_mode="stretch_width",
        )
        self.cube.on_click(self._cube)
        self.csv = LimitedFileInput(
            accept=".csv",
            multiple=False,
            label="Series CSV",
            max_file_size=MAX_CSV_BYTES,
            sizing_mode="stretch_width",
        )
        self.csv.param.watch(lambda e: e.new and notify("error", e.new), "refused")
        self.csv.param.watch(self._csv, "value")
        self.table = pn.widgets.Tabulator(
            self._granule_frame(),
            disabled=True,
            show_index=False,
            height=220,
            sizing_mode="stretch_width",
            selectable="checkbox",
            pagination=None,
        )
        s.param.watch(self._granules_changed, "granules")

    # --- searching and adding granules -------------------------------------------------------------------------

    def _granule_frame(self) -> pd.DataFrame:
        table = self.state.granules
        if table is None or table.empty:
            return pd.DataFrame(
                {
                    c: pd.Series(dtype=str)
                    for c in ("first", "second", "dt (d)", "platform", "valid (%)", "granule")
                }
            )
        return pd.DataFrame(
            {
                "first": pd.to_datetime(table["t0"]).dt.strftime("%Y-%m-%d"),
                "second": pd.to_datetime(table["t1"]).dt.strftime("%Y-%m-%d"),
                "dt (d)": table["dt_days"].round(0),
                "platform": table["platform"],
                "valid (%)": table["percent_valid"].round(0),
                "granule": table["granule_id"],
            }
        )

    def _granules_changed(self, _event=None) -> None:
        self.table.value = self._granule_frame()
        self.table.selection = []
        found = self.state.granules is not None and len(self.state.granules) > 0
        self.add.disabled = not found

    async def _find(self, _event=None) -> None:
        self.find.loading = True
        try:
            table = await asyncio.to_thread(find_granules, self.state)
        except TrackingError as err:
            self.state.add_log(f"ITS_LIVE search failed: {err}")
            notify("error", str(err))
            return
        finally:
            self.find.loading = False
        set_granules(self.state, table)
        if table.empty:
            notify(
                "warning",
                "No ITS_LIVE pair here with these dates and filters: widen the dates, lower the "
                "valid-pixel share or widen the time separation.",
            )
        else:
            notify(
                "info",
                f"{len(table)} ITS_LIVE pairs found: tick some in the table, or add the best "
                f"{min(self.count.value, len(table))} (most valid pixels).",
            )

    def chosen(self) -> pd.DataFrame:
        """The ticked granules, or else the ``count`` with the most valid pixels (at most `MAX_GRANULES`)."""
        table = self.state.granules
        if table is None or table.empty:
            return pd.DataFrame()
        if self.table.selection:
            return table.iloc[sorted(self.table.selection)[:MAX_GRANULES]]
        best = table.sort_values("percent_valid", ascending=False, kind="stable").head(self.count.value)
        return best.sort_values("mid_date", kind="stable")

    async def _add(self, _event=None) -> None:
        rows = self.chosen()
        self.add.loading = True
        added = 0
        try:
            for _, row in rows.iterrows():
                self.state.status = f"Loading ITS_LIVE {row['granule_id']} ({added + 1} of {len(rows)})"
                field = await asyncio.to_thread(load_granule, self.state, row)
                self.state.add_result(granule_key(self.state, str(row["granule_id"])), field.copy())
                added += 1
        except TrackingError as err:
            self.state.add_log(f"ITS_LIVE load failed: {err}")
            notify("error", str(err))
        finally:
            self.add.loading = False
            self.state.status = f"Added {added} ITS_LIVE field{'s' if added != 1 else ''} to the results."
        if added:
            self.state.add_log(self.state.status)
            notify("success", self.state.status)

    # --- point series ----------------------------------------------------------------------------------------

    async def _cube(self, _event=None) -> None:
        self.cube.loading = True
        try:
            frame = await asyncio.to_thread(find_cube_series, self.state)
        except TrackingError as err:
            self.state.add_log(f"ITS_LIVE datacube failed: {err}")
            notify("error", str(err))
            return
        finally:
            self.cube.loading = False
        self.state.add_series(frame)
        notify(
            "success", f"ITS_LIVE datacube: {len(frame)} measurements at {frame['point'].nunique()} points."
        )

    def _csv(self, event) -> None:
        if event.new is None:  # b"" is an empty file: read_series_csv says so
            return
        from tracking.sources.itslive import read_series_csv

        name = Path(self.csv.filename or "itslive.csv").name
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(event.new)
            try:
                frame = read_series_csv(path)
            except (TrackingError, ValueError, KeyError) as err:
                notify(
                    "error",
                    f"{name}: not an ITS_LIVE series CSV ({err}). Export one with itslive-export "
                    "or from the ITS_LIVE web portal.",
                )
                return
        self.state.add_series(frame)
        notify("success", f"{name}: {len(frame)} ITS_LIVE measurements added to the time series.")

    # --- layout ------------------------------------------------------------------------------------------------

    def controls(self) -> pn.viewable.Viewable:
        """The sidebar controls."""
        return pn.Column(
            self.mission,
            self.min_valid,
            self.dt,
            self.find,
            pn.Row(self.count, self.add),
            self.cube,
            pn.pane.Markdown("Or load a series CSV (itslive-export):", margin=(5, 10, 0, 10)),
            self.csv,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("**ITS_LIVE image pairs found** (tick to choose)"),
            self.table,
            sizing_mode="stretch_width",
        )
