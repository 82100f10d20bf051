"""Run the tracking of the selected pairs off the event loop, with progress, cancel and a result store.

`run_pairs` is a coroutine: each pair is loaded and tracked in a worker thread (``asyncio.to_thread``; the
Numba kernels release the GIL), so the page and the other sessions stay responsive. With ``ICETRACK_SCHEDULER``
set (``tcp://HOST:8786``), each pair is loaded here and tracked as a task on that Dask cluster instead. Progress
is set from the worker thread (Panel schedules the widget updates on the loop); results, log lines and errors are
set on the loop, between pairs, so no HoloViews object is ever built in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba

from dashboard.caches import dask_client
from dashboard.page_loads import PAGE_LOADS
from dashboard.state import AppState
from tracking.exceptions import CancelledError, TrackingError
from tracking.pairs import pair_label
from tracking.params import TrackingParameters
from tracking.pipeline import track
from tracking.quality import assess, track_and_assess

__all__ = ["run_pairs", "scheduler_address"]

Notify = Callable[[str, str], None]


def tracking_threads() -> int:
    """Threads a session's tracking may use: ``ICETRACK_TRACK_THREADS``, else every core but one, which stays
    free for the event loop that answers every session's clicks (one on a one-core machine)."""
    value = os.environ.get("ICETRACK_TRACK_THREADS", "")
    return max(1, int(value) if value.strip().isdigit() else (os.cpu_count() or 1) - 1)


#: Niceness of the threads that track (Linux): the event loop that answers every session's clicks comes first.
TRACKING_NICENESS = 10


def lower_priority(thread_ids: list[int] | None = None) -> None:
    """Run threads (default: the calling one) at `TRACKING_NICENESS`; Linux threads each have a nice value, and
    elsewhere this does nothing."""
    for tid in [threading.get_native_id()] if thread_ids is None else thread_ids:
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, tid, TRACKING_NICENESS)


def lower_worker_priority() -> None:
    """Every thread of the process but the calling one (the event loop's) at `TRACKING_NICENESS`: the Numba
    workers, started by the warm-up, do the tracking of every session."""
    tasks = Path("/proc/self/task")
    if tasks.is_dir():
        lower_priority([int(t.name) for t in tasks.iterdir() if int(t.name) != threading.get_native_id()])


def _track_one(state: AppState, row: Any, done: int, total: int, progress_step: float = 1.0) -> Any:
    """Load and track one pair (runs in a worker thread, on `tracking_threads` Numba threads, at low priority;
    the thread keeps that priority for the other background work it is given later)."""
    lower_priority()
    numba.set_num_threads(min(tracking_threads(), numba.config.NUMBA_NUM_THREADS))  # this thread only
    PAGE_LOADS.wait()  # a page being opened goes first (here, and between blocks of chips)
    pair = state.load_pair(row)
    PAGE_LOADS.wait()
    last = [0.0]

    def on_progress(chips_done: int, chips_total: int) -> None:
        PAGE_LOADS.wait()
        percent = 100.0 * chips_done / max(1, chips_total)
        if percent - last[0] >= progress_step or chips_done >= chips_total:
            last[0] = percent
            state.param.update(
                pair_progress=percent, overall_progress=100.0 * (done + percent / 100.0) / total
            )

    # error estimates from stable ground (the slowest quarter) and the GLAFT metrics
    return track_and_assess(pair, state.params, progress=on_progress, cancel=state.cancel_event)


def scheduler_address() -> str | None:
    """The Dask scheduler the dashboard sends its runs to (``ICETRACK_SCHEDULER``), or None: this process."""
    return os.environ.get("ICETRACK_SCHEDULER") or None


async def _track_on_cluster(state: AppState, row: Any, address: str) -> Any:
    """Load the pair here (cached crops), track it on the cluster; cancel and retry as the local run does."""
    pair = await asyncio.to_thread(state.load_pair, row)
    try:
        client = await asyncio.to_thread(dask_client, address)
    except OSError as err:
        raise TrackingError(
            f"cannot reach the Dask scheduler {address} ({err}): start it, or unset "
            "ICETRACK_SCHEDULER to track in the dashboard's own process."
        ) from None
    params = TrackingParameters.from_overrides(None, **state.params.to_dict())  # a copy without the watchers
    # two tasks (the scheduler can cancel between them), not track_and_assess; library functions: no Panel there
    tracked = client.submit(track, pair, params, pure=False, retries=2)
    future = client.submit(assess, tracked, pure=False, retries=2)
    while not future.done():
        if state.cancel_event.is_set():
            client.cancel([tracked, future])
            raise CancelledError("cancelled")
        await asyncio.sleep(0.2)
    return await asyncio.to_thread(future.result)


async def run_pairs(state: AppState, notify: Notify | None = None) -> int:
    """Track the pairs of ``state.pairs_to_run()``, reusing stored results; returns how many results arrived.

    Parameters
    ----------
    state : AppState
        The session; its ``cancel_event`` stops the job between and within pairs.
    notify : callable, optional
        ``notify(level, message)`` with level "info", "success", "warning" or "error" (the dashboard passes
        Panel's notifications); errors are also written to the log.
    """
    notify = notify or (lambda level, message: None)
    rows = [row for _, row in state.pairs_to_run().iterrows()]
    if not rows:
        message = state.next_step() or "No pair to track: search scenes, then pick a pair in the Pairs table."
        state.status = message
        notify("warning", message)
        return 0
    if state.running:
        notify("warning", "A run is already going: wait for it or press Cancel.")
        return 0
    state.cancel_event.clear()
    state.param.update(running=True, pair_progress=0.0, overall_progress=0.0)
    arrived = 0
    started = time.perf_counter()
    try:
        for i, row in enumerate(rows):
            label = pair_label(row)
            key = state.result_key(row)
            field = state.store.get(key)
            if field is not None:
                state.add_log(f"{label}: taken from the result store (same scenes, area and parameters).")
            else:
                state.status = f"Tracking {label} ({i + 1} of {len(rows)})"
                t0 = time.perf_counter()
                address = scheduler_address()
                if address:
                    field = await _track_on_cluster(state, row, address)
                else:
                    field = await asyncio.to_thread(_track_one, state, row, i, len(rows))
                state.store.put(key, field)
                valid = float(field["valid"].mean()) * 100.0
                state.add_log(
                    f"{label}: tracked {field.sizes['y']} x {field.sizes['x']} vectors in "
                    f"{time.perf_counter() - t0:.1f} s, {valid:.0f}% valid."
                )
            await PAGE_LOADS.wait_async()  # drawing the result holds the event loop: pages being opened first
            state.add_result(key, field.copy(), row)
            arrived += 1
            state.param.update(pair_progress=100.0, overall_progress=100.0 * (i + 1) / len(rows))
    except CancelledError:
        state.status = f"Cancelled after {arrived} of {len(rows)} pairs."
        state.add_log(state.status)
        notify("warning", state.status)
    except TrackingError as err:
        state.status = f"Stopped: {err}"
        state.add_log(state.status)
        notify("error", str(err))
    except Exception as err:  # noqa: BLE001 - an unexpected failure must not take the session down
        state.status = f"Stopped by an unexpected error: {type(err).__name__}: {err}"
        state.add_log(state.status)
        notify(
            "error",
            f"Unexpected error ({type(err).__name__}: {err}). The app keeps working; "
            "try other parameters or report this message.",
        )
    else:
        state.status = (
            f"Done: {arrived} pair{'s' if arrived != 1 else ''} in {time.perf_counter() - started:.1f} s."
        )
        state.add_log(state.status)
        notify("success", state.status)
    finally:
        state.running = False
        state.refresh_tracked()
    return arrived
