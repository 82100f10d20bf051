"""Tests of tracking.files: atomic writes of files and folders."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tracking.exceptions import OutputWriteError
from tracking.files import atomic_path


def test_atomic_path(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file, not mkstemp's 0600
    with pytest.raises(KeyError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise KeyError("boom")
    assert target.read_text() == "done" and len(list(tmp_path.iterdir())) == 1
    with atomic_path(target, suffix=".tmp.tif") as tmp:
        assert tmp.name.endswith(".tmp.tif")
    with pytest.raises(FileNotFoundError, match="no such directory"), atomic_path(tmp_path / "no" / "x.nc"):
        pass


def test_atomic_path_replaces_a_folder(tmp_path):
    target = tmp_path / "cube.zarr"
    target.mkdir()
    (target / "old").write_text("old")
    with atomic_path(target, directory=True) as tmp:
        assert not tmp.exists() and tmp.parent == tmp_path
        tmp.mkdir()
        (tmp / "new").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new"] and [p.name for p in tmp_path.iterdir()] == [
        "cube.zarr"
    ]
    with pytest.raises(KeyError), atomic_path(target, directory=True) as tmp:
        tmp.mkdir()
        raise KeyError("boom")
    assert [p.name for p in target.iterdir()] == ["new"] and [p.name for p in tmp_path.iterdir()] == [
        "cube.zarr"
    ]


def test_write_only_blocks_report_a_failed_write_in_one_line(tmp_path):
    target = tmp_path / "v.nc"
    target.write_bytes(b"earlier")
    full = r"cannot write .*v\.nc \(No space left on device\).*left as it was"
    with pytest.raises(OutputWriteError, match=full), atomic_path(target, write_only=True) as tmp:
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")
    with (
        pytest.raises(OSError, match="connection reset") as info,
        atomic_path(target) as tmp,
    ):  # a download, say
        raise ConnectionResetError("connection reset")
    assert not isinstance(info.value, OutputWriteError)
    assert target.read_bytes() == b"earlier" and [p.name for p in tmp_path.iterdir()] == ["v.nc"]


_HOST = socket.gethostname()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_write_removes_only_what_dead_writers_of_this_machine_left(tmp_path):
    target = tmp_path / "out.nc"
    dead, alive = _dead_pid(), os.getpid()
    leftovers = {
        "dead file": tmp_path / f".out.nc.{_HOST}-{dead}.abc.tmp",
        "dead folder": tmp_path / f".out.nc.{_HOST}-{dead}.tmp-1234abcd",
    }
    kept = {
        "a write in progress here": tmp_path / f".out.nc.{_HOST}-{alive}.def.tmp",
        "another machine's": tmp_path / f".out.nc.other-host-{dead}.ghi.tmp",
        "another output's": tmp_path / f".out.nc.old.{_HOST}-{dead}.jkl.tmp",
        "a user's hidden file": tmp_path / ".out.nc.notes",
    }
    leftovers["dead folder"].mkdir()
    (leftovers["dead folder"] / "part").write_text("x")
    for path in [leftovers["dead file"], *kept.values()]:
        path.write_text("x")
    with atomic_path(target) as tmp:
        assert tmp.name.startswith(f".out.nc.{_HOST}-{alive}.")
        tmp.write_text("done")
    assert target.read_text() == "done"
    assert not any(path.exists() for path in leftovers.values())
    assert all(path.exists() for path in kept.values())
