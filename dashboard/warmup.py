"""Server start-up (``panel serve --setup dashboard/warmup.py``): compile before the first user.

Compiles (or loads from Numba's cache) the tracking kernels and datashader's raster kernels on a small demo
crop, renders its speed map once and builds the demo catalog, so that the first Run answers in seconds rather
than after a 20 s compilation.
"""

from __future__ import annotations

import logging
import time


def warm_up() -> float:
    """Track a small demo pair and render its map once; returns the seconds it took."""
    import holoviews as hv

    import tracking
    from dashboard import plots
    from tracking.sources import demo

    started = time.perf_counter()
    ids = demo.catalog()["scene_id"]
    bbox = (560_000.0, 7_660_000.0, 580_000.0, 7_680_000.0)  # 667 px: rasterize downsamples, as in the app
    reference, secondary = (demo.load_scene(ids[i], "red", bbox=bbox) for i in (4, 6))
    pair = tracking.Pair.from_scenes(reference, secondary)
    for subpixel in ("lucas-kanade", "parabolic", "oversampled"):
        tracking.track(pair, subpixel=subpixel, search_range=8, kernel="oc")
        field = tracking.track(pair, subpixel=subpixel, search_range=8)
    overlay = plots.speed_map(field, scene=reference, dynamic=False)
    hv.render(overlay)
    hv.render(plots.speed_map(field, scene=reference, dynamic=True))
    return time.perf_counter() - started


if __name__ in ("panel_setup_module", "__main__"):  # run by `panel serve --setup`, not on import
    seconds = warm_up()
    from dashboard.jobs import lower_worker_priority

    lower_worker_priority()  # the Numba workers it started track at low priority; the event loop stays first
    logging.getLogger("icetrack").warning(
        "icetrack warm-up: kernels compiled, map rendered in %.1f s", seconds
    )
