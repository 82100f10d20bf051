"""The names, units and attributes of icetrack's data, and its version: imports nothing from `tracking`.

A VelocityField (`tracking.velocity`) holds the variables of `VARIABLE_ATTRS` on the coordinates of
`COORD_ATTRS`, ITS_LIVE's names where they exist; a series table (`tracking.timeseries`) has the columns
`SERIES_COLUMNS` with the dtypes `SERIES_DTYPES`. Sources that build either (ITS_LIVE granules and cubes) take
the names from here, so that what they make reads like what icetrack tracks.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd

__all__ = [
    "COORD_ATTRS",
    "KERNEL_METHODS",
    "SERIES_COLUMNS",
    "SERIES_DTYPES",
    "SPEED_COLUMNS",
    "UNKNOWN_VERSION",
    "VARIABLE_ATTRS",
    "empty_series",
    "field_source",
    "matching_method",
    "software_version",
    "variable_attrs",
]

#: The version reported when icetrack runs from a source tree that was never installed (PEP 440-valid).
UNKNOWN_VERSION = "0+unknown"

#: CF attributes of each VelocityField variable; ``units`` spelled as ITS_LIVE does. ``peak``'s ``long_name``
#: names the NCC kernel's measure; `variable_attrs` gives the attributes for the kernel actually used.
VARIABLE_ATTRS: dict[str, dict[str, str]] = {
    "vx": {
        "standard_name": "land_ice_surface_x_velocity",
        "long_name": "velocity component in x direction (east)",
        "units": "meter/year",
        "description": "measured where valid, interpolated where interpolated, NaN elsewhere",
    },
    "vy": {
        "standard_name": "land_ice_surface_y_velocity",
        "long_name": "velocity component in y direction (north)",
        "units": "meter/year",
        "description": "measured where valid, interpolated where interpolated, NaN elsewhere",
    },
    "v": {
        "standard_name": "land_ice_surface_velocity",
        "long_name": "velocity magnitude",
        "units": "meter/year",
        "description": "measured where valid, interpolated where interpolated, NaN elsewhere",
    },
    "dx": {
        "long_name": "raw pixel offset along image columns (positive right)",
        "units": "pixel",
        "description": "kernel offset before outlier rejection; NaN where no match was found",
    },
    "dy": {
        "long_name": "raw pixel offset along image rows (positive down)",
        "units": "pixel",
        "description": "kernel offset before outlier rejection; NaN where no match was found",
    },
    "peak": {"long_name": "peak normalized cross-correlation", "units": "1"},
    "snr": {"long_name": "ratio of the correlation peak to the strongest other peak", "units": "1"},
    "valid": {
        "long_name": "vector passed every outlier test",
        "flag_meanings": "rejected valid",
    },
    "interpolated": {
        "long_name": "vector filled by interpolation from valid neighbours",
        "flag_meanings": "measured interpolated",
    },
}

#: CF attributes of a VelocityField's map coordinates (``units`` is added from the CRS).
COORD_ATTRS: dict[str, dict[str, str]] = {
    "x": {
        "standard_name": "projection_x_coordinate",
        "long_name": "x coordinate of chip centre",
        "axis": "X",
    },
    "y": {
        "standard_name": "projection_y_coordinate",
        "long_name": "y coordinate of chip centre",
        "axis": "Y",
    },
}

#: What each built-in kernel (``TrackingParameters.kernel``) measures, as a field's attrs name it.
KERNEL_METHODS: dict[str, str] = {"ncc": "normalized cross-correlation", "oc": "orientation correlation"}

#: Columns of a series table, in order.
SERIES_COLUMNS = (
    "point",
    "lon",
    "lat",
    "x",
    "y",
    "t0",
    "t1",
    "mid_date",
    "dt_days",
    "v",
    "vx",
    "vy",
    "valid",
    "interpolated",
    "peak",
    "label",
    "source",
    "v_error",
)

#: The dtype of each column of a series table.
SERIES_DTYPES: dict[str, Any] = {
    "point": object,
    "lon": float,
    "lat": float,
    "x": float,
    "y": float,
    "t0": "datetime64[ns]",
    "t1": "datetime64[ns]",
    "mid_date": "datetime64[ns]",
    "dt_days": float,
    "v": float,
    "vx": float,
    "vy": float,
    "valid": bool,
    "interpolated": bool,
    "peak": float,
    "label": object,
    "source": object,
    "v_error": float,
}

#: The columns of a series table in m/yr.
SPEED_COLUMNS = ("v", "vx", "vy", "v_error")


def software_version() -> str:
    """The installed icetrack version, or `UNKNOWN_VERSION` from a source tree that was never installed."""
    try:
        return version("icetrack")
    except PackageNotFoundError:  # pragma: no cover - depends on the installation
        return UNKNOWN_VERSION


def matching_method(kernel: str) -> str:
    """What the kernel called ``kernel`` measures, in words.

    Examples
    --------
    >>> matching_method("oc"), matching_method("sad")
    ('orientation correlation', 'sad kernel')
    """
    return KERNEL_METHODS.get(kernel, f"{kernel} kernel")


def field_source(kernel: str) -> str:
    """The ``source`` attr of a VelocityField icetrack tracked with ``kernel``.

    Examples
    --------
    >>> field_source("ncc")
    'icetrack feature tracking (normalized cross-correlation)'
    """
    return f"icetrack feature tracking ({matching_method(kernel)})"


def variable_attrs(kernel: str) -> dict[str, dict[str, str]]:
    """`VARIABLE_ATTRS` for a field tracked with ``kernel``: ``peak`` named after what the kernel measures.

    Examples
    --------
    >>> variable_attrs("oc")["peak"]["long_name"], variable_attrs("sad")["peak"]["long_name"]
    ('peak orientation correlation', 'peak similarity (sad kernel)')
    """
    peak = (
        f"peak {KERNEL_METHODS[kernel]}" if kernel in KERNEL_METHODS else f"peak similarity ({kernel} kernel)"
    )
    return {**VARIABLE_ATTRS, "peak": {**VARIABLE_ATTRS["peak"], "long_name": peak}}


def empty_series() -> pd.DataFrame:
    """An empty series table with the columns `SERIES_COLUMNS` and dtypes `SERIES_DTYPES`."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in SERIES_DTYPES.items()})
