"""`requests` sessions with retries and backoff, the User-Agent, and the process's shared session."""

from __future__ import annotations

import threading

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tracking.schema import software_version

__all__ = ["DEFAULT_TIMEOUT", "RETRY_STATUSES", "USER_AGENT", "session", "shared_session"]

#: (connect, read) time limits of one HTTP request, seconds.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
#: HTTP statuses retried with backoff (by urllib3 for requests, by GDAL for rasterio reads).
RETRY_STATUSES = (429, 500, 502, 503, 504)

#: The User-Agent of every request icetrack makes.
USER_AGENT = f"icetrack/{software_version()}"


def session(
    *, retries: int = 3, backoff: float = 0.5, headers: dict[str, str] | None = None
) -> requests.Session:
    """A `requests.Session` that retries transient failures with exponential backoff.

    Connection errors, read timeouts and HTTP 429/500/502/503/504 answers are retried up to ``retries`` times
    (GET, HEAD and POST), waiting ``backoff * 2**(n - 1)`` s before the n-th retry after the first (and what a
    ``Retry-After`` header asks). After the last retry an error status is returned, not raised: pass the
    response to `raise_for_status`.

    Parameters
    ----------
    retries : int
        Retries after the first try; 0 disables them.
    backoff : float
        Backoff factor, seconds.
    headers : dict of str to str, optional
        Headers sent with every request, on top of the icetrack User-Agent.

    Returns
    -------
    requests.Session
        A new session (cheap: make one per source, or use `shared_session`).
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    adapter = HTTPAdapter(max_retries=retry)
    sess = requests.Session()
    sess.mount("http://", adapter)
    sess.mount("https://", adapter)
    sess.headers["User-Agent"] = USER_AGENT
    if headers:
        sess.headers.update(headers)
    return sess


_shared: requests.Session | None = None
_shared_lock = threading.Lock()


def shared_session() -> requests.Session:
    """The process-wide default `session` (created on first use, with the default retries)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = session()
    return _shared
