"""What the dashboard opens beside its own tracking (``dashboard.loaders``): batch results on the server.

ITS_LIVE granules and datacube series are tested against a local server in tests/test_remote_workflow.py; the
demo's truth in tests/test_state.py.
"""

from __future__ import annotations

import pytest

from dashboard.derived import point_series
from dashboard.loaders import open_batch
from dashboard.state import AppState
from tracking.sources import demo
from tracking.store import ResultStore


def test_batch_results_open_as_session_results(tmp_path, monkeypatch):
    from tracking.batch import PairSpec, run_batch
    from tracking.exceptions import TrackingError
    from tracking.stack import stack

    catalog = demo.catalog()
    ids = catalog[catalog["time"].dt.year == 2021]["scene_id"].tolist()[:3]
    bbox = (568_000.0, 7_666_000.0, 574_000.0, 7_672_000.0)
    specs = [PairSpec.demo(ids[0], ids[1], bbox), PairSpec.demo(ids[1], ids[2], bbox)]
    result = run_batch(specs, None, tmp_path / "run", n_workers=1)
    assert len(result.done) == 2
    stack(tmp_path / "run", tmp_path / "stack.zarr")
    state = AppState(store=ResultStore())
    monkeypatch.setenv("ICETRACK_DATA_ROOT", str(tmp_path))
    for path in ("run", "stack.zarr"):
        opened = open_batch(path)
        assert len(opened) == 2 and all(key.startswith("batch-") for key, _ in opened)
        for key, field in opened:
            state.add_result(key, field)
    assert len(state.results) == 4  # the folder's and the stack's fields: other paths, other keys
    state.add_point(state.lon, state.lat)
    assert len(point_series(state)) == 4
    with pytest.raises(TrackingError, match="no such stack or folder"):
        open_batch("nowhere")


def test_a_visitor_reaches_no_server_path_outside_the_data_root(tmp_path, monkeypatch):
    from tracking.exceptions import TrackingError

    root = tmp_path / "data"
    (root / "runs").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (root / "out").symlink_to(tmp_path / "secret")
    monkeypatch.delenv("ICETRACK_DATA_ROOT", raising=False)
    with pytest.raises(TrackingError, match="off"):
        open_batch("runs")  # no root set: server paths are off (the Procfile's default)
    monkeypatch.setenv("ICETRACK_DATA_ROOT", str(root))
    for typed, why in [
        ("/etc", "relative"),
        ("~/", "relative"),
        (str(root / "runs"), "relative"),
        ("../secret", "leads out"),
        ("runs/../../secret", "leads out"),
        ("out", "leads out"),
    ]:
        with pytest.raises(TrackingError, match=why):
            open_batch(typed)
    with pytest.raises(TrackingError, match="no velocity field"):
        open_batch("runs")  # inside the root: opened (and empty)
