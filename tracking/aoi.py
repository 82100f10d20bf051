"""Areas of interest: a square around a point, in a local metric CRS.

Remote scenes come in their own projections (a UTM zone per Landsat path/row, per Sentinel-2 tile); the area
of interest is drawn in the marker's own UTM zone (polar stereographic beyond 84° N / 80° S), and each scene's
crop is read in the scene's projection, then put on the reference scene's grid (`tracking.scenes.Pair`).
"""

from __future__ import annotations

import math

from pyproj import Transformer

from tracking.exceptions import ParameterError

__all__ = ["aoi_bounds", "local_crs"]


def local_crs(lon: float, lat: float) -> str:
    """The metric CRS an area of interest at ``(lon, lat)`` is drawn in.

    Parameters
    ----------
    lon, lat : float
        The point, degrees.

    Returns
    -------
    str
        ``"EPSG:326zz"`` / ``"EPSG:327zz"`` (the point's UTM zone, north / south), or ``"EPSG:3413"`` (NSIDC
        north polar stereographic) north of 84° N, ``"EPSG:3031"`` (Antarctic polar stereographic) south of
        80° S.

    Examples
    --------
    >>> local_crs(-49.5, 69.1), local_crs(-138.9, 60.75), local_crs(10.0, 86.0), local_crs(0.0, -85.0)
    ('EPSG:32622', 'EPSG:32607', 'EPSG:3413', 'EPSG:3031')
    """
    if not (math.isfinite(lon) and math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ParameterError(f"invalid point ({lon!r}, {lat!r}): need a finite lon and a lat in [-90, 90]")
    if lat > 84.0:
        return "EPSG:3413"
    if lat < -80.0:
        return "EPSG:3031"
    zone = int(((lon + 180.0) % 360.0) // 6.0) + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def aoi_bounds(
    lon: float, lat: float, side_km: float, crs: str | None = None
) -> tuple[float, float, float, float]:
    """The square area of interest of side ``side_km`` centred on ``(lon, lat)``.

    Parameters
    ----------
    lon, lat : float
        The centre, degrees.
    side_km : float
        Side of the square, km (positive).
    crs : str, optional
        The CRS of the square (default `local_crs`).

    Returns
    -------
    tuple of float
        ``(xmin, ymin, xmax, ymax)`` in ``crs``, metres.

    Examples
    --------
    >>> [round(v) for v in aoi_bounds(-49.5, 69.1, 10.0)]
    [554714, 7661243, 564714, 7671243]
    """
    if not side_km > 0:
        raise ParameterError(f"the area of interest must have a positive size, not {side_km!r} km")
    crs = crs or local_crs(lon, lat)
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    half = side_km * 500.0
    return (x - half, y - half, x + half, y + half)
