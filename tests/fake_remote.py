"""A real HTTP server on 127.0.0.1 standing in for STAC APIs, cloud storage and the ITS_LIVE bucket in tests.

It serves files from a directory (with HTTP range requests, as cloud storage does), JSON routes registered by the
test (recorded STAC responses, with the real hosts rewritten to this server), and injects faults on demand:
status codes (500, 401, 404), delays (for timeouts) and transfers broken after some bytes. Every request is logged,
so tests can assert what went over the wire (a cache hit sends nothing; a resume sends a ``Range`` header).

Usage::

    with FakeRemote(tmp_path) as remote:
        remote.route("GET", "/stac/", {"type": "Catalog", ...})
        remote.fail("/files/a.tif", status=500, times=1)
        url = remote.url + "/files/a.tif"
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

__all__ = ["FakeRemote", "Request"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server to start on, or to find closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str  # path with the query string
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def range(self) -> str | None:
        return self.headers.get("range")


@dataclass
class _Fault:
    prefix: str
    times: int
    status: int | None = None
    delay_s: float = 0.0
    break_after: int | None = None
    body: bytes = b""


@dataclass
class FakeRemote:
    """A threaded HTTP server on 127.0.0.1; a context manager.

    Parameters
    ----------
    root : Path
        Files under it are served at ``/files/<relative path>`` (GET and HEAD, ``Range`` supported).
    """

    root: Path
    log: list[Request] = field(default_factory=list)
    _routes: dict[tuple[str, str], Callable[[Request], tuple[int, dict[str, str], bytes]]] = field(
        default_factory=dict
    )
    _faults: list[_Fault] = field(default_factory=list)
    _auth: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- life cycle ------------------------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        remote = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                remote._serve(self, "GET")

            def do_HEAD(self) -> None:
                remote._serve(self, "HEAD")

            def do_POST(self) -> None:
                remote._serve(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- configuration ---------------------------------------------------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        response: Any,
        *,
        status: int = 200,
        content_type: str = "application/json",
    ) -> None:
        """Answer ``method path`` (path without query string) with ``response``.

        ``response`` is a JSON-able object, ``bytes``, or a callable ``(Request) -> (status, headers, body)``.
        JSON and bytes have every ``{{remote}}`` replaced by `url`.
        """
        if callable(response):
            handler = response
        else:
            payload = response if isinstance(response, bytes) else json.dumps(response).encode()

            def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
                return (
                    status,
                    {"Content-Type": content_type},
                    payload.replace(b"{{remote}}", self.url.encode()),
                )

        self._routes[(method.upper(), path)] = handler

    def fail(self, prefix: str, *, status: int = 500, times: int = 1, body: bytes = b"") -> None:
        """The next ``times`` requests whose path starts with ``prefix`` get ``status`` (and ``body``)."""
        with self._lock:
            self._faults.append(_Fault(prefix, times, status=status, body=body))

    def delay(self, prefix: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` requests under ``prefix`` wait ``seconds`` before answering (a hung server)."""
        with self._lock:
            self._faults.append(_Fault(prefix, times, delay_s=seconds))

    def break_after(self, prefix: str, nbytes: int, *, times: int = 1) -> None:
        """The next ``times`` transfers under ``prefix`` send the headers, ``nbytes`` of the body, then hang up."""
        with self._lock:
            self._faults.append(_Fault(prefix, times, break_after=nbytes))

    def require_auth(self, prefix: str, token: str) -> None:
        """Requests under ``prefix`` get 401 unless they send ``Authorization: Bearer <token>``."""
        self._auth[prefix] = token

    def reset(self, *, routes: bool = False, log: bool = True) -> None:
        """Forget the faults and the auth (and the routes and the log, when asked): a clean server for a test."""
        with self._lock:
            self._faults.clear()
            self._auth.clear()
            if routes:
                self._routes.clear()
            if log:
                self.log.clear()

    def requests(self, prefix: str = "/", method: str | None = None) -> list[Request]:
        """Logged requests whose path starts with ``prefix`` (and of ``method``)."""
        with self._lock:
            return [
                r for r in self.log if r.path.startswith(prefix) and (method is None or r.method == method)
            ]

    # -- serving ---------------------------------------------------------------------------------------------------

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and path.startswith(fault.prefix):
                    fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Request(method, handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)
        with self._lock:
            self.log.append(request)
        path = urlsplit(handler.path).path

        fault = self._take_fault(path)
        if fault is not None and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault is not None and fault.status is not None:
            return self._send(handler, request, fault.status, {"Content-Type": "text/plain"}, fault.body)
        for prefix, token in self._auth.items():
            if path.startswith(prefix) and request.headers.get("authorization") != f"Bearer {token}":
                return self._send(handler, request, 401, {"Content-Type": "text/plain"}, b"unauthorized")

        route = self._routes.get((method if method != "HEAD" else "GET", path))
        if route is not None:
            status, headers, payload = route(request)
            return self._send(handler, request, status, headers, payload, head=method == "HEAD")
        if path.startswith("/files/"):
            return self._send_file(handler, request, path[len("/files/") :], fault, head=method == "HEAD")
        return self._send(handler, request, 404, {"Content-Type": "text/plain"}, b"not found")

    def _send_file(
        self,
        handler: BaseHTTPRequestHandler,
        request: Request,
        relative: str,
        fault: _Fault | None,
        *,
        head: bool,
    ) -> None:
        target = (self.root / relative).resolve()
        if not target.is_file() or self.root.resolve() not in target.parents:
            return self._send(handler, request, 404, {"Content-Type": "text/plain"}, b"no such file")
        data = target.read_bytes()
        size = len(data)
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
            "ETag": f'"{size:x}"',
        }
        status = 200
        match = _RANGE.match(request.range or "")
        if match:
            first, last = match.groups()
            if first == "":  # suffix range: the last N bytes
                start, end = max(size - int(last), 0), size - 1
            else:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            if start >= size:
                return self._send(handler, request, 416, {"Content-Range": f"bytes */{size}"}, b"")
            data = data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            status = 206
        cut = fault.break_after if fault is not None else None
        self._send(handler, request, status, headers, data, head=head, cut=cut)

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        request: Request,
        status: int,
        headers: dict[str, str],
        body: bytes,
        *,
        head: bool = False,
        cut: int | None = None,
    ) -> None:
        request.status = status
        try:
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(body)))
            if cut is not None:
                handler.send_header("Connection", "close")
            handler.end_headers()
            if head:
                return
            handler.wfile.write(body if cut is None else body[:cut])
            handler.wfile.flush()
            if cut is not None:
                handler.close_connection = True
                handler.connection.shutdown(2)
        except (BrokenPipeError, ConnectionResetError, OSError):
            handler.close_connection = True


def rewrite_hosts(payload: bytes | str, hosts: dict[str, str]) -> bytes:
    """Replace each real base URL in ``hosts`` by its local stand-in (recorded links point at real hosts)."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    for real, local in hosts.items():
        text = text.replace(real, local)
    return text.encode()
