"""Step 2, pairs: one chosen pair or every pair within a time-separation range, with dt and 'tracked'."""

from __future__ import annotations

import pandas as pd
import panel as pn
from panel import ui

from dashboard.views.base import StateView


class PairsView(StateView):
    """The pair mode, the dt range and the table of candidate pairs (click a row to choose it)."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        s = self.state
        self.mode = ui.RadioButtonGroup.from_param(
            s.param.pair_mode,
            options={"One pair": "one", "Every pair in the dt range": "many"},
            label="Track",
        )
        self.dt_window = ui.RangeSlider.from_param(
            s.param.dt_window, start=1, end=400, step=1, label="Time separation dt (days)"
        )
        self.table = pn.widgets.Tabulator(
            self._frame(),
            disabled=True,
            show_index=False,
            selectable=1,
            height=300,
            sizing_mode="stretch_width",
            pagination=None,
        )
        self.summary = pn.pane.Markdown(self._summary(), sizing_mode="stretch_width")
        self.table.param.watch(self._select, "selection")
        s.param.watch(self._refresh, ["pairs", "selected", "pair_mode"])
        self._refresh()  # a page built on a state that has pairs already (a notebook) shows the selection

    def _frame(self) -> pd.DataFrame:
        pairs = self.state.pairs
        if pairs is None or pairs.empty:
            text, number = pd.Series(dtype=str), pd.Series(dtype=float)
            return pd.DataFrame(
                {
                    "first": text,
                    "second": text,
                    "dt (d)": number,
                    "sensors": text,
                    "path/row": text,
                    "cloud (%)": number,
                    "tracked": text,
                }
            )
        return pd.DataFrame(
            {
                "first": pd.to_datetime(pairs["t0"]).dt.strftime("%Y-%m-%d"),
                "second": pd.to_datetime(pairs["t1"]).dt.strftime("%Y-%m-%d"),
                "dt (d)": pairs["dt_days"].round(1),
                "sensors": pairs["sensors"],
                "path/row": pairs["path_row"],
                "cloud (%)": pairs["cloud_cover"].round(1),
                "tracked": pairs["tracked"].map({True: "yes", False: ""}),
            }
        )

    def _summary(self) -> str:
        s = self.state
        n = 0 if s.pairs is None else len(s.pairs)
        if n == 0:
            return "No pair yet: search scenes (two or more dates within the dt range)."
        chosen = len(s.pairs_to_run())
        tracked = int(s.pairs["tracked"].sum())
        return f"**{chosen}** of {n} pairs will run; {tracked} already tracked with these parameters."

    def _refresh(self, *_events) -> None:
        self.table.value = self._frame()
        self.table.selection = list(self.state.selected) if self.state.pair_mode == "one" else []
        self.summary.object = self._summary()

    def _select(self, event) -> None:
        if self.state.pair_mode == "one" and event.new and event.new != self.state.selected:
            self.state.selected = list(event.new)

    def controls(self) -> pn.viewable.Viewable:
        """The sidebar controls of this step."""
        return pn.Column(self.mode, self.dt_window, self.summary, sizing_mode="stretch_width")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("**Pairs** (click a row to choose the pair)"),
            self.table,
            sizing_mode="stretch_width",
        )
