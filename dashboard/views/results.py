"""Step 5, results: the speed map of one result over the grey scene and the basemap; click to add points."""

from __future__ import annotations

import holoviews as hv
import panel as pn
import param
from panel import ui
from pyproj import Transformer

from dashboard import plots
from dashboard.caches import ProjectedCache
from dashboard.views.base import StateView, notify
from tracking.exceptions import TrackingError

_TO_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)


class ResultsView(StateView):
    """The speed map of the current result with display controls; a click adds a sample point."""

    def __init__(self, projected: ProjectedCache | None = None, **params) -> None:
        super().__init__(**params)
        s = self.state
        self.projected = projected or ProjectedCache()
        self.result = ui.Select(label="Result", options={}, sizing_mode="stretch_width")
        self.result.param.watch(self._choose, "value")
        s.param.watch(self._results_changed, ["results", "current"])
        self.layer = ui.RadioButtonGroup.from_param(
            s.param.layer,
            options={"Raw": "raw", "Masked": "masked", "Interpolated": "filled"},
            label="Vectors",
        )
        self.log_scale = ui.Switch.from_param(s.param.log_scale, label="Log colour scale")
        self.clim = ui.EditableRangeSlider.from_param(
            s.param.clim, start=0, end=20000, step=10, label="Colour range (m/yr)"
        )
        self.cmap = ui.Select.from_param(s.param.cmap, label="Colour map")
        self.basemap = ui.Select.from_param(s.param.basemap, label="Basemap")
        self.opacity = ui.FloatSlider.from_param(s.param.opacity, label="Speed opacity")
        self.arrows = ui.Switch.from_param(s.param.show_arrows, label="Flow arrows")
        self.map = pn.pane.HoloViews(
            self._map, name="speed map"
        )  # fixed size: the plot keeps the data aspect
        self._results_changed()

    def _results_changed(self, *_events) -> None:
        labels = self.state.result_labels()
        self.result.options = labels
        if self.state.current in labels.values():
            self.result.value = self.state.current

    def _choose(self, event) -> None:
        if event.new and event.new != self.state.current:
            self.state.current = event.new

    @param.depends(
        "state.current",
        "state.results",
        "state.layer",
        "state.log_scale",
        "state.clim",
        "state.cmap",
        "state.basemap",
        "state.opacity",
        "state.show_arrows",
        "state.points",
    )
    def _map(self):
        s = self.state
        field = s.current_field()
        if field is None:
            return hv.Overlay([plots.empty_map("Run a pair to see its speed map here")])
        try:
            projected = self.projected.field(s.current, field, s.layer)
            scene = s.reference_scene(field)
            overlay = plots.speed_map(
                field,
                projected=projected,
                scene=None if scene is None else self.projected.scene(scene),
                layer=s.layer,
                basemap_name=s.basemap,
                log=s.log_scale,
                clim=s.clim,
                cmap=s.cmap,
                alpha=s.opacity,
                show_arrows=s.show_arrows,
                title=plots.pair_title(field),
                dynamic=False,
            )
            overlay = (overlay * plots.sample_points(s.points)).opts(
                hv.opts.Overlay(responsive=False, frame_height=540, frame_width=540, data_aspect=1)
            )
        except (TrackingError, ValueError) as err:  # a DynamicMap error would bypass Panel's handler
            notify("error", f"Cannot draw this result: {err}")
            return hv.Overlay([plots.empty_map(f"Cannot draw this result: {err}")])
        tap = hv.streams.SingleTap(source=overlay, transient=True)
        tap.add_subscriber(self._on_tap)
        return overlay

    def _on_tap(self, x=None, y=None) -> None:
        if x is None or y is None:
            return
        lon, lat = _TO_LONLAT.transform(x, y)
        try:
            name = self.state.add_point(lon, lat)
        except TrackingError as err:
            notify("warning", str(err))
            return
        self.state.add_log(f"Point {name} added at {lat:.4f} N, {lon:.4f} E.")

    def controls(self) -> pn.viewable.Viewable:
        """The display controls."""
        return pn.Column(
            self.result,
            self.layer,
            self.log_scale,
            self.clim,
            self.cmap,
            self.basemap,
            self.opacity,
            self.arrows,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self.map
