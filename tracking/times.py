"""Times in icetrack: timezone-naive UTC `pandas.Timestamp` everywhere (scene attrs, tables, fields)."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["DAYS_PER_YEAR", "utc_naive"]

#: Days in a year of the speeds (m/yr): the Julian year, as ITS_LIVE uses.
DAYS_PER_YEAR = 365.25


def utc_naive(value: Any) -> pd.Timestamp:
    """``value`` (a string, datetime or timestamp; aware or naive) as a timezone-naive UTC timestamp.

    Aware times are converted to UTC; naive ones are taken as UTC already.

    Examples
    --------
    >>> utc_naive("2021-05-16T14:50:00+02:00"), utc_naive("2021-05-16")
    (Timestamp('2021-05-16 12:50:00'), Timestamp('2021-05-16 00:00:00'))
    """
    stamp = pd.Timestamp(value)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
