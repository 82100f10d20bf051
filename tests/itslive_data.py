"""Synthetic ITS_LIVE data for tests: a V2 granule NetCDF, a tiny Zarr datacube and STAC items.

Everything follows the schemas of ``shared/docs/data-sources.md`` §1 (the producer code's layout), with known
values so tests can check what the readers return:

`write_granule`
    An image-pair granule (``*_G0120V02_P<pct>.nc``) written with netCDF4: int16 ``vx``/``vy``/``v``/``v_error``
    with ``_FillValue=-32767``, ``interp_mask`` (uint8), ``chip_size_*`` (uint16), the ``mapping`` grid-mapping
    variable (``spatial_epsg``, ``crs_wkt``, pixel-centre ``GeoTransform``) and ``img_pair_info``.
`write_cube`
    A Zarr v2 datacube with consolidated metadata, ``(mid_date, y, x)`` int16 velocities and the 1-D per-pair
    variables, ``mid_date`` deliberately unsorted.
`itslive_item`
    A STAC item dict of the ``itslive-granules`` collection.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS, Transformer

__all__ = [
    "CUBE_LAT",
    "CUBE_LON",
    "SyntheticCube",
    "SyntheticGranule",
    "granule_name",
    "itslive_item",
    "write_cube",
    "write_granule",
]

FILL = -32767
#: Jakobshavn Isbræ, where `write_cube` centres its cube.
CUBE_LON, CUBE_LAT = -49.46, 69.11
DATA_BASE = "https://its-live-data.s3.amazonaws.com"


@dataclass
class SyntheticGranule:
    """What `write_granule` wrote: the file and the truth (float arrays, NaN at fill)."""

    path: Path
    x: np.ndarray
    y: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    v: np.ndarray
    interp: np.ndarray
    t0: pd.Timestamp
    t1: pd.Timestamp
    dt_days: float
    epsg: int
    spacing: float


def granule_name(id1: str, id2: str, percent_valid: int) -> str:
    """The V2 file name of a pair: ``<id1>_X_<id2>_G0120V02_P<pct>.nc``."""
    return f"{id1}_X_{id2}_G0120V02_P{int(percent_valid):03d}.nc"


def _stamp(t: pd.Timestamp) -> str:
    """ITS_LIVE's date format: ``19841206T12:52:19.377``."""
    return t.strftime("%Y%m%dT%H:%M:%S.%f")


def write_granule(
    path: str | Path,
    *,
    crs: str = "EPSG:3413",
    shape: tuple[int, int] = (30, 40),
    origin: tuple[float, float] = (-180_060.0, -2_279_940.0),
    spacing: float = 120.0,
    t0: str = "2018-03-04T14:10:09.5",
    t1: str = "2018-04-05T14:10:21.25",
    id1: str = "LC08_L1TP_009011_20180304_20200902_02_T1",
    id2: str = "LC08_L1TP_009011_20180405_20200902_02_T1",
    vx: np.ndarray | None = None,
    vy: np.ndarray | None = None,
    fill: np.ndarray | None = None,
    interp: np.ndarray | None = None,
    error: float = 12.5,
) -> SyntheticGranule:
    """Write a V2 ITS_LIVE granule with a known velocity field.

    Parameters
    ----------
    path : str or Path
        The ``.nc`` file to write.
    crs : str
        The granule's projection (polar stereographic or UTM).
    shape : (rows, cols)
    origin : (x, y)
        Centre of the upper-left pixel, m.
    spacing : float
        Grid spacing, m (``y`` decreases).
    t0, t1 : str
        The acquisition times of the two images (UTC).
    id1, id2 : str
        Image ids.
    vx, vy : ndarray, optional
        Velocities, m/yr (rounded to int16 when written). Default: a smooth field,
        ``vx = 1000 + 10 col``, ``vy = -500 + 5 row``.
    fill : ndarray of bool, optional
        Where to write the fill value (no measurement). Default: the first column.
    interp : ndarray of bool, optional
        Where ``interp_mask == 1``. Default: the last row.
    error : float
        The ``error`` attribute of ``vx``/``vy`` and the ``v_error`` value, m/yr.

    Returns
    -------
    SyntheticGranule
        The path and the truth, NaN where filled.
    """
    path = Path(path)
    rows, cols = shape
    r, c = np.mgrid[0:rows, 0:cols]
    vx = np.asarray(vx if vx is not None else 1000.0 + 10.0 * c, dtype=np.float64)
    vy = np.asarray(vy if vy is not None else -500.0 + 5.0 * r, dtype=np.float64)
    fill = np.asarray(fill if fill is not None else c == 0, dtype=bool)
    interp = np.asarray(interp if interp is not None else r == rows - 1, dtype=bool) & ~fill
    vx_i = np.where(fill, FILL, np.round(vx)).astype(np.int16)
    vy_i = np.where(fill, FILL, np.round(vy)).astype(np.int16)
    v_true = np.hypot(vx_i.astype(float), vy_i.astype(float))
    v_i = np.where(fill, FILL, np.round(v_true)).astype(np.int16)
    x = origin[0] + spacing * np.arange(cols)
    y = origin[1] - spacing * np.arange(rows)
    time0, time1 = pd.Timestamp(t0), pd.Timestamp(t1)
    dt_days = (time1 - time0) / pd.Timedelta(days=1)
    proj = CRS.from_user_input(crs)
    epsg = int(proj.to_epsg())
    centre = Transformer.from_crs(proj, 4326, always_xy=True).transform(float(x.mean()), float(y.mean()))

    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.setncatts(
            {
                "GDAL_AREA_OR_POINT": "Area",
                "Conventions": "CF-1.8",
                "date_created": "12-Jan-2023 05:22:37",
                "title": "autoRIFT surface velocities",
                "autoRIFT_software_version": "1.5.0",
                "scene_pair_type": "optical",
                "satellite": "Landsat 8",
                "motion_detection_method": "feature",
                "motion_coordinates": "map",
                "institution": "NASA Jet Propulsion Laboratory (JPL)",
                "source": "synthetic test granule",
            }
        )
        nc.createDimension("y", rows)
        nc.createDimension("x", cols)

        info = nc.createVariable("img_pair_info", "i1", (), fill_value=-127)
        mission = {"L": "L", "S": "S"}[id1[0]]
        info.setncatts(
            {
                "standard_name": "image_pair_information",
                "id_img1": id1,
                "id_img2": id2,
                "acquisition_date_img1": _stamp(time0),
                "acquisition_date_img2": _stamp(time1),
                "collection_category_img1": "T1",
                "collection_category_img2": "T1",
                "correction_level_img1": "L1TP",
                "correction_level_img2": "L1TP",
                "mission_img1": mission,
                "mission_img2": mission,
                "satellite_img1": id1[3] if mission == "L" else id1[1:3],
                "satellite_img2": id2[3] if mission == "L" else id2[1:3],
                "sensor_img1": "C",
                "sensor_img2": "C",
                "path_img1": 9.0,
                "path_img2": 9.0,
                "row_img1": 11.0,
                "row_img2": 11.0,
                "time_standard_img1": "UTC",
                "time_standard_img2": "UTC",
                "date_center": _stamp(time0 + (time1 - time0) / 2),
                "date_dt": float(dt_days),
                "latitude": round(centre[1], 2),
                "longitude": round(centre[0], 2),
                "roi_valid_percentage": float(100.0 * (~fill).mean()),
            }
        )

        mapping = nc.createVariable("mapping", "i1", (), fill_value=-127)
        cf = proj.to_cf()
        mapping.setncatts({k: v for k, v in cf.items() if k != "crs_wkt" and not isinstance(v, list | dict)})
        mapping.setncatts(
            {
                "spatial_ref": proj.to_wkt("WKT1_GDAL"),
                "crs_wkt": proj.to_wkt("WKT1_GDAL"),
                "proj4text": _proj4(proj),
                "spatial_epsg": epsg,
                "GeoTransform": f"{x[0]} {spacing} 0.0 {y[0]} 0.0 {-spacing}",  # pixel-centre origin, as ITS_LIVE
            }
        )

        for name, values, standard in (
            ("x", x, "projection_x_coordinate"),
            ("y", y, "projection_y_coordinate"),
        ):
            var = nc.createVariable(name, "f8", (name,))
            var[:] = values
            var.setncatts(
                {"standard_name": standard, "description": f"{name} coordinate of projection", "units": "m"}
            )

        def int16(name: str, data: np.ndarray, attrs: dict[str, Any]) -> None:
            var = nc.createVariable(
                name,
                "i2",
                ("y", "x"),
                fill_value=FILL,
                zlib=True,
                complevel=2,
                shuffle=True,
                chunksizes=(1, cols),
            )
            var.setncatts({"units": "meter/year", "grid_mapping": "mapping", **attrs})
            var[:] = np.ma.masked_equal(data, FILL)

        error_attrs = {
            "error": error,
            "error_description": "best estimate",
            "error_modeled": error,
            "error_slow": np.nan,
            "error_stationary": np.nan,
            "stable_shift": 0.0,
            "stable_shift_flag": 0,
            "stable_count_slow": 0,
            "stable_count_stationary": 0,
        }
        int16(
            "vx",
            vx_i,
            {
                "standard_name": "land_ice_surface_x_velocity",
                **error_attrs,
                "description": "velocity component in x direction",
            },
        )
        int16(
            "vy",
            vy_i,
            {
                "standard_name": "land_ice_surface_y_velocity",
                **error_attrs,
                "description": "velocity component in y direction",
            },
        )
        int16("v", v_i, {"standard_name": "land_ice_surface_velocity", "description": "velocity magnitude"})
        int16(
            "v_error",
            np.where(fill, FILL, round(error)).astype(np.int16),
            {"standard_name": "velocity_error", "description": "velocity magnitude error"},
        )

        for name, attr in (("chip_size_width", "x_pixel_size"), ("chip_size_height", "y_pixel_size")):
            var = nc.createVariable(name, "u2", ("y", "x"), fill_value=0)
            var.setncatts(
                {
                    "units": "m",
                    "grid_mapping": "mapping",
                    attr: 15.0,
                    "chip_size_coordinates": "image projection geometry: width = x, height = y",
                }
            )
            var[:] = np.where(fill, 0, 480).astype(np.uint16)
        mask = nc.createVariable("interp_mask", "u1", ("y", "x"), fill_value=0)
        mask.setncatts(
            {
                "standard_name": "interpolated_value_mask",
                "flag_values": np.array([0, 1], np.uint8),
                "flag_meanings": "measured interpolated",
                "grid_mapping": "mapping",
            }
        )
        mask[:] = interp.astype(np.uint8)

    nan = np.where(fill, np.nan, 1.0)
    return SyntheticGranule(
        path=path,
        x=x,
        y=y,
        vx=vx_i * nan,
        vy=vy_i * nan,
        v=v_i * nan,
        interp=interp,
        t0=time0,
        t1=time1,
        dt_days=float(dt_days),
        epsg=epsg,
        spacing=float(spacing),
    )


def _proj4(crs: CRS) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # "you will likely lose important projection information"
        return crs.to_proj4()


@dataclass
class SyntheticCube:
    """What `write_cube` wrote: the store and the truth (mid_date as written, i.e. unsorted)."""

    path: Path
    x: np.ndarray
    y: np.ndarray
    mid_date: np.ndarray
    dt_days: np.ndarray
    v: np.ndarray  # (mid_date, y, x) float, NaN at fill
    vx: np.ndarray
    vy: np.ndarray
    v_error: np.ndarray
    satellite: np.ndarray
    mission: np.ndarray


def write_cube(
    path: str | Path,
    *,
    n_time: int = 40,
    size: int = 20,
    spacing: float = 120.0,
    seed: int = 0,
    lon: float = CUBE_LON,
    lat: float = CUBE_LAT,
    start: str = "2015-01-10T14:00:00",
    velocity: Callable[[pd.Timestamp, pd.Timestamp, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    | None = None,
) -> SyntheticCube:
    """Write a tiny Zarr v2 ITS_LIVE datacube (consolidated metadata) around Jakobshavn, EPSG:3413.

    ``vx = -(2000 + 10 i + 3 col)``, ``vy = 1500 + 20 row`` for the i-th pair (as written), a few values filled;
    ``mid_date`` is shuffled.

    Parameters
    ----------
    path : str or Path
        The ``.zarr`` directory to create.
    n_time, size : int
        Number of pairs, and cells along x and y.
    spacing : float
        Grid spacing, m.
    seed : int
        Seed of the shuffle of the dates.
    lon, lat : float
        Centre of the cube, degrees.
    start : str
        Second image time of the earliest pair (pairs follow every 37 days).
    velocity : callable, optional
        ``velocity(t0, t1, x, y) -> (vx, vy)`` in m/yr along EPSG:3413's axes at the cells' coordinates: the
        cube's values (e.g. the demo's true motion). Default: the formula above.

    Returns
    -------
    SyntheticCube
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    cx, cy = Transformer.from_crs(4326, 3413, always_xy=True).transform(lon, lat)
    x0 = np.round(cx / spacing) * spacing - spacing * (size // 2)
    y0 = np.round(cy / spacing) * spacing + spacing * (size // 2)
    x = x0 + spacing * np.arange(size)
    y = y0 - spacing * np.arange(size)

    dt_days = rng.choice([5.0, 12.0, 16.0, 32.0, 48.0], n_time)
    t1 = pd.Timestamp(start) + pd.to_timedelta(rng.permutation(n_time) * 37.0, unit="D")
    t0 = t1 - pd.to_timedelta(dt_days, unit="D")
    mid = t0 + (t1 - t0) / 2
    i = np.arange(n_time)[:, None, None]
    rr, cc = np.mgrid[0:size, 0:size]
    vx = -(2000.0 + 10.0 * i + 3.0 * cc[None])
    vy = np.broadcast_to(1500.0 + 20.0 * rr[None], vx.shape).copy()
    if velocity is not None:
        xx, yy = np.meshgrid(x, y)
        for k in range(n_time):
            vx[k], vy[k] = velocity(t0[k], t1[k], xx, yy)
    fill = np.zeros(vx.shape, dtype=bool)
    fill[::7, 0, :] = True  # some pairs have no value on the first row
    v = np.round(np.hypot(vx, vy))
    v_error = np.broadcast_to((50.0 + dt_days)[:, None, None], vx.shape).copy()
    satellite = np.array(["8", "9", "2A", "1A"])[i.ravel() % 4]
    mission = np.array(["L", "L", "S", "S"])[i.ravel() % 4]

    def int16(values: np.ndarray, attrs: dict[str, str]) -> tuple[Any, ...]:
        return (
            ("mid_date", "y", "x"),
            np.where(fill, FILL, values).astype(np.int16),
            {"units": "meter/year", "grid_mapping": "mapping", **attrs},
        )

    ds = xr.Dataset(
        {
            "v": int16(v, {"standard_name": "land_ice_surface_velocity"}),
            "vx": int16(vx, {"standard_name": "land_ice_surface_x_velocity"}),
            "vy": int16(vy, {"standard_name": "land_ice_surface_y_velocity"}),
            "v_error": int16(v_error, {"standard_name": "velocity_error"}),
            "date_dt": (
                "mid_date",
                dt_days,
                {"units": "days", "standard_name": "image_pair_time_separation"},
            ),
            "acquisition_date_img1": ("mid_date", t0.to_numpy(), {"standard_name": "image1_acquition_date"}),
            "acquisition_date_img2": ("mid_date", t1.to_numpy(), {"standard_name": "image2_acquition_date"}),
            "satellite_img1": ("mid_date", satellite, {"standard_name": "image1_satellite"}),
            "mission_img1": ("mid_date", mission, {"standard_name": "image1_mission"}),
            "mapping": (
                (),
                0,
                {
                    "grid_mapping_name": "polar_stereographic",
                    "spatial_epsg": 3413,
                    "straight_vertical_longitude_from_pole": -45.0,
                    "latitude_of_projection_origin": 90.0,
                    "standard_parallel": 70.0,
                    "crs_wkt": CRS.from_epsg(3413).to_wkt("WKT1_GDAL"),
                    "GeoTransform": f"{x[0] - spacing / 2} {spacing} 0 {y[0] + spacing / 2} 0 {-spacing}",
                },
            ),
        },
        coords={
            "mid_date": (
                "mid_date",
                mid.to_numpy(),
                {"standard_name": "image_pair_center_date_with_time_separation"},
            ),
            "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": "m"}),
            "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": "m"}),
        },
        attrs={
            "projection": "3413",
            "title": "ITS_LIVE datacube of image pair velocities",
            "datacube_software_version": "synthetic",
        },
    )
    chunks = (n_time, min(10, size), min(10, size))  # as ITS_LIVE: the whole time axis, 10 x 10 cells
    encoding: dict[str, dict[str, Any]] = {
        name: {"_FillValue": FILL, "dtype": "int16", "chunks": chunks}
        for name in ("v", "vx", "vy", "v_error")
    }
    encoding["date_dt"] = {"_FillValue": None}
    ds.to_zarr(path, mode="w", zarr_format=2, consolidated=True, encoding=encoding)
    nan = np.where(fill, np.nan, 1.0)
    return SyntheticCube(
        path=path,
        x=x,
        y=y,
        mid_date=mid.to_numpy(),
        dt_days=dt_days,
        v=v * nan,
        vx=vx * nan,
        vy=vy * nan,
        v_error=v_error * nan,
        satellite=satellite,
        mission=mission,
    )


def itslive_item(
    *,
    t0: str = "2018-03-04T14:10:09Z",
    t1: str = "2018-04-05T14:10:21Z",
    id1: str = "LC08_L1TP_009011_20180304_20200902_02_T1",
    id2: str = "LC08_L1TP_009011_20180405_20200902_02_T1",
    lon: float = -49.5,
    lat: float = 69.1,
    percent_valid: int = 42,
    epsg: int = 3413,
    half_size_deg: float = 1.0,
) -> dict[str, Any]:
    """A STAC item of the ``itslive-granules`` collection, as the producer writes it.

    Parameters
    ----------
    t0, t1 : str
        Image 1 and image 2 acquisition times (ISO, UTC).
    id1, id2 : str
        Image ids; the platform and frame are derived from ``id1`` as the producer does.
    lon, lat : float
        Granule centre.
    percent_valid : int
    epsg : int
    half_size_deg : float
        Half the footprint's width in degrees of latitude (the longitude extent is widened by 1/cos(lat)).

    Returns
    -------
    dict
        A GeoJSON Feature (STAC 1.1.0 item).
    """
    start, end = pd.Timestamp(t0), pd.Timestamp(t1)
    mid = start + (end - start) / 2
    dt_days = round((end - start) / pd.Timedelta(days=1))
    name = granule_name(id1, id2, percent_valid)[:-3]
    platform = id1.split("_")[0]
    if platform.startswith(("LC", "LO", "LE", "LT")):
        frame = id1.split("_")[2]
        folder = "landsatOLI"
    elif platform.startswith("S2"):
        frame = id1.split("_")[5] if id1.count("_") >= 5 else "T22WEB"
        folder = "sentinel2"
    else:
        frame = id1.split("_")[-2] if "_" in id1 else "000000"
        folder = "sentinel1"
    dlat = half_size_deg
    dlon = half_size_deg / max(np.cos(np.radians(lat)), 0.05)
    ring = _ring(lon - dlon, lat - dlat, lon + dlon, lat + dlat)
    lat_bin = f"{'N' if lat >= 0 else 'S'}{int(abs(lat) // 10 * 10):02d}"
    lon_bin = f"{'E' if lon >= 0 else 'W'}{int(abs(lon) // 10 * 10):03d}"
    key = f"velocity_image_pair/{folder}/v02/{lat_bin}{lon_bin}/{name}"

    def iso(t: pd.Timestamp) -> str:
        return (
            t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if t.tzinfo
            else t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        )

    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
            "https://stac-extensions.github.io/alternate-assets/v1.2.0/schema.json",
            "https://stac-extensions.github.io/version/v1.2.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.1.0/schema.json",
        ],
        "id": name,
        "collection": "itslive-granules",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "bbox": [round(lon - dlon, 4), round(lat - dlat, 4), round(lon + dlon, 4), round(lat + dlat, 4)],
        "properties": {
            "datetime": iso(mid),
            "mid_datetime": iso(mid),
            "start_datetime": iso(start),
            "end_datetime": iso(end),
            "created": "2023-01-12T05:22:37Z",
            "updated": "2023-01-12T05:22:37Z",
            "latitude": round(lat, 2),
            "longitude": round(lon, 2),
            "date_dt": float(dt_days),
            "percent_valid_pixels": int(percent_valid),
            "platform": platform,
            "scene_1_id": id1,
            "scene_2_id": id2,
            "scene_1_frame": frame,
            "scene_2_frame": frame,
            "sat:orbit_state": "N/A",
            "proj:code": f"EPSG:{epsg}",
            "version": "002",
        },
        "links": [],
        "assets": {
            "data": {
                "href": f"{DATA_BASE}/{key}.nc",
                "type": "application/netcdf",
                "title": "NetCDF data",
                "roles": ["data"],
                "alternate": {"s3": {"href": f"s3://its-live-data/{key}.nc"}},
            },
            "overview": {"href": f"{DATA_BASE}/{key}.png", "type": "image/png", "roles": ["overview"]},
            "thumbnail": {
                "href": f"{DATA_BASE}/{key}_thumb.png",
                "type": "image/png",
                "roles": ["thumbnail"],
            },
        },
    }


def _ring(west: float, south: float, east: float, north: float) -> list[list[float]]:
    """A closed 17-vertex ring along a box's edges (4 vertices per edge), rounded to 4 dp."""
    t = np.linspace(0.0, 1.0, 5)[:-1]
    edges = [
        np.column_stack([west + (east - west) * t, np.full(4, south)]),
        np.column_stack([np.full(4, east), south + (north - south) * t]),
        np.column_stack([east - (east - west) * t, np.full(4, north)]),
        np.column_stack([np.full(4, west), north - (north - south) * t]),
    ]
    points = np.vstack([*edges, [[west, south]]]).round(4)
    return points.tolist()
