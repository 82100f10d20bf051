"""Ten users at once: the dashboard served exactly as the ``Procfile`` does, measured in headless Chromium.

Opens ``--sessions`` sessions (default 10): ``--sessions - 2`` bokeh.client websocket sessions (each builds a whole
app on the server and stays open) and two Chromium pages, A and B. Session A tracks a 100 km area at step 4
(``?aoi=100&p.step=4``, every pair in the dt range, one after the other); session B measures widget round trips (a keypress on the Step slider -> the live estimate
text redrawn by the server), first with A idle, then while A tracks. Then it times new pages becoming interactive
(request -> Search button and Step slider visible; then -> the map and the scene table drawn, which follow the
sidebar) while A still tracks and the other sessions stay open.

Figures printed: per-session build time on the server (bokeh.client pull, median/max), widget round trip median
and p95 (idle; while tracking), time to interactive and to the main area drawn; the server's resident memory.

Run: ``python benchmarks/bench_load.py [--sessions 10] [--trips 30] [--pages 5]`` (needs Chromium:
CHROMIUM_PATH or /usr/lib/chromium/chromium). Figures go in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from bench_dashboard import free_port, open_app, round_trips, wait_server
from bokeh.client import pull_session
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium")


def serve_as_procfile(port: int) -> subprocess.Popen:
    """Start the ``web:`` line of the Procfile with ``PORT`` set, bound to 127.0.0.1."""
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # this venv's panel
    env = {**os.environ, "PATH": path, "PORT": str(port), "WEBSOCKET_ORIGIN": f"127.0.0.1:{port}"}
    command = subprocess.run(
        ["bash", "-c", f"echo {line[4:].strip()}"], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    command = [x if x != "0.0.0.0" else "127.0.0.1" for x in command]
    print("server:", shlex.join(command))
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rss_mb(process: subprocess.Popen) -> float:
    proc = psutil.Process(process.pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def spread(values: list[float], unit: float = 1000.0, suffix: str = "ms") -> str:
    a = np.asarray(values) * unit
    digits = 0 if suffix == "ms" else 2
    return (
        f"median {np.median(a):.{digits}f} {suffix}, p95 {np.percentile(a, 95):.{digits}f} {suffix}, "
        f"max {a.max():.{digits}f} {suffix} (n={a.size})"
    )


def hold_sessions(
    url: str, n: int, builds: list[float], opened: threading.Event, done: threading.Event
) -> None:
    """Open ``n`` bokeh.client sessions (timing each) and keep them open until ``done`` (own thread and loop)."""
    import dashboard.app  # noqa: F401 - registers the page's Bokeh model types, so the client can decode them

    asyncio.set_event_loop(asyncio.new_event_loop())
    sessions = []
    for _ in range(n):
        t0 = time.perf_counter()
        sessions.append(pull_session(url=url))
        builds.append(time.perf_counter() - t0)
    opened.set()
    done.wait()
    for session in sessions:
        session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sessions", type=int, default=10, help="sessions open at once (2 are browser pages)"
    )
    parser.add_argument("--trips", type=int, default=30, help="widget round trips per measurement")
    parser.add_argument("--pages", type=int, default=5, help="new pages timed while A tracks")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = serve_as_procfile(port)
    done = threading.Event()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1500, "height": 1000})
            first = context.new_page()
            wait_server(first, url)
            t0 = time.perf_counter()
            first.goto(url)
            first.get_by_role("button", name="Search scenes").wait_for(state="visible", timeout=120_000)
            print(f"first page after start: {time.perf_counter() - t0:.2f} s to interactive")
            first.close()

            builds: list[float] = []
            opened = threading.Event()
            holder = threading.Thread(
                target=hold_sessions,
                args=(url + "app", max(args.sessions - 2, 0), builds, opened, done),
                daemon=True,
            )
            holder.start()
            opened.wait(timeout=600)
            if builds:
                print(
                    f"{len(builds)} websocket sessions opened (server build + document pulled): "
                    f"{spread(builds)}; server RSS {rss_mb(server):.0f} MB"
                )

            busy = context.new_page()
            open_app(busy, url + "?aoi=100&p.step=4")
            busy.get_by_role("button", name="Search scenes").click()
            busy.locator(".tabulator-row").nth(2).wait_for(timeout=60_000)
            other = context.new_page()
            open_app(other, url)
            slider = other.get_by_role("slider", name="Step (px)")
            estimate = other.get_by_text("chips per pair").first
            idle = round_trips(other, slider, estimate, args.trips)
            print(f"{args.sessions} sessions, nobody tracking: widget round trip {spread(idle)}")

            busy.get_by_role("button", name="Every pair in the dt range").click()  # keeps A busy for minutes
            busy.get_by_role("button", name="Run", exact=True).click()
            busy.get_by_text("Tracking").first.wait_for(timeout=60_000)
            loads, drawn = [], []
            for _ in range(args.pages):
                page = context.new_page()
                t0 = time.perf_counter()
                loads.append(open_app(page, url))
                page.locator("canvas >> visible=true").first.wait_for(timeout=60_000)  # the map
                page.locator(".tabulator >> visible=true").first.wait_for(timeout=60_000)  # the scene table
                drawn.append(time.perf_counter() - t0)
                page.close()
            running = busy.get_by_text("Tracking").count() > 0
            print(
                f"new page while A tracks (still running: {running}): time to interactive "
                f"{spread(loads, 1.0, 's')}; map and tables drawn {spread(drawn, 1.0, 's')}; "
                f"server RSS {rss_mb(server):.0f} MB"
            )
            trips = round_trips(other, slider, estimate, args.trips)
            running = busy.get_by_text("Tracking").count() > 0
            print(
                f"{args.sessions} sessions, A tracking 100 km at step 4 (still running: {running}): "
                f"widget round trip {spread(trips)}"
            )

            if running:
                busy.get_by_role("button", name="Cancel").click()
            browser.close()
    finally:
        done.set()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
