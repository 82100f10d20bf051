"""HTTP failures as icetrack errors: statuses (`raise_for_status`), request exceptions and their reasons."""

from __future__ import annotations

import re
from typing import Any

import requests
import urllib3

from tracking.exceptions import AuthenticationError, MissingAssetError, NoNetworkError, RemoteError
from tracking.sources.http.urls import credential_hint, redact, redact_text, url_host

__all__ = [
    "EXCERPT_CHARS",
    "OFFLINE_HINT",
    "body_excerpt",
    "caused_by",
    "error_reason",
    "raise_for_status",
    "request_error",
    "timeout_pair",
]

OFFLINE_HINT = "check the network connection, or use the demo source"
EXCERPT_CHARS = 200


# --- errors ---------------------------------------------------------------------------------------------------------


def raise_for_status(response: requests.Response, what: str) -> None:
    """Raise the icetrack error matching an HTTP error status; do nothing for a success.

    Parameters
    ----------
    response : requests.Response
        The answer (with its final status, after any retries).
    what : str
        What was being fetched, for the message: ``"the STAC search"``, ``"granule X"``.

    Raises
    ------
    AuthenticationError
        On 401 or 403: the message names the host and the credentials it needs.
    MissingAssetError
        On 404 (and 410).
    RemoteError
        On any other status >= 400, with the status and an excerpt of the body.
    """
    status = response.status_code
    if status < 400:
        return
    url = redact(response.url or "")
    host = url_host(response.url or "")
    if status in (401, 403):
        refused = "refused the credentials sent" if status == 403 else "asks for credentials"
        raise AuthenticationError(
            f"{what}: {host} {refused} (HTTP {status}) for {url}: it needs {credential_hint(response.url or '')}; "
            "check that they are set and still valid."
        )
    if status in (404, 410):
        raise MissingAssetError(
            f"{what}: {url} is not there (HTTP {status} from {host}): the file may have moved or been removed; "
            "search again, or pick another scene."
        )
    excerpt = body_excerpt(response)
    kind = (
        "is failing"
        if status >= 500
        else "is limiting the request rate"
        if status == 429
        else ("rejected the request")
    )
    advice = "try again later" if status >= 500 or status == 429 else "check the request parameters"
    raise RemoteError(
        f"{what}: {host} {kind} (HTTP {status} {response.reason or ''}".rstrip()
        + f") for {url}{': ' + excerpt if excerpt else ''}; {advice}."
    )


def body_excerpt(response: requests.Response) -> str:
    """The first characters of a response body, on one line (empty if it cannot be read)."""
    try:
        head = next(response.iter_content(1024), b"")
    except (requests.RequestException, StopIteration, RuntimeError, ValueError):
        return ""
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else str(head)
    text = redact_text(" ".join(text.split()))
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def request_error(err: requests.RequestException, url: str, what: str, timeout: Any) -> RemoteError:
    """The icetrack error for a `requests` exception raised while talking to ``url``."""
    connect, read = timeout_pair(timeout)
    host = url_host(url)
    if isinstance(err, requests.exceptions.SSLError):
        return RemoteError(
            f"{what}: the secure connection to {host} failed ({error_reason(err)}): check the system's certificates "
            "or a proxy that intercepts HTTPS."
        )
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return NoNetworkError(
            f"{what}: no network: could not reach {host} within {connect:g} s; {OFFLINE_HINT}."
        )
    if isinstance(err, requests.exceptions.ReadTimeout) or caused_by(
        err, urllib3.exceptions.ReadTimeoutError
    ):
        return NoNetworkError(
            f"{what}: no network: {host} did not answer within {read:g} s; {OFFLINE_HINT}, or try again later."
        )
    if isinstance(err, requests.exceptions.RetryError):
        return RemoteError(
            f"{what}: {host} kept failing ({error_reason(err)}) for {redact(url)}; try again later."
        )
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return NoNetworkError(
            f"{what}: the connection to {host} broke during the transfer ({error_reason(err)}); {OFFLINE_HINT}."
        )
    if isinstance(err, requests.exceptions.ConnectionError):
        return NoNetworkError(
            f"{what}: no network: could not reach {host} within {connect:g} s ({error_reason(err)}); {OFFLINE_HINT}."
        )
    return RemoteError(f"{what}: the request to {redact(url)} failed ({error_reason(err)}); check the URL.")


def caused_by(err: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``err`` or any exception it wraps (``reason``, ``args[0]``, cause, context) is a ``kind``."""
    seen: set[int] = set()
    todo: list[BaseException] = [err]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return True
        inner = [getattr(current, "reason", None), current.__cause__, current.__context__]
        inner += list(current.args[:1])
        todo += [e for e in inner if isinstance(e, BaseException)]
    return False


def timeout_pair(timeout: Any) -> tuple[float, float]:
    """(connect, read) seconds of a requests ``timeout`` argument."""
    if isinstance(timeout, tuple):
        return float(timeout[0] or 0), float(timeout[1] or 0)
    if timeout is None:
        return 0.0, 0.0
    return float(timeout), float(timeout)


def error_reason(err: BaseException) -> str:
    """A short, redacted description of the root cause of ``err``."""
    cause: BaseException = err
    while True:
        inner = getattr(cause, "reason", None)
        if isinstance(inner, BaseException) and inner is not cause:
            cause = inner
            continue
        if cause.args and isinstance(cause.args[0], BaseException) and cause.args[0] is not cause:
            cause = cause.args[0]
            continue
        break
    text = str(cause)
    # urllib3 says "<urllib3.connection.HTTPConnection object at 0x...>: Failed to ..." or
    # "HTTPConnectionPool(host='h', port=80): Read timed out. (read timeout=1)": keep the words
    text = re.sub(r"<[^>]*object at 0x[0-9a-f]+>:?\s*", "", text)
    text = re.sub(r"HTTPS?Connection(?:Pool)?\([^)]*\):?\s*", "", text)
    text = re.sub(r"\((?:Caused by|read timeout|connect timeout)[^)]*\)?", "", text).strip(" .")
    text = redact_text(" ".join(text.split()))
    return text[:EXCERPT_CHARS] or type(cause).__name__
