"""The STAC API client: open a provider's API (`open_client`), search it for scenes (`search`).

Requests go through icetrack's retrying session with time limits; pystac-client and requests failures become
icetrack errors naming the provider (`NoNetworkError`, `AuthenticationError`, `RemoteError`). The found items
are returned as the normalized scene table (`tracking.sources.stac.items.normalize_items`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import pandas as pd
import pystac
import pystac_client
import requests
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from pystac_client.warnings import DoesNotConformTo

from tracking.exceptions import AuthenticationError, NoNetworkError, ParameterError, RemoteError
from tracking.sources import http
from tracking.sources.stac.items import normalize_items, normalize_platform
from tracking.sources.stac.providers import Provider, required_provider
from tracking.sources.stac.signing import SasSigner, default_signer
from tracking.times import utc_naive

__all__ = ["PAGE_LIMIT", "open_client", "search"]

#: Items asked for per page of a search (APIs cap it at their own maximum).
PAGE_LIMIT = 100


def open_client(
    provider: Provider | str,
    *,
    url: str | None = None,
    timeout: float | tuple[float, float] = http.DEFAULT_TIMEOUT,
    retries: int = 3,
    signer: SasSigner | None = None,
) -> pystac_client.Client:
    """Open a provider's STAC API with pystac-client, with retries, time limits and signing.

    Parameters
    ----------
    provider : Provider or str
        A `Provider` or a key of `PROVIDERS`.
    url : str, optional
        Another root URL for the same API (a mirror, or a test server).
    timeout : float or (float, float)
        (connect, read) seconds of each request.
    retries : int
        Retries of a request after connection errors, time-outs and HTTP 429/5xx answers.
    signer : SasSigner, optional
        For a signed provider, signs every item's assets as they arrive; defaults to a process-wide signer.

    Returns
    -------
    pystac_client.Client
        The client; the provider's `Provider.conforms_to` classes are added to what the API advertises.

    Raises
    ------
    NoNetworkError
        The API cannot be reached.
    AuthenticationError
        The API refused the request (HTTP 401/403).
    RemoteError
        The API answered an error, or something that is not a STAC API.
    """
    prov = required_provider(provider)
    root = (url or prov.url).rstrip("/")
    stac_io = StacApiIO(timeout=timeout, max_retries=None)
    stac_io.session = http.session(retries=retries)
    modifier = None
    if prov.signed:
        modifier = (signer or default_signer()).sign_item
    with _remote_errors(prov, root, "opening the STAC API", timeout):
        client = pystac_client.Client.open(root, stac_io=stac_io, timeout=timeout, modifier=modifier)
    for name in prov.conforms_to:
        client.add_conforms_to(name)
    return client


def search(
    provider: Provider | str,
    *,
    lon: float | None = None,
    lat: float | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    start: Any,
    end: Any,
    max_cloud: float = 100.0,
    platforms: Sequence[str] | None = None,
    max_items: int = 500,
    url: str | None = None,
    signer: SasSigner | None = None,
) -> gpd.GeoDataFrame:
    """Search a provider for scenes over a point or a lon/lat box between two dates.

    Parameters
    ----------
    provider : Provider or str
        A `Provider` or a key of `PROVIDERS`.
    lon, lat : float, optional
        A point (degrees): scenes that contain it.
    bbox : (west, south, east, north), optional
        A lon/lat box (degrees): scenes that intersect it. Give either the point or the box.
    start, end : str or datetime-like
        First and last day (UTC), both included.
    max_cloud : float
        Largest ``eo:cloud_cover`` kept (percent); 100 keeps all, even scenes without one.
    platforms : sequence of str, optional
        Platforms kept (any spelling: ``"LANDSAT_8"``, ``"landsat-8"``); defaults to the provider's.
    max_items : int
        Most items fetched (before the platform filter).
    url : str, optional
        Another root URL of the provider's API.
    signer : SasSigner, optional
        For a signed provider (see `open_client`).

    Returns
    -------
    geopandas.GeoDataFrame
        The scenes, sorted by time (`normalize_items`).

    Raises
    ------
    ParameterError
        Neither or both of the point and the box, bad dates or cloud cover.
    NoNetworkError, AuthenticationError, RemoteError
        The API failed (see `open_client`).
    """
    prov = required_provider(provider)
    params: dict[str, Any] = {
        "collections": list(prov.collections),
        "datetime": _datetime_range(start, end),
        "limit": PAGE_LIMIT,
        "max_items": int(max_items),
    }
    params.update(_where(lon, lat, bbox))
    if not 0.0 <= float(max_cloud) <= 100.0:
        raise ParameterError(f"max_cloud is a percentage from 0 to 100; got {max_cloud}.")
    if float(max_cloud) < 100.0:
        params["query"] = {"eo:cloud_cover": {"lte": float(max_cloud)}}
    if int(max_items) < 1:
        raise ParameterError(f"max_items must be at least 1; got {max_items}.")
    client = open_client(prov, url=url, signer=signer)
    root = (url or prov.url).rstrip("/")
    with _remote_errors(prov, root, "the scene search", http.DEFAULT_TIMEOUT):
        items = list(client.search(**params).items_as_dicts())
    table = normalize_items(items, prov)
    wanted = {normalize_platform(p) for p in (prov.platforms if platforms is None else platforms)}
    if wanted:
        table = table[table["platform"].isin(wanted)].reset_index(drop=True)
    return table


def _where(lon: float | None, lat: float | None, bbox: Sequence[float] | None) -> dict[str, Any]:
    """The ``intersects`` (point) or ``bbox`` search parameter."""
    point = lon is not None or lat is not None
    if point and bbox is not None:
        raise ParameterError("give either a point (lon, lat) or a bbox, not both.")
    if point:
        if lon is None or lat is None:
            raise ParameterError("give both lon and lat of the point.")
        lon, lat = float(lon), float(lat)
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ParameterError(f"the point ({lon}, {lat}) is not a longitude/latitude in degrees.")
        return {"intersects": {"type": "Point", "coordinates": [lon, lat]}}
    if bbox is None:
        raise ParameterError("give a point (lon, lat) or a bbox (west, south, east, north) to search over.")
    west, south, east, north = (float(v) for v in bbox)
    if not (-180.0 <= west <= 180.0 and -180.0 <= east <= 180.0 and -90.0 <= south < north <= 90.0):
        raise ParameterError(
            f"the bbox {tuple(bbox)} is not (west, south, east, north) in degrees with south < north."
        )
    return {"bbox": [west, south, east, north]}


def _datetime_range(start: Any, end: Any) -> str:
    """``"YYYY-MM-DDT00:00:00Z/YYYY-MM-DDT23:59:59Z"``: whole UTC days (some servers reject bare dates)."""
    try:
        first, last = utc_naive(start), utc_naive(end)
    except (TypeError, ValueError):
        raise ParameterError(
            f"cannot read the dates {start!r} and {end!r}: give ISO dates, e.g. 2021-05-01."
        ) from None
    if pd.isna(first) or pd.isna(last):
        raise ParameterError("give both a start and an end date.")
    if last.normalize() < first.normalize():
        raise ParameterError(f"the end date {last:%Y-%m-%d} is before the start date {first:%Y-%m-%d}.")
    return f"{first:%Y-%m-%d}T00:00:00Z/{last:%Y-%m-%d}T23:59:59Z"


@contextlib.contextmanager
def _remote_errors(prov: Provider, url: str, what: str, timeout: Any) -> Iterator[None]:
    """Turn pystac-client and requests failures into icetrack errors naming the provider."""
    name = f"{prov.label}: {what}"
    try:
        yield
    except (APIError, requests.RequestException) as err:
        raise _api_error(err, prov, url, name, timeout) from None
    except DoesNotConformTo as err:
        raise RemoteError(
            f"{name}: {http.redact(url)} does not support item search ({err}); check the URL."
        ) from None
    except (pystac.STACError, ValueError, KeyError) as err:  # not JSON, or not STAC
        raise RemoteError(
            f"{name}: {http.redact(url)} did not answer like a STAC API ({type(err).__name__}: "
            f"{str(err)[:150]}); check the URL, or try again later."
        ) from None


def _api_error(err: Exception, prov: Provider, url: str, name: str, timeout: Any) -> RemoteError:
    """The icetrack error for a failed STAC request."""
    status = getattr(err, "status_code", None)
    cause = err if isinstance(err, requests.RequestException) else err.__context__
    host = urlsplit(url).netloc or http.redact(url)
    if status in (401, 403):
        hint = prov.needs_credentials or "no credentials are needed for this API: try again later"
        return AuthenticationError(f"{name}: {host} refused the request (HTTP {status}); {hint}.")
    if status is not None:
        detail = " ".join(str(err).split())[:200]
        return RemoteError(
            f"{name}: {host} answered HTTP {status} for {http.redact(url)} ({detail}); "
            + ("try again later." if status >= 500 or status == 429 else "check the search parameters.")
        )
    if isinstance(cause, requests.exceptions.SSLError):
        return RemoteError(
            f"{name}: the secure connection to {host} failed; check the system's certificates."
        )
    if isinstance(cause, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        connect = timeout[0] if isinstance(timeout, tuple) else timeout
        return NoNetworkError(
            f"{name}: no network: could not reach {host} (within {connect:g} s per try); check the network "
            "connection, or use the demo source or your own files."
        )
    return RemoteError(
        f"{name}: the request to {http.redact(url)} failed ({str(err)[:200]}); try again later."
    )
