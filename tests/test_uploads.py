"""Browserless tests of the uploaded files of a session (dashboard.uploads) and of what Run says is missing."""

from __future__ import annotations

import asyncio
import io
import json
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from dashboard import uploads
from dashboard.jobs import run_pairs
from dashboard.state import AppState
from dashboard.views.upload import UploadView
from tracking.exceptions import ParameterError
from tracking.store import ResultStore

# a 3 x 3 km crop at 15 m in UTM 5N (the Chugach, Alaska: path 063, row 018 country)
T15 = Affine(15.0, 0.0, 400_000.0, 0.0, -15.0, 6_780_000.0)
CENTRE_LON, CENTRE_LAT = Transformer.from_crs("EPSG:32605", "EPSG:4326", always_xy=True).transform(
    401_500.0, 6_778_500.0
)
MTL = """GROUP = L1_METADATA_FILE
  GROUP = PRODUCT_METADATA
    SPACECRAFT_ID = "LANDSAT_8"
    SENSOR_ID = "OLI_TIRS"
    WRS_PATH = 63
    WRS_ROW = 18
    DATE_ACQUIRED = 2016-09-04
    SCENE_CENTER_TIME = "20:48:12.5Z"
  END_GROUP = PRODUCT_METADATA
END_GROUP = L1_METADATA_FILE
END
"""


def tif(seed: int = 0, tags: dict | None = None) -> bytes:
    """A 200 x 200 float32 GeoTIFF crop without date tags (unless given)."""
    data = np.random.default_rng(seed).random((200, 200), dtype=np.float32)
    buffer = io.BytesIO()
    with rasterio.MemoryFile() as memory:
        with memory.open(
            driver="GTiff",
            width=200,
            height=200,
            count=1,
            dtype="float32",
            crs="EPSG:32605",
            transform=T15,
            nodata=np.nan,
        ) as dst:
            dst.write(data, 1)
            if tags:
                dst.update_tags(**tags)
        buffer.write(memory.read())
    return buffer.getvalue()


def _run(coroutine):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def state() -> AppState:
    return AppState(store=ResultStore())


def test_two_pre_collection_crops_uploaded_together_make_a_pair(state):
    added, pending, problems = uploads.add_files(
        state, [("LC80630182016200LGN00_B8_crop.TIF", tif(0)), ("LC80630182016216LGN00_B8_crop.TIF", tif(1))]
    )
    assert (len(added), pending, problems) == (2, [], [])
    assert state.source == "local" and len(state.scenes) == 2 and len(state.pairs_to_run()) == 1
    rows = uploads.file_rows(state)
    assert list(rows["file"]) == ["LC80630182016200LGN00_B8_crop.TIF", "LC80630182016216LGN00_B8_crop.TIF"]
    assert list(rows["date"]) == [pd.Timestamp("2016-07-18").date(), pd.Timestamp("2016-08-03").date()]
    assert list(rows["sensor"]) == ["Landsat 8 OLI"] * 2 and list(rows["path/row"]) == ["063/018"] * 2
    assert rows["size"].str.endswith("KB").all()
    assert list(state.scenes["path"]) == [63, 63]
    assert state.next_step() == "" and state.status == "Ready: 1 pair to run; press Run."
    # the map went to the files
    assert (state.lon, state.lat) == pytest.approx((CENTRE_LON, CENTRE_LAT), abs=1e-3)


def test_files_without_a_date_wait_for_it_instead_of_being_refused(state):
    added, pending, problems = uploads.add_files(
        state,
        [
            ("glacier_a.tif", tif(0)),
            ("LC80630182016216LGN00_B8.TIF", tif(1)),
            ("notes.txt.tif", b"ice\n"),
        ],
    )
    assert added == ["LC80630182016216LGN00_B8"] and pending == ["glacier_a"]
    assert len(problems) == 1 and "notes.txt.tif is not a GeoTIFF" in problems[0]
    rows = uploads.file_rows(state)
    assert rows.set_index("file").loc["glacier_a.tif", "date"] is None
    assert len(state.scenes) == 1 and state.pairs_to_run().empty
    assert state.status == "Type the date of glacier_a.tif in the Date column of your files, then Run."
    assert len(state.footprints()) == 2  # the waiting file is on the map too
    assert (state.lon, state.lat) == pytest.approx((CENTRE_LON, CENTRE_LAT), abs=1e-3)

    new_id = uploads.set_date(state, "glacier_a", "2016-07-02")
    assert new_id == "glacier_a@20160702" and not state.pending
    assert sorted(state.uploads) == ["LC80630182016216LGN00_B8", "glacier_a@20160702"]
    assert len(state.scenes) == 2 and len(state.pairs_to_run()) == 1
    assert state.pairs_to_run().iloc[0]["dt_days"] == 32.0
    assert state.status.startswith("Ready: 1 pair")


def test_changing_a_date_gives_a_new_id_so_an_old_result_is_not_reused(state):
    uploads.add_files(
        state, [("LC80630182016200LGN00_B8.TIF", tif(0)), ("LC80630182016216LGN00_B8.TIF", tif(1))]
    )
    row = state.pairs_to_run().iloc[0]
    old_key = state.result_key(row)
    new_id = uploads.set_date(
        state, "LC80630182016200LGN00_B8", 1_468_800_000_000
    )  # ms, as the table sends it
    assert new_id == "LC80630182016200LGN00_B8@20160718"
    assert state.uploads[new_id].attrs["time"] == "2016-07-18T00:00:00"
    assert state.result_key(state.pairs_to_run().iloc[0]) != old_key
    # uploading the same file again replaces it (also its hand-dated copy)
    uploads.add_files(state, [("LC80630182016200LGN00_B8.TIF", tif(0))])
    assert sorted(state.uploads) == ["LC80630182016200LGN00_B8", "LC80630182016216LGN00_B8"]


@pytest.mark.parametrize("bad", ["yesterday", "", "1850-01-01", None])
def test_unreadable_dates(state, bad):
    uploads.add_files(state, [("glacier_a.tif", tif(0))])
    with pytest.raises(ParameterError, match=r"type it as 2021-05-16|cannot read"):
        uploads.set_date(state, "glacier_a", bad)
    assert "glacier_a" in state.pending
    with pytest.raises(ParameterError, match="no uploaded file"):
        uploads.set_date(state, "nope", "2021-05-01")


def test_a_sidecar_uploaded_with_its_image(state):
    added, pending, problems = uploads.add_files(
        state, [("glacier_b.tif", tif(0)), ("glacier_b_MTL.txt", MTL.encode())]
    )
    assert (added, pending, problems) == (["glacier_b"], [], [])
    scene = state.uploads["glacier_b"]
    assert scene.attrs["time"].startswith("2016-09-04T20:48:12")
    assert uploads.file_rows(state).iloc[0]["path/row"] == "063/018"
    _, _, problems = uploads.add_files(state, [("other_MTL.txt", MTL.encode())])
    assert "other_MTL.txt: metadata only" in problems[0]
    _, _, problems = uploads.add_files(
        state, [("notes.txt", b"ice flows downhill\n"), ("empty_MTL.json", json.dumps({}).encode())]
    )
    assert "notes.txt is not a GeoTIFF: it is a text file" in problems[0]
    assert "empty_MTL.json is not a GeoTIFF" in problems[1]


def test_tags_still_win(state):
    added, _, _ = uploads.add_files(
        state, [("LC80630182016200LGN00_B8.TIF", tif(0, tags={"ACQUISITION_TIME": "2016-07-19T20:00:00"}))]
    )
    assert state.uploads[added[0]].attrs["time"] == "2016-07-19T20:00:00"


def test_run_says_what_is_missing_in_the_words_of_the_source(state):
    assert state.status == "Search the demo scenes, pick a pair, then Run."
    state.source = "local"
    assert state.status.startswith("Upload two GeoTIFFs of the same area")
    notes = []
    assert _run(run_pairs(state, lambda level, message: notes.append((level, message)))) == 0
    assert notes == [("warning", state.status)] and "Upload two GeoTIFFs" in notes[0][1]
    uploads.add_files(state, [("LC80630182016200LGN00_B8.TIF", tif(0))])
    assert state.status.startswith("One file so far: upload a second GeoTIFF")
    uploads.add_files(state, [("LC80630182016200LGN00_B8_copy.TIF", tif(1))])  # the same date: no pair
    assert "make no pair with dt between 1 and 48 days" in state.status
    state.source = "sentinel2"
    assert state.status.startswith("Search Sentinel-2 · NIR B08, 10 m (Earth Search) scenes at the marker")
    state.source = "demo"
    assert state.status == "Search the demo scenes, pick a pair, then Run."


def test_a_job_message_stays_while_pairs_are_ready(state):
    state.search()
    assert state.status.startswith("Ready:")
    state.status = "Done: 1 pair in 2.0 s."
    state.selected = [1]
    assert state.status == "Done: 1 pair in 2.0 s."


def test_upload_view_lists_and_edits_dates(state):
    view = UploadView(state=state)
    assert not view.table.visible
    added, pending, problems = view.add_files(
        [("LC80630182016200LGN00_B8.TIF", tif(0)), ("glacier_a.tif", tif(1))]
    )
    assert (len(added), len(pending), problems) == (1, 1, [])
    table = view.table.value
    assert view.table.visible and list(table["file"]) == ["LC80630182016200LGN00_B8.TIF", "glacier_a.tif"]
    assert table.iloc[1]["date"] is None and "Type the date of glacier_a.tif" in view.message.object
    view._edited(SimpleNamespace(column="date", row=1, value="2016-08-03"))
    assert list(view.table.value["date"]) == [
        pd.Timestamp("2016-07-18").date(),
        pd.Timestamp("2016-08-03").date(),
    ]
    assert len(state.pairs_to_run()) == 1
    view._edited(SimpleNamespace(column="date", row=1, value="not a date"))  # a notification, nothing changes
    assert len(state.pairs_to_run()) == 1
