"""The served dashboard in headless Chromium: uploading your own GeoTIFFs named as Landsat delivers them."""

from __future__ import annotations

import io

import numpy as np
import rasterio
from affine import Affine

T15 = Affine(15.0, 0.0, 400_000.0, 0.0, -15.0, 6_780_000.0)


def tif(seed: int) -> bytes:
    """A 200 x 200 float32 GeoTIFF crop in UTM 5N, without date tags."""
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
        buffer.write(memory.read())
    return buffer.getvalue()


def test_two_pre_collection_crops_are_listed_with_their_dates_and_make_a_pair(served, screenshot, wait_for):
    page, state, _ = served
    page.get_by_role("combobox").first.click()
    page.get_by_text("My GeoTIFFs", exact=True).click()
    wait_for(lambda: state.source == "local", page)
    wait_for(lambda: page.get_by_text("Upload two GeoTIFFs of the same area").count() > 0, page)
    names = ["LC80630182016200LGN00_B8.TIF", "LC80630182016216LGN00_B8.TIF"]
    page.locator("input[type=file][accept^='.tif']").set_input_files(
        files=[{"name": name, "mimeType": "image/tiff", "buffer": tif(i)} for i, name in enumerate(names)]
    )
    wait_for(lambda: len(state.uploads) == 2, page)
    listed = page.locator(".tabulator", has_text=names[0])
    wait_for(lambda: listed.count() == 1 and "2016-08-03" in listed.inner_text(), page)
    text = listed.inner_text()
    assert names[1] in text and "2016-07-18" in text and "2016-08-03" in text and "Landsat 8 OLI" in text
    assert "063/018" in text
    wait_for(lambda: page.get_by_text("Ready: 1 pair to run").count() > 0, page)
    assert len(state.pairs_to_run()) == 1 and not state.pending
    screenshot("08_upload_pre_collection_pair")
