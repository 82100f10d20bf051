"""The server as the Procfile starts it: a visitor reaches only their own session.

Starts the Procfile's ``web:`` line (with ``PORT``, ``WEBSOCKET_ORIGIN`` and ``BOKEH_SECRET_KEY``) on 127.0.0.1 and
checks what Panel's and Bokeh's deployment guidance asks for: the page and the health check answer; a session id
the server did not sign is refused (no way to join or create a session by naming it); a websocket from another
origin is refused; a message larger than the websocket limit closes only that connection.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from fake_remote import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server():
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "WEBSOCKET_ORIGIN": f"127.0.0.1:{port}",
        "BOKEH_SECRET_KEY": "a-test-secret-key-that-is-long-enough-0123456789",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = subprocess.run(
        ["bash", "-c", f"printf '%s\\n' {line[4:].strip()}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    command = ["127.0.0.1" if x == "0.0.0.0" else x for x in command if x]
    assert "--session-ids" in command, "the Procfile signs session ids when BOKEH_SECRET_KEY is set"
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/liveness", timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.5)
        if process.poll() is not None:
            pytest.fail(
                f"the server did not start: {shlex.join(command)}\n{process.stderr.read().decode()[-2000:]}"
            )
    else:
        process.kill()
        pytest.fail("the server did not answer /liveness within 120 s")
    yield url
    process.terminate()
    process.wait(timeout=30)


def test_the_page_and_the_health_check_answer(server):
    assert requests.get(f"{server}/liveness", timeout=10).json() == {"/liveness": True}
    page = requests.get(f"{server}/app", timeout=60)
    assert page.status_code == 200 and "icetrack" in page.text


def test_a_session_id_the_server_did_not_sign_is_refused(server):
    forged = requests.get(f"{server}/app", params={"bokeh-session-id": "someone-elses-session"}, timeout=30)
    assert forged.status_code == 403


def _websocket_status(url: str, origin: str) -> int | str:
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    async def connect() -> int | str:
        request = HTTPRequest(url.replace("http", "ws", 1) + "/app/ws", headers={"Origin": origin})
        try:
            connection = await websocket_connect(request)
        except HTTPClientError as err:
            return err.code
        connection.close()
        return "open"

    return asyncio.run(connect())


def test_a_websocket_from_another_origin_is_refused(server):
    assert _websocket_status(server, "http://evil.example.org") == 403
