"""Runs yield to pages being opened (`dashboard.page_loads`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

from dashboard import jobs
from dashboard.page_loads import PAGE_LOADS, PageLoads, count_this_page_load
from dashboard.state import AppState
from tracking.store import ResultStore


def test_a_load_counts_until_its_page_is_ready():
    loads = PageLoads(longest=10.0)
    assert not loads.loading() and loads.wait() < 0.05
    first, second = loads.start(), loads.start()
    assert loads.loading()
    loads.finish(first)
    assert loads.loading()
    threading.Timer(0.3, loads.finish, args=(second,)).start()
    waited = loads.wait(poll=0.01)
    assert 0.2 < waited < 5.0 and not loads.loading()


def test_a_page_that_never_reports_ready_stops_counting():
    loads = PageLoads(longest=0.3)
    loads.start()
    waited = loads.wait(poll=0.01)
    assert 0.2 < waited < 2.0 and not loads.loading()


def test_building_a_page_outside_a_server_counts_nothing():
    count_this_page_load()
    assert not PAGE_LOADS.loading()


class CountingLoads(PageLoads):
    def __init__(self) -> None:
        super().__init__(longest=0.2)
        self.waits = 0

    def wait(self, poll: float = 0.05) -> float:
        self.waits += 1
        return super().wait(poll)


def test_a_run_waits_for_pages_being_opened(monkeypatch):
    loads = CountingLoads()
    monkeypatch.setattr(jobs, "PAGE_LOADS", loads)
    state = AppState(store=ResultStore(), aoi_km=10.0, start=dt.date(2021, 5, 1), end=dt.date(2021, 7, 31))
    state.search()
    state.selected = [0]
    loads.start()  # a page is being opened, and never reports ready
    t0 = time.monotonic()
    assert asyncio.run(jobs.run_pairs(state)) == 1
    assert loads.waits > 0 and time.monotonic() - t0 >= 0.2
    assert not loads.loading()


def test_a_result_is_drawn_after_the_page_being_opened(monkeypatch):
    loads = PageLoads(longest=10.0)
    monkeypatch.setattr(jobs, "PAGE_LOADS", loads)
    finished = []
    track_one = jobs._track_one

    def track_then_open_a_page(*args, **kwargs):
        field = track_one(*args, **kwargs)
        load = loads.start()  # a visitor arrives as the pair ends: its page is ready 0.3 s later

        def ready() -> None:
            finished.append(time.monotonic())
            loads.finish(load)

        threading.Timer(0.3, ready).start()
        return field

    monkeypatch.setattr(jobs, "_track_one", track_then_open_a_page)
    state = AppState(store=ResultStore(), aoi_km=10.0, start=dt.date(2021, 5, 1), end=dt.date(2021, 7, 31))
    state.search()
    state.selected = [0]
    arrived = []
    state.param.watch(lambda _: arrived.append(time.monotonic()), "results")
    assert asyncio.run(jobs.run_pairs(state)) == 1
    assert finished and arrived and arrived[0] >= finished[0]
