"""Tracking a large pair tile by tile, with the same result as tracking it whole.

`track_tiled` splits the chip-centre grid that `tracking.pipeline.track` would use into blocks of about
``tile_size`` px, reads each block's window of both images plus a halo, tracks the window and keeps the vectors
of its own chip centres. The halo is wide enough for everything a chip's result depends on in a whole-image run:

- the chip and its search area, and the bicubic support of the sub-pixel fit;
- the coarse pass: the reduced chips of the chip's 2 x 2 block of nodes, their search area, and the 7 x 7
  neighbourhood of coarse nodes whose median seeds the fine search;
- the normalized median test (``median_radius`` nodes each way), whose neighbours must be exact too;
- the pre-filter's support (Gaussian radius, Wallis window).

Windows start on a multiple of the step (so their chip grids are the whole grid's), of twice the coarse
pass's reduction (so its block means and rounding match) and of two nodes (so the coarse pass pairs the same
nodes). Statistics that a pre-filter takes over the whole image (the Wallis filter's floor on the local
standard deviation) are gathered in a first, light pass over the tiles. Hole filling and the ``max_speed`` test
run once on the assembled offsets, so nothing can seam there either. The result equals ``track()`` on the whole
pair to float rounding.

Inputs are Scenes in memory or GeoTIFF paths; from paths each tile reads only its window (rasterio windowed
reads), so peak memory is a few tiles' worth plus the output grid, whatever the size of the scenes. With a
``dask.distributed`` client the tiles run as tasks on the cluster: each task gets the file paths and its window
and reads its own pixels.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import xarray as xr
from rasterio.errors import RasterioError
from rasterio.windows import Window

from tracking.exceptions import InvalidPairError, ParameterError, SceneReadError
from tracking.params import TrackingParameters
from tracking.progress import ProgressCallback, check_cancel
from tracking.scenes import Pair, make_scene

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["MIN_TILE_SIZE", "Tile", "plan_tiles", "track_tiled"]

#: The smallest ``tile_size`` accepted, px.
MIN_TILE_SIZE = 64

_OFFSET_VARIABLES = ("dx", "dy", "peak", "snr")
_CANCELLED = "tiled tracking was cancelled; no result was written."


# --- the images ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileImage:
    """Band 1 of a raster file, read window by window as `read_scene` reads it whole (float32, nodata as NaN)."""

    path: str

    def read(self, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        window = Window(cols[0], rows[0], cols[1] - cols[0], rows[1] - rows[0])
        try:
            with rasterio.open(self.path) as src:
                return src.read(1, window=window, masked=True).astype(np.float32).filled(np.nan)
        except RasterioError as err:
            raise SceneReadError(f"{self.path}: cannot read a window of the raster ({err}).") from None


@dataclass(frozen=True, eq=False)
class _ArrayImage:
    """An image in memory."""

    values: np.ndarray

    def read(self, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
        return np.array(self.values[rows[0] : rows[1], cols[0] : cols[1]], dtype=np.float32)


_Image = _FileImage | _ArrayImage


# --- the tiles ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One tile of a tiled run: the chip centres it owns and the pixels it reads.

    Attributes
    ----------
    index : tuple of int
        ``(tile row, tile column)`` in the grid of tiles.
    rows, cols : tuple of int
        The window read, ``(first, stop)`` pixel rows and columns of the image.
    node_rows, node_cols : tuple of int
        The chip centres the tile owns, ``(first, stop)`` indices into the whole grid of chips.
    """

    index: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    node_rows: tuple[int, int]
    node_cols: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the window read."""
        return self.rows[1] - self.rows[0], self.cols[1] - self.cols[0]


@dataclass(frozen=True)
class _Geometry:
    """What fixes the windows: alignment, halo (px and nodes) and smallest window, per the parameters."""

    align: int
    halo_px: int
    halo_nodes: int
    min_size: int

    @classmethod
    def of(cls, params: TrackingParameters) -> _Geometry:
        from tracking.kernels.ncc import coarse_factor

        chip, search, step = params.chip_size, params.search_range, params.step
        factor = coarse_factor(search, chip)
        stride = 2 if 2 * step <= chip and factor > 1 else 1
        if factor == 1:
            coarse_px, reach_px = chip, search
        else:
            coarse_px, reach_px = max(chip // factor, 16) * factor, math.ceil(search / factor) * factor
        coarse_extent = (
            coarse_px / 2 + reach_px + 2 * factor
        )  # reduced chip + search + rounding of its corner
        # chip + search + the bicubic support of Lucas-Kanade (1.5 + 2 px) + the reach of the nodata fill
        fine_extent = chip / 2 + search + 4 + chip // 2
        halo_px = math.ceil(max(coarse_extent, fine_extent)) + _prefilter_support(params) + 2
        # the chip's own coarse block and 3 more each way (the wide median), the median test's neighbours
        halo_nodes = params.median_radius + 4 * stride
        align = math.lcm(step * stride, 2 * factor)
        min_size = max(chip + 2 * search, coarse_px + factor)
        return cls(align=align, halo_px=halo_px, halo_nodes=halo_nodes, min_size=min_size)


def _prefilter_support(params: TrackingParameters) -> int:
    """How far (px) the pre-filter reaches: pixels nearer a window's edge than this differ from a whole run."""
    from tracking.preprocess import prefilter_reach

    reach = prefilter_reach(params.prefilter, float(params.prefilter_size))
    return reach + 1 if reach else 0


def plan_tiles(
    shape: tuple[int, int], params: TrackingParameters | None = None, tile_size: int = 4096
) -> list[Tile]:
    """The tiles of a tiled run over an image of ``shape``.

    Tiles partition the image into squares of ``tile_size`` px; a tile owns the chips whose centre lies in its
    square (squares without a chip centre are left out) and reads the window holding everything those chips'
    results depend on (see the module docstring).

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` of the image.
    params : TrackingParameters, optional
        Parameters; defaults to ``TrackingParameters()``.
    tile_size : int
        Side of the tiles, px (at least `MIN_TILE_SIZE`).

    Returns
    -------
    list of Tile
        In row-major order.

    Raises
    ------
    ParameterError
        ``tile_size`` below `MIN_TILE_SIZE`, or parameters that do not fit the image.

    Examples
    --------
    >>> tiles = plan_tiles((1000, 700), TrackingParameters(search_range=8), tile_size=400)
    >>> len(tiles), tiles[0].node_rows, tiles[0].rows
    (6, (0, 25), (0, 601))
    """
    params = params if params is not None else TrackingParameters()
    rows, cols = (int(n) for n in shape)
    params.check((rows, cols))
    tile_size = int(tile_size)
    if tile_size < MIN_TILE_SIZE:
        raise ParameterError(
            f"tile_size={tile_size} px is too small: give at least {MIN_TILE_SIZE} px (a few thousand is best)."
        )
    geometry = _Geometry.of(params)
    along_rows = _axis_plan(rows, params, geometry, tile_size)
    along_cols = _axis_plan(cols, params, geometry, tile_size)
    return [
        Tile(index=(i, j), rows=window_r, cols=window_c, node_rows=nodes_r, node_cols=nodes_c)
        for i, (nodes_r, window_r) in enumerate(along_rows)
        for j, (nodes_c, window_c) in enumerate(along_cols)
    ]


def _axis_plan(
    size: int, params: TrackingParameters, geometry: _Geometry, tile_size: int
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Along one axis: ``((first node, stop node), (first px, stop px))`` per tile that owns a node."""
    chip, step = params.chip_size, params.step
    centres = np.arange(0, size - chip + 1, step, dtype=np.int64) + (chip - 1) / 2
    owner = np.floor(centres / tile_size).astype(np.int64)
    plan = []
    for k in np.unique(owner):
        nodes = np.flatnonzero(owner == k)
        first, stop = int(nodes[0]), int(nodes[-1]) + 1
        reach = geometry.halo_nodes * step + geometry.halo_px
        lo = max(0, math.floor((centres[first] - reach) / geometry.align) * geometry.align)
        hi = min(size, math.ceil(centres[stop - 1] + reach) + 1)
        need = min(size, geometry.min_size)
        if hi - lo < need:
            hi = min(size, lo + need)
        if hi - lo < need:
            lo = max(0, (hi - need) // geometry.align * geometry.align)
        plan.append(((first, stop), (lo, hi)))
    return plan


# --- pre-filtering with whole-image statistics -------------------------------------------------------------------


@dataclass(frozen=True)
class _WallisStats:
    """The Wallis filter's whole-image values: the centre subtracted before filtering and the std floor."""

    centre: float
    floor: float


def _wallis_samples(
    image: _Image, core_rows: tuple[int, int], core_cols: tuple[int, int], shape: tuple[int, int], width: int
) -> dict[str, np.ndarray]:
    """One tile's share of the Wallis filter's whole-image sample: raw values, local std, ``image - mean``."""
    from tracking.boxsum import sample_stride
    from tracking.preprocess import wallis_parts

    halo = width // 2
    rows = (max(0, core_rows[0] - halo), min(shape[0], core_rows[1] + halo))
    cols = (max(0, core_cols[0] - halo), min(shape[1], core_cols[1] + halo))
    raw = image.read(rows, cols)
    out, std = wallis_parts(raw, width)
    stride = sample_stride(shape)
    pick_r = np.arange(-(-core_rows[0] // stride) * stride, core_rows[1], stride) - rows[0]
    pick_c = np.arange(-(-core_cols[0] // stride) * stride, core_cols[1], stride) - cols[0]
    pick = np.ix_(pick_r, pick_c)
    values = raw[pick].astype(np.float64)
    finite = np.isfinite(values)
    return {"raw": values[finite], "std": std[pick][finite], "out": out[pick][finite]}


def _stats_task(
    reference: _Image,
    secondary: _Image,
    core_rows: tuple[int, int],
    core_cols: tuple[int, int],
    shape: tuple[int, int],
    width: int,
) -> list[dict[str, np.ndarray]]:
    """Both images' shares of the whole-image sample in one tile (a task of the first pass)."""
    return [_wallis_samples(image, core_rows, core_cols, shape, width) for image in (reference, secondary)]


def _wallis_stats(parts: list[dict[str, np.ndarray]]) -> _WallisStats:
    """Combine the tiles' samples into the whole image's centre and std floor (`tracking.preprocess.wallis`)."""
    from tracking.preprocess import wallis_floor

    raw = np.concatenate([p["raw"] for p in parts])
    std = np.concatenate([p["std"] for p in parts])
    out = np.concatenate([p["out"] for p in parts])
    centre = float(raw.mean()) if raw.size else 0.0
    scale = float(np.abs(raw).mean()) if raw.size else 0.0
    return _WallisStats(centre=centre, floor=wallis_floor(std, out, scale))


def _prefiltered(image: np.ndarray, params: TrackingParameters, stats: _WallisStats | None) -> np.ndarray:
    """The pre-filtered window, with the whole image's statistics where the filter uses any."""
    from tracking.preprocess import prefilter, wallis_parts, wallis_standardize

    if params.prefilter != "wallis" or stats is None:
        return prefilter(image, params.prefilter, params.prefilter_size)
    centred, std = wallis_parts(image, params.prefilter_size, stats.centre)
    return wallis_standardize(centred, std, stats.floor)


# --- one tile -----------------------------------------------------------------------------------------------------


def _track_tile(
    reference: _Image,
    secondary: _Image,
    tile: Tile,
    values: dict[str, Any],
    stats: tuple[_WallisStats, _WallisStats] | None,
    limits: dict[str, Any],
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Track one tile's window and return the offsets of the chips it owns (a task of the second pass).

    The same composition as `tracking.pipeline.track`: pre-filter (with the whole image's statistics), then
    `tracking.pipeline.match_and_validate` with the pair's pixel size and dt (``limits``) for ``max_speed``.
    """
    from tracking.pipeline import match_and_validate

    params = TrackingParameters.from_overrides(**values)
    ref = _prefiltered(reference.read(tile.rows, tile.cols), params, stats[0] if stats else None)
    sec = _prefiltered(secondary.read(tile.rows, tile.cols), params, stats[1] if stats else None)
    offsets = match_and_validate(ref, sec, params, cancel=cancel, **limits)
    del ref, sec
    first_r = tile.rows[0] // params.step
    first_c = tile.cols[0] // params.step
    own = {
        "row": slice(tile.node_rows[0] - first_r, tile.node_rows[1] - first_r),
        "col": slice(tile.node_cols[0] - first_c, tile.node_cols[1] - first_c),
    }
    part = offsets.isel(own)
    result: dict[str, Any] = {"tile": tile}
    for name in (*_OFFSET_VARIABLES, "valid"):
        result[name] = np.asarray(part[name].values)
    return result


# --- the whole run ------------------------------------------------------------------------------------------------


def track_tiled(
    reference: xr.DataArray | str | os.PathLike[str],
    secondary: xr.DataArray | str | os.PathLike[str],
    params: TrackingParameters | None = None,
    *,
    tile_size: int = 4096,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    client: Client | None = None,
) -> xr.Dataset:
    """Track a pair tile by tile: the VelocityField of `tracking.pipeline.track`, in bounded memory.

    Parameters
    ----------
    reference, secondary : xarray.DataArray or path
        Two `Scene` arrays (paired with `Pair.from_scenes`, which resamples the secondary when needed), or two
        raster files on one grid (same CRS, transform and size), read window by window.
    params : TrackingParameters, optional
        Parameters; defaults to ``TrackingParameters()``.
    tile_size : int
        Side of the square tiles, px; each tile reads its window plus a halo of about
        ``chip_size / 2 + search_range`` px, a few nodes and the pre-filter's support.
    progress : callable, optional
        ``progress(done_tiles, total_tiles)``, called as the tiles finish.
    cancel : threading.Event, optional
        When set, the run stops after the tiles under way and raises `CancelledError`.
    client : distributed.Client, optional
        Run the tiles as tasks on this cluster. From files, each task reads its own window; scenes in memory
        are scattered to the workers first. Without a client the tiles run one after the other here.

    Returns
    -------
    xarray.Dataset
        The VelocityField, equal (to float rounding) to ``track(Pair.from_scenes(reference, secondary),
        params)``.

    Raises
    ------
    ParameterError
        Parameters that do not fit the images, or a ``tile_size`` below `MIN_TILE_SIZE`.
    SceneReadError
        A file that is missing, not a raster or not georeferenced in metres.
    InvalidPairError
        Files not on one grid, or a secondary not later than the reference.
    CancelledError
        ``cancel`` was set.
    """
    from tracking.pipeline import fill_offsets, pixel_size
    from tracking.velocity import velocity_field

    params = TrackingParameters.from_overrides(params)
    pair, images, shape = _inputs(reference, secondary)
    tiles = plan_tiles(shape, params, tile_size)
    check_cancel(cancel, _CANCELLED)
    runner = _Runner(client, cancel)
    try:
        images = runner.share(images)
        stats = _first_pass(runner, images, shape, params, tile_size)
        values = params.to_dict()
        limits = {"pixel_size": pixel_size(pair), "dt_days": pair.dt_days}
        calls = [(_track_tile, (*images, tile, values, stats, limits)) for tile in tiles]
        grid = _Grid(shape, params)
        for done, result in enumerate(runner.map(calls), start=1):
            grid.put(result)
            if progress is not None:
                progress(done, len(tiles))
    finally:
        runner.close()
    offsets = grid.dataset()
    if params.fill_holes:
        offsets = fill_offsets(offsets, params.fill_distance)
    return velocity_field(offsets, pair, params)


def _first_pass(
    runner: _Runner,
    images: tuple[Any, Any],
    shape: tuple[int, int],
    params: TrackingParameters,
    tile_size: int,
) -> tuple[_WallisStats, _WallisStats] | None:
    """The whole-image statistics of the pre-filter, gathered tile by tile (Wallis only; None otherwise)."""
    from tracking.preprocess import wallis_width

    if params.prefilter != "wallis":
        return None
    width = wallis_width(params.prefilter_size)
    cores_r = [(r, min(shape[0], r + tile_size)) for r in range(0, shape[0], tile_size)]
    cores_c = [(c, min(shape[1], c + tile_size)) for c in range(0, shape[1], tile_size)]
    calls = [(_stats_task, (*images, rows, cols, shape, width)) for rows in cores_r for cols in cores_c]
    parts: list[list[dict[str, np.ndarray]]] = [[], []]
    for result in runner.map(calls):
        for k in (0, 1):
            parts[k].append(result[k])
    return _wallis_stats(parts[0]), _wallis_stats(parts[1])


class _Grid:
    """The whole grid of offsets, filled tile by tile."""

    def __init__(self, shape: tuple[int, int], params: TrackingParameters) -> None:
        from tracking.kernels import chip_grid

        self.tops, self.lefts = chip_grid(shape, params.chip_size, params.step)
        self.centre = (params.chip_size - 1) / 2
        size = (self.tops.size, self.lefts.size)
        self.arrays = {name: np.full(size, np.nan, np.float32) for name in _OFFSET_VARIABLES}
        self.arrays["valid"] = np.zeros(size, dtype=bool)

    def put(self, result: dict[str, Any]) -> None:
        tile: Tile = result["tile"]
        where = (slice(*tile.node_rows), slice(*tile.node_cols))
        for name, array in self.arrays.items():
            array[where] = result[name]

    def dataset(self) -> xr.Dataset:
        dims = ("row", "col")
        return xr.Dataset(
            {name: (dims, array) for name, array in self.arrays.items()},
            coords={"row": self.tops + self.centre, "col": self.lefts + self.centre},
        )


class _Runner:
    """Runs calls here one by one, or as tasks on a dask.distributed cluster; yields results as they finish."""

    def __init__(self, client: Client | None, cancel: threading.Event | None) -> None:
        self.client = client
        self.cancel = cancel
        self._scattered: list[Any] = []

    def share(self, images: tuple[_Image, _Image]) -> tuple[Any, Any]:
        """The images as the tasks take them: files as they are, arrays scattered to the cluster."""
        if self.client is None or all(isinstance(image, _FileImage) for image in images):
            return images
        shared = tuple(self.client.scatter(image, hash=False) for image in images)
        self._scattered.extend(shared)
        return shared  # type: ignore[return-value]

    def map(self, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> Any:
        if self.client is None:
            for func, args in calls:
                check_cancel(self.cancel, _CANCELLED)
                extra = {"cancel": self.cancel} if func is _track_tile else {}
                yield func(*args, **extra)
            return
        from distributed import as_completed

        futures = [self.client.submit(func, *args, pure=False) for func, args in calls]
        try:
            for future in as_completed(futures, loop=self.client.loop):
                check_cancel(self.cancel, _CANCELLED)
                yield future.result()
                future.release()
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        for future in self._scattered:
            future.release()
        self._scattered.clear()


# --- inputs -------------------------------------------------------------------------------------------------------


def _inputs(
    reference: xr.DataArray | str | os.PathLike[str], secondary: xr.DataArray | str | os.PathLike[str]
) -> tuple[Pair, tuple[_Image, _Image], tuple[int, int]]:
    """The pair (for its grid and times), the two images to read tiles from, and the image shape."""
    scenes = [isinstance(item, xr.DataArray) for item in (reference, secondary)]
    if all(scenes):
        pair = Pair.from_scenes(reference, secondary)  # type: ignore[arg-type]
        images = (_ArrayImage(pair.reference.values), _ArrayImage(pair.secondary.values))
        return pair, images, pair.shape
    if any(scenes):
        raise ParameterError(
            "give the reference and the secondary alike: two Scenes (DataArrays) or two raster file paths."
        )
    ref_path, sec_path = Path(reference), Path(secondary)  # type: ignore[arg-type]
    ref_head, ref_grid = _header(ref_path)
    sec_head, sec_grid = _header(sec_path)
    if ref_grid != sec_grid:
        raise InvalidPairError(
            f"{ref_path.name} and {sec_path.name} are not on one grid (CRS, transform and size differ): resample "
            f"the secondary onto the reference grid first (e.g. 'gdalwarp -te <bounds> -tr <pixel size> "
            f"{sec_path.name} out.tif'), or pass both as scenes read with read_scene()."
        )
    pair = Pair(ref_head, sec_head)
    return pair, (_FileImage(str(ref_path)), _FileImage(str(sec_path))), ref_grid[2]


def _header(path: Path) -> tuple[xr.DataArray, tuple[Any, ...]]:
    """A one-pixel `Scene` with the file's metadata (as `read_scene` gives them) and the file's grid."""
    from tracking.scenes import scene_metadata

    if not path.is_file():
        raise SceneReadError(f"{path}: no such file: check the path.")
    try:
        with rasterio.open(path) as src:
            metadata = scene_metadata(path, src)
            shape = (int(src.height), int(src.width))
    except RasterioError as err:
        raise SceneReadError(f"{path}: not a raster GDAL can read ({err}): give a GeoTIFF.") from None
    extra = metadata.pop("attrs")
    head = make_scene(np.full((1, 1), np.nan, np.float32), **metadata)
    head.attrs.update(extra)
    crs, transform = metadata["crs"], metadata["transform"]
    return head, (crs.to_wkt(), tuple(transform)[:6], shape)
