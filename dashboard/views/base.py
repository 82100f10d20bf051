"""The base of every view: a Panel `Viewer` holding the session's `AppState`, and notifications."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import param
from panel import ui

from dashboard.page_loads import served_document
from dashboard.state import AppState


class StateView(pn.viewable.Viewer):
    """A view of one `AppState`."""

    state = param.ClassSelector(class_=AppState, doc="The session state this view reads and sets.")


def notify(level: str, message: str) -> None:
    """Show a notification (info, success, warning, error) in the served page; a no-op outside a server."""
    notifications = pn.state.notifications
    if notifications is None:
        return
    duration = 0 if level == "error" else 6000
    getattr(notifications, level)(message, duration=duration)


def on_this_page(change: Callable[[], None]) -> Callable[[], None]:
    """``change`` (a function that changes the page's layout), made safe to call from anywhere.

    On a served page it runs in a callback of the page's document, which holds the document's lock: a layout
    changed from a job's coroutine or a worker thread otherwise breaks the session ("_pending_writes should be
    non-None"). Elsewhere (a notebook, a test) it runs at once. Make it while the page is built.
    """
    doc = served_document()

    def run() -> None:
        if doc is not None:
            doc.add_next_tick_callback(change)
        else:
            change()

    return run


def once_drawn(change: Callable[[], None]) -> None:
    """Run ``change`` once a served page is drawn in the browser (``pn.state.onload``); at once elsewhere (a
    notebook, a test). Call it while the page is built."""
    if served_document() is not None:
        pn.state.onload(change)
    else:
        change()


def lazy_card(title: str, *objects, collapsed: bool = True, **card_params) -> ui.Card:
    """A card whose ``objects`` reach the browser only when it is first opened.

    Closed, it holds only ``head`` (a list, optional, e.g. a line of help): a page with several closed cards is
    smaller, so it is built and drawn sooner. Opening it in the browser or setting ``collapsed = False`` fills it.
    """
    head = list(card_params.pop("head", []))
    card = ui.Card(*head, *([] if collapsed else objects), title=title, collapsed=collapsed, **card_params)

    @on_this_page
    def fill() -> None:
        if len(card.objects) == len(head):
            card.extend(objects)

    def fill_on_first_open(event: param.parameterized.Event) -> None:
        if not event.new:
            fill()

    if collapsed:
        card.param.watch(fill_on_first_open, "collapsed")
    return card
