"""The base of every view: a Panel `Viewer` holding the session's `AppState`, and notifications."""

from __future__ import annotations

import panel as pn
import param

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
