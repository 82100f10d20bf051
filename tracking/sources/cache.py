"""A download cache on disk: whole files fetched once (resumably), and derived files such as AOI crops.

Entries live under ``<directory>/<first 2 hex>/<sha256 of the key><suffix>``. A URL key is normalized first,
dropping its query string, so a link re-signed with a new token (Planetary Computer SAS) hits the same entry.
A download streams into ``<entry>.part`` and is renamed into place only once complete and of the announced size,
so a reader never sees half a file; a broken transfer (or a crashed run) leaves the ``.part`` behind and the next
`DownloadCache.fetch` resumes it with an HTTP ``Range`` request. The cache is bounded: after each new entry the
least recently used ones (by modification time, refreshed on every hit) are deleted until it fits ``max_bytes``.

Several threads or processes may use one cache directory: every write goes to a temporary name and is moved
into place with `os.replace` (the last one wins), and the ``.part`` of a download is locked (``flock``) by the
one writer that resumes it; a second concurrent download of the same URL uses a private temporary file instead.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3

from tracking.exceptions import NoNetworkError
from tracking.files import atomic_path
from tracking.keys import digest
from tracking.sources import http

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no resumable .part shared between runs
    fcntl = None  # type: ignore[assignment]

__all__ = ["DownloadCache", "default_cache_dir"]

#: Partial downloads and temporaries younger than this are never deleted (another process may be writing them).
STALE_AFTER_S = 3600.0
_CHUNK = 1 << 16
_ATTEMPTS = 3
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")
#: What a transfer that breaks off mid-body raises (then it is resumed).
_BROKEN = (
    urllib3.exceptions.HTTPError,  # ProtocolError, IncompleteRead, ReadTimeoutError from the raw body
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionError,
)


def default_cache_dir() -> Path:
    """Where downloads are cached: ``$ICETRACK_CACHE``, else ``$XDG_CACHE_HOME/icetrack``, else ``~/.cache/icetrack``.

    Returns
    -------
    pathlib.Path
        The directory (not created here).
    """
    if os.environ.get("ICETRACK_CACHE"):
        return Path(os.environ["ICETRACK_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "icetrack"


def _normalize(key: str) -> str:
    """A URL without its query string, fragment and user:password; any other key as it is."""
    parts = urlsplit(key)
    if parts.scheme and parts.netloc:
        netloc = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme.lower(), netloc.lower(), parts.path, "", ""))
    return key


def _url_suffix(url: str) -> str:
    """The file suffix of a URL's path (``".TIF"``, ``".nc"``), or ``""``."""
    suffix = Path(urlsplit(url).path).suffix
    return suffix if _SUFFIX.match(suffix) else ""


class DownloadCache:
    """A bounded cache of downloaded (and derived) files on disk.

    Parameters
    ----------
    directory : str or path-like, optional
        Where the entries live; created if missing. Defaults to `default_cache_dir`.
    max_bytes : int
        The size the cache is trimmed to after each new entry (least recently used entries go first).
    session : requests.Session, optional
        For downloads; defaults to `tracking.sources.http.shared_session`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        max_bytes: int = 5 * 2**30,
        session: requests.Session | None = None,
    ) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self.session = session
        #: seconds to wait before the second resume of a broken transfer (doubling after); the first is at once
        self.resume_backoff = 0.5

    def __repr__(self) -> str:
        return f"DownloadCache({str(self.directory)!r}, max_bytes={self.max_bytes})"

    # -- entries -----------------------------------------------------------------------------------------------------

    def path(self, key: str, suffix: str = "") -> Path:
        """Where the entry for ``key`` lives (whether or not it is there).

        Parameters
        ----------
        key : str
            A URL (its query string is ignored) or any other string.
        suffix : str
            The file suffix, e.g. ``".tif"``.

        Returns
        -------
        pathlib.Path
            ``<directory>/<first 2 hex>/<sha256><suffix>``.
        """
        name = digest(_normalize(key), None, algorithm="sha256")
        return self.directory / name[:2] / f"{name}{suffix}"

    def get(self, key: str, suffix: str = "") -> Path | None:
        """The entry for ``key`` if it is cached (marking it recently used), else None.

        Parameters
        ----------
        key : str
            As in `path`.
        suffix : str
            As in `path`.

        Returns
        -------
        pathlib.Path or None
            The cached file, or None on a miss.
        """
        target = self.path(key, suffix)
        try:
            os.utime(target)
        except FileNotFoundError:
            return None
        return target

    def put(self, key: str, suffix: str, write: Callable[[Path], None]) -> Path:
        """Create the entry for ``key`` with ``write``, atomically.

        Parameters
        ----------
        key : str
            As in `path`.
        suffix : str
            The file suffix (``".tif"``); the temporary path given to ``write`` ends with it too.
        write : callable
            ``write(path)`` writes the file at ``path``, a temporary in the entry's directory.

        Returns
        -------
        pathlib.Path
            The entry. If ``write`` raises, nothing is left behind and the error propagates.
        """
        target = self.path(key, suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = None
        try:
            with atomic_path(target, suffix=f".tmp{suffix}") as tmp:
                write(tmp)
                if not tmp.is_file() or tmp.stat().st_size == 0:
                    raise FileNotFoundError(f"the cache writer for {http.redact(key)} wrote nothing to {tmp}")
        except BaseException:
            if tmp is not None:
                for leftover in tmp.parent.glob(f"{tmp.name}*"):  # any sidecar (.aux.xml) of the temporary
                    leftover.unlink(missing_ok=True)
            raise
        self._evict(keep=target)
        return target

    # -- downloads ---------------------------------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        what: str | None = None,
        key: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Path:
        """The file at ``url``, downloaded once: a cache hit sends no request at all.

        A download streams into ``<entry>.part``. A transfer that breaks is resumed from where it stopped with a
        ``Range: bytes=<n>-`` request (up to 3 attempts in all, each resuming; connection failures before an
        answer are retried by the session), and so is a ``.part`` left by an earlier run. A server that ignores
        the range (answers 200) is read again from the start. The file is checked against the size the server
        announced, then renamed into place.

        Parameters
        ----------
        url : str
            The URL (a signed one works: its query string is not part of the cache key).
        what : str, optional
            What is being fetched, for messages; defaults to the redacted URL.
        key : str, optional
            The cache key; defaults to ``url``.
        progress : callable, optional
            Called as ``progress(bytes_done, bytes_total)`` as the download goes (``bytes_total`` is 0 when the
            server did not announce it).

        Returns
        -------
        pathlib.Path
            The cached file.

        Raises
        ------
        NoNetworkError
            When the host cannot be reached, or the transfer kept breaking off (or coming short of the size
            announced).
        AuthenticationError, MissingAssetError, RemoteError
            For an HTTP error status (see `tracking.sources.http.raise_for_status`).
        """
        what = what or http.redact(url)
        target = self.path(key or url, _url_suffix(url))
        hit = self.get(key or url, _url_suffix(url))
        if hit is not None:
            return hit
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._part_file(target) as (part, handle):
            if target.is_file():  # another writer finished it meanwhile
                part.unlink(missing_ok=True)  # ours: a private one, or the (new, empty) shared one we hold
                return target
            self._download(url, handle, what=what, progress=progress)
            os.replace(part, target)
        self._evict(keep=target)
        return target

    @contextlib.contextmanager
    def _part_file(self, target: Path) -> Iterator[tuple[Path, IO[bytes]]]:
        """Open (and lock) ``<target>.part`` for appending; a private temporary if another writer holds it.

        On success the caller renames the part away; on failure the shared ``.part`` stays for a later resume,
        a private one is removed.
        """
        shared = target.with_name(target.name + ".part")
        handle = self._lock_shared_part(shared)
        if handle is not None:
            with handle:
                yield shared, handle
            return
        private = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            with open(private, "ab") as handle:
                yield private, handle
        except BaseException:
            private.unlink(missing_ok=True)
            raise

    @staticmethod
    def _lock_shared_part(part: Path) -> IO[bytes] | None:
        """``part`` opened for appending and exclusively locked, or None when another writer holds it."""
        if fcntl is None:
            return None
        while True:
            handle = open(part, "ab")  # noqa: SIM115 - returned open to the caller
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return None
            try:
                same = os.stat(part).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return handle
            handle.close()  # renamed away (finished) between open and lock: open the new one

    def _download(
        self, url: str, handle: IO[bytes], *, what: str, progress: Callable[[int, int], None] | None
    ) -> None:
        """Fill ``handle`` (opened for appending) with the whole file at ``url``, resuming what it holds."""
        last_error: BaseException | None = None
        for attempt in range(_ATTEMPTS):
            if attempt > 1:
                time.sleep(self.resume_backoff * 2 ** (attempt - 2))
            handle.flush()
            offset = os.fstat(handle.fileno()).st_size
            try:
                self._transfer(url, handle, offset, what=what, progress=progress)
                return
            except _BROKEN as err:  # the body broke off: resume
                last_error = err
        handle.flush()
        done = os.fstat(handle.fileno()).st_size
        reason = http.error_reason(last_error) if last_error else "no reason given"
        raise NoNetworkError(
            f"{what}: the transfer from {http.url_host(url)} broke off {_ATTEMPTS} times "
            f"({reason}; {done} bytes kept for a resume): "
            "check the network connection and try again, or use the demo source."
        ) from None

    def _transfer(
        self,
        url: str,
        handle: IO[bytes],
        offset: int,
        *,
        what: str,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        """One request: from ``offset`` (206) or from the start (200), to the end; check the size."""
        headers = {
            "Accept-Encoding": "identity"
        }  # ranges count bytes of the file itself, not of a gzip stream
        if offset:
            headers["Range"] = f"bytes={offset}-"
        response = http.send_request(
            "GET",
            url,
            what=what,
            session=self.session,
            timeout=http.DEFAULT_TIMEOUT,
            headers=headers,
            check=False,
            stream=True,
        )
        if offset and response.status_code == 416:  # the part is as long as the file, or longer: start again
            response.close()
            handle.truncate(0)
            return self._transfer(url, handle, 0, what=what, progress=progress)
        with response:
            http.raise_for_status(response, what)
            total = 0
            if response.status_code == 206:
                match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
                if match is None or int(match.group(1)) != offset:  # a confused server: start again from zero
                    handle.truncate(0)
                    raise urllib3.exceptions.ProtocolError(
                        f"the answer to bytes={offset}- has Content-Range {response.headers.get('Content-Range')!r}"
                    )
                total = int(match.group(3)) if match.group(3) != "*" else 0
            else:  # 200: the server ignored the range: start again
                handle.truncate(0)
                offset = 0
                total = 0 if _encoded(response) else int(response.headers.get("Content-Length") or 0)
            done = offset
            if progress is not None:
                progress(done, total)
            for chunk in _body(response):
                handle.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            handle.flush()
        if total and done != total:
            raise urllib3.exceptions.IncompleteRead(done, total - done)
        return None

    # -- size and eviction -------------------------------------------------------------------------------------------

    def _files(self) -> Iterator[tuple[Path, os.stat_result, bool]]:
        """Every file in the cache, its stat, and whether it is a complete entry (not a .part or temporary)."""
        for sub in self.directory.iterdir():
            if not (sub.is_dir() and len(sub.name) == 2):
                continue
            for entry in sub.iterdir():
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # removed by another process meanwhile
                    continue
                complete = not entry.name.startswith(".") and not entry.name.endswith(".part")
                yield entry, stat, complete

    def size(self) -> int:
        """Bytes held by complete entries (not counting partial downloads).

        Returns
        -------
        int
            The total size.
        """
        return sum(stat.st_size for _, stat, complete in self._files() if complete)

    def evict(self) -> list[Path]:
        """Delete the least recently used entries until the cache fits ``max_bytes``.

        Partial downloads and temporaries older than an hour are deleted too; younger ones never are.

        Returns
        -------
        list of pathlib.Path
            The deleted files.
        """
        return self._evict()

    def _evict(self, keep: Path | None = None) -> list[Path]:
        """`evict`, sparing ``keep`` (the entry just made, even when it alone is over the limit)."""
        now = time.time()
        entries: list[tuple[float, int, Path]] = []
        removed: list[Path] = []
        for entry, stat, complete in self._files():
            if complete:
                entries.append((stat.st_mtime, stat.st_size, entry))
            elif now - stat.st_mtime > STALE_AFTER_S:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries, key=lambda item: item[0]):
            if total <= self.max_bytes:
                break
            if keep is not None and entry == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry)
            total -= size
        return removed

    def clear(self) -> None:
        """Delete every entry (partial downloads younger than an hour included: call it when nothing runs)."""
        for entry, _, _ in list(self._files()):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def _encoded(response: requests.Response) -> bool:
    """Whether the server compressed the body for the transfer (despite ``Accept-Encoding: identity``)."""
    return response.headers.get("Content-Encoding", "identity").lower() not in ("identity", "")


def _body(response: requests.Response) -> Iterator[bytes]:
    """The body in chunks as they arrive, so a transfer that breaks off keeps every byte received.

    ``iter_content`` reads whole chunks and drops a partial one when the connection breaks; ``read1`` does not.
    """
    raw = response.raw
    if _encoded(response) or not hasattr(raw, "read1"):
        yield from response.iter_content(_CHUNK)
        return
    while chunk := raw.read1(_CHUNK, decode_content=False):
        yield chunk
