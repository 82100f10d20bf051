"""Dashboard responsiveness, measured in headless Chromium against a real ``panel serve`` (as in the Procfile).

Figures printed:

1. time to interactive: request -> the Search button is enabled, once the server is warm (median of 5 loads);
2. Run click -> "Done" status, and -> the speed map drawn, for a demo pair (30 km area, default parameters);
3. while session A tracks a large pair (100 km area, step 4), session B's widget round trip: a keypress on a
   slider -> the live estimate text updated by the server (median and max of 10).

Run: ``python benchmarks/bench_dashboard.py`` (needs Chromium: CHROMIUM_PATH or /usr/lib/chromium/chromium).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/lib/chromium/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int) -> subprocess.Popen:
    panel = Path(sys.executable).with_name("panel")
    cmd = [
        str(panel),
        "serve",
        "dashboard/app.py",
        "--port",
        str(port),
        "--liveness",
        "--setup",
        "dashboard/warmup.py",
        "--index",
        "app",
    ]
    if os.environ.get("BENCH_THREADS"):  # the Procfile runs callbacks on the event loop (tracking in threads)
        cmd += ["--num-threads", os.environ["BENCH_THREADS"]]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_server(page, url: str) -> None:
    for _ in range(240):
        try:
            page.goto(url + "liveness")
            return
        except PlaywrightError:  # not listening yet
            time.sleep(0.5)
    raise RuntimeError("server did not start")


def open_app(page, url: str) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    page.get_by_role("button", name="Search scenes").wait_for(state="visible", timeout=60_000)
    page.get_by_role("slider", name="Step (px)").wait_for(state="visible", timeout=60_000)
    return time.perf_counter() - t0


def round_trips(page, slider, text, n: int) -> list[float]:
    """Seconds from a widget event to the server's new ``text``, ``n`` times.

    ``slider`` is a slider (moved with the arrow keys) or a pair of toggle buttons (clicked in turn).
    """
    trips = []
    for i in range(n):
        before = text.inner_text()
        t0 = time.perf_counter()
        if isinstance(slider, tuple):
            slider[i % 2].click()
        else:
            slider.focus()
            slider.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        while text.inner_text() == before and time.perf_counter() - t0 < 30:
            page.wait_for_timeout(5)
        trips.append(time.perf_counter() - t0)
    return trips


def main() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = serve(port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            wait_server(page, url)
            open_app(page, url)  # warm: first session builds the caches
            loads = [open_app(page, url) for _ in range(5)]
            print(
                f"time to interactive (warm server): median {statistics.median(loads):.2f} s, "
                f"max {max(loads):.2f} s over {len(loads)} loads"
            )

            page.get_by_role("button", name="Search scenes").click()
            page.locator(".tabulator-row").nth(2).wait_for(timeout=30_000)
            page.get_by_role("tab", name="Speed map").click()
            page.get_by_text("Pairs shown").wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            t0 = time.perf_counter()
            page.get_by_role("button", name="Run", exact=True).click()
            page.get_by_text("Done: 1 pair").first.wait_for(timeout=120_000)
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            shown = time.perf_counter() - t0
            print(
                f"demo pair (30 km, default parameters, Speed map tab open), Run click -> map drawn: {shown:.2f} s"
            )

            # two sessions: A tracks a large pair, B moves a slider
            busy = browser.new_page(viewport={"width": 1500, "height": 1000})
            open_app(busy, url + "?aoi=100&p.step=4")
            busy.get_by_role("button", name="Search scenes").click()
            busy.locator(".tabulator-row").nth(2).wait_for(timeout=30_000)
            other = browser.new_page(viewport={"width": 1500, "height": 1000})
            open_app(other, url)
            slider = other.get_by_role("slider", name="Step (px)")
            estimate = other.get_by_text("chips per pair").first
            idle = round_trips(other, slider, estimate, 6)
            toggle = (other.get_by_role("button", name="pan"), other.get_by_role("button", name="red"))
            idle_click = round_trips(other, toggle, estimate, 6)
            busy.get_by_role("button", name="Run", exact=True).click()
            busy.get_by_text("Tracking").first.wait_for(timeout=60_000)
            trips = round_trips(other, slider, estimate, 10)
            clicks = round_trips(other, toggle, estimate, 10)
            still_running = busy.get_by_text("Tracking").count() > 0
            print(
                f"widget round trip in session B, idle server: median {statistics.median(idle) * 1000:.0f} ms, "
                f"max {max(idle) * 1000:.0f} ms"
            )
            print(
                f"widget round trip in session B while A tracks (A still running: {still_running}): "
                f"median {statistics.median(trips) * 1000:.0f} ms, max {max(trips) * 1000:.0f} ms"
            )
            print(
                f"button round trip in session B, idle server: median {statistics.median(idle_click) * 1000:.0f} ms; "
                f"while A tracks: median {statistics.median(clicks) * 1000:.0f} ms, "
                f"max {max(clicks) * 1000:.0f} ms"
            )
            if still_running:
                busy.get_by_role("button", name="Cancel").click()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
