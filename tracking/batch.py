"""Many pairs on a dask.distributed cluster, and their results stacked into a time series.

`run_batch` tracks a list of `PairSpec` (two GeoTIFFs, or two demo scenes and an area) as one task each on a
cluster: a `distributed.LocalCluster` of worker processes by default, or an existing scheduler given by address.
Workers load their own inputs; each result is written to ``OUT_DIR/<pair key>.nc`` as soon as it arrives
(atomically), so a batch stopped half-way is resumed by running it again: pairs whose output exists are skipped.
A worker that dies costs its pair a retry, not the batch; a pair that fails (a missing file, scenes that do not
overlap) is recorded and the others go on.

`stack` gathers the per-pair fields, on one grid, into a Zarr time-series cube (dims ``mid_date, y, x``);
`open_stack` reads one back and `stack_fields` turns it into the per-pair VelocityFields that
`tracking.timeseries.sample_fields` samples.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np
import pandas as pd
import xarray as xr

from tracking.exceptions import ParameterError, TrackingError
from tracking.params import TrackingParameters

if TYPE_CHECKING:
    from distributed import Client

    from tracking.scenes import Pair

__all__ = [
    "QUALITY_COORDS",
    "STACK_COORDS",
    "STACK_VARIABLES",
    "BatchResult",
    "PairOutcome",
    "PairSpec",
    "demo_pair_specs",
    "open_stack",
    "run_batch",
    "stack",
    "stack_fields",
]

#: Variables of a stack, on dims (mid_date, y, x).
#: Error estimates of each pair (`tracking.quality.assess`) kept in a stack, NaN when a field has none.
QUALITY_COORDS = ("v_error", "stable_shift_x", "stable_shift_y", "stable_spread_x", "stable_spread_y",
                  "metric_static_terrain_x", "metric_static_terrain_y")  # fmt: skip
STACK_VARIABLES = ("vx", "vy", "v", "dx", "dy", "peak", "valid", "interpolated")
#: Per-pair coordinates of a stack, on dim mid_date (besides mid_date itself).
STACK_COORDS = (
    "date_dt", "acquisition_date_img1", "acquisition_date_img2", "sensor_img1", "sensor_img2", "id_img1",
    "id_img2", "roi_valid_percentage", *QUALITY_COORDS,
)  # fmt: skip
_TIME_COORDS = ("acquisition_date_img1", "acquisition_date_img2")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
ProgressCallback = Callable[[int, int], None]


# --- what to track -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairSpec:
    """One pair of a batch, named by its inputs: cheap to pickle, loaded by the worker that tracks it.

    Build one with `PairSpec.files` (two GeoTIFFs on disk, readable by the workers) or `PairSpec.demo` (two demo
    scenes and an area of interest).

    Attributes
    ----------
    reference, secondary : str
        Absolute file paths (``source="file"``) or demo scene ids (``source="demo"``).
    source : {"file", "demo"}
        Where the scenes come from.
    bbox : tuple of float, optional
        Demo only: the area ``(xmin, ymin, xmax, ymax)`` in the demo's CRS (EPSG:32622), metres.
    band : str
        Demo only: ``"red"`` or ``"pan"``.
    seed : int
        Demo only: the demo's random seed.
    """

    reference: str
    secondary: str
    source: Literal["file", "demo"] = "file"
    bbox: tuple[float, float, float, float] | None = None
    band: str = "red"
    seed: int = 0

    @classmethod
    def files(cls, reference: str | os.PathLike[str], secondary: str | os.PathLike[str]) -> PairSpec:
        """A pair of raster files (reference earlier), by their paths (made absolute)."""
        return cls(os.path.abspath(reference), os.path.abspath(secondary), "file")

    @classmethod
    def demo(
        cls, reference_id: str, secondary_id: str, bbox: Sequence[float], band: str = "red", *, seed: int = 0
    ) -> PairSpec:
        """A pair of demo scenes (`tracking.sources.demo`) cropped to ``bbox`` (EPSG:32622 metres)."""
        box = tuple(float(v) for v in bbox)
        if len(box) != 4:
            raise ParameterError(f"bbox must be (xmin, ymin, xmax, ymax); got {bbox!r}.")
        return cls(str(reference_id), str(secondary_id), "demo", box, str(band), int(seed))  # type: ignore[arg-type]

    @property
    def key(self) -> str:
        """A stable name for the pair's output file: both scene names and a digest of the whole spec.

        Examples
        --------
        >>> PairSpec.demo("LC08_A", "LC08_B", (0, 0, 3000, 3000)).key
        'LC08_A__LC08_B__ba349152'
        """
        names = [self.reference, self.secondary]
        if self.source == "file":
            names = [Path(name).name.split(".")[0] for name in names]
        text = json.dumps([self.source, self.reference, self.secondary, self.bbox, self.band, self.seed])
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        return "__".join(_UNSAFE.sub("-", name) for name in names) + f"__{digest}"

    def load(self) -> Pair:
        """Read both scenes and pair them (on the worker)."""
        from tracking.scenes import Pair, read_scene

        if self.source == "demo":
            from tracking.sources import demo

            scenes = [demo.load_scene(i, self.band, bbox=self.bbox, seed=self.seed)
                      for i in (self.reference, self.secondary)]  # fmt: skip
        else:
            scenes = [read_scene(path) for path in (self.reference, self.secondary)]
        return Pair.from_scenes(*scenes)

    def track(self, params: TrackingParameters, *, tile_size: int | None = None) -> xr.Dataset:
        """The pair's VelocityField with its error estimates (`tracking.quality.assess`): whole, or tile by tile
        when ``tile_size`` is given (files read by window)."""
        from tracking.pipeline import track
        from tracking.quality import assess

        if tile_size is None:
            return assess(track(self.load(), params))
        from tracking.tiles import track_tiled

        if self.source == "file":
            return assess(track_tiled(self.reference, self.secondary, params, tile_size=tile_size))
        pair = self.load()
        return assess(track_tiled(pair.reference, pair.secondary, params, tile_size=tile_size))


def demo_pair_specs(
    *,
    bbox: Sequence[float],
    start: Any = None,
    end: Any = None,
    min_dt_days: float = 1,
    max_dt_days: float = 48,
    band: str = "red",
    max_cloud: float | None = None,
    seed: int = 0,
) -> list[PairSpec]:
    """Pairs of demo scenes that cover an area, acquired between two dates, a range of days apart.

    Parameters
    ----------
    bbox : sequence of float
        The area ``(xmin, ymin, xmax, ymax)`` in the demo's CRS (EPSG:32622), metres; only scenes whose footprint
        covers all of it are paired.
    start, end : datetime-like, optional
        First and last acquisition dates (inclusive).
    min_dt_days, max_dt_days : float
        Range of the time between the scenes of a pair, days (`tracking.pairs.candidate_pairs`).
    band : {"red", "pan"}
        Band to track.
    max_cloud : float, optional
        Leave out scenes whose cloud cover (% of the demo extent) is above this.
    seed : int
        The demo's random seed.

    Returns
    -------
    list of PairSpec
        Sorted by first date, then time span.
    """
    import geopandas as gpd
    from shapely.geometry import box

    from tracking.pairs import candidate_pairs
    from tracking.sources import demo

    scenes = demo.catalog(seed=seed)
    area = gpd.GeoSeries([box(*bbox)], crs=demo.DEMO_CRS).to_crs(scenes.crs).iloc[0]
    keep = scenes.geometry.covers(area).to_numpy().copy()
    times = pd.to_datetime(scenes["time"])
    if start is not None:
        keep &= (times >= pd.Timestamp(start).normalize()).to_numpy()
    if end is not None:
        keep &= (times < pd.Timestamp(end).normalize() + pd.Timedelta(days=1)).to_numpy()
    if max_cloud is not None:
        keep &= (scenes["cloud_cover"] <= max_cloud).to_numpy()
    pairs = candidate_pairs(scenes[keep], min_dt_days=min_dt_days, max_dt_days=max_dt_days)
    ids = zip(pairs["reference"], pairs["secondary"], strict=True)
    return [PairSpec.demo(reference, secondary, bbox, band, seed=seed) for reference, secondary in ids]


# --- results ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairOutcome:
    """What became of one pair of a batch.

    Attributes
    ----------
    spec : PairSpec
    status : {"done", "skipped", "failed"}
        Tracked and written now; its output was there already; or it failed.
    path : pathlib.Path
        The output file (present unless failed).
    error : str, optional
        Why it failed.
    seconds : float
        Time the worker spent on it.
    """

    spec: PairSpec
    status: Literal["done", "skipped", "failed"]
    path: Path
    error: str | None = None
    seconds: float = 0.0


@dataclass
class BatchResult:
    """The outcome of `run_batch`: one `PairOutcome` per pair, in the order given, and the run's figures.

    Attributes
    ----------
    outcomes : list of PairOutcome
    elapsed_s : float
        Wall time of the whole batch, seconds.
    submitted : int
        Tasks sent to the cluster (pairs not skipped).
    scheduler : str
        Address of the scheduler used ("" when nothing was submitted).
    """

    outcomes: list[PairOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0
    submitted: int = 0
    scheduler: str = ""

    def _with(self, status: str) -> list[PairOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]

    @property
    def done(self) -> list[PairOutcome]:
        """Pairs tracked and written by this run."""
        return self._with("done")

    @property
    def skipped(self) -> list[PairOutcome]:
        """Pairs whose output was there already."""
        return self._with("skipped")

    @property
    def failed(self) -> list[PairOutcome]:
        """Pairs that failed, with their error."""
        return self._with("failed")

    @property
    def paths(self) -> list[Path]:
        """The output files of the pairs done or skipped."""
        return [outcome.path for outcome in self.outcomes if outcome.status != "failed"]

    def summary(self) -> str:
        """A line of counts and the time taken, then one line per failed pair."""
        counts = f"{len(self.done)} done, {len(self.skipped)} skipped, {len(self.failed)} failed"
        lines = [f"{counts} of {len(self.outcomes)} pairs in {self.elapsed_s:.1f} s"]
        lines += [f"failed: {outcome.spec.key}: {outcome.error}" for outcome in self.failed]
        return "\n".join(lines)


# --- the batch ----------------------------------------------------------------------------------------------------


def run_batch(
    pairs: Sequence[PairSpec],
    params: TrackingParameters | None,
    out_dir: str | os.PathLike[str],
    *,
    client: Client | None = None,
    scheduler: str | None = None,
    n_workers: int = 2,
    retries: int = 2,
    progress: ProgressCallback | None = None,
    tile_size: int | None = None,
) -> BatchResult:
    """Track many pairs on a dask.distributed cluster, writing each result as it arrives.

    Parameters
    ----------
    pairs : sequence of PairSpec
        The pairs; repeats are tracked once.
    params : TrackingParameters or None
        Parameters of every pair (None: the defaults).
    out_dir : path
        Where ``<pair key>.nc`` files go (created if needed). Pairs whose file is there already are skipped, so
        an interrupted batch resumes where it stopped.
    client : distributed.Client, optional
        A client to run on (left open).
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``, to connect to instead.
    n_workers : int
        Without ``client`` or ``scheduler``: the worker processes of the `distributed.LocalCluster` started for
        the batch and closed at the end; each runs one pair at a time with ``cores // n_workers`` Numba threads.
    retries : int
        Times a pair is tried again after its worker died or an unexpected error.
    progress : callable, optional
        ``progress(done, total)`` over the pairs submitted, called as each finishes (or fails).
    tile_size : int, optional
        Track each pair tile by tile (`tracking.tiles.track_tiled`; file inputs are read window by window), for
        scenes too large for a worker's memory.

    Returns
    -------
    BatchResult
        One outcome per (distinct) pair: done, skipped or failed with its error.

    Raises
    ------
    ParameterError
        Both ``client`` and ``scheduler``, or a bad ``n_workers`` / ``retries`` / ``tile_size``.
    TrackingError
        ``out_dir`` holds a result of the same pair tracked with other parameters, or the scheduler cannot be
        reached.
    """
    started = time.perf_counter()
    params = TrackingParameters.from_overrides(params)
    if client is not None and scheduler is not None:
        raise ParameterError("give a client or a scheduler address, not both.")
    if n_workers < 1 or retries < 0:
        raise ParameterError(f"n_workers must be at least 1 and retries at least 0; got {n_workers} and {retries}.")
    if tile_size is not None:
        from tracking.tiles import MIN_TILE_SIZE

        if tile_size < MIN_TILE_SIZE:
            raise ParameterError(f"tile_size must be at least {MIN_TILE_SIZE} px; got {tile_size}.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    specs = list(dict.fromkeys(pairs))
    outcomes: dict[str, PairOutcome] = {}
    todo = []
    for spec in specs:
        path = out / f"{spec.key}.nc"
        if path.exists():
            _check_same_parameters(path, params)
            outcomes[spec.key] = PairOutcome(spec, "skipped", path)
        else:
            todo.append(spec)
    result = BatchResult(submitted=len(todo))
    if todo:
        with _connect(client, scheduler, n_workers) as connection:
            result.scheduler = connection.client.scheduler.address
            outcomes.update(_run(connection, todo, params, out, retries, progress, tile_size))
    result.outcomes = [outcomes[spec.key] for spec in specs]
    result.elapsed_s = time.perf_counter() - started
    return result


def _run(
    connection: _connect, todo: list[PairSpec], params: TrackingParameters, out: Path, retries: int,
    progress: ProgressCallback | None, tile_size: int | None,
) -> dict[str, PairOutcome]:  # fmt: skip
    """Submit one task per pair and write the results as they complete."""
    from distributed import as_completed

    from tracking.io import write_netcdf

    client = connection.client
    values = params.to_dict()
    token = uuid.uuid4().hex[:8]
    futures = {
        client.submit(_track_pair, spec, values, tile_size, connection.numba_threads,
                      key=f"icetrack-pair-{spec.key}-{token}", retries=retries, pure=False): spec
        for spec in todo
    }  # fmt: skip
    outcomes: dict[str, PairOutcome] = {}
    if progress is not None:
        progress(0, len(todo))
    try:
        for done, future in enumerate(as_completed(futures, loop=client.loop), start=1):
            spec = futures[future]
            path = out / f"{spec.key}.nc"
            try:
                answer = future.result()
            except Exception as err:  # noqa: BLE001  (a worker died too often, an unexpected error: go on)
                outcomes[spec.key] = PairOutcome(spec, "failed", path, f"{type(err).__name__}: {err}")
            else:
                if "error" in answer:
                    outcomes[spec.key] = PairOutcome(spec, "failed", path, answer["error"], answer["seconds"])
                else:
                    write_netcdf(answer["field"], path)
                    outcomes[spec.key] = PairOutcome(spec, "done", path, None, answer["seconds"])
            future.release()
            if progress is not None:
                progress(done, len(todo))
    finally:
        for future in futures:
            future.cancel()
    return outcomes


def _track_pair(
    spec: PairSpec, values: dict[str, Any], tile_size: int | None, numba_threads: int | None = None
) -> dict[str, Any]:
    """The task: track one pair on a worker; a `TrackingError` is an answer (not retried), not a crash.

    ``numba_threads`` caps the Numba threads of the task (the setting is per thread, so it is made here, in the
    thread that runs the task): the workers of a local cluster share the machine's cores.
    """
    started = time.perf_counter()
    if numba_threads is not None:
        import numba

        numba.set_num_threads(max(1, min(numba_threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        params = TrackingParameters.from_overrides(**values)
        velocity = spec.track(params, tile_size=tile_size)
    except TrackingError as err:
        return {"error": f"{type(err).__name__}: {' '.join(str(err).split())}",
                "seconds": time.perf_counter() - started}  # fmt: skip
    velocity.attrs["pair_key"] = spec.key
    return {"field": velocity, "seconds": time.perf_counter() - started}


def _check_same_parameters(path: Path, params: TrackingParameters) -> None:
    """Raise `TrackingError` when the result at ``path`` was tracked with other parameters."""
    from tracking.velocity import params_from_attrs

    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            attrs = dict(ds.attrs)
        recorded = params_from_attrs(attrs).to_dict()
    except (OSError, ValueError, TrackingError) as err:
        raise TrackingError(
            f"{path}: cannot read the earlier result ({err}): delete it, and run the batch again."
        ) from None
    wanted = params.to_dict()
    differ = {k: (recorded.get(k), v) for k, v in wanted.items() if recorded.get(k) != v}
    if differ:
        text = ", ".join(f"{k} {old} (now {new})" for k, (old, new) in differ.items())
        raise TrackingError(
            f"{path.parent} holds results tracked with other parameters ({path.name}: {text}): write this batch "
            "to another output directory, or delete the old results."
        )


class _connect:
    """A client for the batch: the one given, one connected to ``scheduler``, or a new `LocalCluster`.

    With a local cluster of its own, each worker's tasks use ``cores // n_workers`` Numba threads
    (``numba_threads``); on a cluster given by client or address the workers' settings are left alone.
    """

    def __init__(self, client: Client | None, scheduler: str | None, n_workers: int) -> None:
        self.given, self.address, self.n_workers = client, scheduler, n_workers
        self.client: Client = client  # type: ignore[assignment]
        self.cluster: Any = None
        self.numba_threads: int | None = None
        self._own_client = False

    def __enter__(self) -> Self:
        from distributed import Client, LocalCluster

        if self.given is not None:
            return self
        if self.address is not None:
            try:
                self.client = Client(self.address)
            except (OSError, TimeoutError) as err:
                raise TrackingError(
                    f"cannot reach the Dask scheduler at {self.address} ({err}): start one ('dask scheduler' and "
                    "'dask worker <address>'), check the address, or leave it out to use local workers."
                ) from None
            self._own_client = True
            return self
        self.numba_threads = max(1, (os.cpu_count() or 1) // self.n_workers)
        self.cluster = LocalCluster(
            n_workers=self.n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},  # its health/metrics server: any free port
        )  # fmt: skip
        self.client = Client(self.cluster)
        self._own_client = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._own_client:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# --- the stack ----------------------------------------------------------------------------------------------------

#: Bytes of one variable's chunk in a stack (several pairs' layers per chunk when the grid is small).
_CHUNK_BYTES = 32 * 2**20
_TIME_ENCODING = {"units": "nanoseconds since 1970-01-01", "calendar": "proleptic_gregorian", "dtype": "int64"}
_PER_PAIR_ATTRS = {*STACK_COORDS, "date_center", "date_created", "satellite", "pair_key"}


def stack(out_dir_or_paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
          zarr_path: str | os.PathLike[str]) -> xr.Dataset:  # fmt: skip
    """Stack per-pair VelocityFields on one grid into a Zarr time-series cube, atomically.

    The fields are read a chunk of pairs at a time, so memory stays bounded however many there are.

    Parameters
    ----------
    out_dir_or_paths : path or iterable of paths
        A folder of ``.nc`` fields (as `run_batch` writes them), or the field files.
    zarr_path : path
        The Zarr store to write; it replaces any store there once complete (written to a temporary folder
        beside it first, then renamed).

    Returns
    -------
    xarray.Dataset
        The stack as written, opened from ``zarr_path`` (lazily): dims ``(mid_date, y, x)`` sorted by
        ``mid_date``; variables `STACK_VARIABLES`; per-pair coordinates `STACK_COORDS` on ``mid_date``; the
        attrs the fields share (the ``param_<name>`` parameters among them); the CRS in ``spatial_ref``.

    Raises
    ------
    TrackingError
        No field to stack, or fields on different grids (other area, step or CRS).
    """
    paths = _field_paths(out_dir_or_paths)
    heads = [_field_header(path) for path in paths]
    _check_one_grid(heads, paths)
    order = sorted(range(len(paths)), key=lambda k: (heads[k]["mid_date"], heads[k]["date_dt"], heads[k]["id_img1"]))
    target = Path(zarr_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        first = _load_layer(paths[order[0]])
        rows, cols = first.sizes["y"], first.sizes["x"]
        per_chunk = max(1, min(len(order), _CHUNK_BYTES // (4 * rows * cols)))
        template = _template(first, [heads[k] for k in order], per_chunk)
        encoding = {name: dict(_TIME_ENCODING) for name in (*_TIME_COORDS, "mid_date")}
        template.to_zarr(tmp, mode="w", compute=False, zarr_format=2, consolidated=True, encoding=encoding)
        for start in range(0, len(order), per_chunk):
            group = order[start:start + per_chunk]
            layers = [first if k == order[0] else _load_layer(paths[k]) for k in group]
            block = xr.concat(layers, dim="mid_date", coords="minimal", compat="override", join="override",
                              combine_attrs="drop")  # fmt: skip
            block = block.drop_vars(list(block.coords))
            block.to_zarr(tmp, region={"mid_date": slice(start, start + len(group))}, zarr_format=2)
        _replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return open_stack(target)


def open_stack(path: str | os.PathLike[str]) -> xr.Dataset:
    """Open a stack written by `stack` (lazily), with its CRS and boolean flags.

    Parameters
    ----------
    path : path
        The Zarr store.

    Returns
    -------
    xarray.Dataset
    """
    path = Path(path)
    if not path.is_dir():
        raise TrackingError(f"{path}: no such Zarr stack: write one with 'icetrack batch --stack' or stack().")
    return xr.open_zarr(path, decode_coords="all", consolidated=True)


def stack_fields(ds: xr.Dataset) -> list[xr.Dataset]:
    """The per-pair VelocityFields of a stack, in ``mid_date`` order.

    Each has the variables of the stack on ``(y, x)``, the CRS, and the attrs `tracking.timeseries.sample_fields`
    reads (``acquisition_date_img1/2``, ``date_dt``, ``date_center``, ...), so that
    ``sample_fields(stack_fields(open_stack(path)), points)`` gives the stack's series at points.

    Parameters
    ----------
    ds : xarray.Dataset
        A stack (`open_stack` or `stack`).

    Returns
    -------
    list of xarray.Dataset
    """
    crs = ds.rio.crs
    transform = ds.rio.transform()
    per_pair = [name for name in STACK_COORDS if name in ds.coords]
    values = {name: ds[name].values for name in (*per_pair, "mid_date")}  # one read of each coordinate
    fields = []
    for i in range(ds.sizes["mid_date"]):
        attrs = dict(ds.attrs)
        for name in per_pair:
            value = values[name][i]
            attrs[name] = pd.Timestamp(value).isoformat() if name in _TIME_COORDS else _plain(value)
        attrs["date_center"] = pd.Timestamp(values["mid_date"][i]).isoformat()
        one = ds.isel(mid_date=i).drop_vars(["mid_date", *per_pair])
        one.attrs = attrs
        fields.append(one.rio.write_crs(crs, grid_mapping_name="spatial_ref").rio.write_transform(transform))
    return fields


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _field_paths(source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(source, str | os.PathLike):
        folder = Path(source)
        if not folder.is_dir():
            raise TrackingError(f"{folder}: no such folder of velocity fields.")
        paths = sorted(folder.glob("*.nc"))
    else:
        paths = [Path(p) for p in source]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise TrackingError(f"no such velocity field file: {', '.join(missing)}.")
    if not paths:
        raise TrackingError(f"no velocity field (.nc) to stack in {source}: run the batch first.")
    return paths


def _field_header(path: Path) -> dict[str, Any]:
    """What the stack needs of a field before its pixels: its grid, CRS, times and attrs (a light read)."""
    import netCDF4

    try:
        with netCDF4.Dataset(path) as nc:
            attrs = {key: nc.getncattr(key) for key in nc.ncattrs()}
            x, y = np.asarray(nc["x"][:]), np.asarray(nc["y"][:])
            wkt = nc["spatial_ref"].getncattr("crs_wkt") if "spatial_ref" in nc.variables else ""
    except (OSError, KeyError, IndexError) as err:
        raise TrackingError(f"{path}: not a velocity field written by icetrack ({err}).") from None
    missing = [key for key in ("acquisition_date_img1", "acquisition_date_img2") if key not in attrs]
    if missing:
        raise TrackingError(f"{path}: the field lacks the attrs {', '.join(missing)}: stack fields made by icetrack.")
    t0, t1 = _naive(attrs["acquisition_date_img1"]), _naive(attrs["acquisition_date_img2"])
    mid = _naive(attrs["date_center"]) if "date_center" in attrs else t0 + (t1 - t0) / 2
    return {
        "x": x, "y": y, "crs_wkt": wkt, "attrs": attrs,
        "mid_date": mid.to_datetime64(),
        "date_dt": float(attrs.get("date_dt", (t1 - t0) / pd.Timedelta(days=1))),
        "acquisition_date_img1": t0.to_datetime64(),
        "acquisition_date_img2": t1.to_datetime64(),
        "sensor_img1": str(attrs.get("sensor_img1", "unknown")),
        "sensor_img2": str(attrs.get("sensor_img2", "unknown")),
        "id_img1": str(attrs.get("id_img1", "")),
        "id_img2": str(attrs.get("id_img2", "")),
        "roi_valid_percentage": float(attrs.get("roi_valid_percentage", np.nan)),
        **{name: float(attrs.get(name, np.nan)) for name in QUALITY_COORDS},
    }  # fmt: skip


def _check_one_grid(heads: list[dict[str, Any]], paths: list[Path]) -> None:
    from rasterio.crs import CRS

    first = heads[0]
    crs = CRS.from_wkt(first["crs_wkt"]) if first["crs_wkt"] else None
    for head, path in zip(heads, paths, strict=True):
        same = (
            head["x"].shape == first["x"].shape and head["y"].shape == first["y"].shape
            and np.allclose(head["x"], first["x"]) and np.allclose(head["y"], first["y"])
            and (head["crs_wkt"] == first["crs_wkt"] or (crs is not None and CRS.from_wkt(head["crs_wkt"]) == crs))
        )  # fmt: skip
        if not same:
            raise TrackingError(
                f"{path.name} is not on the grid of {paths[0].name} (other area, step or CRS): stack fields "
                "tracked over the same area with the same step (one 'icetrack batch' run gives such fields)."
            )


def _load_layer(path: Path) -> xr.Dataset:
    """A field's stacked variables, in memory."""
    from tracking.io import read_field

    field = read_field(path)
    return field[[name for name in STACK_VARIABLES if name in field]]


def _template(first: xr.Dataset, heads: list[dict[str, Any]], per_chunk: int) -> xr.Dataset:
    """The stack's layout: per-pair coordinates written at once, variables as lazy placeholders to fill."""
    import dask.array

    full = first.rio.write_crs(first.rio.crs)  # read_field restored the CRS; keep it for the template
    n, rows, cols = len(heads), first.sizes["y"], first.sizes["x"]
    variables = {
        name: (("mid_date", "y", "x"),
               dask.array.empty((n, rows, cols), chunks=(per_chunk, rows, cols), dtype=first[name].dtype),
               {k: v for k, v in first[name].attrs.items() if k not in ("grid_mapping", "flag_values")})
        for name in first.data_vars
    }  # fmt: skip
    coords: dict[str, Any] = {
        "mid_date": ("mid_date", np.array([h["mid_date"] for h in heads], dtype="datetime64[ns]"),
                     {"long_name": "midpoint between the acquisitions of the pair"}),
        "x": ("x", first["x"].values, dict(first["x"].attrs)),
        "y": ("y", first["y"].values, dict(first["y"].attrs)),
    }  # fmt: skip
    for name in STACK_COORDS:
        values = [h[name] for h in heads]
        if name in _TIME_COORDS:
            array = np.array(values, dtype="datetime64[ns]")
        elif isinstance(values[0], str):
            array = np.array(values, dtype=object)
        else:
            array = np.array(values, dtype=np.float64)
        coords[name] = ("mid_date", array)
    cube = xr.Dataset(variables, coords=coords, attrs=_common_attrs([h["attrs"] for h in heads]))
    cube["date_dt"].attrs = {"long_name": "time between the acquisitions", "units": "days"}
    return cube.rio.write_crs(full.rio.crs, grid_mapping_name="spatial_ref").rio.write_transform(first.rio.transform())


def _naive(text: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(str(text))
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _common_attrs(all_attrs: list[dict[str, Any]]) -> dict[str, Any]:
    """The attrs every field has with the same value (parameters, grid, software), less the per-pair ones."""
    common: dict[str, Any] = {}
    for key, value in all_attrs[0].items():
        if key in _PER_PAIR_ATTRS:
            continue
        if all(key in other and np.array_equal(np.asarray(other[key]), np.asarray(value)) for other in all_attrs):
            common[key] = value.tolist() if isinstance(value, np.ndarray) else _plain(value)
    common["title"] = "icetrack surface velocity stack"
    return common


def _replace_dir(tmp: Path, target: Path) -> None:
    """Move the finished store ``tmp`` onto ``target``, replacing an older store there."""
    if not target.exists():
        os.replace(tmp, target)
        return
    if not (target / ".zgroup").exists() and not (target / "zarr.json").exists():
        raise TrackingError(f"{target} exists and is not a Zarr store: choose another path for the stack.")
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
