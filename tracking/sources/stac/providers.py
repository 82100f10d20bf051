"""The STAC providers icetrack knows: each API's root, collections and band asset (`PROVIDERS`).

One `Provider` per source (Planetary Computer Landsat, Earth Search Sentinel-2, USGS Landsat panchromatic),
the other asset keys of each band (`ASSET_ALIASES`), and the lookup of a provider by its key.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracking.exceptions import ParameterError

__all__ = [
    "ASSET_ALIASES",
    "PROVIDERS",
    "USGS_PAN_CREDENTIALS",
    "Provider",
    "provider_for",
    "required_provider",
]

USGS_PAN_CREDENTIALS = (
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
        needs_credentials=USGS_PAN_CREDENTIALS,
        pixel_size=15.0,
    ),
}

#: Other keys of the same band, tried when an item lacks the provider's asset key.
ASSET_ALIASES: dict[str, tuple[str, ...]] = {
    "red": ("SR_B4", "B4", "B04"),
    "nir": ("B08",),
    "pan": ("B8", "B8.TIF"),
}


def provider_for(provider: Provider | str | None) -> Provider | None:
    """The `Provider` for a key (or a Provider, or None)."""
    if provider is None or isinstance(provider, Provider):
        return provider
    key = str(provider)
    if not key:
        return None
    if key not in PROVIDERS:
        raise ParameterError(f"unknown STAC provider {key!r}: choose one of {', '.join(sorted(PROVIDERS))}.")
    return PROVIDERS[key]


def required_provider(provider: Provider | str) -> Provider:
    """The `Provider` for a key (or a Provider); raises `ParameterError` when none is given or it is unknown."""
    found = provider_for(provider)
    if found is None:
        raise ParameterError(f"give a STAC provider: one of {', '.join(sorted(PROVIDERS))}.")
    return found
