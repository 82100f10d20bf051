"""Server start-up (``panel serve --setup dashboard/warmup.py``): compile the kernels before the first user.

Compiles (or loads from Numba's cache) the tracking kernels on a small synthetic pair, and builds the demo
catalog, so that the first Run answers in seconds rather than after a 20 s compilation.
"""

from __future__ import annotations

import logging
import time


def warm_up() -> float:
    """Run a tiny tracking job and load the demo catalog; returns the seconds it took."""
    import tracking
    from tracking.sources import demo
    from tracking.testing import synthetic_pair

    started = time.perf_counter()
    pair = synthetic_pair(shape=(160, 160))
    for subpixel in ("lucas-kanade", "parabolic"):
        tracking.track_arrays(pair.reference, pair.secondary, chip_size=32, search_range=8, step=16, subpixel=subpixel)
    demo.catalog()
    return time.perf_counter() - started


seconds = warm_up()
logging.getLogger("icetrack").warning("icetrack warm-up: kernels compiled and demo catalog loaded in %.1f s", seconds)
