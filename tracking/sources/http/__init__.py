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

The package's modules, one job each: ``urls`` (redaction, hosts, credential hints), ``session`` (sessions with
retries, the User-Agent), ``errors`` (HTTP statuses and request exceptions as icetrack errors), ``fetch``
(`get`, `get_json`, `check_network`) and ``gdal`` (`gdal_env`, `classify_gdal_error`).
"""

from __future__ import annotations

from tracking.sources.http.errors import error_reason, raise_for_status
from tracking.sources.http.fetch import check_network, get, get_json, send_request
from tracking.sources.http.gdal import classify_gdal_error, gdal_env
from tracking.sources.http.session import DEFAULT_TIMEOUT, USER_AGENT, session, shared_session
from tracking.sources.http.urls import redact, url_host

__all__ = [
    "DEFAULT_TIMEOUT",
    "USER_AGENT",
    "check_network",
    "classify_gdal_error",
    "error_reason",
    "gdal_env",
    "get",
    "get_json",
    "raise_for_status",
    "redact",
    "send_request",
    "session",
    "shared_session",
    "url_host",
]
