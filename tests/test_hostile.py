"""Hostile inputs: every command and loader ends with one clear line, a non-zero exit, no output and untouched inputs.

Each case builds its inputs in a fresh folder, runs ``python -m tracking ...`` there as a subprocess and asserts:
one ``icetrack: error: ...`` line on stderr (no traceback, no "unexpected" wrapper) that names the problem, an exit
code of 1 or 2, and the folder exactly as it was before (no output, no temporary file, every input byte-identical).
The subprocesses run a few at a time in the background while the tests check them one by one; the case whose
time and memory are measured runs alone, after the others.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import hostile_inputs as h
import numpy as np
import pytest
from affine import Affine

REPO = Path(__file__).resolve().parent.parent
#: The inputs are built in background threads: a warning there is charged to whichever test runs meanwhile.
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
PEAK_RSS_LIMIT = 1 << 30  # bytes
T30 = h.T30
T_FAR = T30 * Affine.translation(50_000, 0)  # 1,500 km east


# --- running the command ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int
    stderr: str
    stdout: str
    seconds: float
    peak_rss: int  # bytes
    before: dict[str, str]
    after: dict[str, str]


@dataclass
class Case:
    """A command line run in a folder built by ``build`` (which returns the arguments after ``-m tracking``)."""

    id: str
    build: Callable[[Path], list[str]]
    expect: str  # a regular expression the error line must match (case-insensitive)
    timed: bool = False  # run alone and check time and memory
    env: dict[str, str] = field(default_factory=dict)


def _env(extra: dict[str, str], work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "ICETRACK_CACHE": str(work.parent / "cache"),
            "COLUMNS": "200",
            "NO_PROXY": "*",
            "no_proxy": "*",
        }
    )
    env.pop("ICETRACK_MEMORY_BUDGET", None)
    env.update(extra)
    return env


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 120.0
) -> tuple[int, str, str, float, int]:
    """Run ``python -m tracking args`` in ``cwd``; (exit code, stderr, stdout, seconds, peak RSS of that child)."""
    logs = Path(tempfile.mkdtemp(prefix="icetrack-logs-"))
    try:
        with (logs / "out").open("wb") as out, (logs / "err").open("wb") as err:
            started = time.perf_counter()
            child = subprocess.Popen(
                [sys.executable, "-m", "tracking", *args],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
            timer = threading.Timer(timeout, child.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(child.pid, 0)  # this child's own peak RSS, unlike RUSAGE_CHILDREN
            finally:
                timer.cancel()
            child.returncode = os.waitstatus_to_exitcode(status)
            seconds = time.perf_counter() - started
        return (
            child.returncode,
            (logs / "err").read_text(errors="replace"),
            (logs / "out").read_text(errors="replace"),
            seconds,
            usage.ru_maxrss * 1024,
        )
    finally:
        shutil.rmtree(logs, ignore_errors=True)


def execute(case: Case, base: Path) -> Outcome:
    work = base / case.id / "w"
    work.mkdir(parents=True)
    args = case.build(work)
    before = h.snapshot(work)
    code, err, out, seconds, rss = run_cli(args, work, _env(case.env, work))
    return Outcome(code, err, out, seconds, rss, before, h.snapshot(work))


# --- inputs -------------------------------------------------------------------------------------------------------


def _pair(w: Path) -> tuple[str, str]:
    h.geotiff(w / "ref_20210501.tif")
    h.geotiff(w / "sec_20210517.tif", h.texture(seed=4))
    return "ref_20210501.tif", "sec_20210517.tif"


def _track(w: Path, *extra: str, out: str = "velocity.nc") -> list[str]:
    ref, sec = _pair(w)
    return ["track", ref, sec, "-o", out, *h.FAST, *extra]


def _bad_ref(write: Callable[[Path], object], name: str = "ref_20210501.tif") -> Callable[[Path], list[str]]:
    """A case whose reference is replaced by what ``write`` puts at its path."""

    def build(w: Path) -> list[str]:
        args = _track(w)
        (w / "ref_20210501.tif").unlink()
        write(w / name)
        args[1] = name
        return args

    return build


def _bad_sec(write: Callable[[Path], object]) -> Callable[[Path], list[str]]:
    def build(w: Path) -> list[str]:
        args = _track(w)
        write(w / "sec_20210517.tif")
        return args

    return build


def _params(*flags: str) -> Callable[[Path], list[str]]:
    return lambda w: _track(w, *flags)


def _rotated(path: Path) -> None:
    h.geotiff(path, transform=Affine(30.0, 5.0, 500_000.0, 5.0, -30.0, 7_000_000.0))


def _output_dir_unwritable(w: Path) -> list[str]:
    if os.geteuid() == 0:  # root writes through permissions: use a folder of the read-only /sys instead
        return _track(w, out="/sys/velocity.nc")
    args = _track(w, out="locked/velocity.nc")
    (w / "locked").mkdir(mode=0o555)
    return args


def _output_is(kind: str) -> Callable[[Path], list[str]]:
    def build(w: Path) -> list[str]:
        args = _track(w)
        if kind == "same":
            args[4] = "ref_20210501.tif"
        elif kind == "relative":
            (w / "sub").mkdir()
            args[4] = "sub/../ref_20210501.tif"
        elif kind == "symlink":
            (w / "link.tif").symlink_to("ref_20210501.tif")
            args[4] = "link.tif"
        elif kind == "hardlink":
            os.link(w / "sec_20210517.tif", w / "hard.tif")
            args[4] = "hard.tif"
        return args

    return build


def _existing_output(w: Path) -> list[str]:
    args = _track(w)
    (w / "velocity.nc").write_bytes(b"an earlier result")
    return args


def _output_is_a_folder(w: Path) -> list[str]:
    args = _track(w)
    (w / "velocity.nc").mkdir()
    return args


def _pairs_csv(text: str | bytes | None, *, files: bool = True) -> Callable[[Path], list[str]]:
    def build(w: Path) -> list[str]:
        if files:
            _pair(w)
        if isinstance(text, bytes):
            (w / "pairs.csv").write_bytes(text)
        elif text is not None:
            (w / "pairs.csv").write_text(text)
        return ["batch", "--pairs", "pairs.csv", "-o", "runs", "--workers", "1", "-q", *h.FAST]

    return build


def _batch_corrupt_earlier_result(w: Path) -> list[str]:
    from tracking.batch import PairSpec

    args = _pairs_csv("reference,secondary\nref_20210501.tif,sec_20210517.tif\n")(w)
    (w / "runs").mkdir()
    key = PairSpec.files(w / "ref_20210501.tif", w / "sec_20210517.tif").key
    (w / "runs" / f"{key}.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    return args


def _batch_output_is_a_file(w: Path) -> list[str]:
    args = _pairs_csv("reference,secondary\nref_20210501.tif,sec_20210517.tif\n")(w)
    (w / "runs").write_text("not a folder")
    return args


NO_NETWORK = "http://127.0.0.1:9/"  # the discard port: nothing listens, so the connection is refused at once


def _fetch(*extra: str) -> Callable[[Path], list[str]]:
    return lambda w: [
        "fetch",
        "LC08_L2SP_009011_20210603_02_T1",
        "--lon",
        "-49.5",
        "--lat",
        "69.1",
        "--url",
        NO_NETWORK,
        "-o",
        "scenes",
        *extra,
    ]


def _fetch_into_file(w: Path) -> list[str]:
    (w / "scenes").write_text("a file, not a folder")
    return _fetch()(w)


def _compare(
    a: Callable[[Path], object] | None = None, b: Callable[[Path], object] | None = None, *extra: str
) -> Callable[[Path], list[str]]:
    def build(w: Path) -> list[str]:
        (a or h.velocity_netcdf)(w / "a.nc")
        (b or h.velocity_netcdf)(w / "b.nc")
        return ["compare", "a.nc", "b.nc", *extra]

    return build


def _compare_existing_output(w: Path) -> list[str]:
    args = _compare(None, None, "-o", "diff.nc")(w)
    (w / "diff.nc").write_bytes(b"an earlier difference")
    return args


def _truncated_netcdf(path: Path) -> None:
    h.velocity_netcdf(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _far_field(path: Path) -> None:
    h.velocity_netcdf(path, origin=(300_000.0, 6_000_000.0))


CASES = [
    # --- track: the scenes ---
    Case("track-truncated-geotiff", _bad_ref(h.truncated_geotiff), r"truncated|corrupt|cannot read"),
    Case(
        "track-huge-declared-raster", _bad_ref(h.huge_geotiff), r"100,000 x 100,000.*budget.*tile", timed=True
    ),
    Case(
        "track-png-named-tif", _bad_ref(lambda p: p.write_bytes(h.PNG_BYTES)), r"not a raster GDAL can read"
    ),
    Case("track-text-named-tif", _bad_ref(h.text_file), r"not a raster GDAL can read"),
    Case("track-empty-file", _bad_ref(lambda p: p.write_bytes(b"")), r"empty"),
    Case("track-no-crs", _bad_ref(lambda p: h.geotiff(p, crs=None)), r"no coordinate reference system"),
    Case(
        "track-geographic-crs",
        _bad_ref(lambda p: h.geotiff(p, crs="EPSG:4326", transform=Affine(1e-3, 0, -49.5, 0, -1e-3, 69.1))),
        r"geographic",
    ),
    Case("track-crs-in-feet", _bad_ref(lambda p: h.geotiff(p, crs="EPSG:2264")), r"not metres"),
    Case("track-rotated-grid", _bad_ref(_rotated), r"rotated"),
    Case("track-no-geotransform", _bad_ref(lambda p: h.geotiff(p, transform=None)), r"no geotransform"),
    Case(
        "track-nan-only",
        _bad_ref(lambda p: h.geotiff(p, np.full((h.SIZE, h.SIZE), np.nan))),
        r"every pixel is nodata",
    ),
    Case(
        "track-all-nodata",
        _bad_sec(lambda p: h.geotiff(p, np.zeros((h.SIZE, h.SIZE)), dtype="uint16", nodata=0)),
        r"sec_20210517.tif: every pixel is nodata",
    ),
    Case(
        "track-constant-image",
        _bad_ref(lambda p: h.geotiff(p, np.full((h.SIZE, h.SIZE), 7.0))),
        r"ref_20210501\.tif: every valid pixel has the same value \(7\)",
    ),
    Case("track-tiny-raster", _bad_ref(lambda p: h.geotiff(p, h.texture((2, 2)))), r"only 2 x 2 px"),
    Case("track-no-date", _bad_ref(h.geotiff, name="reference.tif"), r"no acquisition time.*--ref-time"),
    Case(
        "track-ref-missing",
        lambda w: ["track", "nothere_20210501.tif", _pair(w)[1], "-o", "v.nc"],
        r"no such file",
    ),
    Case("track-ref-is-a-folder", _bad_ref(lambda p: p.mkdir()), r"a folder, not a file"),
    # --- track: the pair ---
    Case("track-grids-apart", _bad_sec(lambda p: h.geotiff(p, transform=T_FAR)), r"do not overlap"),
    Case("track-crs-mismatch-apart", _bad_sec(lambda p: h.geotiff(p, crs="EPSG:32633")), r"do not overlap"),
    Case(
        "track-grids-barely-overlap",
        _bad_sec(lambda p: h.geotiff(p, transform=T30 * Affine.translation(100, 0))),
        r"only \d+ x \d+ px",
    ),
    Case(
        "track-same-date", lambda w: _track(w, "--sec-time", "2021-05-01"), r"same time.*dt must be positive"
    ),
    Case(
        "track-reversed-dates", lambda w: _track(w, "--ref-time", "2021-06-01"), r"before the reference.*swap"
    ),
    # --- track: absurd parameters ---
    Case("track-chip-0", _params("--chip-size", "0"), r"chip.size"),
    Case("track-negative-step", _params("--step", "-16"), r"step"),
    Case("track-chip-larger-than-image", _params("--chip-size", "256"), r"larger than the image"),
    Case("track-search-range-1e6", _params("--search-range", "1000000"), r"search.range"),
    Case("track-unknown-prefilter", _params("--prefilter", "sharpen"), r"invalid choice.*sharpen"),
    Case("track-unknown-kernel", _params("--kernel", "magic"), r"invalid choice.*magic"),
    Case("track-nan-parameter", _params("--min-peak", "nan"), r"min.peak"),
    # --- track: the output ---
    Case("track-output-dir-missing", lambda w: _track(w, out="nowhere/velocity.nc"), r"does not exist"),
    Case("track-output-dir-unwritable", _output_dir_unwritable, r"cannot write|permission|read-only"),
    Case("track-output-is-the-input", _output_is("same"), r"is the input REF.*another output"),
    Case("track-output-is-the-input-relative", _output_is("relative"), r"is the input REF"),
    Case("track-output-is-a-symlink-to-the-input", _output_is("symlink"), r"is the input REF"),
    Case("track-output-is-a-hard-link-to-the-input", _output_is("hardlink"), r"is the input SEC"),
    Case(
        "track-output-unknown-suffix",
        lambda w: _track(w, out="velocity.xyz"),
        r"output format.*\.nc or \.tif",
    ),
    Case("track-output-exists", _existing_output, r"already exists.*--overwrite"),
    Case("track-output-is-a-folder", _output_is_a_folder, r"is a (folder|directory)"),
    Case(
        "track-output-parent-is-a-file",
        lambda w: _track(w, out="ref_20210501.tif/velocity.nc"),
        r"not a (folder|directory)|does not exist",
    ),
    Case(
        "track-stable-not-a-vector-file",
        lambda w: (h.binary_garbage(w / "stable.geojson"), _track(w, "--stable", "stable.geojson"))[1],
        r"stable",
    ),
    # --- batch ---
    Case("batch-pairs-csv-missing", _pairs_csv(None), r"no such file"),
    Case("batch-pairs-csv-empty", _pairs_csv(""), r"cannot read it as CSV"),
    Case(
        "batch-pairs-csv-wrong-columns",
        _pairs_csv("a,b\nref_20210501.tif,sec_20210517.tif\n"),
        r"no column reference, secondary",
    ),
    Case("batch-pairs-csv-binary", _pairs_csv(bytes(range(256)) * 8), r"cannot read|no column"),
    Case(
        "batch-missing-geotiff",
        _pairs_csv("reference,secondary\nref_20210501.tif,gone_20210601.tif\n"),
        r"line 2: gone_20210601\.tif: no such file",
    ),
    Case(
        "batch-unreadable-geotiff",
        lambda w: (
            _pairs_csv("reference,secondary\nref_20210501.tif,notes.tif\n")(w),
            h.text_file(w / "notes.tif"),
        )[0],
        r"line 2: notes\.tif: not a raster",
    ),
    Case("batch-output-is-a-file", _batch_output_is_a_file, r"not a (folder|directory)|is a file"),
    Case(
        "batch-corrupt-earlier-result",
        _batch_corrupt_earlier_result,
        r"cannot read the earlier result.*delete",
    ),
    # --- fetch (no network needed: the STAC address is a closed local port) ---
    Case(
        "fetch-id-without-date",
        lambda w: ["fetch", "my-scene", "--lon", "-49.5", "--lat", "69.1", "--url", NO_NETWORK],
        r"cannot read a date.*--start",
    ),
    Case("fetch-no-network", _fetch(), r"no network"),
    Case("fetch-output-is-a-file", _fetch_into_file, r"not a (folder|directory)|is a file"),
    Case("fetch-negative-aoi", _fetch("--aoi-km", "-5"), r"aoi"),
    Case(
        "itslive-series-output-exists",
        lambda w: (
            (w / "trunk.csv").write_text("earlier"),
            [
                "itslive",
                "series",
                "--lon",
                "-49.5",
                "--lat",
                "69.1",
                "--catalog",
                NO_NETWORK,
                "-o",
                "trunk.csv",
            ],
        )[1],
        r"already exists.*--overwrite",
    ),
    # --- compare ---
    Case(
        "compare-non-velocity-netcdf",
        _compare(None, h.other_netcdf),
        r"not a velocity field: no vx or vy.*temperature",
    ),
    Case("compare-text-file", _compare(h.text_file), r"a\.nc: not a velocity field icetrack can read"),
    Case("compare-empty-file", _compare(None, lambda p: p.write_bytes(b"")), r"b\.nc is empty"),
    Case("compare-truncated-netcdf", _compare(_truncated_netcdf), r"truncated|corrupt|cannot read"),
    Case(
        "compare-scene-geotiff",
        lambda w: (h.velocity_netcdf(w / "a.nc"), h.geotiff(w / "b.tif"), ["compare", "a.nc", "b.tif"])[2],
        r"b\.tif: not a velocity field: no vx or vy",
    ),
    Case("compare-fields-apart", _compare(None, _far_field), r"overlap|no common|no node"),
    Case("compare-output-is-an-input", _compare(None, None, "-o", "b.nc"), r"is the input B"),
    Case("compare-output-exists", _compare_existing_output, r"already exists.*--overwrite"),
    Case("compare-output-unknown-suffix", _compare(None, None, "-o", "diff.tif"), r"\.nc"),
]
IDS = [case.id for case in CASES]
assert len(set(IDS)) == len(IDS)
BY_ID = {case.id: case for case in CASES}


# --- the background runner --------------------------------------------------------------------------------------


class Runner:
    """Runs the selected untimed cases a few at a time as soon as the first one is asked for."""

    def __init__(self, base: Path, ids: list[str]) -> None:
        self.base = base
        self.pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="hostile")
        self.futures: dict[str, Future[Outcome]] = {
            i: self.pool.submit(execute, BY_ID[i], base) for i in ids if not BY_ID[i].timed
        }

    def result(self, case: Case) -> Outcome:
        if case.timed:  # alone: wait for the background runs first
            for future in self.futures.values():
                future.exception()
            return execute(case, self.base)
        return self.futures[case.id].result(timeout=300)


@pytest.fixture(scope="session")
def runner(request, tmp_path_factory):
    selected = [
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "callspec", None) is not None and isinstance(item.callspec.params.get("case"), Case)
    ]
    runner = Runner(tmp_path_factory.mktemp("hostile"), selected)
    yield runner
    runner.pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_hostile_cli(case, runner):
    got = runner.result(case)
    lines = [line for line in got.stderr.splitlines() if line.strip()]
    detail = f"exit {got.code}, stderr:\n{got.stderr}\nstdout:\n{got.stdout}"
    assert got.code in (1, 2), detail
    assert "Traceback" not in got.stderr and "unexpected" not in got.stderr.lower(), detail
    assert len(lines) == 1 and lines[0].startswith("icetrack: error: "), detail
    message = lines[0][len("icetrack: error: ") :]
    assert re.search(case.expect, message, re.IGNORECASE | re.DOTALL), detail
    assert len(message) > 30, detail  # a sentence with what to do, not a bare errno
    assert got.after == got.before, f"the folder changed: {set(got.after.items()) ^ set(got.before.items())}"
    if case.timed:
        assert got.seconds < 5.0, f"took {got.seconds:.1f} s"
        assert got.peak_rss < PEAK_RSS_LIMIT, f"peak RSS {got.peak_rss / 2**20:.0f} MiB"


def test_the_huge_raster_is_a_few_kilobytes(tmp_path):
    path = h.huge_geotiff(tmp_path / "huge.tif")
    assert path.stat().st_size < 64_000


def test_overwrite_is_documented_and_replaces_the_output(tmp_path):
    """``--overwrite`` is in ``--help``; with it an existing output is replaced by the new, complete field."""
    from tracking.io import read_field

    code, err, out, _, _ = run_cli(["track", "--help"], tmp_path, _env({}, tmp_path))
    assert (
        code == 0 and "--overwrite" in out and "only once the new file is complete" in " ".join(out.split())
    )
    args = _track(tmp_path)
    (tmp_path / "velocity.nc").write_bytes(b"an earlier result")
    code, err, out, _, _ = run_cli([*args, "--overwrite", "-q"], tmp_path, _env({}, tmp_path))
    assert code == 0, err
    assert read_field(tmp_path / "velocity.nc").sizes["x"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ref_20210501.tif",
        "sec_20210517.tif",
        "velocity.nc",
    ]


# --- dashboard: uploads and the ITS_LIVE series CSV -------------------------------------------------------------


def _tif_bytes(tmp: Path, write: Callable[[Path], object]) -> bytes:
    path = tmp / "upload.tif"
    write(path)
    return path.read_bytes()


UPLOADS = {
    "upload-truncated-geotiff": (h.truncated_geotiff, r"truncated or corrupt"),
    "upload-huge-declared-raster": (h.huge_geotiff, r"100,000 x 100,000.*budget"),
    "upload-png": (lambda p: p.write_bytes(h.PNG_BYTES), r"not a GeoTIFF: it is a PNG image"),
    "upload-text": (h.text_file, r"not a GeoTIFF: it is a text file"),
    "upload-empty": (lambda p: p.write_bytes(b""), r"empty \(0 bytes\)"),
    "upload-binary-garbage": (h.binary_garbage, r"not a GeoTIFF"),
    "upload-tiff-header-only": (lambda p: p.write_bytes(b"II*\x00" + bytes(60)), r"not a GeoTIFF"),
    "upload-no-crs": (lambda p: h.geotiff(p, crs=None), r"no coordinate reference system"),
    "upload-geographic-crs": (
        lambda p: h.geotiff(p, crs="EPSG:4326", transform=Affine(1e-3, 0, -49.5, 0, -1e-3, 69.1)),
        r"geographic",
    ),
    "upload-rotated-grid": (_rotated, r"rotated"),
    "upload-nan-only": (lambda p: h.geotiff(p, np.full((h.SIZE, h.SIZE), np.nan)), r"every pixel is nodata"),
    "upload-constant": (lambda p: h.geotiff(p, np.full((h.SIZE, h.SIZE), 3.0)), r"the same value \(3\)"),
}


@pytest.fixture
def notifications(monkeypatch):
    """The notifications the dashboard's views show, as (level, message) pairs."""
    shown: list[tuple[str, str]] = []
    for module in ("dashboard.views.upload", "dashboard.views.itslive"):
        monkeypatch.setattr(f"{module}.notify", lambda level, message: shown.append((level, message)))
    return shown


@pytest.fixture(scope="module")
def state():
    from dashboard.state import AppState
    from tracking.store import ResultStore

    return AppState(store=ResultStore())


@pytest.mark.parametrize("name", list(UPLOADS))
def test_hostile_upload(name, tmp_path, state, notifications):
    """`dashboard.uploads.add_files` refuses the file with one line naming it; the upload view's handler shows
    that line as one error notification, with no exception and nothing added."""
    from dashboard import uploads
    from dashboard.views.upload import UploadView

    write, expect = UPLOADS[name]
    data = _tif_bytes(tmp_path, write)
    added, pending, problems = uploads.add_files(state, [("glacier_20210501.tif", data)])
    assert added == [] and pending == [] and len(problems) == 1, problems
    assert problems[0].startswith("glacier_20210501.tif") and "\n" not in problems[0], problems
    assert re.search(expect, problems[0]), problems[0]
    view = UploadView(state=state)
    view.files.filename = "glacier_20210501.tif"
    view.files.value = data  # the view checks the files as they arrive
    errors = [m for level, m in notifications if level == "error"]
    assert len(errors) == 1 and not [m for level, m in notifications if level == "success"], notifications
    message = errors[0]
    assert "\n" not in message and "Traceback" not in message and "icetrack-upload" not in message
    assert message.startswith("glacier_20210501.tif"), message
    assert re.search(expect, message), message
    assert "glacier_20210501" not in state.uploads
    assert view.message.object == f"- {message}"


SERIES = {
    "series-csv-empty": (b"", r"cannot read"),
    "series-csv-wrong-columns": (b"date,speed\n2018-05-12,7000\n", r"lacks mid_date"),
    "series-csv-bad-dates": (
        (h.SERIES_HEADER + "\n" + h.SERIES_ROW.replace("2018-05-12T00:00:00", "12/13/2018x") + "\n").encode(),
        r"mid_date",
    ),
    "series-csv-binary-garbage": (
        np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        r"cannot read|lacks",
    ),
    "series-csv-header-only": ((h.SERIES_HEADER + "\n").encode(), r"no (measurement|row)"),
    "series-csv-bad-epsg": (
        (h.SERIES_HEADER + "\n" + h.SERIES_ROW.replace(",3413", ",999999") + "\n").encode(),
        r"epsg",
    ),
    "series-csv-utf16": (
        (h.SERIES_HEADER + "\n" + h.SERIES_ROW + "\n").encode("utf-16"),
        r"cannot read|lacks",
    ),
}


@pytest.mark.parametrize("name", list(SERIES))
def test_hostile_series_csv(name, tmp_path, state, notifications):
    """The ITS_LIVE series CSV: the loader raises a TrackingError, the view shows it as one notification."""
    from dashboard.views.itslive import ItsLiveView
    from tracking.exceptions import TrackingError
    from tracking.sources.itslive import read_series_csv

    data, expect = SERIES[name]
    path = tmp_path / "LAT69.1--LON-49.5.csv"
    path.write_bytes(data)
    before = h.snapshot(tmp_path)
    with pytest.raises(TrackingError, match=expect) as info:
        read_series_csv(path)
    assert "\n" not in str(info.value)
    assert h.snapshot(tmp_path) == before
    view = ItsLiveView(state=state)
    rows = 0 if state.external_series is None else len(state.external_series)
    view.csv.filename = path.name
    view.csv.value = data
    errors = [m for level, m in notifications if level == "error"]
    assert len(errors) == 1 and not [m for level, m in notifications if level == "success"], notifications
    assert errors[0].startswith(path.name) and "\n" not in errors[0], errors[0]
    assert (0 if state.external_series is None else len(state.external_series)) == rows
