"""Step 1, where and when: the footprint map with the marker, the search controls and the scene table."""

from __future__ import annotations

import asyncio

import holoviews as hv
import pandas as pd
import panel as pn
import param
from panel import ui
from pyproj import Transformer

from dashboard import plots
from dashboard.state import SOURCES
from dashboard.views.base import StateView, notify
from tracking.exceptions import TrackingError

_TO_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)


class WhereView(StateView):
    """Source, area of interest, dates and cloud limit; Search; the map and the scene table."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        s = self.state
        self.source = ui.Select.from_param(s.param.source, options=SOURCES, label="Data source")
        self.band = ui.RadioButtonGroup.from_param(s.param.band, label="Band")
        self.aoi = ui.FloatSlider.from_param(s.param.aoi_km, label="Area of interest (km)")
        self.start = ui.DatePicker.from_param(s.param.start, label="From")
        self.end = ui.DatePicker.from_param(s.param.end, label="To")
        self.cloud = ui.FloatSlider.from_param(s.param.max_cloud, label="Largest cloud cover (%)")
        self.search_button = ui.Button(
            label="Search scenes", color="primary", icon="search", sizing_mode="stretch_width"
        )
        self.search_button.on_click(self._search)
        self.table = pn.widgets.Tabulator(
            self._scene_frame(),
            disabled=True,
            show_index=False,
            height=260,
            sizing_mode="stretch_width",
            pagination=None,
        )
        s.param.watch(lambda e: setattr(self.table, "value", self._scene_frame()), "scenes")
        s.param.watch(self._on_source, "source")
        self.band.disabled = s.source_obj.band is not None  # the source's own band, or the user's choice
        # drawn after the page is up (defer_load), so that the controls are usable sooner
        self.map = pn.panel(self._map, defer_load=True, sizing_mode="stretch_width", height=420)

    async def _search(self, _event=None) -> None:
        """Search in a worker thread (remote searches take seconds), then show the scenes on the loop."""
        self.search_button.loading = True
        try:
            found = await asyncio.to_thread(self.state.find_scenes)
            self.state.set_scenes(found)
        except TrackingError as err:
            self.state.add_log(f"Search failed: {err}")
            notify("error", str(err))
            return
        finally:
            self.search_button.loading = False
        if found.empty:
            notify(
                "warning",
                "No scene found: move the marker onto the footprints, widen the dates or raise the "
                "cloud limit.",
            )
        else:
            notify("info", f"{len(found)} scenes found; {len(self.state.pairs)} pairs within the dt range.")

    async def _on_source(self, event: param.parameterized.Event) -> None:
        """A remote source: say at once (within a few seconds) when its service cannot be reached."""
        state = self.state
        source = state.source_obj
        self.band.disabled = source.band is not None
        if not source.remote:
            return
        from tracking.sources.http import check_network

        try:
            await asyncio.to_thread(check_network, source.endpoint, timeout=3.0)
        except TrackingError as err:
            state.add_log(f"{event.new}: {err}")
            notify("error", str(err))
            return
        state.add_log(f"Source: {event.new} ({source.label}); reachable.")

    def _scene_frame(self) -> pd.DataFrame:
        """The scene table as shown: date, sensor, path/row, cloud cover."""
        scenes = self.state.scenes
        if scenes is None or scenes.empty:
            return pd.DataFrame(
                {
                    "date": pd.Series(dtype=str),
                    "sensor": pd.Series(dtype=str),
                    "path/row": pd.Series(dtype=str),
                    "cloud (%)": pd.Series(dtype=float),
                    "area covered (%)": pd.Series(dtype=float),
                    "scene": pd.Series(dtype=str),
                }
            )
        return pd.DataFrame(
            {
                "date": pd.to_datetime(scenes["time"]).dt.strftime("%Y-%m-%d"),
                "sensor": scenes["sensor"],
                "path/row": _path_row_or_tile(scenes),
                "cloud (%)": scenes["cloud_cover"].round(1),
                "area covered (%)": scenes.get("aoi_cover", 100.0),
                "scene": scenes["scene_id"],
            }
        )

    @param.depends("state.lon", "state.lat", "state.aoi_km", "state.scenes", "state.basemap", "state.source")
    def _map(self):
        s = self.state
        layers = []
        base = plots.basemap(s.basemap)
        if base is not None:
            layers.append(base)
        footprints = s.footprints()
        if not footprints.empty:
            layers.append(plots.footprints(footprints))
        if s.scenes is not None and not s.scenes.empty:
            layers.append(plots.footprints(s.scenes.drop_duplicates(subset=["path", "row"]), color="#0072b2"))
        layers.append(plots.aoi_box(s.aoi_bounds("EPSG:3857")))
        layers.append(plots.marker(s.lon, s.lat))
        overlay = hv.Overlay(layers).opts(
            responsive=True,
            min_height=420,
            title="Click the map to move the marker",
            active_tools=["wheel_zoom"],
            xlabel="longitude",
            ylabel="latitude",
        )
        tap = hv.streams.SingleTap(source=overlay, transient=True)
        tap.add_subscriber(self._on_tap)
        # its extent is the footprints', not the results': never link its axes to the speed maps
        return pn.pane.HoloViews(overlay, linked_axes=False, sizing_mode="stretch_width", height=420)

    def _on_tap(self, x=None, y=None) -> None:
        if x is None or y is None:
            return
        lon, lat = _TO_LONLAT.transform(x, y)
        self.state.move_marker(lon, lat)

    def controls(self) -> pn.viewable.Viewable:
        """The sidebar controls of this step."""
        return pn.Column(
            self.source,
            self.band,
            self.aoi,
            self.start,
            self.end,
            self.cloud,
            self.search_button,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.map, pn.pane.Markdown("**Scenes found**"), self.table, sizing_mode="stretch_width"
        )


def _path_row_or_tile(scenes: pd.DataFrame) -> list[str]:
    """``PPP/RRR`` for Landsat scenes, the MGRS tile for Sentinel-2, "-" when unknown."""
    tiles = scenes["tile"] if "tile" in scenes.columns else pd.Series([""] * len(scenes), index=scenes.index)
    return [
        f"{p:03d}/{r:03d}" if p >= 0 else (str(t) or "-")
        for p, r, t in zip(scenes["path"], scenes["row"], tiles.fillna(""), strict=True)
    ]
