"""``match``: the one entry to every kernel — match the chips of two pre-filtered images with ``params.kernel``.

Matching only: the pre-filter before and the outlier tests after are steps of `tracking.pipeline`.
"""

from __future__ import annotations

import threading

import numpy as np
import xarray as xr

from tracking.exceptions import ParameterError
from tracking.kernels.grid import as_image, check_offsets
from tracking.kernels.registry import get_kernel
from tracking.params import TrackingParameters
from tracking.progress import ProgressCallback, check_cancel

__all__ = ["match"]


def match(
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> xr.Dataset:
    """Match every chip of ``reference`` in ``secondary`` with the kernel ``params.kernel``.

    Parameters
    ----------
    reference, secondary : ndarray of shape (rows, cols)
        The two pre-filtered images on one grid, any real dtype; NaN (or inf) marks nodata.
    params : TrackingParameters
        The kernel and its parameters (``chip_size``, ``search_range``, ``step``, ``subpixel``, ...).
    progress : callable, optional
        Called as ``progress(done, total)`` with chip counts while the chips are matched.
    cancel : threading.Event, optional
        When set, matching stops at the next block of chips and raises `CancelledError`.

    Returns
    -------
    xarray.Dataset
        The kernel's offsets (`tracking.kernels.offsets_dataset`: ``dx``, ``dy``, ``peak``, ``snr``, ``valid``
        on the chip centres), before any outlier test, with every parameter value in ``attrs``.

    Raises
    ------
    ParameterError
        Images of different shapes, parameters that do not fit the images, or an unknown kernel.
    KernelError
        The kernel returned something that breaks the kernel contract.
    CancelledError
        ``cancel`` was set.
    """
    from tracking.kernels.chips import track_chips

    kernel = get_kernel(params.kernel)
    reference = as_image(reference, "reference")
    secondary = as_image(secondary, "secondary")
    if reference.shape != secondary.shape:
        raise ParameterError(
            f"reference {reference.shape} and secondary {secondary.shape} images differ in shape: bring them onto "
            "one grid first (tracking.scenes.Pair.from_scenes does this for georeferenced scenes)."
        )
    params.check(reference.shape)
    check_cancel(cancel)
    if kernel.kind == "chip":
        field = track_chips(kernel, reference, secondary, params, progress=progress, cancel=cancel)
    else:
        field = kernel.function(reference, secondary, params, progress=progress, cancel=cancel)
    field = check_offsets(field, reference.shape, params.chip_size, params.step, kernel.name)
    field.attrs = {k: ("none" if v is None else v) for k, v in params.to_dict().items()}
    return field
