"""Stable keys: short hex digests of text, the same in every process and on every machine.

Keys name files that outlive a run (stored results, batch outputs, downloads), so a key's digest input and
length never change: a new scheme would orphan every file named by the old one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "digest"]


def digest(text: str, length: int | None = 16, *, algorithm: str = "sha1") -> str:
    """The first ``length`` hex digits of the ``algorithm`` hash of ``text`` (UTF-8).

    Parameters
    ----------
    text : str
        What to hash.
    length : int or None
        Hex digits to keep; None keeps them all.
    algorithm : str
        A `hashlib` algorithm name (not used for security).

    Returns
    -------
    str
        Lowercase hex digits.

    Examples
    --------
    >>> digest("abc"), digest("abc", 8), len(digest("abc", None, algorithm="sha256"))
    ('a9993e364706816a', 'a9993e36', 64)
    """
    hex_digits = hashlib.new(algorithm, text.encode("utf-8"), usedforsecurity=False).hexdigest()
    return hex_digits if length is None else hex_digits[:length]


def canonical_json(payload: Any) -> str:
    """``payload`` as JSON with sorted keys, no whitespace and ASCII only: one text for equal payloads.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.5, None]})
    '{"a":[1.5,null],"b":1}'
    """
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
