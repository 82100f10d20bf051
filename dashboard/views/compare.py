"""Several results side by side on linked maps with one shared colour scale."""

from __future__ import annotations

import holoviews as hv
import panel as pn
import param
from panel import ui

from dashboard import plots
from dashboard.views.base import StateView
from dashboard.views.results import ProjectedCache


class CompareView(StateView):
    """Choose results; they are drawn side by side, pan and zoom together and share the colour scale."""

    def __init__(self, projected: ProjectedCache | None = None, **params) -> None:
        super().__init__(**params)
        self.projected = projected or ProjectedCache()
        self.choice = ui.MultiChoice(label="Results to compare", options={}, sizing_mode="stretch_width")
        self.choice.param.watch(lambda e: setattr(self.state, "compare", list(e.new)), "value")
        self.state.param.watch(self._options, "results")
        self.plot = pn.pane.HoloViews(self._layout, name="comparison")  # fixed size: maps keep their aspect
        self._auto: list[str] = []

    def _options(self, _event=None) -> None:
        labels = self.state.result_labels()
        self.choice.options = labels
        if self.state.compare == self._auto:  # until the user chooses, show the three latest results
            self._auto = list(labels.values())[-3:]
            self.choice.value = self._auto

    @param.depends("state.compare", "state.layer", "state.log_scale", "state.clim", "state.cmap",
                   "state.basemap", "state.opacity")  # fmt: skip
    def _layout(self):
        s = self.state
        keys = [k for k in s.compare if k in s.results]
        if not keys:
            return hv.Layout([plots.empty_map("Run two or more pairs, then choose them here")])
        projected = [self.projected.field(k, s.results[k], s.layer) for k in keys]
        layout = plots.comparison(
            [s.results[k] for k in keys], projected=projected, layer=s.layer, basemap_name=s.basemap,
            log=s.log_scale, clim=s.clim, cmap=s.cmap, alpha=s.opacity, dynamic=False,
        )
        side = 420 if len(keys) < 3 else 280
        for overlay in list(layout)[:-1]:  # one colour scale: one colour bar, on the last map
            for element in overlay:
                if isinstance(element, hv.Image) and len(element.vdims) > 1:
                    element.opts(colorbar=False)
        return layout.opts(hv.opts.Overlay(responsive=False, frame_width=side, frame_height=side, data_aspect=1))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.choice, self.plot, sizing_mode="stretch_width")
