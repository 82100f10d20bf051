"""GDAL settings for reading rasters over HTTP (`gdal_env`) and GDAL errors as icetrack errors."""

from __future__ import annotations

import re
from typing import Any

import rasterio

from tracking.exceptions import AuthenticationError, MissingAssetError, NoNetworkError, RemoteError
from tracking.sources.http.errors import EXCERPT_CHARS, OFFLINE_HINT
from tracking.sources.http.session import USER_AGENT
from tracking.sources.http.urls import credential_hint, redact, redact_text, url_host

__all__ = ["GDAL_HTTP_OPTIONS", "classify_gdal_error", "gdal_env"]

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
    text = redact_text(" ".join(str(err).split()))
    host = url_host(url)
    safe_url = redact(url)
    match = _GDAL_STATUS.search(text)
    status = int(match.group(1)) if match else None
    if status in (401, 403):
        return AuthenticationError(
            f"{what}: {host} refused to serve {safe_url} (HTTP {status}): it needs {credential_hint(url)}; "
            "check that they are set and still valid."
        )
    if status in (404, 410):
        return MissingAssetError(
            f"{what}: {safe_url} is not there (HTTP {status} from {host}): the file may have moved or been "
            "removed; search again, or pick another scene."
        )
    if status is not None and status >= 400:
        return RemoteError(
            f"{what}: {host} answered HTTP {status} for {safe_url} ({text[:EXCERPT_CHARS]}); try again later."
        )
    if _GDAL_OFFLINE.search(text):
        return NoNetworkError(
            f"{what}: no network: could not read {safe_url} from {host} ({text[:EXCERPT_CHARS]}); {OFFLINE_HINT}."
        )
    if _GDAL_MISSING.search(text) and "://" in str(url):
        # /vsicurl/ says "does not exist" when its first request failed without an HTTP status it reports
        return MissingAssetError(
            f"{what}: {safe_url} could not be opened ({text[:EXCERPT_CHARS]}): the file is missing, or "
            f"{host} refused access; check the link, or search again."
        )
    return RemoteError(
        f"{what}: could not read {safe_url} ({text[:EXCERPT_CHARS]}): it may not be a raster GDAL can read, or "
        "the transfer failed; try again, or pick another scene."
    )
