"""Step 3, parameters: widgets generated from `TrackingParameters` by `pn.Param`, presets and live parameter
physics."""

from __future__ import annotations

import panel as pn
import param
from panel import ui

from dashboard.derived import estimate
from dashboard.views.base import StateView, lazy_card
from tracking.params import TrackingParameters

#: Units added to the parameters' labels.
UNITS = {
    "chip_size": "px",
    "search_range": "px",
    "step": "px",
    "oversampling": "1/px",
    "prefilter_size": "px",
    "median_epsilon": "px",
    "max_speed": "m/yr",
    "fill_distance": "nodes",
    "median_radius": "nodes",
}


def parameter_widget(params: TrackingParameters, name: str) -> pn.widgets.Widget:
    """One widget for one tracking parameter, made by `pn.Param`: its bounds (soft bounds first) and step, its
    label with the unit, its doc as help; switches for booleans. ``max_speed`` is a slider where 0 is no limit."""
    p = params.param[name]
    label = f"{p.label} ({UNITS[name]})" if name in UNITS else p.label
    if name == "max_speed":
        return _max_speed_widget(params, p.doc)
    spec: dict = {"name": label, "sizing_mode": "stretch_width"}
    if isinstance(p, param.Boolean):
        spec["type"] = ui.Switch
    return pn.Param.widget(name, params, spec)


def _max_speed_widget(params: TrackingParameters, doc: str) -> pn.widgets.Widget:
    """A slider for the speed limit where 0 means no limit (the parameter's None)."""
    slider = ui.IntSlider(
        value=int(params.max_speed or 0),
        start=0,
        end=20_000,
        step=250,
        description=doc,
        label="Max speed (m/yr, 0: no limit)",
        sizing_mode="stretch_width",
    )
    slider.param.watch(lambda e: setattr(params, "max_speed", float(e.new) or None), "value")
    params.param.watch(lambda e: setattr(slider, "value", int(e.new or 0)), "max_speed")
    return slider


class ParametersView(StateView):
    """Presets, one widget per tracking parameter (grouped) and the live estimate next to them."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        s = self.state
        self.preset = ui.RadioButtonGroup.from_param(s.param.preset, label="Preset")
        self.widgets = {name: parameter_widget(s.params, name) for name in s.params.param if name != "name"}
        self.physics = pn.pane.Markdown(self._physics(), sizing_mode="stretch_width", name="physics")
        s.params.param.watch(self._update, list(self.widgets))
        s.param.watch(self._update, ["pairs", "selected", "pair_mode", "aoi_km", "band", "source"])

    def _physics(self) -> str:
        try:
            e = estimate(self.state)
        except Exception as err:  # noqa: BLE001 - an estimate must never break the page
            return f"Estimate unavailable: {err}"
        run = (
            f"about **{e['duration']}** for {e['pairs']} pair{'s' if e['pairs'] != 1 else ''}"
            if e["pairs"]
            else f"about **{e['duration']}** per pair"
        )
        return (
            f"**{e['chips']:,} chips** per pair · {run}  \n"
            f"Largest detectable speed at dt {e['dt_days']:.0f} d: **{e['max_speed']:,.0f} m/yr** "
            f"(search range x pixel size / dt)"
        )

    def _update(self, *_events) -> None:
        self.physics.object = self._physics()

    def _group(self, lo: float, hi: float) -> list:
        return [w for n, w in self.widgets.items() if lo <= (self.state.params.param[n].precedence or 0) < hi]

    def controls(self) -> pn.viewable.Viewable:
        """The sidebar controls of this step."""
        return pn.Column(
            self.preset,
            self.physics,
            *self._group(0, 1),
            pn.pane.Markdown("Pre-filter", margin=(10, 5, 0, 5)),
            *self._group(1, 2),
            lazy_card(
                "Outlier tests and holes",
                *self._group(2, 3),
                pn.pane.Markdown("Holes", margin=(10, 5, 0, 5)),
                *self._group(3, 4),
                sizing_mode="stretch_width",
                margin=(10, 0),
            ),
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self.controls()
