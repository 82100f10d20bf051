"""What the ITS_LIVE modules share: the service's addresses, time parsing, sensor names and the STAC client.

The public constants (`STAC_URL`, `GRANULES`, `CUBES`, `CATALOG_URL`, `MISSIONS`), the parsing of ITS_LIVE
times and sensor names, bucket URLs as anonymous https, a pystac-client client whose failures become icetrack
errors, and the series-table helpers used by both the datacube and the exported-CSV readers.
"""

from __future__ import annotations

import functools
import math
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pandas as pd
import requests
from pyproj import Transformer

from tracking.exceptions import (
    AuthenticationError,
    MissingAssetError,
    NoNetworkError,
    ParameterError,
    RemoteError,
)
from tracking.schema import SERIES_COLUMNS, empty_series
from tracking.sources import http
from tracking.times import utc_naive

if TYPE_CHECKING:
    from tracking.sources.cache import DownloadCache

__all__ = [
    "CATALOG_URL",
    "CUBES",
    "FILL_VALUE",
    "GRANULES",
    "MISSIONS",
    "NEEDS_INTERNET",
    "SOURCE",
    "STAC_URL",
    "as_series",
    "default_cache",
    "https_url",
    "naive_utc",
    "parse_time",
    "sensor_name",
    "series_label",
    "stac_call",
    "stac_client",
    "stac_items",
    "time_window",
    "to_crs_transformer",
]

#: The ITS_LIVE STAC API.
STAC_URL = "https://stac.itslive.cloud"
#: Its collection of image-pair granules.
GRANULES = "itslive-granules"
#: Its collection of Zarr datacubes.
CUBES = "itslive-cubes"
#: The GeoJSON catalog of the datacubes (footprints and Zarr URLs).
CATALOG_URL = "https://its-live-data.s3.amazonaws.com/datacubes/catalog_v02.json"
#: The STAC ``platform`` values of each mission (the first token of the image-1 id).
MISSIONS: dict[str, tuple[str, ...]] = {
    "landsat": ("LC08", "LC09", "LO08", "LO09"),
    "sentinel2": ("S2A", "S2B", "S2C"),
    "sentinel1": ("S1A", "S1B", "S1C"),
}

SOURCE = "ITS_LIVE"
FILL_VALUE = -32767
_BUCKET_HTTPS = "https://its-live-data.s3.amazonaws.com/"
NEEDS_INTERNET = "ITS_LIVE needs the internet"
_STAC_TIMEOUT = (5.0, 60.0)


def time_window(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """(start, end) as naive UTC Timestamps; a date-only ``end`` becomes the end of that day."""
    t_start, t_end = naive_utc(start), naive_utc(end)
    if t_end == t_end.normalize():
        t_end = t_end + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    if t_start > t_end:
        raise ParameterError(f"the start ({t_start:%Y-%m-%d}) is after the end ({t_end:%Y-%m-%d}).")
    return t_start, t_end


def naive_utc(value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"not a date or time: {value!r} ({err}).") from None
    if stamp is pd.NaT:
        raise ParameterError("a date is missing.")
    return utc_naive(stamp)


def stac_client(url: str) -> Any:
    """A pystac-client Client on ``url`` that uses our retrying session; errors mapped to ours."""
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO

    io = StacApiIO()
    io.session = http.session()  # retries with backoff, icetrack's User-Agent
    # Client.open resets the time limit of the StacApiIO it is given: pass it there
    return stac_call(
        lambda: Client.open(url, stac_io=io, timeout=_STAC_TIMEOUT), url, "opening the ITS_LIVE STAC API"
    )


def stac_items(client: Any, url: str, kwargs: dict[str, Any], *, what: str) -> list[dict[str, Any]]:
    return stac_call(lambda: list(client.search(**kwargs).items_as_dicts()), url, what)


def stac_call(call: Any, url: str, what: str) -> Any:
    """Run a pystac-client call, turning its errors into icetrack's (pystac-client wraps them in APIError)."""
    from pystac_client.exceptions import APIError

    host = urlsplit(url).netloc or url
    try:
        return call()
    except APIError as err:
        cause = err.__cause__ or err.__context__
        if isinstance(cause, requests.exceptions.SSLError):
            raise RemoteError(
                f"{what}: the secure connection to {host} failed: check the system's certificates."
            ) from None
        if isinstance(cause, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            raise NoNetworkError(
                f"no network: could not reach {host} ({what}); {NEEDS_INTERNET}: check the connection, or "
                "use the demo source."
            ) from None
        status = getattr(err, "status_code", None)
        text = http.redact(" ".join(str(err).split()))[:200]
        if status in (401, 403):
            raise AuthenticationError(
                f"{what}: {host} refused the request (HTTP {status}): {text}."
            ) from None
        if status == 404:
            raise MissingAssetError(
                f"{what}: {host} has no such page (HTTP 404): check the STAC URL."
            ) from None
        detail = f"HTTP {status}: " if status else ""
        raise RemoteError(f"{what}: {host} answered an error ({detail}{text}); try again later.") from None
    except requests.RequestException as err:  # pragma: no cover - pystac-client wraps these, but be safe
        raise NoNetworkError(f"no network: could not reach {host} ({what}); {NEEDS_INTERNET}.") from err
    except (ValueError, KeyError, TypeError) as err:
        raise RemoteError(
            f"{what}: {host} answered something that is not a STAC API response ({err})."
        ) from None


def https_url(url: str) -> str:
    """ITS_LIVE bucket URLs as anonymous https (the catalog has ``http://``, some assets ``s3://``)."""
    if url.startswith("s3://its-live-data/"):
        return _BUCKET_HTTPS + url[len("s3://its-live-data/") :]
    if url.startswith("http://its-live-data."):
        return "https://" + url[len("http://") :]
    return url


def default_cache() -> DownloadCache:
    from tracking.sources.cache import DownloadCache

    return DownloadCache()


_ITSLIVE_TIME = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T ](\d{2}):?(\d{2}):?(\d{2}(?:\.\d+)?)?)?")


def parse_time(value: Any) -> pd.Timestamp | None:
    """An ITS_LIVE time (``19841206T12:52:19.377``, or ISO) as a naive UTC Timestamp; None if unreadable.

    Examples
    --------
    >>> parse_time("19841206T12:52:19.377")
    Timestamp('1984-12-06 12:52:19.377000')
    >>> parse_time("2018-03-04T14:10:09Z")
    Timestamp('2018-03-04 14:10:09')
    """
    if value is None:
        return None
    text = str(value).strip()
    match = _ITSLIVE_TIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = match.groups()
    try:
        stamp = pd.Timestamp(int(year), int(month), int(day))
    except ValueError:
        return None
    if hour is not None:
        stamp += pd.Timedelta(hours=int(hour), minutes=int(minute or 0), seconds=float(second or 0))
    return stamp


def sensor_name(mission: Any, satellite: Any, image_id: Any = None) -> str:
    """A human sensor name: ``("L", "8")`` → ``"Landsat 8"``, ``("S", "2A")`` → ``"Sentinel-2A"``.

    Examples
    --------
    >>> sensor_name("L", "8"), sensor_name("S", "2A"), sensor_name(None, "1B"), sensor_name("L", 5.0)
    ('Landsat 8', 'Sentinel-2A', 'Sentinel-1B', 'Landsat 5')
    """
    sat = str(satellite).strip() if satellite is not None else ""
    if sat.replace(".", "", 1).isdigit():
        sat = str(int(float(sat)))
    mis = str(mission).strip().upper()[:1] if mission is not None else ""
    if not mis and image_id:
        mis = str(image_id)[:1].upper()
    if not mis and sat:
        mis = "S" if sat[:1] in ("1", "2") and sat[-1:].isalpha() else "L"
    if mis == "L":
        return f"Landsat {sat}".strip()
    if mis == "S":
        return f"Sentinel-{sat}" if sat else "Sentinel"
    if mis == "N":
        return "NISAR"
    return " ".join(p for p in (mis, sat) if p) or "unknown"


@functools.lru_cache(maxsize=32)
def to_crs_transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


def series_label(mission: Any, satellite: Any, dt_days: float) -> str:
    """``"Landsat 8 dt=16 d"``.

    Examples
    --------
    >>> series_label("S", "1A", 12.0)
    'Sentinel-1A dt=12 d'
    """
    sensor = sensor_name(mission or None, satellite or None)
    days = f"{round(float(dt_days)):d}" if math.isfinite(float(dt_days)) else "?"
    return f"{sensor} dt={days} d"


def as_series(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with exactly the series columns and dtypes, sorted by ``mid_date``."""
    dtypes = empty_series().dtypes.to_dict()
    table = table[list(SERIES_COLUMNS)].astype(dtypes)
    return table.sort_values("mid_date", kind="stable").reset_index(drop=True)
