"""The icetrack page: ``create_app(state)`` builds one session's page (``dashboard/app.py`` serves it through
`dashboard.notebook.IceTrack`, the object a notebook shows).

The page is a `panel.ui.Page`: the workflow steps in the sidebar, maps and plots in the main area. Each session
gets its own `AppState`; tracking results are shared by every session of the process through one result store.
"""

from __future__ import annotations

from pathlib import Path

import panel as pn
import param
from panel import ui
from panel.util import edit_readonly

from dashboard.caches import ProjectedCache, shared_store
from dashboard.page_loads import count_this_page_load
from dashboard.state import AppState
from dashboard.urls import sync_url
from dashboard.views import (
    BatchView,
    CompareView,
    ExportView,
    ItsLiveView,
    PairsView,
    ParametersView,
    QualityView,
    ResultsView,
    RunView,
    SeriesView,
    UploadView,
    WhereView,
)
from dashboard.views.base import lazy_card, notify, on_this_page, once_drawn

pn.extension(
    "tabulator",
    notifications=True,
    disconnect_notification="Connection to the server lost: reload the page.",
)

ASSETS = Path(__file__).resolve().parent.parent / "assets"
LOGO = ASSETS / "logo.svg"
TITLE = "icetrack · glacier ice-flow velocity"

#: One line of help per workflow step.
HELP = {
    "where": "Click the map to place the marker; Search lists the scenes that cover it and outlines them.",
    "pairs": "Choose one pair in the table, or track every pair whose time separation is in the range.",
    "parameters": "Chips are matched by normalized cross-correlation; the estimate updates as you move sliders.",
    "run": "Tracks in the background; pairs already tracked with these parameters are reused.",
    "display": "Speeds in m/yr on a log scale; click the speed map to add sample points.",
    "export": "File names carry the place and the two dates.",
    "itslive": "Ready-made ITS_LIVE velocities at the marker and dates: add pairs to the results (compare them "
    "with yours) or add datacube series at your points. Needs the internet.",
    "batch": "Many pairs or whole scenes run on a Dask cluster with 'icetrack batch'; open what it wrote here.",
}


def _step(title: str, key: str, *objects, collapsed: bool = False) -> ui.Card:
    """One workflow step: a card with a line of help over ``objects``; a step that starts ``collapsed`` sends them
    to the browser when it is first opened (`lazy_card`)."""
    help_line = pn.pane.Markdown(HELP[key], styles={"font-size": "0.85em", "opacity": "0.8"}, margin=(0, 5))
    return lazy_card(title, *objects, head=[help_line], collapsed=collapsed, sizing_mode="stretch_width")


def create_app(state: AppState | None = None) -> ui.Page:
    """Build one session's page.

    Parameters
    ----------
    state : AppState, optional
        The session state; a new one (on the shared result store) by default.

    Returns
    -------
    panel.ui.Page
        The page; ``.servable()`` it, or serve it with ``pn.serve``.
    """
    count_this_page_load()  # runs pause while the page is opened
    state = state or AppState(store=shared_store())
    projected = ProjectedCache()
    where = WhereView(state=state)
    upload = UploadView(state=state)
    pairs = PairsView(state=state)
    parameters = ParametersView(state=state)
    run = RunView(state=state, on_results=lambda: setattr(tabs, "active", 1))
    results = ResultsView(state=state, projected=projected)
    quality = QualityView(state=state)
    compare = CompareView(state=state, projected=projected)
    series = SeriesView(state=state)
    export = ExportView(state=state)
    itslive = ItsLiveView(state=state)
    batch = BatchView(state=state)

    # the upload controls reach the browser when "My GeoTIFFs" is first chosen (hidden, they still cost a table)
    upload_box = pn.Column(*([upload] if state.source == "local" else []), sizing_mode="stretch_width")

    @on_this_page
    def show_upload() -> None:
        if state.source == "local" and not upload_box.objects:
            upload_box.append(upload)
        upload_box.visible = state.source == "local"

    state.param.watch(lambda _: show_upload(), "source")
    # Steps 5-8 start closed: Display and Export open when the first results arrive, the others when asked for.
    no_results = not state.results
    display = _step("5 · Display", "display", results.controls(), collapsed=no_results)
    exports = _step("6 · Export", "export", export, collapsed=no_results)
    itslive_main = pn.Column(sizing_mode="stretch_width")  # the ITS_LIVE pairs table, once step 7 is opened
    itslive_step = _step("7 · ITS_LIVE velocities", "itslive", itslive.controls(), collapsed=True)
    show_itslive_pairs = on_this_page(lambda: itslive_main.objects or itslive_main.append(itslive))
    itslive_step.param.watch(lambda _: show_itslive_pairs(), "collapsed")
    sidebar = [
        _step("1 · Where and when", "where", where.controls(), upload_box),
        _step("2 · Pairs", "pairs", pairs.controls()),
        _step("3 · Parameters", "parameters", parameters.controls()),
        _step("4 · Run", "run", run.controls()),
        display,
        exports,
        itslive_step,
        _step("8 · Batch results", "batch", batch, collapsed=True),
    ]

    @on_this_page
    def open_result_steps() -> None:
        display.collapsed = exports.collapsed = False

    def on_results(event: param.parameterized.Event) -> None:
        if event.new and (display.collapsed or exports.collapsed):
            open_result_steps()

    state.param.watch(on_results, "results")
    # the map and the two tables are sent once the sidebar is drawn: they were a third of a new page's time
    scenes_and_pairs = pn.Column(loading=True, min_height=420, sizing_mode="stretch_width")

    def show_scenes_and_pairs() -> None:
        scenes_and_pairs.param.update(objects=[where, pairs, itslive_main], loading=False)

    once_drawn(show_scenes_and_pairs)
    tabs = ui.Tabs(
        ("Scenes and pairs", scenes_and_pairs),
        ("Speed map", pn.Row(pn.Column(results, quality, width=690), series, sizing_mode="stretch_both")),
        ("Compare", compare),
        ("Log", run),
        sizing_mode="stretch_both",
        dynamic=True,  # only the visible tab is rendered
    )

    sync_url(state, notify)
    page = ui.Page(
        title=TITLE,
        logo=str(LOGO),
        sidebar=sidebar,
        main=[tabs],
        sidebar_width=400,
        theme_toggle=True,
        header=[run.header_progress()],
    )
    # No indeterminate busy bar: Panel's follows the process-wide `pn.state.busy` (each click of any visitor sent
    # two patches to every open session and lit the bar on all their pages), and bound to this session's runs it
    # animated for the minutes a run takes, a third of a core of the visitor's browser. The header shows the run's
    # own progress instead (`RunView.header_progress`); buttons show their own short waits.
    with edit_readonly(page):
        page.busy = False
    page.state = state  # for tests and notebooks
    return page
