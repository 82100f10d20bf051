"""Several results side by side on linked maps with one shared colour scale."""

from __future__ import annotations

import holoviews as hv
import panel as pn
import param
from panel import ui

from dashboard import plots
from dashboard.caches import ProjectedCache
from dashboard.views.base import StateView
from tracking.compare import difference
from tracking.exceptions import TrackingError
from tracking.timeseries import is_own


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
        self._auto_pair: tuple[str | None, str | None] = (None, None)
        self.field_a = ui.Select(label="Difference: a", options={}, width=300)
        self.field_b = ui.Select(label="minus b", options={}, width=300)
        self.difference = pn.pane.HoloViews(
            pn.bind(
                self._difference, self.field_a, self.field_b, self.state.param.layer, self.state.param.basemap
            ),
            name="difference",
        )
        self._options()  # a page built on a state that has results already (a notebook) lists them

    def _options(self, _event=None) -> None:
        labels = self.state.result_labels()
        self.choice.options = labels
        if self.state.compare == self._auto:  # until the user chooses, show the three latest results
            self._auto = list(labels.values())[-3:]
            self.choice.value = self._auto
        self.field_a.options = labels
        self.field_b.options = labels
        chosen = (self.field_a.value, self.field_b.value)
        if chosen == self._auto_pair or None in chosen:  # until the user chooses, pick the pair worth seeing
            self._auto_pair = self._default_difference()
            self.field_a.value, self.field_b.value = self._auto_pair

    def _default_difference(self) -> tuple[str | None, str | None]:
        """Our latest result minus the latest from another source (ITS_LIVE); else the two latest results."""
        results = self.state.results
        ours = [k for k, f in results.items() if is_own(f.attrs.get("source", ""))]
        others = [k for k in results if k not in ours]
        if ours and others:
            return ours[-1], others[-1]
        keys = list(results)
        return (keys[-1], keys[-2]) if len(keys) >= 2 else (None, None)

    @param.depends(
        "state.compare",
        "state.layer",
        "state.log_scale",
        "state.clim",
        "state.cmap",
        "state.basemap",
        "state.opacity",
    )
    def _layout(self):
        s = self.state
        keys = [k for k in s.compare if k in s.results]
        if not keys:
            return hv.Layout([plots.empty_map("Run two or more pairs, then choose them here")])
        projected = [self.projected.field(k, s.results[k], s.layer) for k in keys]
        layout = plots.comparison(
            [s.results[k] for k in keys],
            projected=projected,
            layer=s.layer,
            basemap_name=s.basemap,
            log=s.log_scale,
            clim=s.clim,
            cmap=s.cmap,
            alpha=s.opacity,
            dynamic=False,
        )
        side = 420 if len(keys) < 3 else 280
        for overlay in list(layout)[:-1]:  # one colour scale: one colour bar, on the last map
            for element in overlay:
                if isinstance(element, hv.Image) and len(element.vdims) > 1:
                    element.opts(colorbar=False)
        return layout.opts(
            hv.opts.Overlay(responsive=False, frame_width=side, frame_height=side, data_aspect=1)
        )

    def _difference(self, key_a: str | None, key_b: str | None, layer: str, basemap: str):
        s = self.state
        a, b = s.results.get(key_a), s.results.get(key_b)
        if a is None or b is None or key_a == key_b:
            return plots.empty_map("Choose two different results: a − b is drawn on a's grid")
        try:
            diff = difference(a, b, layer=layer)
        except TrackingError as err:
            return plots.empty_map(str(err))
        difference_map = plots.difference_map(diff, basemap_name=basemap).opts(
            hv.opts.Overlay(responsive=False, frame_width=460, frame_height=460)
        )
        scatter = plots.scatter_plot(diff).opts(
            hv.opts.Overlay(responsive=False, frame_width=360, frame_height=360)
        )
        return (difference_map + scatter).opts(shared_axes=False)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.choice,
            self.plot,
            pn.Row(self.field_a, self.field_b),
            self.difference,
            sizing_mode="stretch_width",
        )
