"""Tests of ``icetrack batch`` (tracking.cli.batch), through a parser built as tracking.cli.main builds its own."""

from __future__ import annotations

import hostile_inputs as h
import pytest

from tracking.cli.batch import add_batch_command
from tracking.cli.common import Parser
from tracking.exceptions import UsageError
from tracking.stack import open_stack

pytest.importorskip("distributed")

DEMO_ARGS = [
    "batch",
    "--demo",
    "--start",
    "2022-05-01",
    "--end",
    "2022-06-15",
    "--dt-min",
    "8",
    "--dt-max",
    "32",
    "--lon",
    "-49.5",
    "--lat",
    "69.1",
    "--aoi-km",
    "3",
    "--max-cloud",
    "0",
    "--workers",
    "1",
    "--step",
    "32",
]


def parse(argv):
    parser = Parser(prog="icetrack")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    add_batch_command(commands)
    return parser.parse_args(argv)


@pytest.fixture(autouse=True)
def demo_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ICETRACK_CACHE", str(tmp_path / "cache"))  # keep the user's demo cache out of it


def test_batch_demo_writes_fields_and_a_stack(tmp_path, capsys):
    out, cube = tmp_path / "out", tmp_path / "stack.zarr"
    args = parse([*DEMO_ARGS, "-o", str(out), "--stack", str(cube)])
    assert args.step == 32 and args.workers == 1 and args.retries == 2 and args.tile_size is None
    assert args.handler(args) == 0
    written = sorted(out.glob("*.nc"))
    assert len(written) >= 3
    stacked = open_stack(cube)
    assert stacked.sizes["mid_date"] == len(written) and stacked.attrs["param_step"] == 32
    captured = capsys.readouterr()
    assert f"{len(written)} done, 0 skipped, 0 failed of {len(written)} pairs" in captured.out
    assert f"{len(written)} pair(s) to track on 1 local worker(s)" in captured.err

    again = parse([*DEMO_ARGS, "-o", str(out), "-q"])
    assert again.handler(again) == 0  # everything skipped: no cluster started
    assert capsys.readouterr().out == ""


def test_batch_pairs_csv_reports_failures(tmp_path, capsys):
    for name in (
        "a_20210501.tif",
        "b_20210501.tif",
    ):  # readable, but acquired on the same day: the pair fails
        h.geotiff(tmp_path / name)
    (tmp_path / "pairs.csv").write_text("reference,secondary\na_20210501.tif,b_20210501.tif\n")
    args = parse(
        [
            "batch",
            "--pairs",
            str(tmp_path / "pairs.csv"),
            "-o",
            str(tmp_path / "out"),
            "--workers",
            "1",
            "--retries",
            "0",
            "--tile-size",
            "512",
        ]
    )
    assert args.handler(args) == 1
    text = capsys.readouterr().out
    assert "0 done, 0 skipped, 1 failed of 1 pairs" in text and "dt must be positive" in text


def test_batch_pairs_csv_with_a_missing_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "pairs.csv").write_text("reference,secondary\nmissing_20210501.tif,missing_20210517.tif\n")
    args = parse(["batch", "--pairs", str(tmp_path / "pairs.csv"), "-o", str(tmp_path / "out")])
    with pytest.raises(UsageError, match=r"line 2: .*missing_20210501\.tif: no such file"):
        args.handler(args)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--demo", "--start", "2030-01-01"], "no pair to track"),
        (["--demo", "--lon", "-49.5"], "both --lon and --lat"),
        (["--demo", "--dt-min", "40", "--dt-max", "10"], "dt-min"),
        (["--demo", "--start", "2021-06-01", "--end", "2021-05-01"], "before --start"),
        (["--pairs", "nowhere.csv"], "no such file"),
        (["--demo", "--chip-size", "7"], "chip_size"),
    ],
)
def test_batch_usage_errors(tmp_path, argv, message):
    args = parse(["batch", *argv, "-o", str(tmp_path / "out")])
    with pytest.raises(UsageError, match=message):
        args.handler(args)


def test_batch_needs_one_input(tmp_path):
    with pytest.raises(UsageError, match="one of the arguments --demo --pairs is required"):
        parse(["batch", "-o", str(tmp_path)])
    with pytest.raises(UsageError, match="not allowed with"):
        parse(["batch", "--demo", "--pairs", "p.csv", "-o", str(tmp_path)])
    (tmp_path / "bad.csv").write_text("ref,sec\na.tif,b.tif\n")
    args = parse(["batch", "--pairs", str(tmp_path / "bad.csv"), "-o", str(tmp_path / "out")])
    with pytest.raises(UsageError, match="no column reference, secondary"):
        args.handler(args)
