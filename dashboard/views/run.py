"""Step 4, run: Run and Cancel, per-pair and overall progress, status and the log."""

from __future__ import annotations

import panel as pn
from panel import ui

from dashboard.jobs import run_pairs
from dashboard.views.base import StateView, notify


class RunView(StateView):
    """Run tracks the chosen pairs in a worker thread; Cancel stops it; the log lists what each step did."""

    def __init__(self, on_results=None, **params) -> None:
        super().__init__(**params)
        self.on_results = on_results  # called after a run that produced results (the page shows them)
        s = self.state
        self.run_button = ui.Button(
            label="Run", color="primary", icon="play_arrow", sizing_mode="stretch_width"
        )
        self.cancel_button = ui.Button(
            label="Cancel", color="error", icon="stop", disabled=True, sizing_mode="stretch_width"
        )
        self.run_button.on_click(self._run)
        self.cancel_button.on_click(self._cancel)
        self.pair_bar = ui.LinearProgress(value=0, variant="determinate", sizing_mode="stretch_width")
        self.overall_bar = ui.LinearProgress(
            value=0, variant="determinate", sizing_mode="stretch_width", color="secondary"
        )
        self.status = pn.pane.Markdown(s.status, sizing_mode="stretch_width", name="status")
        self.log = pn.pane.Markdown(self._log_text(), sizing_mode="stretch_width", name="log")
        s.param.watch(self._progress, ["pair_progress", "overall_progress"])
        s.param.watch(self._running, "running")
        s.param.watch(lambda e: setattr(self.status, "object", e.new), "status")
        s.param.watch(lambda e: setattr(self.log, "object", self._log_text()), "log")

    def _log_text(self) -> str:
        lines = self.state.log or ["Nothing yet."]
        return "\n".join(f"- {line}" for line in reversed(lines))

    def _progress(self, *_events) -> None:
        self.pair_bar.value = int(self.state.pair_progress)
        self.overall_bar.value = int(self.state.overall_progress)

    def _running(self, event) -> None:
        self.run_button.disabled = event.new
        self.cancel_button.disabled = not event.new  # no spinner on Run: the progress bars say how far it is

    async def _run(self, _event=None) -> None:
        arrived = await run_pairs(self.state, notify)
        if arrived and self.on_results is not None:
            self.on_results()

    def _cancel(self, _event=None) -> None:
        self.state.cancel_event.set()
        self.state.status = "Cancelling..."

    def controls(self) -> pn.viewable.Viewable:
        """The sidebar controls of this step."""
        return pn.Column(
            pn.Row(self.run_button, self.cancel_button, sizing_mode="stretch_width"),
            pn.pane.Markdown("Pair", margin=(0, 5)),
            self.pair_bar,
            pn.pane.Markdown("All pairs", margin=(0, 5)),
            self.overall_bar,
            self.status,
            sizing_mode="stretch_width",
        )

    def header_progress(self) -> pn.widgets.StaticText:
        """The run's progress for the page's header while a run lasts, readable from every tab.

        A widget, not a Markdown pane: the tracking thread sets the progress, and widgets pass changes made off the
        event loop to the page safely.
        """
        text = pn.widgets.StaticText(visible=False, styles={"color": "white", "font-size": "1.05em"})

        def update(*_events) -> None:
            s = self.state
            text.param.update(visible=s.running, value=f"Tracking · {s.overall_progress:.0f} %")

        self.state.param.watch(update, ["running", "overall_progress"])
        return text

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.pane.Markdown("**Log** (newest first)"), self.log, sizing_mode="stretch_width")
