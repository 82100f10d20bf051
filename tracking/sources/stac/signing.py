"""Planetary Computer signing: append short-lived SAS tokens to Azure blob hrefs (`SasSigner`).

Tokens are fetched once per storage account and container, cached until shortly before they expire, and
shared by the process-wide signer (`default_signer`) for the current ``PC_SDK_*`` settings.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pystac
import requests

from tracking.exceptions import RemoteError
from tracking.sources import http

__all__ = [
    "DEFAULT_SAS_URL",
    "TOKEN_MARGIN_S",
    "SasSigner",
    "blob_container",
    "default_signer",
    "unsigned_href",
]

#: The Planetary Computer SAS token endpoint (override with the ``PC_SDK_SAS_URL`` environment variable).
DEFAULT_SAS_URL = "https://planetarycomputer.microsoft.com/api/sas/v1/token"
#: Seconds before a SAS token's expiry from which it is no longer used.
TOKEN_MARGIN_S = 60.0

_AZURE_BLOB = ".blob.core.windows.net"
#: Planetary Computer storage accounts that are public (their hrefs are not signed).
_PUBLIC_ACCOUNTS = frozenset({"ai4edatasetspublicassets"})


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
        blob = blob_container(href)
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


def blob_container(href: str) -> tuple[str, str] | None:
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


def unsigned_href(href: str) -> str:
    """An Azure blob href without its SAS query string (other hrefs unchanged)."""
    if blob_container(href) is None:
        return href
    return href.split("?", 1)[0]


@functools.lru_cache(maxsize=4)
def _signer_for(token_url: str | None, subscription_key: str | None) -> SasSigner:
    return SasSigner(token_url, subscription_key=subscription_key)


def default_signer() -> SasSigner:
    """The process-wide signer for the current ``PC_SDK_*`` settings (its token cache is shared)."""
    return _signer_for(os.environ.get("PC_SDK_SAS_URL"), os.environ.get("PC_SDK_SUBSCRIPTION_KEY"))
