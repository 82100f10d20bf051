"""Tests of tracking.batch: 50 demo pairs on a 2-worker LocalCluster, a worker killed, a restart, the stack."""

from __future__ import annotations

import os
import pickle
import signal

import dask
import numpy as np
import pandas as pd
import pytest
import rasterio

from tracking.aoi import aoi_bounds
from tracking.batch import PairSpec, demo_pair_specs, run_batch
from tracking.exceptions import ParameterError, TrackingError
from tracking.io import read_field, write_netcdf
from tracking.params import TrackingParameters
from tracking.sources import demo
from tracking.stack import open_stack, stack, stack_fields
from tracking.timeseries import sample_fields

distributed = pytest.importorskip("distributed")

POINT = (-49.5, 69.1)  # on the demo glacier, under path 9 only
BBOX = aoi_bounds(*POINT, 3.0, demo.DEMO_CRS)  # 3 km: 101 x 101 px of 30 m
PARAMS = TrackingParameters(step=32)  # 3 x 3 chips a pair
N_PAIRS = 50


@pytest.fixture(scope="module", autouse=True)
def demo_cache(tmp_path_factory):
    """An empty demo cache of our own (the workers inherit the variable): crops are generated, not read."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ICETRACK_CACHE", str(tmp_path_factory.mktemp("demo-cache")))
        yield


@pytest.fixture(scope="module")
def specs():
    found = demo_pair_specs(bbox=BBOX, start="2015-01-01", end="2024-12-31", max_dt_days=40, max_cloud=0)
    assert len(found) >= N_PAIRS
    return found[:N_PAIRS]


@pytest.fixture(scope="module")
def batch(specs, tmp_path_factory):
    """The 50 pairs on the default cluster: a LocalCluster of 2 worker processes started and closed by run_batch."""
    out = tmp_path_factory.mktemp("batch")
    calls = []
    result = run_batch(specs, PARAMS, out, n_workers=2, progress=lambda *a: calls.append(a))
    return out, result, calls


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},
        ) as local,
        distributed.Client(local) as client,
    ):
        yield local, client


def test_batch_of_50_pairs_completes(batch, specs):
    out, result, calls = batch
    assert len(result.done) == N_PAIRS and not result.failed and not result.skipped
    assert result.submitted == N_PAIRS and result.scheduler.startswith("tcp://")
    assert [o.spec for o in result.outcomes] == specs
    for outcome in result.outcomes:
        assert outcome.path == out / f"{outcome.spec.key}.nc" and outcome.path.is_file()
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s.key}.nc" for s in specs)  # no temporary left
    assert calls[0] == (0, N_PAIRS) and calls[-1] == (N_PAIRS, N_PAIRS) and len(calls) == N_PAIRS + 1
    field = read_field(result.outcomes[0].path)
    assert field.sizes == {"y": 3, "x": 3} and field.attrs["param_step"] == 32
    assert field.attrs["pair_key"] == specs[0].key
    assert "done, 0 skipped, 0 failed" in result.summary()


def test_restart_skips_finished_pairs(batch, specs):
    out, _, _ = batch
    calls = []
    again = run_batch(specs, PARAMS, out, progress=lambda *a: calls.append(a))
    assert len(again.skipped) == N_PAIRS and not again.done and not again.failed
    assert again.submitted == 0 and again.scheduler == "" and calls == []  # no cluster, no task
    assert again.paths == [o.path for o in batch[1].outcomes]


def test_other_parameters_in_the_output_folder_are_refused(batch, specs):
    out, _, _ = batch
    with pytest.raises(TrackingError, match=r"other parameters .*step 32 \(now 16\)"):
        run_batch(specs[:2], TrackingParameters(step=16), out)


def test_overwrite_tracks_again_and_replaces_the_files(batch, specs, cluster, tmp_path):
    _, result, _ = batch
    for outcome in result.outcomes[:2]:
        (tmp_path / outcome.path.name).write_bytes(outcome.path.read_bytes())
    again = run_batch(specs[:2], TrackingParameters(step=16), tmp_path, client=cluster[1], overwrite=True)
    assert len(again.done) == 2 and not again.skipped and not again.failed
    for outcome in again.outcomes:
        assert read_field(outcome.path).attrs["param_step"] == 16  # replaced, with the new parameters
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s.key}.nc" for s in specs[:2])


def test_a_killed_worker_costs_a_retry_not_the_batch(specs, cluster, tmp_path):
    local, client = cluster
    pids = client.run(os.getpid)
    victim = next(iter(pids.values()))
    killed = []

    def progress(done, total):
        if done == 3 and not killed:  # a few results in, the rest still running or waiting
            os.kill(victim, signal.SIGKILL)
            killed.append(done)

    with distributed.get_task_stream(client) as stream:
        result = run_batch(
            specs, PARAMS, tmp_path, scheduler=local.scheduler_address, retries=2, progress=progress
        )
    assert killed == [3]
    assert len(result.done) == N_PAIRS and not result.failed, [o.error for o in result.failed]
    assert result.scheduler == local.scheduler_address
    ran_here = {task["key"] for task in stream.data if "icetrack-pair-" in str(task["key"])}
    assert len(ran_here) == N_PAIRS  # every pair ran on the cluster we gave by address
    assert all((tmp_path / f"{spec.key}.nc").is_file() for spec in specs)
    assert victim not in client.run(os.getpid).values()  # the nanny replaced the killed worker


def write_scene(path, scene):
    profile = {
        "driver": "GTiff",
        "width": scene.shape[1],
        "height": scene.shape[0],
        "count": 1,
        "dtype": "float32",
        "crs": demo.DEMO_CRS,
        "transform": scene.rio.transform(),
        "nodata": np.nan,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(scene.values, 1)
        dst.update_tags(ACQUISITION_TIME=scene.attrs["time"], SENSOR=scene.attrs["sensor"])
    return path


def test_a_failing_pair_is_reported_and_the_others_finish(specs, cluster, tmp_path):
    _, client = cluster
    files = []
    for spec in specs[:2]:
        pair = spec.load()
        files.append(
            PairSpec.files(
                write_scene(tmp_path / f"{spec.reference}.tif", pair.reference),
                write_scene(tmp_path / f"{spec.secondary}.tif", pair.secondary),
            )
        )
    broken = PairSpec.files(tmp_path / "missing_20210501.tif", files[0].secondary)
    out = tmp_path / "out"
    result = run_batch([files[0], broken, files[1]], PARAMS, out, client=client, tile_size=64)
    assert [o.status for o in result.outcomes] == ["done", "failed", "done"]
    failed = result.failed[0]
    assert failed.spec == broken and "SceneReadError" in failed.error and "no such file" in failed.error
    assert not failed.path.exists() and all(o.path.is_file() for o in result.done)
    assert "failed: missing_20210501" in result.summary()
    assert client.status == "running"  # a client we gave is left open


def test_stack_is_a_sorted_time_series(batch, tmp_path):
    out, result, _ = batch
    written = stack(out, tmp_path / "stack.zarr")
    assert dict(written.sizes) == {"mid_date": N_PAIRS, "y": 3, "x": 3}
    cube = open_stack(tmp_path / "stack.zarr")
    mid = cube["mid_date"].values
    assert (np.diff(mid) >= np.timedelta64(0, "ns")).all()
    assert cube["valid"].dtype == bool and cube["interpolated"].dtype == bool
    assert {"vx", "vy", "v", "peak"} <= set(cube.data_vars)
    assert cube.rio.crs.to_epsg() == 32622 and cube.attrs["param_step"] == 32
    assert (cube["acquisition_date_img1"].values < cube["acquisition_date_img2"].values).all()
    assert set(cube["sensor_img1"].values) <= {"Landsat 8 OLI", "Landsat 9 OLI-2"}

    one = read_field(result.outcomes[7].path)  # a layer of the cube is the pair's own field
    layer = cube.isel(mid_date=int(np.flatnonzero(cube["id_img1"].values == one.attrs["id_img1"])[0]))
    np.testing.assert_array_equal(layer["vx"].values, one["vx"].values)
    np.testing.assert_array_equal(layer["valid"].values, one["valid"].values)

    fields = stack_fields(cube)
    points = pd.DataFrame({"name": ["trunk"], "lon": [POINT[0]], "lat": [POINT[1]]})
    series = sample_fields(fields, points)
    assert len(series) == N_PAIRS
    np.testing.assert_array_equal(series["mid_date"].to_numpy(), mid)
    assert (series["t0"] < series["t1"]).all() and np.isfinite(series["v"]).mean() > 0.8
    assert series["dt_days"].between(1, 40).all()
    # each pair's error estimate (assessed on the worker) travels through the stack into the series
    assert np.isfinite(cube["v_error"].values).all()
    np.testing.assert_allclose(series["v_error"].to_numpy(), cube["v_error"].values)


def test_stack_replaces_an_older_stack_and_refuses_other_grids(batch, tmp_path):
    _, result, _ = batch
    target = tmp_path / "cube.zarr"
    stack(result.paths[:3], target)
    assert stack(result.paths[3:5], target).sizes["mid_date"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["cube.zarr"]  # no temporary left
    other = read_field(result.paths[5]).isel(x=slice(0, 2))
    write_netcdf(other, tmp_path / "other.nc")
    with pytest.raises(TrackingError, match="same area"):
        stack([result.paths[0], tmp_path / "other.nc"], tmp_path / "bad.zarr")
    assert not (tmp_path / "bad.zarr").exists()
    with pytest.raises(TrackingError, match="no velocity field"):
        stack(tmp_path / "cube.zarr" / "vx", tmp_path / "bad.zarr")


def test_pair_spec_is_stable_and_picklable(tmp_path):
    spec = PairSpec.demo("LC08_A", "LC08_B", BBOX)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert spec.key == PairSpec.demo("LC08_A", "LC08_B", list(BBOX)).key
    assert spec.key != PairSpec.demo("LC08_A", "LC08_B", BBOX, "pan").key
    files = PairSpec.files(tmp_path / "a_20210501.tif", tmp_path / "b_20210517.tif")
    assert files.key.startswith("a_20210501__b_20210517__") and os.path.isabs(files.reference)
    with pytest.raises(ParameterError, match="not both"):
        run_batch([spec], PARAMS, tmp_path, client=object(), scheduler="tcp://127.0.0.1:1")  # type: ignore[arg-type]
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(TrackingError, match="cannot reach the Dask scheduler"),
    ):
        run_batch([spec], PARAMS, tmp_path / "unreachable", scheduler="tcp://127.0.0.1:9")
