"""GET requests with icetrack's errors (`get`, `get_json`) and a quick reachability check (`check_network`)."""

from __future__ import annotations

import threading
from typing import Any

import requests

from tracking.exceptions import NoNetworkError, RemoteError
from tracking.sources.http.errors import (
    OFFLINE_HINT,
    body_excerpt,
    error_reason,
    raise_for_status,
    request_error,
)
from tracking.sources.http.session import DEFAULT_TIMEOUT, USER_AGENT, shared_session
from tracking.sources.http.urls import redact, url_host

__all__ = ["check_network", "get", "get_json", "send_request"]

# --- requests -------------------------------------------------------------------------------------------------------


def get(
    url: str,
    *,
    what: str,
    session: requests.Session | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    stream: bool = False,
) -> requests.Response:
    """GET ``url`` with retries, and raise an icetrack error for any failure.

    Parameters
    ----------
    url : str
        The URL.
    what : str
        What is being fetched, for messages.
    session : requests.Session, optional
        Defaults to `shared_session`.
    timeout : float or (float, float)
        (connect, read) seconds for each try.
    headers, params : dict, optional
        Extra headers and query parameters.
    stream : bool
        Do not read the body yet (read it with ``response.iter_content``; close the response when done).

    Returns
    -------
    requests.Response
        A successful (status < 400) response.

    Raises
    ------
    NoNetworkError
        When the host cannot be reached or does not answer in time, even after retries.
    AuthenticationError, MissingAssetError, RemoteError
        For an error status (see `raise_for_status`).
    """
    return send_request(
        "GET", url, what=what, session=session, timeout=timeout, headers=headers, params=params, stream=stream
    )


def get_json(
    url: str,
    *,
    what: str,
    method: str = "GET",
    body: Any = None,
    session: requests.Session | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Any:
    """Send a GET (or a POST of ``body`` as JSON) and return the decoded JSON answer.

    Parameters
    ----------
    url : str
        The URL.
    what : str
        What is being fetched, for messages.
    method : {"GET", "POST"}
        The HTTP method.
    body : JSON-able, optional
        The JSON body of a POST.
    session : requests.Session, optional
        Defaults to `shared_session`.
    timeout : float or (float, float)
        (connect, read) seconds for each try.
    headers : dict, optional
        Extra headers.

    Returns
    -------
    Any
        The decoded JSON.

    Raises
    ------
    NoNetworkError, AuthenticationError, MissingAssetError, RemoteError
        As `get`; `RemoteError` also when the answer is not JSON.
    """
    response = send_request(
        method.upper(), url, what=what, session=session, timeout=timeout, headers=headers, json=body
    )
    try:
        return response.json()
    except ValueError:
        excerpt = body_excerpt(response)
        raise RemoteError(
            f"{what}: {url_host(url)} answered something that is not JSON ({excerpt or 'an empty body'}) for "
            f"{redact(url)}; check the URL, or try again later."
        ) from None


def send_request(
    method: str,
    url: str,
    *,
    what: str,
    session: requests.Session | None,
    timeout: float | tuple[float, float],
    headers: dict[str, str] | None = None,
    check: bool = True,
    **kwargs: Any,
) -> requests.Response:
    """Send one request (with the session's retries) and map every failure to an icetrack error.

    With ``check=False`` an error status is returned, not raised (the caller then uses `raise_for_status`).
    """
    sess = session if session is not None else shared_session()
    try:
        response = sess.request(method, url, headers=headers, timeout=timeout, **kwargs)
    except requests.RequestException as err:
        raise request_error(err, url, what, timeout) from None
    if not check:
        return response
    try:
        raise_for_status(response, what)
    except RemoteError:
        response.close()
        raise
    return response


def check_network(url: str, *, timeout: float = 3.0) -> None:
    """Raise `NoNetworkError` unless ``url``'s host answers within about ``timeout`` seconds.

    One HEAD request, no retries, no redirects. Any HTTP answer, even 404 or 401, counts as reachable. The
    check runs in a daemon thread, so a slow DNS lookup cannot hold it past the time limit either.

    Parameters
    ----------
    url : str
        A URL on the host to check (its path does not need to exist).
    timeout : float
        Seconds.

    Raises
    ------
    NoNetworkError
        On connection refused, DNS failure, or no answer in time.
    """
    outcome: list[BaseException | None] = []

    def probe() -> None:
        try:
            with requests.Session() as sess:  # the default adapter does not retry
                sess.head(
                    url, timeout=(timeout, timeout), allow_redirects=False, headers={"User-Agent": USER_AGENT}
                ).close()
            outcome.append(None)
        except requests.RequestException as err:
            outcome.append(err)

    thread = threading.Thread(target=probe, name="icetrack-check-network", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    host = url_host(url)
    if not outcome:
        raise NoNetworkError(f"no network: could not reach {host} within {timeout:g} s; {OFFLINE_HINT}.")
    err = outcome[0]
    if err is None:
        return
    if isinstance(err, requests.exceptions.SSLError):
        return  # something answered: the network is there
    if isinstance(err, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        raise NoNetworkError(
            f"no network: could not reach {host} within {timeout:g} s ({error_reason(err)}); {OFFLINE_HINT}."
        )
    raise RemoteError(f"cannot check {redact(url)} ({error_reason(err)}): check the URL.")
