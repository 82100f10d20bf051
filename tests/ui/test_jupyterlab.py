"""The dashboard inline in JupyterLab: a real ``jupyter lab`` (token, 127.0.0.1), a notebook that shows
``IceTrack(...)``, run in Chromium; the speed map appears, and a parameter set in a later cell moves the slider.

Skips without jupyterlab/ipykernel (``pip install -e '.[notebook]'``) or Chromium. About 40-60 s.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from fake_remote import free_port

pytest.importorskip("jupyterlab")
pytest.importorskip("ipykernel")
nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "out" / "screenshots"

CELLS = [
    (
        'from dashboard import IceTrack\n\napp = IceTrack(start="2021-04-01", end="2021-05-10", aoi_km=10)\n'
        "app.search()\napp.run()\napp"
    ),
    "app.params.chip_size = 64",
]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a folder holding ``demo.ipynb``; yields its URL (with the token)."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in CELLS],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
        },
    )
    nbformat.write(notebook, tmp_path / "demo.ipynb")
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp_path}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("jupyter lab did not start") from None
                time.sleep(0.5)
        yield f"{base}/lab/tree/demo.ipynb?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp_path / "workspaces", ignore_errors=True)


def _accept_dialogs(page) -> None:
    """Accept the dialogs JupyterLab may open at start (e.g. a kernel choice on a slow machine): the default."""
    dialog = page.locator(".jp-Dialog")
    while dialog.count() > 0 and dialog.first.is_visible():
        print("JupyterLab dialog:", dialog.first.inner_text().replace("\n", " | ")[:300])
        try:
            dialog.first.locator(".jp-mod-accept").first.click(timeout=5000)
        except Exception:  # noqa: BLE001 - a dialog without a default button
            page.keyboard.press("Escape")
        page.wait_for_timeout(500)


def _run_cell(page, index: int) -> None:
    """Select cell ``index`` and run it (Shift+Enter), retrying until the kernel takes it."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    for _ in range(10):
        _accept_dialogs(page)
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Escape")
        page.keyboard.press("Shift+Enter")
        try:
            cell.locator(".jp-InputPrompt").filter(has_text="[*]").wait_for(timeout=3000)
            return
        except Exception:  # noqa: BLE001 - the kernel was not ready yet: try again
            page.wait_for_timeout(500)
    raise AssertionError(f"cell {index} never started")


@pytest.mark.slow
def test_the_dashboard_runs_inline_in_jupyterlab_and_follows_python(page, lab):
    started = time.monotonic()
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.goto(lab)
    page.wait_for_selector(
        ".jp-Notebook-ExecutionIndicator[data-status=idle]", state="attached", timeout=90_000
    )
    _run_cell(page, 0)
    output = page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-OutputArea")
    output.get_by_text("Search scenes").wait_for(timeout=150_000)  # the whole page, inline
    output.get_by_role("tab", name="Speed map").click()
    output.get_by_text("How far to trust this map").first.wait_for(timeout=30_000)  # under the speed map
    output.locator("canvas").first.wait_for(timeout=30_000)
    # Python -> page: setting a parameter in the next cell moves the slider
    _run_cell(page, 1)
    output.get_by_text("Chip size (px): 64").wait_for(timeout=30_000)
    page.keyboard.press("Escape")
    page.keyboard.press("Control+b")  # hide the file browser: room for the dashboard
    output.get_by_role("tab", name="Speed map").scroll_into_view_if_needed()
    page.mouse.wheel(0, -170)
    page.wait_for_timeout(2500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "jupyterlab.png"))
    assert time.monotonic() - started < 240
