"""Shared HTTP plumbing for the remote sources: sessions with retries, error mapping and GDAL settings.

Every remote read goes through here, so every source fails the same way:

* a host that cannot be reached (connection refused, DNS failure, no answer in time) -> `NoNetworkError`;
* HTTP 401/403 -> `AuthenticationError`, naming the host and the credentials it needs;
* HTTP 404 -> `MissingAssetError`;
* any other error status (after retries, for 429 and 5xx) -> `RemoteError` naming the status.

Transient failures (connection errors, read timeouts, 429 and 5xx answers) are retried with exponential
backoff by urllib3's `~urllib3.util.Retry` mounted on a `requests.Session` (`session`), and by GDAL itself for
rasterio reads (`gdal_env`). Signed URLs carry secrets (Azure SAS tokens, S3 signatures) in their query string:
messages only ever show URLs passed through `redact`.
"""

from __future__ import annotations

import re
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import rasterio
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tracking.exceptions import AuthenticationError, MissingAssetError, NoNetworkError, RemoteError

__all__ = [
    "DEFAULT_TIMEOUT",
    "RETRY_STATUSES",
    "USER_AGENT",
    "check_network",
    "classify_gdal_error",
    "gdal_env",
    "get",
    "get_json",
    "raise_for_status",
    "redact",
    "session",
    "shared_session",
]

#: (connect, read) time limits of one HTTP request, seconds.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
#: HTTP statuses retried with backoff (by urllib3 for requests, by GDAL for rasterio reads).
RETRY_STATUSES = (429, 500, 502, 503, 504)

try:
    _VERSION = version("icetrack")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    _VERSION = "0+unknown"
#: The User-Agent of every request icetrack makes.
USER_AGENT = f"icetrack/{_VERSION}"

_OFFLINE_HINT = "check the network connection, or use the demo source"
_EXCERPT_CHARS = 200

#: a query string (``?k=v...``) anywhere in a text: GDAL messages name files with it, without the scheme
_QUERY = re.compile(r"\?[^\s'\",?]*=[^\s'\",]*")
_URL_USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)[^\s/@'\"]+@", re.IGNORECASE)


# --- URLs -----------------------------------------------------------------------------------------------------------


def redact(url: str) -> str:
    """``url`` without its query string, fragment and user:password, safe to show or log.

    Signed links carry their secret in the query string (Azure SAS ``?sig=...``, S3 ``X-Amz-Signature``), so
    every message that names a URL shows it redacted.

    Parameters
    ----------
    url : str
        A URL (or a local path, returned as it is).

    Returns
    -------
    str
        The URL without secrets.

    Examples
    --------
    >>> redact("https://acct.blob.core.windows.net/c/a.TIF?st=2024&sig=SECRET")
    'https://acct.blob.core.windows.net/c/a.TIF'
    >>> redact("https://user:pw@example.com/x?token=1#frag")
    'https://example.com/x'
    """
    parts = urlsplit(str(url))
    if not parts.scheme or not parts.netloc:
        return _redact_text(str(url))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _redact_text(text: str) -> str:
    """``text`` with the query string and user:password of every URL in it removed."""
    return _URL_USERINFO.sub(r"\1", _QUERY.sub("", text))


def _host(url: str) -> str:
    """The host (and port) of ``url``, or the redacted URL if it has none."""
    return urlsplit(str(url)).netloc.rsplit("@", 1)[-1] or redact(url)


def _credential_hint(url: str) -> str:
    """The credentials ``url``'s host asks for, in words."""
    url = str(url)
    if re.search(r"blob\.core\.windows\.net|planetarycomputer", url):
        return (
            "a valid Planetary Computer SAS token (signed links expire after about an hour: search again to "
            "re-sign them; set PC_SDK_SUBSCRIPTION_KEY if you use a subscription key)"
        )
    if re.search(r"landsatlook\.usgs\.gov|ers\.cr\.usgs\.gov", url):
        return "a USGS ERS login (or AWS credentials with AWS_REQUEST_PAYER=requester for s3://usgs-landsat)"
    if "usgs-landsat" in url:
        return (
            "AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and AWS_REQUEST_PAYER=requester: the "
            "bucket is requester-pays"
        )
    if re.search(r"earthdata|nsidc", url):
        return "a NASA Earthdata login (in ~/.netrc, or EARTHDATA_TOKEN)"
    if re.search(r"amazonaws\.com|^s3://", url):
        return (
            "AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY), or AWS_NO_SIGN_REQUEST=YES for a "
            "public bucket"
        )
    return f"valid credentials for {_host(url)}"


# --- sessions -------------------------------------------------------------------------------------------------------


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
    host = _host(response.url or "")
    if status in (401, 403):
        refused = "refused the credentials sent" if status == 403 else "asks for credentials"
        raise AuthenticationError(
            f"{what}: {host} {refused} (HTTP {status}) for {url}: it needs {_credential_hint(response.url or '')}; "
            "check that they are set and still valid."
        )
    if status in (404, 410):
        raise MissingAssetError(
            f"{what}: {url} is not there (HTTP {status} from {host}): the file may have moved or been removed; "
            "search again, or pick another scene."
        )
    excerpt = _excerpt(response)
    kind = "is failing" if status >= 500 else "is limiting the request rate" if status == 429 else (
        "rejected the request"
    )
    advice = "try again later" if status >= 500 or status == 429 else "check the request parameters"
    raise RemoteError(
        f"{what}: {host} {kind} (HTTP {status} {response.reason or ''}".rstrip()
        + f") for {url}{': ' + excerpt if excerpt else ''}; {advice}."
    )


def _excerpt(response: requests.Response) -> str:
    """The first characters of a response body, on one line (empty if it cannot be read)."""
    try:
        head = next(response.iter_content(1024), b"")
    except (requests.RequestException, StopIteration, RuntimeError, ValueError):
        return ""
    text = head.decode("utf-8", "replace") if isinstance(head, bytes) else str(head)
    text = _redact_text(" ".join(text.split()))
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 1] + "…"


def _request_error(err: requests.RequestException, url: str, what: str, timeout: Any) -> RemoteError:
    """The icetrack error for a `requests` exception raised while talking to ``url``."""
    connect, read = _timeouts(timeout)
    host = _host(url)
    if isinstance(err, requests.exceptions.SSLError):
        return RemoteError(
            f"{what}: the secure connection to {host} failed ({_reason(err)}): check the system's certificates "
            "or a proxy that intercepts HTTPS."
        )
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return NoNetworkError(f"{what}: no network: could not reach {host} within {connect:g} s; {_OFFLINE_HINT}.")
    if isinstance(err, requests.exceptions.ReadTimeout) or _caused_by(err, urllib3.exceptions.ReadTimeoutError):
        return NoNetworkError(
            f"{what}: no network: {host} did not answer within {read:g} s; {_OFFLINE_HINT}, or try again later."
        )
    if isinstance(err, requests.exceptions.RetryError):
        return RemoteError(f"{what}: {host} kept failing ({_reason(err)}) for {redact(url)}; try again later.")
    if isinstance(err, requests.exceptions.ChunkedEncodingError):
        return NoNetworkError(
            f"{what}: the connection to {host} broke during the transfer ({_reason(err)}); {_OFFLINE_HINT}."
        )
    if isinstance(err, requests.exceptions.ConnectionError):
        return NoNetworkError(
            f"{what}: no network: could not reach {host} within {connect:g} s ({_reason(err)}); {_OFFLINE_HINT}."
        )
    return RemoteError(f"{what}: the request to {redact(url)} failed ({_reason(err)}); check the URL.")


def _caused_by(err: BaseException, kind: type[BaseException]) -> bool:
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


def _timeouts(timeout: Any) -> tuple[float, float]:
    """(connect, read) seconds of a requests ``timeout`` argument."""
    if isinstance(timeout, tuple):
        return float(timeout[0] or 0), float(timeout[1] or 0)
    if timeout is None:
        return 0.0, 0.0
    return float(timeout), float(timeout)


def _reason(err: BaseException) -> str:
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
    text = _redact_text(" ".join(text.split()))
    return text[:_EXCERPT_CHARS] or type(cause).__name__


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
    return _request("GET", url, what=what, session=session, timeout=timeout, headers=headers, params=params,
                    stream=stream)


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
    response = _request(method.upper(), url, what=what, session=session, timeout=timeout, headers=headers,
                        json=body)
    try:
        return response.json()
    except ValueError:
        excerpt = _excerpt(response)
        raise RemoteError(
            f"{what}: {_host(url)} answered something that is not JSON ({excerpt or 'an empty body'}) for "
            f"{redact(url)}; check the URL, or try again later."
        ) from None


def _request(
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
        raise _request_error(err, url, what, timeout) from None
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
                sess.head(url, timeout=(timeout, timeout), allow_redirects=False,
                          headers={"User-Agent": USER_AGENT}).close()
            outcome.append(None)
        except requests.RequestException as err:
            outcome.append(err)

    thread = threading.Thread(target=probe, name="icetrack-check-network", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    host = _host(url)
    if not outcome:
        raise NoNetworkError(f"no network: could not reach {host} within {timeout:g} s; {_OFFLINE_HINT}.")
    err = outcome[0]
    if err is None:
        return
    if isinstance(err, requests.exceptions.SSLError):
        return  # something answered: the network is there
    if isinstance(err, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        raise NoNetworkError(
            f"no network: could not reach {host} within {timeout:g} s ({_reason(err)}); {_OFFLINE_HINT}."
        )
    raise RemoteError(f"cannot check {redact(url)} ({_reason(err)}): check the URL.")


# --- GDAL -----------------------------------------------------------------------------------------------------------

#: GDAL configuration for reading remote rasters (see `gdal_env`).
GDAL_HTTP_OPTIONS: dict[str, Any] = {
    # do not list the "directory" of a remote file looking for sidecars (.aux.xml, .ovr): one request saved
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_CONNECTTIMEOUT": 5,
    "GDAL_HTTP_TIMEOUT": 30,
    # retries with backoff on 429, 500, 502, 503, 504 (and connection failures)
    "GDAL_HTTP_MAX_RETRY": 3,
    "GDAL_HTTP_RETRY_DELAY": 0.5,
    # YES = read the ranges of one request in parallel, each as its own GET (SINGLE_GET would send multi-range
    # requests, which cloud object stores do not support)
    "GDAL_HTTP_MULTIRANGE": "YES",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "VSI_CACHE": True,
    "GDAL_HTTP_USERAGENT": USER_AGENT,
    # CPL_VSIL_CURL_USE_HEAD stays at its default (YES): with NO, GDAL learns the size from an open-ended GET
    # that servers start answering with the whole file
}


def gdal_env(**overrides: Any) -> rasterio.Env:
    """A `rasterio.Env` set up for reading rasters over HTTP: timeouts, retries, range merging, caching.

    Parameters
    ----------
    **overrides
        GDAL configuration options to add or replace, e.g. ``AWS_REQUEST_PAYER="requester"`` or
        ``GDAL_HTTP_MAX_RETRY=0``.

    Returns
    -------
    rasterio.Env
        Use as ``with gdal_env(): rasterio.open(url)``.
    """
    return rasterio.Env(**{**GDAL_HTTP_OPTIONS, **overrides})


_GDAL_STATUS = re.compile(r"HTTP (?:response )?(?:code|error|status)\D{0,3}(\d{3})", re.IGNORECASE)
_GDAL_OFFLINE = re.compile(
    r"could not resolve|couldn't resolve|resolving timed out|connection timed out|timed out|timeout was reached|"
    r"couldn't connect|could not connect|failed to connect|connection refused|network is unreachable|"
    r"no route to host|connection reset|empty reply from server",
    re.IGNORECASE,
)
_GDAL_MISSING = re.compile(r"does not exist in the file system|no such file", re.IGNORECASE)


def classify_gdal_error(err: Exception, url: str, what: str) -> RemoteError:
    """Turn a rasterio/GDAL error from reading ``url`` into the matching icetrack error.

    Parameters
    ----------
    err : Exception
        What rasterio raised (`rasterio.errors.RasterioIOError`, a ``CPLE_*`` error, ...).
    url : str
        The href read; shown redacted.
    what : str
        What was being read, for the message.

    Returns
    -------
    RemoteError
        An `AuthenticationError` (HTTP 401/403), `MissingAssetError` (404, or "does not exist"),
        `NoNetworkError` (DNS failure, refused connection, time-out) or `RemoteError` (anything else); raise it
        ``from None`` so the signed URL in GDAL's message is not shown.
    """
    text = _redact_text(" ".join(str(err).split()))
    host = _host(url)
    safe_url = redact(url)
    match = _GDAL_STATUS.search(text)
    status = int(match.group(1)) if match else None
    if status in (401, 403):
        return AuthenticationError(
            f"{what}: {host} refused to serve {safe_url} (HTTP {status}): it needs {_credential_hint(url)}; "
            "check that they are set and still valid."
        )
    if status in (404, 410):
        return MissingAssetError(
            f"{what}: {safe_url} is not there (HTTP {status} from {host}): the file may have moved or been "
            "removed; search again, or pick another scene."
        )
    if status is not None and status >= 400:
        return RemoteError(
            f"{what}: {host} answered HTTP {status} for {safe_url} ({text[:_EXCERPT_CHARS]}); try again later."
        )
    if _GDAL_OFFLINE.search(text):
        return NoNetworkError(
            f"{what}: no network: could not read {safe_url} from {host} ({text[:_EXCERPT_CHARS]}); {_OFFLINE_HINT}."
        )
    if _GDAL_MISSING.search(text) and "://" in str(url):
        # /vsicurl/ says "does not exist" when its first request failed without an HTTP status it reports
        return MissingAssetError(
            f"{what}: {safe_url} could not be opened ({text[:_EXCERPT_CHARS]}): the file is missing, or "
            f"{host} refused access; check the link, or search again."
        )
    return RemoteError(
        f"{what}: could not read {safe_url} ({text[:_EXCERPT_CHARS]}): it may not be a raster GDAL can read, or "
        "the transfer failed; try again, or pick another scene."
    )
