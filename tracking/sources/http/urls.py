"""URLs in messages: secrets redacted (`redact`), the host named, the credentials a host asks for."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["credential_hint", "redact", "redact_text", "url_host"]

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
        return redact_text(str(url))
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_text(text: str) -> str:
    """``text`` with the query string and user:password of every URL in it removed."""
    return _URL_USERINFO.sub(r"\1", _QUERY.sub("", text))


def url_host(url: str) -> str:
    """The host (and port) of ``url``, or the redacted URL if it has none."""
    return urlsplit(str(url)).netloc.rsplit("@", 1)[-1] or redact(url)


def credential_hint(url: str) -> str:
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
    return f"valid credentials for {url_host(url)}"
