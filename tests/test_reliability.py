"""An existing output survives a full disk and a killed writer; the result store never serves a broken entry.

The CLI runs as a subprocess: once under ``RLIMIT_FSIZE`` (SIGXFSZ ignored, so that the write fails with an
``OSError`` as on a full disk), once killed with SIGKILL while its temporary output file is being written.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import hostile_inputs as h
import numpy as np
import pytest

from tracking.io import read_field
from tracking.store import ResultStore
from tracking.testing import uniform_field

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def icetrack(*args: str) -> list[str]:
    return [sys.executable, "-m", "tracking", *args]


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A pair and its velocity field, tracked once by the CLI (which also compiles and caches the kernels)."""
    folder = tmp_path_factory.mktemp("reliability")
    h.geotiff(folder / "ref_20210501.tif")
    h.geotiff(folder / "sec_20210517.tif", h.texture(seed=4))
    args = icetrack(
        "track",
        "ref_20210501.tif",
        "sec_20210517.tif",
        "-q",
        "--chip-size",
        "16",
        "--search-range",
        "4",
        "--step",
        "2",
        "--subpixel",
        "parabolic",
    )  # a 64 x 64 grid: a longer write
    done = subprocess.run(
        [*args, "-o", "previous.nc"],
        cwd=folder,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return folder, args


def _full_disk() -> None:
    """In the child: ignore SIGXFSZ (the write gets EFBIG, as on a full disk) and cap files at 1 kB."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


@pytest.mark.parametrize("suffix", [".nc", ".tif"])
def test_full_disk_leaves_the_existing_output(tracked, tmp_path, suffix):
    folder, args = tracked
    out = folder / f"velocity{suffix}"
    out.write_bytes(b"the previous result, kept")
    done = subprocess.run(
        [*args, "-o", out.name, "--overwrite"],
        cwd=folder,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_full_disk,
        check=False,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and lines[0].startswith("icetrack: error: cannot write velocity"), done.stderr
    assert "disk full" in lines[0] and "left as it was" in lines[0], lines[0]
    assert out.read_bytes() == b"the previous result, kept"
    assert temporaries(folder) == []


def test_full_disk_in_compare(tmp_path):
    h.velocity_netcdf(tmp_path / "a.nc")
    h.velocity_netcdf(tmp_path / "b.nc", vx=50.0)
    (tmp_path / "diff.nc").write_bytes(b"previous")
    done = subprocess.run(
        icetrack("compare", "a.nc", "b.nc", "-o", "diff.nc", "--overwrite"),
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_full_disk,
        check=False,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot write diff.nc" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "diff.nc").read_bytes() == b"previous" and temporaries(tmp_path) == []


def _kill_while_writing(args: list[str], folder: Path, out: Path) -> bool:
    """Start the run, SIGKILL it as soon as its temporary output appears; whether it was caught mid-write."""
    child = subprocess.Popen(
        [*args, "-o", out.name, "--overwrite"],
        cwd=folder,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    prefix = f".{out.name}."
    try:
        deadline = time.monotonic() + 300
        while child.poll() is None and time.monotonic() < deadline:
            if any(name.startswith(prefix) for name in os.listdir(folder)):
                child.send_signal(signal.SIGSTOP)  # frozen mid-write; still writing if its temporary is there
                caught = any(name.startswith(prefix) for name in os.listdir(folder))
                child.kill()
                child.wait()
                if caught:
                    return True
                break
            time.sleep(0.0005)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return False


def test_sigkill_mid_write_leaves_the_existing_output(tracked):
    folder, args = tracked
    out = folder / "killed.nc"
    previous = (folder / "previous.nc").read_bytes()
    for _ in range(5):  # the write lasts some tens of ms: catch it (nearly always on the first try)
        out.write_bytes(previous)
        if _kill_while_writing(args, folder, out):
            break
    else:
        pytest.fail("the run was never caught writing its output")
    assert out.read_bytes() == previous  # the old file, whole
    stale = [name for name in temporaries(folder) if name.startswith(".killed.nc.")]
    assert len(stale) == 1  # what the killed writer left: hidden, and not the output

    done = subprocess.run(
        [*args, "-o", out.name, "--overwrite"],
        cwd=folder,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    field = read_field(out)  # the next run writes a whole new file, and removes what the killed writer left
    assert field.sizes["x"] > 32 and np.isfinite(field.v.values).any()
    assert temporaries(folder) == []


# --- the result store -------------------------------------------------------------------------------------------


def _field(vx: float) -> object:
    return uniform_field(vx, shape=(16, 16))


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "not-a-field", "half-hdf5-header"])
def test_store_never_serves_a_broken_entry(tmp_path, damage):
    store = ResultStore(tmp_path)
    store.put("k1", _field(100.0))
    path = tmp_path / "k1.nc"
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "garbage":
        h.binary_garbage(path)
    elif damage == "not-a-field":
        h.other_netcdf(path)
    else:
        path.write_bytes(data[:8])
    fresh = ResultStore(tmp_path)  # a restart: nothing in memory
    assert fresh.get("k1") is None  # detected, not served
    fresh.put("k1", _field(200.0))  # recomputed and stored again
    assert float(ResultStore(tmp_path).get("k1").vx.mean()) == 200.0


WRITER = textwrap.dedent("""
    import sys
    from tracking.store import ResultStore
    from tracking.testing import uniform_field

    store = ResultStore(sys.argv[1])
    field = uniform_field(100.0, shape=(200, 200))
    print("ready", flush=True)
    i = 0
    while True:
        store.put(f"k{i % 4}", field)
        i += 1
""")


def test_store_survives_a_killed_writer(tmp_path):
    """A writer killed at random moments leaves entries that are whole or absent, never half of one."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], env=ENV, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("*.nc"))) < 4 and time.monotonic() < deadline:  # a few entries first
            time.sleep(0.01)
        while not temporaries(tmp_path) and time.monotonic() < deadline:  # then kill it mid-write
            time.sleep(0.0005)
        writer.kill()
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    store = ResultStore(tmp_path)
    keys = store.keys()
    assert keys and all(k.startswith("k") for k in keys)  # temporaries are not entries
    for key in keys:
        field = store.get(key)
        assert field is None or float(field.vx.mean()) == 100.0
    store.put("k0", _field(5.0))
    assert float(ResultStore(tmp_path).get("k0").vx.mean()) == 5.0
