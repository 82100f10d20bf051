"""Atomic writes: a reader sees the old file (or folder) or the new one, never half of one.

`atomic_path` yields a temporary path beside the destination; whatever is written there is flushed to disk and
moved onto the destination with `os.replace` when the block ends without an error, and removed when it raises.
With ``write_only=True`` (a block that only writes data already in memory), a write that fails with an I/O error
(a full disk, a file size limit, the netCDF/HDF5 libraries' RuntimeError, GDAL's errors) is raised as one
`tracking.exceptions.OutputWriteError` that says the earlier file is kept. A block that also reads (a download,
lazy inputs) leaves it off, so that a network or input error is not reported as a full disk. A process killed
mid-write leaves its hidden temporary; the next write of the same destination on that machine removes it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from tracking.exceptions import OutputWriteError, TrackingError

__all__ = ["atomic_path"]

_HOST = socket.gethostname().replace("/", "_")


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, directory: bool = False, suffix: str = ".tmp", write_only: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it onto ``path``, on error remove it.

    Parameters
    ----------
    path : str or path-like
        The destination. Its directory must exist.
    directory : bool
        The writer makes a folder (a Zarr store, say) rather than a file. The temporary path is then not created
        beforehand, and a folder at ``path`` is replaced (moved aside, then deleted once the new one is in place).
    suffix : str
        How the temporary file's name ends (e.g. ``".tmp.tif"`` for a writer that picks its format by it).
    write_only : bool
        The block only writes (no download, no read of an input): an I/O error in it is a failed write, raised as
        `OutputWriteError` (see Raises). Off, errors are raised as they are.

    Yields
    ------
    pathlib.Path
        Where to write: an empty file (or, with ``directory``, a path that does not exist yet).

    Raises
    ------
    FileNotFoundError
        ``path``'s directory does not exist.
    OutputWriteError
        With ``write_only``: writing or moving the result failed with an I/O error (disk full, file size limit,
        a folder in the way; the netCDF and HDF5 libraries report theirs as RuntimeError, GDAL as its own errors):
        the temporary is removed and ``path`` is left as it was. Other errors (and `TrackingError`) are raised as
        they are.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "table.csv"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("a,b\\n")
    >>> target.read_text()
    'a,b\\n'
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent}: no such directory: create it first.")
    # whose it is: a later write removes those of dead writers
    prefix = f".{path.name}.{_HOST}-{os.getpid()}."
    if directory:
        tmp = path.parent / f"{prefix}tmp-{uuid.uuid4().hex[:8]}"
    else:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if directory:
            _replace_dir(tmp, path)
        else:
            _sync(tmp)
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o666 & ~umask)
            os.replace(tmp, path)
        _remove_dead_writers_temporaries(path)
    except BaseException as err:
        if directory:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        if write_only and _is_write_error(err):
            reason = getattr(err, "strerror", None) or " ".join(str(err).split()) or type(err).__name__
            kept = f"the existing {path.name} is left as it was" if path.exists() else "nothing was written"
            raise OutputWriteError(
                f"cannot write {path} ({reason}): is the disk full, or the file over a size limit? Free some "
                f"space or write elsewhere; {kept}."
            ) from err
        raise


def _remove_dead_writers_temporaries(path: Path) -> None:
    """Remove the temporaries of ``path`` that writers on this machine left when they were killed.

    A temporary's name says which host and process made it (``.<name>.<host>-<pid>.*``); only those of this host
    whose process no longer runs are removed, so a write in progress, here or on another machine sharing the
    folder, is never touched.
    """
    mine = re.compile(rf"\.{re.escape(path.name)}\.{re.escape(_HOST)}-(\d+)\.")
    for candidate in path.parent.glob(f".{glob.escape(path.name)}.*"):
        match = mine.match(candidate.name)
        if match is None or _running(int(match.group(1))):
            continue
        with contextlib.suppress(OSError):
            if candidate.is_dir() and not candidate.is_symlink():
                shutil.rmtree(candidate)
            else:
                candidate.unlink()


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # not ours to signal
        pass
    return True


def _is_write_error(err: BaseException) -> bool:
    """Whether ``err`` is what a failed write raises: an OSError, the netCDF/HDF5 libraries' RuntimeError, or one
    of GDAL's errors (looked up only when rasterio is loaded: otherwise no GDAL write ran)."""
    if isinstance(err, TrackingError):
        return False
    if isinstance(err, OSError | RuntimeError):
        return True
    gdal = tuple(
        getattr(sys.modules.get(module), name, None)
        for module, name in (("rasterio.errors", "RasterioError"), ("rasterio._err", "CPLE_BaseError"))
    )
    return isinstance(err, tuple(kind for kind in gdal if isinstance(kind, type)))


def _sync(path: Path) -> None:
    """Flush ``path``'s data to the disk, so the rename cannot land before the data."""
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def _replace_dir(tmp: Path, target: Path) -> None:
    """Move the finished folder ``tmp`` onto ``target``, replacing an older folder there."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
