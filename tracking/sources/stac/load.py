"""Reading scenes: the area of interest of a scene-table row's band over HTTP, alone or as a pair.

`load_scene` signs Planetary Computer hrefs afresh, reads the USGS requester-pays copy with AWS credentials,
and reads only the window over the area of interest (`tracking.sources.cog.read_aoi`, cached on disk);
`load_pair` puts two scenes on one grid.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

import pandas as pd
import xarray as xr

from tracking.exceptions import AuthenticationError, MissingAssetError
from tracking.scenes import Pair
from tracking.sources import cog, http
from tracking.sources.cache import DownloadCache
from tracking.sources.stac.providers import USGS_PAN_CREDENTIALS, Provider, provider_for
from tracking.sources.stac.signing import SasSigner, blob_container, default_signer, unsigned_href

__all__ = ["load_pair", "load_scene"]

_LANDSATLOOK_DATA = "https://landsatlook.usgs.gov/data/"


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
    prov = provider_for(provider if provider is not None else row.get("provider"))
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
    unsigned = unsigned_href(href)
    blob = blob_container(unsigned)
    env: dict[str, Any] = {}
    if _requester_pays(href, prov):
        href, env = _requester_pays_href(row, href, scene_id, prov)
    elif blob is not None:  # Planetary Computer: a fresh token (the row's may have expired)
        href = (signer or default_signer()).sign(unsigned)
    bounds = tuple(float(v) for v in bbox)
    kwargs: dict[str, Any] = {
        "bbox_crs": bbox_crs,
        "time": row.get("time"),
        "sensor": str(row.get("sensor") or "unknown"),
        "band": band,
        "scene_id": scene_id,
        "cache": cache,
        "what": what,
        "cache_key": f"{http.redact(unsigned)}|{bounds}|{bbox_crs}|1",
    }
    try:
        with http.gdal_env(**env) if env else contextlib.nullcontext():
            return cog.read_aoi(href, bounds, **kwargs)
    except AuthenticationError as err:
        if blob is not None:
            (signer or default_signer()).forget(*blob)
        raise AuthenticationError(f"{err} {_credentials_advice(prov, unsigned)}") from None


def _requester_pays(href: str, prov: Provider | None) -> bool:
    """Whether ``href`` is (or, for the pan provider, has a copy) in the requester-pays USGS bucket."""
    return (prov is not None and prov.key == "landsat-pan") or href.startswith(
        ("s3://usgs-landsat/", _LANDSATLOOK_DATA)
    )


def _requester_pays_href(
    row: Mapping[str, Any], href: str, scene_id: str, prov: Provider | None
) -> tuple[str, dict[str, Any]]:
    """The ``s3://usgs-landsat`` href to read with AWS credentials, and its GDAL settings."""
    if not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
        source = prov.label if prov is not None else "the USGS Landsat archive"
        raise AuthenticationError(
            f"scene {scene_id}: {source} is an opt-in source that needs credentials: "
            f"{USGS_PAN_CREDENTIALS}. "
            "Set them and search again, or use the 'landsat' (Planetary Computer) or 'sentinel2' source, "
            "which need none."
        )
    s3_href = str(row.get("s3_href") or "")
    if not s3_href and href.startswith(_LANDSATLOOK_DATA):
        s3_href = "s3://usgs-landsat/" + href[len(_LANDSATLOOK_DATA) :]
    return s3_href or href, {"AWS_REQUEST_PAYER": "requester"}


def _credentials_advice(prov: Provider | None, href: str) -> str:
    """What to do after a refusal, for the provider of ``href``."""
    if blob_container(href) is not None:
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
