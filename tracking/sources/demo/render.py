"""Demo scenes: rendered from the flow model, cached on disk, cropped, paired and exported as GeoTIFFs."""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine

from tracking.exceptions import ParameterError, TrackingError
from tracking.files import atomic_path
from tracking.scenes import make_scene
from tracking.sources.demo.catalogue import catalog, catalog_entry, full_catalog, hash_ints
from tracking.sources.demo.flow import (
    BANDS,
    DEMO_BOUNDS,
    DEMO_CRS,
    EPOCH_DAYS,
    GENERATOR_VERSION,
    MAP_STEP,
    RK_STEP,
    front_position,
    glacier_model,
    tau_of_days,
    to_days,
)
from tracking.sources.demo.kernels import advect_grid, render_window

__all__ = ["demo_pair", "load_scene", "write_geotiffs"]

# ----------------------------------------------------------------------------------------------------------
# scene generation and cache
# ----------------------------------------------------------------------------------------------------------


def _grid_shape(band: str) -> tuple[int, int]:
    px = _pixel_size(band)
    xmin, ymin, xmax, ymax = DEMO_BOUNDS
    return round((ymax - ymin) / px), round((xmax - xmin) / px)


def _pixel_size(band: str) -> float:
    if band not in BANDS:
        raise ParameterError(f"unknown demo band {band!r}; choose one of {sorted(BANDS)}")
    return BANDS[band]


def _epoch_maps(days: float, rows: slice, cols: slice, px: float) -> dict[str, Any]:
    """The two texture epochs around a time and their backward-advection maps on a 60 m grid."""
    model = glacier_model()
    k = math.floor(days / EPOCH_DAYS)
    t_a, t_b = k * EPOCH_DAYS, (k + 1) * EPOCH_DAYS
    w_a = 1.0 - (days - t_a) / EPOCH_DAYS
    tau_now, tau_a, tau_b = tau_of_days(np.array([days, t_a, t_b]))
    xmin, _, _, ymax = DEMO_BOUNDS
    x_lo, x_hi = xmin + cols.start * px, xmin + cols.stop * px
    y_lo, y_hi = ymax - rows.stop * px, ymax - rows.start * px
    gx = np.arange(math.floor(x_lo / MAP_STEP) - 1, math.ceil(x_hi / MAP_STEP) + 2) * MAP_STEP
    gy = np.arange(math.floor(y_lo / MAP_STEP) - 1, math.ceil(y_hi / MAP_STEP) + 2) * MAP_STEP
    args = (model["vx"], model["vy"], model["x0"], model["y0"], model["inv"], RK_STEP)
    ax, ay = advect_grid(gx, gy, -(tau_now - tau_a), *args)
    bx, by = advect_grid(gx, gy, -(tau_now - tau_b), *args)
    maps = np.stack([ax, ay, bx, by])
    return {"w_a": w_a, "k": k, "gx0": float(gx[0]), "gy0": float(gy[0]), "maps": maps}


def _generate(entry: pd.Series, band: str, rows: slice, cols: slice, seed: int) -> np.ndarray:
    """Render the pixels ``[rows, cols]`` of one scene (float32 reflectance, NaN outside the footprint)."""
    px = _pixel_size(band)
    model = glacier_model()
    days = float(to_days(entry["time"]))
    maps = _epoch_maps(days, rows, cols, px)
    out = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=np.float32)
    static_seed = hash_ints(seed, 424242)
    date_seed = int(entry["_seed"])  # clouds and mélange: the same in every band
    noise_seed = hash_ints(date_seed, 1 if band == "red" else 2)  # sensor noise: per band
    xmin, _, _, ymax = DEMO_BOUNDS
    render_window(
        out,
        rows.start,
        cols.start,
        xmin,
        ymax,
        px,
        4.0 * px,
        max(18.0, 0.75 * px),
        model["static"],
        model["x0"],
        model["y0"],
        model["inv"],
        maps["maps"],
        maps["gx0"],
        maps["gy0"],
        1.0 / MAP_STEP,
        maps["w_a"],
        hash_ints(seed, maps["k"], 77),
        hash_ints(seed, maps["k"] + 1, 77),
        static_seed,
        date_seed,
        noise_seed,
        front_position(days),
        np.asarray(entry["_fp"], dtype=np.float64),
        entry["_cloud_thr"] if np.isfinite(entry["_cloud_thr"]) else 1e10,
        entry["_gain"],
        entry["_offset"],
        0.004,
    )
    return out


def _cache_dir(cache_dir: str | os.PathLike | None) -> pathlib.Path:
    if cache_dir is not None:
        return pathlib.Path(cache_dir)
    env = os.environ.get("ICETRACK_CACHE")
    return pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "icetrack" / "demo"


def _cache_path(directory: pathlib.Path, scene_id: str, band: str, seed: int) -> pathlib.Path:
    return directory / f"{scene_id}_{band}_seed{seed}_{GENERATOR_VERSION}.npy"


def _full_scene(entry: pd.Series, band: str, seed: int, cache_dir: pathlib.Path) -> np.ndarray:
    """The whole scene, from the cache (memory-mapped) or generated and cached."""
    path = _cache_path(cache_dir, entry["scene_id"], band, seed)
    if path.exists():
        try:
            return np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a corrupt cache file: regenerate
    rows, cols = _grid_shape(band)
    data = _generate(entry, band, slice(0, rows), slice(0, cols), seed)
    with contextlib.suppress(OSError):  # a read-only cache is not an error: the scene is still returned
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, data)
    return data


def _window(bbox: tuple[float, float, float, float], band: str) -> tuple[slice, slice]:
    """Rows and columns of the pixel grid covering ``bbox`` (snapped outwards), clipped to the demo."""
    px = _pixel_size(band)
    xmin, _, _, ymax = DEMO_BOUNDS
    nrows, ncols = _grid_shape(band)
    bx0, by0, bx1, by1 = (float(v) for v in bbox)
    if bx1 <= bx0 or by1 <= by0:
        raise ParameterError(f"bbox {bbox} is empty: give (xmin, ymin, xmax, ymax), xmin < xmax, ymin < ymax")
    c0 = max(0, math.floor((bx0 - xmin) / px + 1e-9))
    c1 = min(ncols, math.ceil((bx1 - xmin) / px - 1e-9))
    r0 = max(0, math.floor((ymax - by1) / px + 1e-9))
    r1 = min(nrows, math.ceil((ymax - by0) / px - 1e-9))
    if c1 <= c0 or r1 <= r0:
        raise TrackingError(f"bbox {bbox} does not overlap the demo extent {DEMO_BOUNDS} ({DEMO_CRS})")
    return slice(r0, r1), slice(c0, c1)


def load_scene(
    scene_id: str,
    band: str = "red",
    *,
    bbox: tuple[float, float, float, float] | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> xr.DataArray:
    """One demo scene as a `Scene` DataArray (float32 TOA reflectance 0..1, NaN outside the footprint).

    A whole scene is generated once (about 1-3 s for red) and cached as ``.npy``; a ``bbox`` crop is cut
    from the cache when the scene is there, else only the crop is generated (identical pixels, not cached).

    Parameters
    ----------
    scene_id : str
        An id from `catalog`, e.g. ``"LC08_L1TP_009011_20210516_DEMO"``.
    band : {"red", "pan"}
        30 m red (3333 x 2000 px) or 15 m panchromatic (6666 x 4000 px).
    bbox : (xmin, ymin, xmax, ymax), optional
        Crop in DEMO_CRS metres, snapped outwards to the band's pixel grid.
    seed : int
        Demo seed: the same seed gives identical pixels.
    cache_dir : path, optional
        Cache folder; default ``$ICETRACK_CACHE`` or ``~/.cache/icetrack/demo``.

    Returns
    -------
    xarray.DataArray
        The scene with attrs time, sensor, band, scene_id, platform, path, row and cloud_cover.

    Raises
    ------
    TrackingError
        An unknown scene id, or a bbox outside the demo extent.
    ParameterError
        An unknown band.
    """
    entry = catalog_entry(scene_id, seed)
    px = _pixel_size(band)
    nrows, ncols = _grid_shape(band)
    rows, cols = (slice(0, nrows), slice(0, ncols)) if bbox is None else _window(bbox, band)
    cached = _cache_path(_cache_dir(cache_dir), scene_id, band, seed)
    if bbox is None or cached.exists():
        data = np.array(_full_scene(entry, band, seed, _cache_dir(cache_dir))[rows, cols])
    else:
        data = _generate(entry, band, rows, cols, seed)
    xmin, _, _, ymax = DEMO_BOUNDS
    transform = Affine(px, 0.0, xmin + cols.start * px, 0.0, -px, ymax - rows.start * px)
    scene = make_scene(
        data,
        transform=transform,
        crs=DEMO_CRS,
        time=entry["time"],
        sensor=entry["sensor"],
        band=band,
        scene_id=scene_id,
    )
    scene.attrs.update(
        platform=entry["platform"],
        path=int(entry["path"]),
        row=int(entry["row"]),
        cloud_cover=float(entry["cloud_cover"]),
    )
    return scene


# ----------------------------------------------------------------------------------------------------------
# pairs and GeoTIFF export
# ----------------------------------------------------------------------------------------------------------


def _pick_pair(t0: Any, dt_days: float, *, seed: int) -> tuple[str, str]:
    """Ids of the cloud-free same-path pair that `demo_pair` loads."""
    frame = full_catalog(int(seed))
    clear = frame[frame["cloud_cover"] == 0]
    target = pd.Timestamp(t0).to_datetime64()
    best: tuple[float, str, str] | None = None
    for _, group in clear.groupby("path"):
        times = group["time"].to_numpy()
        ids = group["scene_id"].to_numpy()
        cover = group["_coverage"].to_numpy()
        sep = (times[None, :] - times[:, None]) / np.timedelta64(1, "D")
        i, j = np.nonzero(sep > 0)
        score = (
            np.abs(sep[i, j] - dt_days) * 100.0
            + np.abs((times[i] - target) / np.timedelta64(1, "D"))
            + 10.0 * (1.0 - cover[i])
        )
        if score.size:
            k = int(np.argmin(score))
            if best is None or score[k] < best[0]:
                best = (float(score[k]), ids[i[k]], ids[j[k]])
    if best is None:
        raise TrackingError("no cloud-free demo pair found; try another seed")
    return best[1], best[2]


def demo_pair(
    t0: Any = "2021-05-01", dt_days: float = 16, band: str = "red", *, seed: int = 0
) -> tuple[xr.DataArray, xr.DataArray]:
    """A cloud-free pair of whole scenes on the same path, the first near ``t0``, ``dt_days`` apart.

    Among the cloud-free same-path pairs the one whose separation is closest to ``dt_days`` and then whose
    first date is closest to ``t0`` wins; full-coverage path 9 is preferred on ties.

    Returns
    -------
    (reference, secondary) : tuple of xarray.DataArray
    """
    _pixel_size(band)  # fail fast on an unknown band
    ref_id, sec_id = _pick_pair(t0, dt_days, seed=seed)
    return load_scene(ref_id, band, seed=seed), load_scene(sec_id, band, seed=seed)


def write_geotiffs(
    directory: str | os.PathLike,
    *,
    band: str = "red",
    scene_ids: Iterable[str] | None = None,
    seed: int = 0,
    limit: int | None = None,
) -> list[pathlib.Path]:
    """Write demo scenes as GeoTIFFs ``<scene_id>_<band>.tif`` (tiled, deflate, float32, NaN nodata).

    Tags: ``TIFFTAG_DATETIME`` ("YYYY:MM:DD HH:MM:SS") and ACQUISITION_TIME (ISO), SENSOR, BAND, SCENE_ID,
    CLOUD_COVER. Each file is written to a temporary name in ``directory`` then moved in place.

    Parameters
    ----------
    directory : path
        Output folder, created if missing.
    band : {"red", "pan"}
    scene_ids : iterable of str, optional
        Which scenes; default all of the catalog, in time order.
    seed : int
    limit : int, optional
        Write at most this many scenes.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    import rasterio

    out_dir = pathlib.Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = list(catalog(seed=seed)["scene_id"] if scene_ids is None else scene_ids)
    if limit is not None:
        ids = ids[: max(0, int(limit))]
    written = []
    for scene_id in ids:
        scene = load_scene(scene_id, band, seed=seed)
        stamp = pd.Timestamp(scene.attrs["time"])
        target = out_dir / f"{scene_id}_{band}.tif"
        rows, cols = scene.shape
        profile = {
            "driver": "GTiff",
            "width": cols,
            "height": rows,
            "count": 1,
            "dtype": "float32",
            "crs": DEMO_CRS,
            "transform": scene.rio.transform(),
            "nodata": float("nan"),
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "predictor": 3,
        }
        with atomic_path(target, suffix=".tmp.tif") as tmp, rasterio.open(tmp, "w", **profile) as dst:
            dst.write(scene.values.astype(np.float32), 1)
            dst.update_tags(
                TIFFTAG_DATETIME=f"{stamp:%Y:%m:%d %H:%M:%S}",
                ACQUISITION_TIME=stamp.isoformat(),
                SENSOR=scene.attrs["sensor"],
                BAND=band,
                SCENE_ID=scene_id,
                CLOUD_COVER=str(scene.attrs["cloud_cover"]),
            )
            dst.set_band_description(1, band)
        written.append(target)
    return written
