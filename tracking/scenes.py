"""``Scene``: one georeferenced single-band image; ``Pair``: two scenes on one grid.

A scene is an ``xarray.DataArray`` with dims ``("y", "x")``, float32 values (NaN = nodata), pixel-centre
coordinates ``x`` (east, increasing) and ``y`` (north, decreasing: rows grow southward), its CRS and transform
written with rioxarray, and these attrs:

``time``
    acquisition time, ISO 8601 string (UTC).
``sensor``
    e.g. ``"Landsat 8 OLI"``.
``band``
    e.g. ``"red"`` or ``"pan"``.
``scene_id``
    an identifier, unique within its source.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.warp import transform_bounds

from tracking.exceptions import InvalidPairError, NoOverlapError, SceneReadError
from tracking.naming import SceneInfo, find_sidecar, parse_name, read_sidecar
from tracking.scene_checks import check_memory
from tracking.times import utc_naive

__all__ = [
    "MIN_OVERLAP_PX",
    "TIME_TAGS",
    "Pair",
    "date_from_name",
    "make_scene",
    "parse_tag_time",
    "read_scene",
    "scene_metadata",
    "scene_time",
]


def make_scene(
    data: np.ndarray,
    *,
    transform: Affine,
    crs: str | int | CRS,
    time: str | np.datetime64 | pd.Timestamp,
    sensor: str,
    band: str,
    scene_id: str | None = None,
) -> xr.DataArray:
    """Wrap a 2-D array as a `Scene` DataArray.

    Parameters
    ----------
    data : ndarray of shape (rows, cols)
        Pixel values; converted to float32. NaN marks nodata.
    transform : affine.Affine
        The GDAL-style transform of the pixel *corners* (north-up: ``transform.e < 0``).
    crs : str, int or rasterio.crs.CRS
        A projected CRS in metres, e.g. ``"EPSG:32622"``.
    time : str or datetime-like
        Acquisition time (UTC).
    sensor, band : str
        Sensor name and band name, kept in attrs.
    scene_id : str, optional
        Identifier; defaults to ``"<sensor>_<date>_<band>"``.

    Returns
    -------
    xarray.DataArray
        The scene, with ``x``/``y`` pixel-centre coordinates and the CRS and transform written.
    """
    values = np.asarray(data, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"a scene is 2-D (rows, cols); got an array of shape {values.shape}")
    rows, cols = values.shape
    x = transform.c + transform.a * (np.arange(cols) + 0.5)
    y = transform.f + transform.e * (np.arange(rows) + 0.5)
    stamp = utc_naive(time)
    iso = stamp.isoformat()
    scene = xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": y, "x": x},
        name="image",
        attrs={
            "time": iso,
            "sensor": sensor,
            "band": band,
            "scene_id": scene_id or f"{sensor.replace(' ', '_')}_{stamp:%Y%m%d}_{band}",
        },
    )
    scene.rio.write_crs(CRS.from_user_input(crs), inplace=True)  # in place: no copy of the pixels
    return scene.rio.write_transform(transform, inplace=True)


def scene_time(scene: xr.DataArray) -> pd.Timestamp:
    """The acquisition time of a scene, as a timezone-naive UTC `pandas.Timestamp`."""
    return pd.Timestamp(scene.attrs["time"])


# --- reading scenes from files -----------------------------------------------------------------------------------

#: TIFF tags searched, in this order, for the acquisition time.
TIME_TAGS = ("ACQUISITION_TIME", "ACQUISITION_DATE", "DATE_ACQUIRED", "TIFFTAG_DATETIME")

#: The smallest overlap of a pair, px each way: below it no chip and its search area fit.
MIN_OVERLAP_PX = 64

_DATE_IN_NAME = re.compile(
    r"(?<!\d)(?:(?P<y1>(?:19|20)\d{2})-(?P<m1>\d{2})-(?P<d1>\d{2})|(?P<y2>(?:19|20)\d{2})(?P<m2>\d{2})(?P<d2>\d{2}))"
    r"(?:T(?P<H>\d{2})(?P<M>\d{2})(?P<S>\d{2}))?(?!\d)"
)
_SENSOR_PREFIXES = (
    (re.compile(r"^LC0?9", re.IGNORECASE), "Landsat 9 OLI-2"),
    (re.compile(r"^LC0?8", re.IGNORECASE), "Landsat 8 OLI"),
    (re.compile(r"^LE0?7", re.IGNORECASE), "Landsat 7 ETM+"),
    (re.compile(r"^LT0?5", re.IGNORECASE), "Landsat 5 TM"),
    (re.compile(r"^LT0?4", re.IGNORECASE), "Landsat 4 TM"),
    (re.compile(r"^S2([ABCD])", re.IGNORECASE), "Sentinel-2{0} MSI"),
)


def read_scene(
    path: str | os.PathLike[str],
    *,
    time: str | np.datetime64 | pd.Timestamp | None = None,
    sensor: str | None = None,
    band: str | None = None,
) -> xr.DataArray:
    """Read band 1 of a georeferenced raster file as a `Scene`.

    Parameters
    ----------
    path : str or path-like
        A GeoTIFF (or any raster GDAL reads) in a projected CRS whose units are metres.
    time : str or datetime-like, optional
        Acquisition time (UTC). Without it, the time comes from the TIFF tags ``ACQUISITION_TIME`` (or
        ``ACQUISITION_DATE``, ``DATE_ACQUIRED``, ``TIFFTAG_DATETIME``), else from a metadata sidecar beside the
        file (Landsat ``*_MTL.txt`` / ``*_MTL.json``, Sentinel-2 ``MTD_TL.xml`` / ``MTD_MSIL1C.xml``, see
        `tracking.naming.find_sidecar`), else from the file name: a Landsat or Sentinel id of any naming
        scheme (``LC80630182016200LGN00``, ``LC08_L1TP_063018_20160718_20170222_01_T1``,
        ``T05VNK_20210716T203021_B08``, see `tracking.naming.parse_name`), else the first plausible date
        in it (``YYYYMMDD`` or ``YYYY-MM-DD``).
    sensor, band : str, optional
        Kept in attrs; default to the ``SENSOR`` / ``BAND`` tags, then to the sidecar or the file name
        (``LC08...`` -> ``"Landsat 8 OLI"``; ``..._B8`` -> ``"pan"``), then to the band description, then
        ``"unknown"``.

    Returns
    -------
    xarray.DataArray
        The scene: float32, nodata as NaN, with its CRS and transform; ``scene_id`` is the ``SCENE_ID`` tag or
        the file name without its suffix; ``path`` and ``row`` (Landsat WRS-2) and ``tile`` (Sentinel-2 MGRS)
        attrs too, when the sidecar or the name says.

    Raises
    ------
    SceneReadError
        If the file is missing, empty, not a raster or truncated, has no CRS, a geographic (degree) CRS, a rotated
        grid, or no acquisition time can be found; or if tracking a raster of its declared size would need more
        memory than `tracking.scene_checks.memory_budget` allows (checked from the header, before anything is
        read). The content is not checked here: see `tracking.scene_checks.check_content`.
    """
    path = Path(path)
    if not path.is_file():
        what = "a folder, not a file" if path.is_dir() else "no such file"
        raise SceneReadError(f"{path}: {what}: check the path.")
    if path.stat().st_size == 0:
        raise SceneReadError(f"{path} is empty (0 bytes): copy or download the GeoTIFF again.")
    try:
        with warnings.catch_warnings():  # no geotransform: said below, in one line
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except RasterioError as err:
        raise SceneReadError(f"{path}: not a raster GDAL can read ({err}): give a GeoTIFF.") from None
    with src:
        check_memory(path, src.height, src.width)
        metadata = scene_metadata(path, src, time=time, sensor=sensor, band=band)  # before any pixel is read
        try:
            data = src.read(1, masked=True).astype(np.float32).filled(np.nan)
        except RasterioError as err:
            cause = err.__cause__ or err
            raise SceneReadError(
                f"{path}: the header opens but the pixels cannot be read, the file is truncated or corrupt "
                f"({cause}): copy or download it again."
            ) from None
    extra = metadata.pop("attrs")
    scene = make_scene(data, **metadata)
    scene.attrs.update(extra)
    return scene


def scene_metadata(
    path: Path,
    src: rasterio.DatasetReader,
    *,
    time: Any = None,
    sensor: str | None = None,
    band: str | None = None,
) -> dict[str, Any]:
    """The `make_scene` keywords of an open raster file, as `read_scene` finds them (checked georeferencing).

    Parameters
    ----------
    path : Path
        The file, for messages, its name (sensor, scene id) and its date.
    src : rasterio.DatasetReader
        The open file.
    time, sensor, band : optional
        Values that take precedence over what the file says (see `read_scene`).

    Returns
    -------
    dict
        ``transform``, ``crs``, ``time``, ``sensor``, ``band`` and ``scene_id``, and ``attrs``: more attrs for the
        scene (``path``, ``row``, ``tile``) from the sidecar or the name, when known.

    Raises
    ------
    SceneReadError
        No CRS, a geographic CRS, a rotated grid, or no acquisition time.
    """
    tags = src.tags()
    _check_georeferencing(path, src.crs, src.transform)
    description = src.descriptions[0] if src.descriptions else None
    sidecar, problem, named = _described(path)
    said = [info for info in (sidecar, named) if info is not None]
    return {
        "transform": src.transform,
        "crs": src.crs,
        "time": _acquisition_time(path, time, tags, sidecar=sidecar, named=named, problem=problem),
        "sensor": (
            sensor
            or tags.get("SENSOR")
            or next((i.sensor for i in said if i.sensor), None)
            or _sensor_from_name(path.name)
            or "unknown"
        ),
        "band": band or tags.get("BAND") or description or (named.band if named else None) or "unknown",
        "scene_id": tags.get("SCENE_ID") or path.name.split(".")[0],
        "attrs": {
            key: value
            for key in ("path", "row", "tile")
            if (value := next((getattr(i, key) for i in said if getattr(i, key) is not None), None))
            is not None
        },
    }


def _described(path: Path) -> tuple[SceneInfo | None, str | None, SceneInfo | None]:
    """``(sidecar, why the sidecar found could not be read, name)``: what the file's sidecar and name say."""
    found = find_sidecar(path)
    sidecar, problem = None, None
    if found is not None:
        try:
            sidecar = read_sidecar(found)
        except SceneReadError as err:
            problem = str(err)
    return sidecar, problem, parse_name(path.name)


def _check_georeferencing(path: Path, crs: CRS | None, transform: Affine) -> None:
    """Raise `SceneReadError` unless ``crs`` is projected in metres and ``transform`` is north-up."""
    if crs is None:
        raise SceneReadError(
            f"{path}: the raster has no coordinate reference system: assign one, e.g. "
            f"'gdal_edit.py -a_srs EPSG:32622 {path.name}', or give a GeoTIFF in a projected CRS."
        )
    if crs.is_geographic:
        raise SceneReadError(
            f"{path}: the CRS ({crs.to_string()}) is geographic, in degrees: reproject the scene to a projected "
            f"CRS in metres (UTM or polar stereographic), e.g. 'gdalwarp -t_srs EPSG:32622 {path.name} out.tif'."
        )
    units, factor = crs.linear_units_factor
    if not np.isclose(factor, 1.0):
        raise SceneReadError(
            f"{path}: the CRS units are {units}, not metres: reproject the scene to a CRS in metres."
        )
    if transform.b != 0 or transform.d != 0 or transform.is_identity:
        what = "a rotated grid" if not transform.is_identity else "no geotransform"
        raise SceneReadError(
            f"{path}: the raster has {what}: warp it to a north-up grid, e.g. 'gdalwarp {path.name} out.tif'."
        )


def _acquisition_time(
    path: Path,
    time: object,
    tags: dict[str, str],
    *,
    sidecar: SceneInfo | None = None,
    named: SceneInfo | None = None,
    problem: str | None = None,
) -> pd.Timestamp:
    """The acquisition time from the argument, the TIFF tags, the sidecar or the file name, in that order."""
    if time is not None:
        try:
            return pd.Timestamp(time)
        except (ValueError, TypeError):
            raise SceneReadError(
                f"{path}: cannot read the time {time!r}: give an ISO date such as 2021-05-01."
            ) from None
    for tag in TIME_TAGS:
        stamp = parse_tag_time(tags.get(tag))
        if stamp is not None:
            return stamp
    if sidecar is not None and sidecar.time is not None:
        return sidecar.time
    stamp = named.time if named is not None else date_from_name(path.name)
    if stamp is None:
        unread = f" ({problem})" if problem else ""
        processed = (
            " (the date in the name is a processing date, not the acquisition's)"
            if named is not None and named.processed is not None
            else ""
        )
        raise SceneReadError(
            f"{path}: no acquisition time in the TIFF tags ({', '.join(TIME_TAGS)}), in a metadata file beside it "
            f"(*_MTL.txt, *_MTL.json, MTD_TL.xml){unread} nor in the file name{processed}: give it with --ref-time "
            "/ --sec-time (e.g. --ref-time 2021-05-01), or time= in read_scene."
        )
    return stamp


def parse_tag_time(text: str | None) -> pd.Timestamp | None:
    """Parse an ISO time, or a TIFF ``YYYY:MM:DD HH:MM:SS`` one; None when absent or unreadable."""
    if not text:
        return None
    text = text.strip()
    if re.fullmatch(r"\d{4}:\d{2}:\d{2}( .*)?", text):
        text = text[:10].replace(":", "-") + text[10:]
    try:
        return pd.Timestamp(text)
    except (ValueError, TypeError):
        return None


def date_from_name(name: str) -> pd.Timestamp | None:
    """The acquisition date of a Landsat or Sentinel name (`tracking.naming.parse_name`), else the first
    plausible calendar date in a file name, or None.

    Examples
    --------
    >>> date_from_name("LC08_L1TP_008011_20150308_20170412_01_T1_B8.TIF")
    Timestamp('2015-03-08 00:00:00')
    >>> date_from_name("LC80630182016200LGN00_B8.TIF")  # year 2016, day of year 200
    Timestamp('2016-07-18 00:00:00')
    >>> date_from_name("helheim_2021-05-01.tif")
    Timestamp('2021-05-01 00:00:00')
    >>> date_from_name("scene_20151399_20160101.tif")
    Timestamp('2016-01-01 00:00:00')
    >>> date_from_name("S1B_EW_GRDM_1SDH_20200301T083237_20200301T083346.tif")  # a time, when present
    Timestamp('2020-03-01 08:32:37')
    >>> date_from_name("reference.tif") is None
    True
    """
    named = parse_name(name)
    if named is not None:
        return named.time
    for match in _DATE_IN_NAME.finditer(name):
        year, month, day = (match[f"{k}1"] or match[f"{k}2"] for k in "ymd")
        try:
            clock = [int(match[k]) if match[k] else 0 for k in "HMS"]
            stamp = pd.Timestamp(
                year=int(year),
                month=int(month),
                day=int(day),
                hour=clock[0],
                minute=clock[1],
                second=clock[2],
            )
        except ValueError:
            continue
        if 1972 <= stamp.year <= pd.Timestamp.now().year + 1:
            return stamp
    return None


def _sensor_from_name(name: str) -> str | None:
    """Guess the sensor from a Landsat or Sentinel-2 product id at the start of a file name."""
    for pattern, sensor in _SENSOR_PREFIXES:
        match = pattern.match(name)
        if match:
            return sensor.format(*(g.upper() for g in match.groups()))
    return None


# --- pairs --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Pair:
    """Two scenes on one grid: ``reference`` (earlier) and ``secondary`` (later, resampled to the reference grid).

    Build one with `Pair.from_scenes`, which checks the time order and the overlap and aligns the grids.

    Attributes
    ----------
    reference, secondary : xarray.DataArray
        `Scene` arrays with the same shape, transform and CRS.
    """

    reference: xr.DataArray
    secondary: xr.DataArray

    def __post_init__(self) -> None:
        if self.reference.shape != self.secondary.shape:
            raise InvalidPairError(
                f"the scenes have different shapes {self.reference.shape} and {self.secondary.shape}: "
                "build the pair with Pair.from_scenes(), which resamples the secondary onto the reference grid."
            )
        _check_order(self.reference, self.secondary)

    @property
    def t0(self) -> pd.Timestamp:
        """Acquisition time of the reference scene."""
        return scene_time(self.reference)

    @property
    def t1(self) -> pd.Timestamp:
        """Acquisition time of the secondary scene."""
        return scene_time(self.secondary)

    @property
    def dt_days(self) -> float:
        """Time between the scenes, days (fractional)."""
        return (self.t1 - self.t0) / pd.Timedelta(days=1)

    @property
    def mid_date(self) -> pd.Timestamp:
        """The midpoint between the acquisitions (ITS_LIVE's ``date_center``)."""
        return self.t0 + (self.t1 - self.t0) / 2

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the common grid."""
        rows, cols = self.reference.shape
        return int(rows), int(cols)

    @property
    def transform(self) -> Affine:
        """The affine transform (pixel corners) of the common grid."""
        return self.reference.rio.transform()

    @property
    def crs(self) -> CRS:
        """The CRS of the common grid."""
        return self.reference.rio.crs

    @classmethod
    def from_scenes(cls, reference: xr.DataArray, secondary: xr.DataArray) -> Pair:
        """Pair two scenes, bringing the secondary onto the reference grid when they differ.

        Parameters
        ----------
        reference, secondary : xarray.DataArray
            `Scene` arrays; the secondary must be acquired after the reference.

        Returns
        -------
        Pair

        Raises
        ------
        InvalidPairError
            If the secondary is not later than the reference, or a scene has no CRS.
        NoOverlapError
            If the footprints do not overlap, or overlap (or share valid pixels) over less than 64 x 64 px.
        """
        _check_order(reference, secondary)
        for role, scene in (("reference", reference), ("secondary", secondary)):
            if scene.rio.crs is None:
                raise InvalidPairError(
                    f"the {role} scene has no CRS: read it with read_scene() or make_scene()."
                )
        if not _same_grid(reference, secondary):
            _check_footprints(reference, secondary)
            secondary = _resample_onto(secondary, reference)
        _check_common_valid(reference, secondary)
        return cls(reference, secondary)


def _check_order(reference: xr.DataArray, secondary: xr.DataArray) -> None:
    """Raise `InvalidPairError` unless the secondary is acquired after the reference."""
    t0, t1 = scene_time(reference), scene_time(secondary)
    if t1 <= t0:
        same = "at the same time" if t1 == t0 else "before the reference"
        raise InvalidPairError(
            f"the secondary scene ({t1.isoformat()}) is acquired {same} ({t0.isoformat()}): dt must be positive; "
            "swap the two scenes, or pick a later secondary."
        )


def _same_grid(a: xr.DataArray, b: xr.DataArray) -> bool:
    """True when two scenes share CRS, shape and transform."""
    return (
        a.shape == b.shape
        and a.rio.crs == b.rio.crs
        and a.rio.transform().almost_equals(b.rio.transform(), precision=1e-6)
    )


def _check_footprints(reference: xr.DataArray, secondary: xr.DataArray) -> None:
    """Raise `NoOverlapError` when the secondary covers less than 64 x 64 px of the reference grid."""
    left, bottom, right, top = transform_bounds(
        secondary.rio.crs, reference.rio.crs, *secondary.rio.bounds(), densify_pts=21
    )
    inverse = ~reference.rio.transform()
    cols, rows = zip(
        *(inverse @ corner for corner in ((left, bottom), (left, top), (right, bottom), (right, top))),
        strict=True,
    )
    n_rows, n_cols = reference.shape
    overlap_cols = min(max(cols), n_cols) - max(min(cols), 0)
    overlap_rows = min(max(rows), n_rows) - max(min(rows), 0)
    if overlap_cols <= 0 or overlap_rows <= 0:
        raise NoOverlapError(
            f"the scenes do not overlap: the reference covers {_bounds_text(reference.rio.bounds())}, the "
            f"secondary {_bounds_text((left, bottom, right, top))} (in {reference.rio.crs.to_string()}): "
            "pick two scenes of the same area."
        )
    _check_overlap_size(int(overlap_rows), int(overlap_cols), "overlap")


def _check_overlap_size(rows: int, cols: int, what: str) -> None:
    if rows < MIN_OVERLAP_PX or cols < MIN_OVERLAP_PX:
        raise NoOverlapError(
            f"the scenes {what} over only {rows} x {cols} px (rows x columns), less than the {MIN_OVERLAP_PX} x {MIN_OVERLAP_PX} px "
            "needed to track features: pick scenes that share more ground."
        )


def _check_common_valid(reference: xr.DataArray, secondary: xr.DataArray) -> None:
    """Raise `NoOverlapError` when the pixels valid in both scenes span less than 64 x 64 px."""
    both = np.isfinite(reference.values) & np.isfinite(secondary.values)
    rows, cols = np.flatnonzero(both.any(axis=1)), np.flatnonzero(both.any(axis=0))
    if rows.size == 0:
        raise NoOverlapError(
            "the scenes share no valid pixel (one is nodata wherever the other has data): "
            "pick two scenes of the same area."
        )
    _check_overlap_size(int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1), "share valid pixels")


def _bounds_text(bounds: tuple[float, float, float, float]) -> str:
    left, bottom, right, top = bounds
    return f"x {left:.0f} to {right:.0f}, y {bottom:.0f} to {top:.0f}"


def _resample_onto(scene: xr.DataArray, reference: xr.DataArray) -> xr.DataArray:
    """``scene`` resampled (bilinear) onto the grid of ``reference``, NaN outside its footprint."""
    source = scene.rio.write_nodata(np.nan, encoded=False)
    warped = source.rio.reproject_match(reference, resampling=Resampling.bilinear, nodata=np.nan)
    return make_scene(
        warped.values,
        transform=reference.rio.transform(),
        crs=reference.rio.crs,
        time=scene.attrs["time"],
        sensor=scene.attrs.get("sensor", "unknown"),
        band=scene.attrs.get("band", "unknown"),
        scene_id=scene.attrs.get("scene_id"),
    )
