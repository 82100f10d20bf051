"""The upload widget keeps its size limits on the server, whatever the browser sends."""

from __future__ import annotations

import pytest

from dashboard.views.file_input import LimitedFileInput


def send(widget: LimitedFileInput, name: str, data: bytes, chunk: int, total: int) -> None:
    widget._handle_msg(
        {
            "status": "upload_event",
            "name": name,
            "chunk": chunk,
            "total_chunks": total,
            "mime_type": "image/tiff",
            "data": data,
        }
    )


def finish(widget: LimitedFileInput) -> None:
    widget._handle_msg({"status": "finished"})


def test_an_upload_within_the_limits_arrives_whole():
    widget = LimitedFileInput(multiple=True, chunk_size=4, max_file_size=10, max_total_file_size=16)
    send(widget, "a.tif", b"0123", 1, 3)
    send(widget, "a.tif", b"4567", 2, 3)
    send(widget, "a.tif", b"89", 3, 3)
    send(widget, "b.tif", b"xy", 1, 1)
    finish(widget)
    assert widget.value == [b"0123456789", b"xy"] and widget.filename == ["a.tif", "b.tif"]
    assert widget.refused == ""


@pytest.mark.parametrize(
    ("chunks", "why"),
    [
        ([("a.tif", b"0123", 1, 100)], "larger than"),  # declares 100 chunks: refused at the first
        (
            [("a.tif", b"0123", 1, 3), ("a.tif", b"4567", 2, 3), ("a.tif", b"89ab", 3, 3)],
            "larger than",
        ),  # lies
        ([("a.tif", b"0123456789", 1, 1)], "piece of 10 bytes"),  # a chunk larger than chunks may be
        (
            [
                ("a.tif", b"0123", 1, 2),
                ("a.tif", b"4567", 2, 2),
                ("b.tif", b"0123", 1, 2),
                ("b.tif", b"4567", 2, 2),
                ("c.tif", b"0123", 1, 1),
            ],
            "together",
        ),  # the total
    ],
)
def test_an_upload_beyond_the_limits_is_dropped_before_it_is_kept(chunks, why):
    widget = LimitedFileInput(multiple=True, chunk_size=4, max_file_size=10, max_total_file_size=16)
    for chunk in chunks:
        send(widget, *chunk)
    assert why in widget.refused and "crop" in widget.refused
    assert widget._file_buffer == {} and widget._buffer == []  # nothing of it kept
    finish(widget)
    assert not widget.value  # and nothing delivered
