"""The icetrack dashboard: ``panel serve dashboard/app.py``.

What is served is the object a notebook shows: `dashboard.notebook.IceTrack`, which holds the session's state
and builds the page with `dashboard.page.create_app`.
"""

from __future__ import annotations

import panel as pn

from dashboard.notebook import IceTrack
from dashboard.page import TITLE

__all__ = ["IceTrack"]

if pn.state.served:
    IceTrack().servable(title=TITLE)
