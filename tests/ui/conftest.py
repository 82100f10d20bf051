"""Browser tests: the dashboard served in-process, driven by Playwright through Debian's Chromium.

They run wherever a Chromium binary is found (``CHROMIUM_PATH``, ``/usr/lib/chromium/chromium`` or
``/usr/bin/chromium``; ``.ci/run`` installs the Debian package) and skip cleanly elsewhere. Screenshots of the
main states go to ``out/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("playwright")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the local-server helpers

CANDIDATES = [
    os.environ.get("CHROMIUM_PATH", ""),
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    shutil.which("chromium") or "",
]
CHROMIUM = next((c for c in CANDIDATES if c and Path(c).exists()), None)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/ui/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.ui)
            if CHROMIUM is None:
                item.add_marker(
                    pytest.mark.skip(reason="no Chromium: apt-get install chromium, or set CHROMIUM_PATH")
                )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    args = {**browser_type_launch_args, "args": ["--no-sandbox", "--disable-gpu"]}
    if CHROMIUM:
        args["executable_path"] = CHROMIUM
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1500, "height": 1000}, "accept_downloads": True}


@pytest.fixture
def screenshot(page):
    """``screenshot(name)`` saves the page as out/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take


@pytest.fixture
def served(page):
    """Serve a fresh app, open it in the page; yields (page, state, console errors)."""
    import panel as pn

    from dashboard.page import create_app
    from dashboard.state import AppState
    from tracking.store import ResultStore

    states: list[AppState] = []

    def factory():
        state = AppState(store=ResultStore())
        states.append(state)
        return create_app(state)

    from fake_remote import free_port  # tests/ is on sys.path from here on

    port = free_port()
    server = pn.serve(factory, port=port, threaded=True, show=False, start=True, liveness=True)
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    # tiles come from the internet; the tests run offline
    page.route("**/*tile*/**", lambda route: route.abort())
    deadline = time.monotonic() + 30
    while True:
        try:
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    page.wait_for_selector("text=Search scenes", timeout=60_000)
    page.wait_for_timeout(500)
    try:
        yield page, states[-1], errors
    finally:
        server.stop()
        pn.state.kill_all_servers() if hasattr(pn.state, "kill_all_servers") else None


@pytest.fixture
def wait_for():
    """``wait_for(predicate, page, timeout)`` polls until the predicate holds, letting the page run."""
    return _wait_for


def _wait_for(predicate, page, timeout: float = 30.0, interval_ms: int = 200) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        page.wait_for_timeout(interval_ms)


@pytest.fixture
def open_step():
    """``open_step(page, title)`` opens a closed sidebar step (its content arrives when first opened)."""

    def open_it(page, title: str) -> None:
        header = page.locator(".MuiCardHeader-root", has_text=title)
        button = header.get_by_role("button", name="show more")
        if button.get_attribute("aria-expanded") != "true":
            button.click()

    return open_it
