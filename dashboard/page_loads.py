"""Runs yield to pages being opened.

A served page is interactive once the server has built the session and the visitor's browser has drawn it; a run
tracking on every core but one slows both (the browser too, when it shares the machine: nice values do not reach
across processes of different sessions, which Linux schedules as groups). So each page load, from the session's
creation to the browser's ``onload``, pauses the runs of the process between blocks of chips, for at most
`LONGEST_PAUSE` seconds per page: a class arriving while one student tracks costs that run a few seconds each.
A run's results are drawn (on the event loop) after the page loads too.
"""

from __future__ import annotations

import asyncio
import threading
import time
from itertools import count
from typing import TYPE_CHECKING

import panel as pn

if TYPE_CHECKING:
    from bokeh.document import Document

#: The longest a page load pauses the runs, s (a page that never reports ``onload`` stops counting then).
LONGEST_PAUSE = 3.0


class PageLoads:
    """The pages of this process being opened, and the wait of the runs while there are any.

    Parameters
    ----------
    longest : float
        Each load counts for at most this many seconds.
    """

    def __init__(self, longest: float = LONGEST_PAUSE) -> None:
        self.longest = longest
        self._lock = threading.Lock()
        self._ends: dict[int, float] = {}  # load -> when it stops counting (time.monotonic)
        self._ids = count()

    def start(self) -> int:
        """Count a page load from now; returns its id for `finish`."""
        with self._lock:
            load = next(self._ids)
            self._ends[load] = time.monotonic() + self.longest
            return load

    def finish(self, load: int) -> None:
        """The page ``load`` is interactive: stop counting it."""
        with self._lock:
            self._ends.pop(load, None)

    def loading(self) -> bool:
        """Whether a page is being opened (loads past their longest pause are dropped)."""
        now = time.monotonic()
        with self._lock:
            for load in [k for k, end in self._ends.items() if end <= now]:
                del self._ends[load]
            return bool(self._ends)

    def wait(self, poll: float = 0.05) -> float:
        """Block while a page is being opened (at most `longest` s after the latest load began); returns the wait."""
        started = time.monotonic()
        while self.loading():
            time.sleep(poll)
        return time.monotonic() - started

    async def wait_async(self, poll: float = 0.05) -> float:
        """`wait` for a coroutine on the event loop: the loop goes on serving the page being opened."""
        started = time.monotonic()
        while self.loading():
            await asyncio.sleep(poll)
        return time.monotonic() - started


#: The page loads of this process, seen by every session's runs.
PAGE_LOADS = PageLoads()


def served_document() -> Document | None:
    """The Bokeh document of the served page being built or updated now; None outside a server (a notebook, a
    test)."""
    doc = pn.state.curdoc
    return doc if doc is not None and doc.session_context is not None else None


def count_this_page_load() -> None:
    """Count the served page being built now as loading until its browser reports it ready (``pn.state.onload``);
    a no-op outside a server (a notebook, a test)."""
    if served_document() is None:
        return
    load = PAGE_LOADS.start()
    pn.state.onload(lambda: PAGE_LOADS.finish(load))
