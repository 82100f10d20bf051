"""Many pairs on a dask.distributed cluster, and their results stacked into a time series.

`run_batch` tracks a list of `PairSpec` (two GeoTIFFs, or two demo scenes and an area) as one task each on a
cluster: a `distributed.LocalCluster` of worker processes by default, or an existing scheduler given by address.
Workers load their own inputs; each result is written to ``OUT_DIR/<pair key>.nc`` as soon as it arrives
(atomically), so a batch stopped half-way is resumed by running it again: pairs whose output exists are skipped.
A worker that dies costs its pair a retry, not the batch; a pair that fails (a missing file, scenes that do not
overlap) is recorded and the others go on.

`tracking.stack` gathers the per-pair fields into a Zarr time-series cube.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import xarray as xr

from tracking import keys
from tracking.cluster import DaskConnection
from tracking.exceptions import ParameterError, TrackingError
from tracking.params import TrackingParameters
from tracking.progress import ProgressCallback

if TYPE_CHECKING:
    from distributed import Client

    from tracking.scenes import Pair
    from tracking.sources import Source

__all__ = ["BatchResult", "PairOutcome", "PairSpec", "demo_pair_specs", "run_batch"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


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
    source : str
        Where the scenes come from: a name in `tracking.sources.REGISTRY` (``"file"``, ``"demo"``, ...).
    bbox : tuple of float, optional
        Demo only: the area ``(xmin, ymin, xmax, ymax)`` in the demo's CRS (EPSG:32622), metres.
    band : str
        Demo only: ``"red"`` or ``"pan"``.
    seed : int
        Demo only: the demo's random seed.
    """

    reference: str
    secondary: str
    source: str = "file"
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
        source = self.source_obj()
        names = [source.scene_name(name) for name in (self.reference, self.secondary)]
        text = json.dumps([self.source, self.reference, self.secondary, self.bbox, self.band, self.seed])
        digest = keys.digest(text, 8)
        return "__".join(_UNSAFE.sub("-", name) for name in names) + f"__{digest}"

    def source_obj(self) -> Source:
        """The `tracking.sources.Source` the scenes come from."""
        from tracking import sources

        return sources.get(self.source, seed=self.seed)

    def load(self) -> Pair:
        """Read both scenes and pair them (on the worker)."""
        return self.source_obj().load_pair(self.reference, self.secondary, self.band, self.bbox)

    def track(self, params: TrackingParameters, *, tile_size: int | None = None) -> xr.Dataset:
        """The pair's VelocityField with its error estimates (`tracking.quality.assess`): whole, or tile by tile
        when ``tile_size`` is given (files read by window)."""
        from tracking.quality import track_and_assess

        if tile_size is None:
            return track_and_assess(self.load(), params)
        inputs = self.source_obj().tiled_inputs(self.reference, self.secondary, self.band, self.bbox)
        return track_and_assess(inputs, params, tile_size=tile_size)


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
    overwrite: bool = False,
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
    overwrite : bool
        Track every pair again, whatever ``out_dir`` holds, replacing each file (atomically) once its new field
        is complete. Off, pairs whose file is there are skipped and results of other parameters are refused.

    Returns
    -------
    BatchResult
        One outcome per (distinct) pair: done, skipped or failed with its error.

    Raises
    ------
    ParameterError
        Both ``client`` and ``scheduler``, or a bad ``n_workers`` / ``retries`` / ``tile_size``.
    TrackingError
        ``out_dir`` holds a result of the same pair tracked with other parameters (without ``overwrite``), or
        the scheduler cannot be reached.
    """
    started = time.perf_counter()
    params = TrackingParameters.from_overrides(params)
    if client is not None and scheduler is not None:
        raise ParameterError("give a client or a scheduler address, not both.")
    if n_workers < 1 or retries < 0:
        raise ParameterError(
            f"n_workers must be at least 1 and retries at least 0; got {n_workers} and {retries}."
        )
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
        if path.exists() and not overwrite:
            _check_same_parameters(path, params)
            outcomes[spec.key] = PairOutcome(spec, "skipped", path)
        else:
            todo.append(spec)
    result = BatchResult(submitted=len(todo))
    if todo:
        with DaskConnection(client, scheduler, n_workers) as connection:
            result.scheduler = connection.client.scheduler.address
            outcomes.update(_run(connection, todo, params, out, retries, progress, tile_size))
    result.outcomes = [outcomes[spec.key] for spec in specs]
    result.elapsed_s = time.perf_counter() - started
    return result


def _run(
    connection: DaskConnection,
    todo: list[PairSpec],
    params: TrackingParameters,
    out: Path,
    retries: int,
    progress: ProgressCallback | None,
    tile_size: int | None,
) -> dict[str, PairOutcome]:
    """Submit one task per pair and write the results as they complete."""
    from distributed import as_completed

    from tracking.io import write_netcdf

    client = connection.client
    values = params.to_dict()
    token = uuid.uuid4().hex[:8]
    futures = {
        client.submit(
            _track_pair,
            spec,
            values,
            tile_size,
            connection.numba_threads,
            key=f"icetrack-pair-{spec.key}-{token}",
            retries=retries,
            pure=False,
        ): spec
        for spec in todo
    }
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
        return {
            "error": f"{type(err).__name__}: {' '.join(str(err).split())}",
            "seconds": time.perf_counter() - started,
        }
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
            "to another output directory, or replace them with --overwrite."
        )
