"""Point time series exported by ``itslive-export --format csv``, read as the series table.

`read_series_csv` reads the CSV's velocities, pair dates and sensors into the same series table as
`tracking.sources.itslive.cubes.cube_series` (`tracking.schema.SERIES_COLUMNS`), naming the point from a
``LAT69.1117--LON-49.4604`` file name.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj.exceptions import CRSError

from tracking.exceptions import TrackingError
from tracking.sources.itslive.common import SOURCE, as_series, series_label, to_crs_transformer

__all__ = ["read_series_csv"]

_POINT_NAME = re.compile(r"LAT(-?\d+(?:\.\d+)?)--LON(-?\d+(?:\.\d+)?)")


def read_series_csv(path: str | os.PathLike[str], *, name: str | None = None) -> pd.DataFrame:
    """Read a point time series exported by ``itslive-export --format csv`` as a series table.

    Parameters
    ----------
    path : str or path-like
        The CSV (columns ``mid_date, lat, lon, v [m/yr], v_error [m/yr], vx [m/yr], vx_error [m/yr],
        vy [m/yr], vy_error [m/yr], date_dt [days], mission, satellite, epsg``).
    name : str, optional
        The ``point`` name; default from a ``LAT69.1117--LON-49.4604`` file name (``"69.1117 N, 49.4604 W"``),
        else the file's stem.

    Returns
    -------
    pandas.DataFrame
        The series table (`tracking.schema.SERIES_COLUMNS`), sorted by ``mid_date``: ``t0``/``t1`` the mid
        date ∓ half of ``date_dt``, ``x``/``y`` the point in the file's ``epsg``, ``source="ITS_LIVE"``,
        ``label`` like ``"Landsat 8 dt=16 d"``, ``valid`` where ``v`` is finite.

    Raises
    ------
    TrackingError
        The file is not in that layout: not a CSV, columns missing, only a header, a ``mid_date`` that is not an
        ISO date, or an ``epsg`` that is not a known EPSG code.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise TrackingError(f"cannot read {path.name} as CSV ({err}).") from None
    missing = [c for c in ("mid_date", "lat", "lon", "v [m/yr]", "date_dt [days]") if c not in raw.columns]
    if missing:
        raise TrackingError(
            f"{path.name} is not an ITS_LIVE point time series (it lacks {', '.join(missing)}): export one "
            "with itslive-export --format csv."
        )
    if raw.empty:
        raise TrackingError(f"{path.name} has no measurements (only its header): export the series again.")
    if name is None:
        name = _point_name(path.stem)
    n = len(raw)
    try:
        stamps = pd.to_datetime(raw["mid_date"], utc=True, format="ISO8601")
    except (ValueError, TypeError) as err:
        reason = str(err).splitlines()[0]
        raise TrackingError(
            f"{path.name}: the mid_date column holds a value that is not an ISO date ({reason}): export the "
            "series again with itslive-export --format csv."
        ) from None
    mid = pd.Series(stamps.dt.tz_localize(None), dtype="datetime64[ns]")
    dt_days = pd.to_numeric(raw["date_dt [days]"], errors="coerce").to_numpy(dtype=np.float64)
    half = pd.to_timedelta(dt_days / 2, unit="D")
    lon = pd.to_numeric(raw["lon"], errors="coerce").to_numpy(dtype=np.float64)
    lat = pd.to_numeric(raw["lat"], errors="coerce").to_numpy(dtype=np.float64)
    x = y = np.full(n, np.nan)
    epsgs = (
        pd.to_numeric(raw["epsg"], errors="coerce").dropna() if "epsg" in raw else pd.Series([], dtype=float)
    )
    if len(epsgs):
        try:
            x, y = to_crs_transformer(int(epsgs.iloc[0])).transform(lon, lat)
        except (ValueError, OverflowError, CRSError) as err:
            raise TrackingError(
                f"{path.name}: the epsg column holds {epsgs.iloc[0]:g}, not a known EPSG code ({err}): export the "
                "series again with itslive-export --format csv."
            ) from None

    def column(label: str) -> np.ndarray:
        if label not in raw:
            return np.full(n, np.nan)
        return pd.to_numeric(raw[label], errors="coerce").to_numpy(dtype=np.float64)

    v = column("v [m/yr]")
    missions = raw["mission"].astype(str).tolist() if "mission" in raw else [""] * n
    satellites = raw["satellite"].astype(str).tolist() if "satellite" in raw else [""] * n
    table = pd.DataFrame(
        {
            "point": name,
            "lon": lon,
            "lat": lat,
            "x": np.asarray(x, dtype=np.float64),
            "y": np.asarray(y, dtype=np.float64),
            "t0": mid - half,
            "t1": mid + half,
            "mid_date": mid,
            "dt_days": dt_days,
            "v": v,
            "vx": column("vx [m/yr]"),
            "vy": column("vy [m/yr]"),
            "valid": np.isfinite(v),
            "interpolated": False,
            "peak": np.nan,
            "label": [series_label(m, s, d) for m, s, d in zip(missions, satellites, dt_days, strict=True)],
            "source": SOURCE,
            "v_error": column("v_error [m/yr]"),
        }
    )
    return as_series(table)


def _point_name(stem: str) -> str:
    """``"LAT69.1117--LON-49.4604"`` → ``"69.1117 N, 49.4604 W"``; other names as they are.

    Examples
    --------
    >>> _point_name("timeseries_LAT61.1804--LON-146.9751")
    '61.1804 N, 146.9751 W'
    >>> _point_name("my_point")
    'my_point'
    """
    match = _POINT_NAME.search(stem)
    if match is None:
        return stem
    lat_text, lon_text = match.groups()
    lat_hemi = "S" if lat_text.startswith("-") else "N"
    lon_hemi = "W" if lon_text.startswith("-") else "E"
    return f"{lat_text.lstrip('-')} {lat_hemi}, {lon_text.lstrip('-')} {lon_hemi}"
