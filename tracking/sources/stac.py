"""Landsat and Sentinel-2 scenes from STAC APIs: search, one normalized scene table, and AOI reads.

Three providers are known (`PROVIDERS`):

``"landsat"``
    Landsat 8/9 Collection 2 Level-2 red band (30 m) on the Microsoft Planetary Computer. Anonymous, but every
    asset href must be signed with a short-lived SAS token (`SasSigner`).
``"sentinel2"``
    Sentinel-2 L2A (collection 1) NIR band B08 (10 m) on Element 84 Earth Search: anonymous public COGs.
``"landsat-pan"``
    Landsat 8/9 Collection 2 Level-1 panchromatic band B8 (15 m) from the USGS LandsatLook STAC server.
    Opt-in: its files are in the requester-pays bucket ``s3://usgs-landsat`` (AWS credentials, you pay the
    transfer) or behind a USGS ERS login.

`search` finds scenes over a point or a lon/lat box with pystac-client and returns them through
`normalize_items`, whose table has the same columns whatever the provider's spelling of the metadata
(``LANDSAT_8`` or ``landsat-8``, ``"084"`` or ``84``, ``proj:epsg`` or ``proj:code``...); the first columns
are those of `tracking.sources.demo.catalog`, so the pair picker works on any source. `load_scene` reads
the area of interest of one row's band over HTTP (`tracking.sources.cog.read_aoi`, cached on disk) and
`load_pair` puts two of them on one grid.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import pystac
import pystac_client
import requests
import xarray as xr
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from pystac_client.warnings import DoesNotConformTo
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import make_valid

from tracking.exceptions import (
    AuthenticationError,
    MissingAssetError,
    NoNetworkError,
    ParameterError,
    RemoteError,
)
from tracking.scenes import Pair
from tracking.sources import cog, http
from tracking.sources.cache import DownloadCache

__all__ = [
    "DEFAULT_SAS_URL",
    "PROVIDERS",
    "SCENE_COLUMNS",
    "Provider",
    "SasSigner",
    "load_pair",
    "load_scene",
    "normalize_items",
    "normalize_platform",
    "open_client",
    "search",
]

#: The Planetary Computer SAS token endpoint (override with the ``PC_SDK_SAS_URL`` environment variable).
DEFAULT_SAS_URL = "https://planetarycomputer.microsoft.com/api/sas/v1/token"
#: Items asked for per page of a search (APIs cap it at their own maximum).
PAGE_LIMIT = 100
#: Seconds before a SAS token's expiry from which it is no longer used.
TOKEN_MARGIN_S = 60.0

_USGS_PAN_CREDENTIALS = (
    "AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; the files are read "
    "from the requester-pays bucket s3://usgs-landsat with AWS_REQUEST_PAYER=requester, so your AWS account "
    "pays the transfer), or a USGS ERS login session for the https://landsatlook.usgs.gov links"
)


@dataclass(frozen=True)
class Provider:
    """A STAC API and the band icetrack reads from it.

    Attributes
    ----------
    key : str
        Short name, the key in `PROVIDERS`.
    label : str
        What the user sees in the interface.
    url : str
        Root of the STAC API.
    collections : tuple of str
        Collections searched.
    asset : str
        Key of the band's asset in the items.
    band : str
        icetrack's name of the band (``"red"``, ``"nir"``, ``"pan"``), kept in the scene's attrs.
    platforms : tuple of str
        Normalized platform names kept by `search` (`normalize_platform`); empty keeps all.
    signed : bool
        Whether hrefs must be signed with a Planetary Computer SAS token (`SasSigner`).
    needs_credentials : str or None
        What a user needs to read the files, in words; None when they are anonymous.
    pixel_size : float
        Pixel size of the band, metres.
    conforms_to : tuple of str
        pystac-client conformance classes assumed even if the landing page does not list them (Earth Search
        answers ``query``/``filter`` searches without advertising every class).
    """

    key: str
    label: str
    url: str
    collections: tuple[str, ...]
    asset: str
    band: str
    platforms: tuple[str, ...] = ()
    signed: bool = False
    needs_credentials: str | None = None
    pixel_size: float = 30.0
    conforms_to: tuple[str, ...] = ("ITEM_SEARCH", "QUERY")


PROVIDERS: dict[str, Provider] = {
    "landsat": Provider(
        key="landsat",
        label="Landsat 8/9 red band, 30 m (Planetary Computer)",
        url="https://planetarycomputer.microsoft.com/api/stac/v1",
        collections=("landsat-c2-l2",),
        asset="red",
        band="red",
        platforms=("landsat-8", "landsat-9"),
        signed=True,
        pixel_size=30.0,
    ),
    "sentinel2": Provider(
        key="sentinel2",
        label="Sentinel-2 NIR band B08, 10 m (Earth Search)",
        url="https://earth-search.aws.element84.com/v1",
        collections=("sentinel-2-c1-l2a",),
        asset="nir",
        band="nir",
        platforms=("sentinel-2a", "sentinel-2b", "sentinel-2c"),
        pixel_size=10.0,
        conforms_to=("ITEM_SEARCH", "QUERY", "FILTER"),
    ),
    "landsat-pan": Provider(
        key="landsat-pan",
        label="Landsat 8/9 panchromatic band B8, 15 m (USGS; needs credentials)",
        url="https://landsatlook.usgs.gov/stac-server",
        collections=("landsat-c2l1",),
        asset="pan",
        band="pan",
        platforms=("landsat-8", "landsat-9"),
        needs_credentials=_USGS_PAN_CREDENTIALS,
        pixel_size=15.0,
    ),
}

#: Columns of the scene table (`normalize_items`, `search`); the first eight are those of the demo catalog.
SCENE_COLUMNS = (
    "scene_id", "time", "platform", "sensor", "path", "row", "cloud_cover", "geometry",
    "tile", "href", "s3_href", "crs", "collection", "provider",
)  # fmt: skip

#: Other keys of the same band, tried when an item lacks the provider's asset key.
ASSET_ALIASES: dict[str, tuple[str, ...]] = {
    "red": ("SR_B4", "B4", "B04"),
    "nir": ("B08",),
    "pan": ("B8", "B8.TIF"),
}

_AZURE_BLOB = ".blob.core.windows.net"
#: Planetary Computer storage accounts that are public (their hrefs are not signed).
_PUBLIC_ACCOUNTS = frozenset({"ai4edatasetspublicassets"})
_LANDSAT_ID = re.compile(r"^L([COTEM])0?(\d)_[A-Z0-9]{4}_(\d{3})(\d{3})_", re.IGNORECASE)
_SENTINEL_ID = re.compile(r"^S([12])([A-D])_", re.IGNORECASE)
_MGRS_IN_ID = re.compile(r"(?:^S2[A-D]_|_)T?(\d{2}[C-X][A-Z]{2})_", re.IGNORECASE)
_LANDSAT_SENSORS = {
    "9": "Landsat 9 OLI-2", "8": "Landsat 8 OLI", "7": "Landsat 7 ETM+", "5": "Landsat 5 TM",
    "4": "Landsat 4 TM",
}  # fmt: skip
_LANDSATLOOK_DATA = "https://landsatlook.usgs.gov/data/"


# ----------------------------------------------------------------------------------------------------------
# providers
# ----------------------------------------------------------------------------------------------------------


def _provider(provider: Provider | str | None) -> Provider | None:
    """The `Provider` for a key (or a Provider, or None)."""
    if provider is None or isinstance(provider, Provider):
        return provider
    key = str(provider)
    if not key:
        return None
    if key not in PROVIDERS:
        raise ParameterError(f"unknown STAC provider {key!r}: choose one of {', '.join(sorted(PROVIDERS))}.")
    return PROVIDERS[key]


def _required_provider(provider: Provider | str) -> Provider:
    found = _provider(provider)
    if found is None:
        raise ParameterError(f"give a STAC provider: one of {', '.join(sorted(PROVIDERS))}.")
    return found


# ----------------------------------------------------------------------------------------------------------
# Planetary Computer signing
# ----------------------------------------------------------------------------------------------------------


class SasSigner:
    """Signs Planetary Computer Azure blob hrefs with SAS tokens, fetched once per container and cached.

    Parameters
    ----------
    token_url : str, optional
        The SAS token endpoint; tokens are fetched from ``{token_url}/{account}/{container}``. Defaults to the
        ``PC_SDK_SAS_URL`` environment variable, else `DEFAULT_SAS_URL`.
    subscription_key : str, optional
        A Planetary Computer subscription key, sent as ``Ocp-Apim-Subscription-Key`` (longer-lived tokens);
        defaults to the ``PC_SDK_SUBSCRIPTION_KEY`` environment variable. Anonymous access works without.
    session : requests.Session, optional
        Defaults to `tracking.sources.http.shared_session`.

    Notes
    -----
    Thread-safe: one lock guards the token cache, and a token is fetched once however many threads ask. A
    token is used until `TOKEN_MARGIN_S` seconds before its ``msft:expiry``, then fetched again.
    """

    def __init__(
        self,
        token_url: str | None = None,
        *,
        subscription_key: str | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.token_url = (token_url or os.environ.get("PC_SDK_SAS_URL") or DEFAULT_SAS_URL).rstrip("/")
        self.subscription_key = subscription_key or os.environ.get("PC_SDK_SUBSCRIPTION_KEY") or None
        self._session = session
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SasSigner({http.redact(self.token_url)!r})"

    def token(self, account: str, container: str) -> str:
        """The SAS token of an Azure storage account and container, cached until shortly before expiry.

        Parameters
        ----------
        account, container : str
            e.g. ``"landsateuwest"``, ``"landsat-c2"``.

        Returns
        -------
        str
            The token, a query string such as ``"st=...&se=...&sig=..."``.

        Raises
        ------
        NoNetworkError
            The token endpoint cannot be reached.
        AuthenticationError
            The endpoint refused the request (HTTP 401/403: a wrong subscription key).
        RemoteError
            Any other failure, or an answer without a token.
        """
        key = (account, container)
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and time.time() < cached[1] - TOKEN_MARGIN_S:
                return cached[0]
            headers = {"Ocp-Apim-Subscription-Key": self.subscription_key} if self.subscription_key else None
            what = f"the Planetary Computer SAS token for {account}/{container}"
            url = f"{self.token_url}/{account}/{container}"
            answer = http.get_json(url, what=what, session=self._session, headers=headers)
            token, expiry = _parse_token(answer, what)
            self._tokens[key] = (token, expiry)
            return token

    def forget(self, account: str | None = None, container: str | None = None) -> None:
        """Drop cached tokens (all of them, or those of one account and container), e.g. after a refusal."""
        with self._lock:
            if account is None:
                self._tokens.clear()
            else:
                self._tokens.pop((account, container or ""), None)

    def sign(self, href: str) -> str:
        """``href`` with a SAS token appended if it is a Planetary Computer Azure blob href.

        Parameters
        ----------
        href : str
            Any href: ``https://{account}.blob.core.windows.net/{container}/...`` gets ``?{token}`` (or
            ``&{token}`` after an existing query string); an href already signed (with ``sig=``), a public
            account's, or any other href is returned unchanged.

        Returns
        -------
        str
            The signed href.
        """
        blob = _blob_container(href)
        if blob is None:
            return href
        query = urlsplit(href).query
        if "sig=" in query:
            return href
        token = self.token(*blob)
        if not query:
            return f"{href.rstrip('?')}?{token}"
        return f"{href}{'' if href.endswith('&') else '&'}{token}"

    def sign_item(
        self, item: pystac.Item | pystac.ItemCollection | pystac.Collection | dict[str, Any]
    ) -> None:
        """Sign every asset href of an item, in place; usable as pystac-client's ``modifier``.

        Parameters
        ----------
        item : pystac.Item, pystac.ItemCollection, pystac.Collection or dict
            An item, a collection of them, or their JSON dicts (a page of search results, as pystac-client
            passes them: ``{"features": [...]}``).
        """
        if isinstance(item, pystac.ItemCollection):
            for each in item.items:
                self.sign_item(each)
        elif isinstance(item, pystac.Item | pystac.Collection):
            for asset in item.assets.values():
                asset.href = self.sign(asset.href)
        elif isinstance(item, Mapping):
            for feature in item.get("features") or ():
                self.sign_item(feature)
            for asset in (item.get("assets") or {}).values():
                if isinstance(asset, dict) and isinstance(asset.get("href"), str):
                    asset["href"] = self.sign(asset["href"])


def _blob_container(href: str) -> tuple[str, str] | None:
    """(account, container) of a non-public Azure blob href, else None."""
    parts = urlsplit(str(href))
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host.endswith(_AZURE_BLOB):
        return None
    account = host[: -len(_AZURE_BLOB)]
    container = parts.path.lstrip("/").split("/", 1)[0]
    if not account or not container or account in _PUBLIC_ACCOUNTS:
        return None
    return account, container


def _parse_token(answer: Any, what: str) -> tuple[str, float]:
    """(token, expiry as epoch seconds) from the SAS endpoint's JSON answer."""
    if not isinstance(answer, Mapping) or not answer.get("token"):
        raise RemoteError(f"{what}: the answer has no 'token' ({str(answer)[:120]!r}); try again later.")
    try:
        expiry = pd.Timestamp(answer["msft:expiry"])
    except (KeyError, TypeError, ValueError):
        expiry = pd.Timestamp.now(tz="UTC") + pd.Timedelta(minutes=30)  # unknown: refetch after a while
    if expiry.tzinfo is None:
        expiry = expiry.tz_localize("UTC")
    return str(answer["token"]), expiry.timestamp()


def _unsigned(href: str) -> str:
    """An Azure blob href without its SAS query string (other hrefs unchanged)."""
    if _blob_container(href) is None:
        return href
    return href.split("?", 1)[0]


@functools.lru_cache(maxsize=4)
def _signer_for(token_url: str | None, subscription_key: str | None) -> SasSigner:
    return SasSigner(token_url, subscription_key=subscription_key)


def _default_signer() -> SasSigner:
    """The process-wide signer for the current ``PC_SDK_*`` settings (its token cache is shared)."""
    return _signer_for(os.environ.get("PC_SDK_SAS_URL"), os.environ.get("PC_SDK_SUBSCRIPTION_KEY"))


# ----------------------------------------------------------------------------------------------------------
# client and search
# ----------------------------------------------------------------------------------------------------------


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
    prov = _required_provider(provider)
    root = (url or prov.url).rstrip("/")
    stac_io = StacApiIO(timeout=timeout, max_retries=None)
    stac_io.session = http.session(retries=retries)
    modifier = None
    if prov.signed:
        modifier = (signer or _default_signer()).sign_item
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
    prov = _required_provider(provider)
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
        first, last = _utc_naive(start), _utc_naive(end)
    except (TypeError, ValueError):
        raise ParameterError(
            f"cannot read the dates {start!r} and {end!r}: give ISO dates, e.g. 2021-05-01."
        ) from None
    if pd.isna(first) or pd.isna(last):
        raise ParameterError("give both a start and an end date.")
    if last.normalize() < first.normalize():
        raise ParameterError(f"the end date {last:%Y-%m-%d} is before the start date {first:%Y-%m-%d}.")
    return f"{first:%Y-%m-%d}T00:00:00Z/{last:%Y-%m-%d}T23:59:59Z"


def _utc_naive(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp


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


# ----------------------------------------------------------------------------------------------------------
# normalized scene table
# ----------------------------------------------------------------------------------------------------------


def normalize_platform(name: str | None) -> str:
    """A platform name in lower case with dashes: ``"LANDSAT_8"``, ``"Sentinel-2B"`` -> ``"landsat-8"``, ...

    Examples
    --------
    >>> normalize_platform("LANDSAT_9"), normalize_platform("Sentinel-2B"), normalize_platform("landsat-8")
    ('landsat-9', 'sentinel-2b', 'landsat-8')
    """
    text = re.sub(r"[\s_]+", "-", str(name or "").strip().lower())
    return re.sub(r"^(landsat|sentinel)-?(\d)", r"\1-\2", text)


def normalize_items(
    items: Iterable[pystac.Item | Mapping[str, Any]] | Mapping[str, Any],
    provider: Provider | str | None = None,
) -> gpd.GeoDataFrame:
    """One scene table from STAC items, whatever the provider's spelling of their metadata.

    Parameters
    ----------
    items : iterable of pystac.Item or dict, or a FeatureCollection dict
        Items (a search page's ``features``, ``pystac`` items).
    provider : Provider or str, optional
        Whose band asset gives ``href``; guessed from each item's collection when not given (Landsat
        Level-1 -> ``"landsat-pan"``, other Landsat -> ``"landsat"``, Sentinel-2 -> ``"sentinel2"``).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per item, sorted by time (EPSG:4326), with the columns `SCENE_COLUMNS`:

        - ``scene_id``: the item id;
        - ``time``: acquisition time (datetime64[ns], UTC without a time zone);
        - ``platform``: normalized (`normalize_platform`), from ``platform`` or the id
          (``LC08_`` -> landsat-8);
        - ``sensor``: e.g. ``"Landsat 9 OLI-2"``, ``"Sentinel-2A MSI"``;
        - ``path``, ``row``: WRS-2 path and row (int) from ``landsat:wrs_path``/``landsat:wrs_row`` or the
          Landsat product id; -1 for other platforms;
        - ``cloud_cover``: ``eo:cloud_cover`` (percent, NaN when absent);
        - ``geometry``: the item's footprint (its bbox if it has no geometry; None if neither);
        - ``tile``: the Sentinel-2 MGRS tile (``"13TDE"``), "" otherwise;
        - ``href``: the band asset's href ("" when the item has no such asset);
        - ``s3_href``: the asset's ``alternate.s3.href`` (requester-pays copy), else "";
        - ``crs``: ``"EPSG:<n>"`` from ``proj:epsg``/``proj:code`` of the asset or the item, else "";
        - ``collection``, ``provider``: the item's collection and the provider's key ("" if unknown).
    """
    if isinstance(items, Mapping):
        items = items.get("features") or ([items] if items.get("type") == "Feature" else [])
    prov = _provider(provider)
    records = [_record(_as_dict(item), prov) for item in items]
    frame = pd.DataFrame.from_records(records, columns=list(SCENE_COLUMNS))
    frame = frame.astype({
        "scene_id": object, "time": "datetime64[ns]", "platform": object, "sensor": object, "path": np.int64,
        "row": np.int64, "cloud_cover": np.float64, "tile": object, "href": object, "s3_href": object,
        "crs": object, "collection": object, "provider": object,
    })  # fmt: skip
    frame = frame.sort_values(["time", "scene_id"], kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")


def _as_dict(item: pystac.Item | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(item, pystac.Item):
        return item.to_dict(include_self_link=False, transform_hrefs=False)
    if isinstance(item, Mapping):
        return item
    raise TypeError(f"expected a pystac.Item or an item dict; got {type(item).__name__}")


def _record(item: Mapping[str, Any], provider: Provider | None) -> dict[str, Any]:
    props = item.get("properties") or {}
    scene_id = str(item.get("id") or "")
    collection = str(item.get("collection") or "")
    prov = provider or _guess_provider(collection, scene_id)
    platform = normalize_platform(props.get("platform")) or _platform_from_id(scene_id)
    asset = _band_asset(item.get("assets") or {}, prov)
    path, row = _path_row(props, scene_id)
    return {
        "scene_id": scene_id,
        "time": _item_time(props),
        "platform": platform,
        "sensor": _sensor(platform, props.get("instruments")),
        "path": path,
        "row": row,
        "cloud_cover": _float(props.get("eo:cloud_cover")),
        "geometry": _geometry(item),
        "tile": _tile(props, scene_id) if platform.startswith("sentinel-2") else "",
        "href": str(asset.get("href") or ""),
        "s3_href": str(((asset.get("alternate") or {}).get("s3") or {}).get("href") or ""),
        "crs": _crs(asset) or _crs(props),
        "collection": collection,
        "provider": prov.key if prov is not None else "",
    }


def _guess_provider(collection: str, scene_id: str) -> Provider | None:
    """The provider whose band an item most likely carries, from its collection (or id)."""
    name = (collection or scene_id).lower().replace("-", "").replace("_", "")
    landsat = "landsat" in name or _LANDSAT_ID.match(scene_id) is not None
    if landsat and ("c2l1" in name or re.match(r"^l[co]0\d_l1", scene_id, re.IGNORECASE)):
        return PROVIDERS["landsat-pan"]
    if landsat:
        return PROVIDERS["landsat"]
    if "sentinel2" in name or scene_id.upper().startswith("S2"):
        return PROVIDERS["sentinel2"]
    return None


def _platform_from_id(scene_id: str) -> str:
    """The platform from a Landsat or Sentinel product id (``LC08_...`` -> landsat-8), else ""."""
    match = _LANDSAT_ID.match(scene_id)
    if match:
        return f"landsat-{match[2]}"
    match = _SENTINEL_ID.match(scene_id)
    if match:
        return f"sentinel-{match[1]}{match[2].lower()}"
    return ""


def _sensor(platform: str, instruments: Any) -> str:
    """The human name of a platform's imager, as in `tracking.scenes` (``"Landsat 8 OLI"``)."""
    names = [str(i).lower() for i in instruments] if isinstance(instruments, list | tuple) else []
    match = re.fullmatch(r"landsat-(\d)", platform)
    if match:
        if "mss" in names:
            return f"Landsat {match[1]} MSS"
        return _LANDSAT_SENSORS.get(match[1], f"Landsat {match[1]}")
    match = re.fullmatch(r"sentinel-([12])([a-d])", platform)
    if match:
        imager = "MSI" if match[1] == "2" else "C-SAR"
        return f"Sentinel-{match[1]}{match[2].upper()} {imager}"
    if not platform:
        return "unknown"
    label = platform.replace("-", " ").title()
    return f"{label} {' '.join(n.upper() for n in names)}".strip()


def _path_row(props: Mapping[str, Any], scene_id: str) -> tuple[int, int]:
    """WRS-2 (path, row) from the landsat extension, else the product id, else (-1, -1)."""
    try:
        return int(props["landsat:wrs_path"]), int(props["landsat:wrs_row"])
    except (KeyError, TypeError, ValueError):
        pass
    match = _LANDSAT_ID.match(scene_id)
    if match:
        return int(match[3]), int(match[4])
    code = str(props.get("grid:code") or "")
    if code.upper().startswith("WRS2-") and len(code) == 11 and code[5:].isdigit():
        return int(code[5:8]), int(code[8:11])
    return -1, -1


def _tile(props: Mapping[str, Any], scene_id: str) -> str:
    """The MGRS tile (``"20EPT"``) of a Sentinel-2 item, else ""."""
    tile = props.get("s2:mgrs_tile") or props.get("sentinel:mgrs_tile")
    if tile:
        return str(tile).upper().lstrip("T")
    zone, band, square = (props.get(f"mgrs:{k}") for k in ("utm_zone", "latitude_band", "grid_square"))
    if zone is not None and band and square:
        return f"{int(zone):02d}{band}{square}".upper()
    code = str(props.get("grid:code") or "")
    if code.upper().startswith("MGRS-"):
        return code[5:].upper()
    match = _MGRS_IN_ID.search(scene_id)
    return match[1].upper() if match else ""


def _item_time(props: Mapping[str, Any]) -> pd.Timestamp:
    """``datetime`` (or ``start_datetime``) as a naive UTC timestamp; NaT if absent."""
    for key in ("datetime", "start_datetime"):
        value = props.get(key)
        if value:
            try:
                return _utc_naive(value)
            except (TypeError, ValueError):
                continue
    return pd.NaT


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _geometry(item: Mapping[str, Any]) -> BaseGeometry | None:
    """The item's footprint (lon/lat), or its bbox as a box, or None."""
    geom = item.get("geometry")
    if isinstance(geom, Mapping) and geom.get("type"):
        try:
            found = shape(geom)
        except (ValueError, TypeError, AttributeError, IndexError):
            found = None
        if found is not None and not found.is_empty:
            return found if found.is_valid else make_valid(found)
    bbox = item.get("bbox")
    if isinstance(bbox, list | tuple) and len(bbox) in (4, 6):
        west, south, east, north = (bbox[0], bbox[1], bbox[2], bbox[3]) if len(bbox) == 4 else (
            bbox[0], bbox[1], bbox[3], bbox[4])  # fmt: skip
        return box(float(west), float(south), float(east), float(north))
    return None


def _crs(fields: Mapping[str, Any]) -> str:
    """``"EPSG:<n>"`` from ``proj:epsg`` or ``proj:code`` in an asset's or item's fields, else ""."""
    epsg = fields.get("proj:epsg")
    if epsg is not None:
        try:
            return f"EPSG:{int(epsg)}"
        except (TypeError, ValueError):
            pass
    code = fields.get("proj:code")
    if isinstance(code, str) and code.strip():
        code = code.strip()
        return code.upper() if code.upper().startswith("EPSG:") else code
    return ""


def _band_asset(assets: Mapping[str, Any], provider: Provider | None) -> Mapping[str, Any]:
    """The provider's band asset (by key, then by the known aliases), or {}."""
    if provider is None:
        return {}
    for key in (provider.asset, *ASSET_ALIASES.get(provider.asset, ())):
        asset = assets.get(key)
        if isinstance(asset, Mapping) and asset.get("href"):
            return asset
    return {}


# ----------------------------------------------------------------------------------------------------------
# loading scenes
# ----------------------------------------------------------------------------------------------------------


def load_scene(
    row: Mapping[str, Any] | pd.Series,
    bbox: tuple[float, float, float, float],
    *,
    bbox_crs: str = "EPSG:4326",
    cache: DownloadCache | None = None,
    signer: SasSigner | None = None,
    provider: Provider | str | None = None,
) -> xr.DataArray:
    """Read the area of interest of one scene's band (a row of `search` / `normalize_items`).

    Only the window covering ``bbox`` is read from the cloud-optimized GeoTIFF, over HTTP, and kept in the
    cache: a second read of the same scene and box sends no request.

    Parameters
    ----------
    row : mapping or pandas.Series
        A scene-table row: ``scene_id``, ``time``, ``sensor``, ``href`` (and ``s3_href``, ``provider``).
    bbox : (xmin, ymin, xmax, ymax)
        The area of interest, in ``bbox_crs``.
    bbox_crs : str
        CRS of ``bbox``; lon/lat by default.
    cache : DownloadCache, optional
        Where the crop is kept (see `tracking.sources.cog.read_aoi`).
    signer : SasSigner, optional
        Signs Planetary Computer hrefs (a fresh token replaces any signature in the row); defaults to a
        process-wide signer.
    provider : Provider or str, optional
        Defaults to the row's ``provider``.

    Returns
    -------
    xarray.DataArray
        The scene (`tracking.scenes`), with attrs time, sensor, band and scene_id from the row.

    Raises
    ------
    MissingAssetError
        The scene has no such band asset (empty ``href``), or its file is not there.
    AuthenticationError
        The file needs credentials that are not set or were refused; the message says which.
    NoNetworkError, RemoteError
        The read failed.
    """
    prov = _provider(provider if provider is not None else row.get("provider"))
    scene_id = str(row.get("scene_id") or "")
    href = str(row.get("href") or "")
    band = prov.band if prov is not None else "unknown"
    if not href:
        asset = prov.asset if prov is not None else "band"
        where = f" on {prov.label}" if prov is not None else ""
        raise MissingAssetError(
            f"scene {scene_id}{where} has no '{asset}' asset: it cannot be read; pick another scene."
        )
    what = f"scene {scene_id} ({band} band)"
    unsigned = _unsigned(href)
    blob = _blob_container(unsigned)
    env: dict[str, Any] = {}
    if _requester_pays(href, prov):
        href, env = _requester_pays_href(row, href, scene_id, prov)
    elif blob is not None:  # Planetary Computer: a fresh token (the row's may have expired)
        href = (signer or _default_signer()).sign(unsigned)
    bounds = tuple(float(v) for v in bbox)
    kwargs: dict[str, Any] = {
        "bbox_crs": bbox_crs, "time": row.get("time"), "sensor": str(row.get("sensor") or "unknown"),
        "band": band, "scene_id": scene_id, "cache": cache, "what": what,
        "cache_key": f"{http.redact(unsigned)}|{bounds}|{bbox_crs}|1",
    }  # fmt: skip
    try:
        with http.gdal_env(**env) if env else contextlib.nullcontext():
            return cog.read_aoi(href, bounds, **kwargs)
    except AuthenticationError as err:
        if blob is not None:
            (signer or _default_signer()).forget(*blob)
        raise AuthenticationError(f"{err} {_credentials_advice(prov, unsigned)}") from None


def _requester_pays(href: str, prov: Provider | None) -> bool:
    """Whether ``href`` is (or, for the pan provider, has a copy) in the requester-pays USGS bucket."""
    return (prov is not None and prov.key == "landsat-pan") or href.startswith(("s3://usgs-landsat/",
                                                                                _LANDSATLOOK_DATA))


def _requester_pays_href(
    row: Mapping[str, Any], href: str, scene_id: str, prov: Provider | None
) -> tuple[str, dict[str, Any]]:
    """The ``s3://usgs-landsat`` href to read with AWS credentials, and its GDAL settings."""
    if not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
        source = prov.label if prov is not None else "the USGS Landsat archive"
        raise AuthenticationError(
            f"scene {scene_id}: {source} is an opt-in source that needs credentials: "
            f"{_USGS_PAN_CREDENTIALS}. "
            "Set them and search again, or use the 'landsat' (Planetary Computer) or 'sentinel2' source, "
            "which need none."
        )
    s3_href = str(row.get("s3_href") or "")
    if not s3_href and href.startswith(_LANDSATLOOK_DATA):
        s3_href = "s3://usgs-landsat/" + href[len(_LANDSATLOOK_DATA):]
    return s3_href or href, {"AWS_REQUEST_PAYER": "requester"}


def _credentials_advice(prov: Provider | None, href: str) -> str:
    """What to do after a refusal, for the provider of ``href``."""
    if _blob_container(href) is not None:
        return (
            "The Planetary Computer SAS token was refused: load again (a new token is fetched), or set "
            "PC_SDK_SUBSCRIPTION_KEY to your Planetary Computer subscription key."
        )
    if prov is not None and prov.needs_credentials:
        return f"{prov.label} needs {prov.needs_credentials}."
    return (
        "Set the credentials this server asks for (for AWS buckets AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY), or use the 'landsat' or 'sentinel2' source, which need none."
    )


def load_pair(
    ref_row: Mapping[str, Any] | pd.Series,
    sec_row: Mapping[str, Any] | pd.Series,
    bbox: tuple[float, float, float, float],
    **kwargs: Any,
) -> Pair:
    """Read two scenes' areas of interest and put them on one grid.

    Parameters
    ----------
    ref_row, sec_row : mapping or pandas.Series
        Scene-table rows of the reference (earlier) and secondary (later) scene. They may come from different
        path/rows, tiles or sensors: the secondary is resampled onto the reference grid.
    bbox : (xmin, ymin, xmax, ymax)
        The area of interest.
    **kwargs
        Passed to `load_scene` (``bbox_crs``, ``cache``, ``signer``, ``provider``).

    Returns
    -------
    tracking.scenes.Pair

    Raises
    ------
    InvalidPairError, NoOverlapError
        The secondary is not later, or the scenes share too little ground
        (`tracking.scenes.Pair.from_scenes`).
    """
    reference = load_scene(ref_row, bbox, **kwargs)
    secondary = load_scene(sec_row, bbox, **kwargs)
    return Pair.from_scenes(reference, secondary)
