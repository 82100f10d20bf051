"""Feature-tracking kernels, behind one entry: `match` dispatches on ``TrackingParameters.kernel``.

Kernels only match: `tracking.pipeline` composes the run (pre-filter -> `match` -> outlier tests -> holes ->
velocity), in `tracking.pipeline.track_arrays` (pixel offsets of two arrays) and `tracking.track` (a Pair).

Built-in kernels
----------------
``ncc``
    Zero-mean normalized cross-correlation, coarse-to-fine, Numba (`tracking.kernels.ncc`). The default and
    the fastest.
``oc``
    Orientation correlation by FFT (`tracking.kernels.orientation`): correlates gradient directions, so it
    is robust to illumination and contrast changes between the dates.

Whatever the kernel, `match` checks the images and parameters, runs the kernel and checks its result against
the contract below; the pipeline pre-filters both images before (``params.prefilter``) and runs the shared
outlier tests of `tracking.validate` after (``min_peak``, ``min_snr``, normalized median, ``max_speed``).

Plugging in your own kernel
---------------------------
`register_kernel` adds a function under a name that ``TrackingParameters.kernel`` then accepts, everywhere
(``tracking.track``, ``tracking.track_arrays``, and the dashboard and the CLI when registered before they
start). The simplest is a *chip* function: ``match(chip, window) -> (dx, dy, score)`` that finds the
``chip_size`` square reference chip inside its ``chip_size + 2 * search_range`` square search window; icetrack
loops it over the chip grid with the same chip centres, pre-filter, outlier tests, progress and cancel as the
built-in kernels. An OpenCV template matcher, for example::

    import cv2
    import numpy as np
    from tracking.kernels import register_kernel

    def opencv_ncc(chip, window):
        surface = cv2.matchTemplate(np.nan_to_num(window), chip, cv2.TM_CCOEFF_NORMED)
        _, score, _, (j, i) = cv2.minMaxLoc(surface)
        reach = (window.shape[0] - chip.shape[0]) // 2
        return j - reach, i - reach, score          # dx (+ right), dy (+ down), similarity

    register_kernel("opencv", opencv_ncc, threads=2)  # OpenCV releases the GIL
    velocity = tracking.track(pair, kernel="opencv")

A *grid* kernel (``kind="grid"``) gets the whole pre-filtered images and the parameters and returns the
`offsets_dataset` of every chip of `chip_grid` itself, as the built-in kernels do to batch their work.

The contract of a kernel's result
---------------------------------
An `xarray.Dataset` on dims ``("row", "col")`` whose coordinates are the chip centres,
``chip_grid(shape, chip_size, step) + (chip_size - 1) / 2``, with ``dx``, ``dy`` (float32 px, + right and
+ down, NaN where no match), ``peak`` (similarity, tested against ``min_peak``), ``snr`` (peak over second
peak, tested against ``min_snr``; NaN everywhere skips that test) and ``valid`` (bool, the kernel's own
verdict). `match` adds the parameters as ``attrs``; the pipeline folds the outlier tests into ``valid``. A result
that breaks the contract raises `KernelError`.
"""

from tracking.kernels.dispatch import match
from tracking.kernels.grid import chip_grid, offsets_dataset
from tracking.kernels.registry import KERNELS, Kernel, get_kernel, register_kernel, unregister_kernel

from tracking.kernels.ncc import ncc_offsets  # isort: skip  (the kernels import the modules above)
from tracking.kernels.orientation import oc_offsets  # isort: skip

register_kernel("ncc", ncc_offsets, kind="grid")
register_kernel("oc", oc_offsets, kind="grid")

__all__ = [
    "KERNELS",
    "Kernel",
    "chip_grid",
    "get_kernel",
    "match",
    "offsets_dataset",
    "register_kernel",
    "unregister_kernel",
]
