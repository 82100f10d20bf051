"""``track_arrays``: the one entry to every kernel — pre-filter, match with ``params.kernel``, outlier tests."""

from __future__ import annotations

import threading

import numpy as np
import xarray as xr

from tracking.exceptions import CancelledError, ParameterError
from tracking.kernels.grid import ProgressCallback, as_image, check_offsets
from tracking.kernels.registry import get_kernel
from tracking.params import TrackingParameters

__all__ = ["track_arrays"]


def track_arrays(
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters | None = None,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    **overrides,
) -> xr.Dataset:
    """Track features from ``reference`` to ``secondary``: pixel offsets on a regular grid of chips.

    Both images are pre-filtered, matched chip by chip by the kernel ``params.kernel`` (``"ncc"``: zero-mean
    normalized cross-correlation; ``"oc"``: orientation correlation; or a kernel added with
    `tracking.kernels.register_kernel`) and screened by the outlier tests of `tracking.validate`.

    Parameters
    ----------
    reference, secondary : ndarray of shape (rows, cols)
        The two images on the same grid, any real dtype; NaN (or inf) marks nodata.
    params : TrackingParameters, optional
        Parameters; defaults to ``TrackingParameters()``.
    progress : callable, optional
        Called as ``progress(done, total)`` with chip counts while the chips are matched.
    cancel : threading.Event, optional
        When set, tracking stops at the next block of chips and raises `CancelledError`.
    **overrides
        Parameter values that replace those of ``params`` (``chip_size=64``, ``kernel="oc"``, ...).

    Returns
    -------
    xarray.Dataset
        On dims ``("row", "col")``, whose coordinates are the chip centres in the reference image in pixel-index
        units (pixel i's centre is i):

        - ``dx``, ``dy`` (float32, px): offset of the match, + columns right and + rows down; NaN where no match
          was found (nodata, no texture, peak at the edge of the search range);
        - ``peak`` (float32): similarity at the match: the NCC (``ncc``), the normalized orientation
          correlation (``oc``), the score of a user kernel;
        - ``snr`` (float32): the peak over the strongest other peak of the full-range search;
        - ``valid`` (bool): matched and not flagged by any outlier test.

        ``attrs`` hold every parameter value.

    Raises
    ------
    ParameterError
        Images of different shapes, parameters that do not fit the images, or an unknown kernel.
    KernelError
        The kernel returned something that breaks the kernel contract.
    CancelledError
        ``cancel`` was set.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> from scipy import ndimage
    >>> image = ndimage.gaussian_filter(rng.normal(size=(160, 160)), 1.5)
    >>> moved = ndimage.shift(image, (1.25, -2.5), order=3)
    >>> field = track_arrays(image, moved, search_range=6)
    >>> bool(abs(float(field.dx.median()) + 2.5) < 0.05 and abs(float(field.dy.median()) - 1.25) < 0.05)
    True
    >>> field = track_arrays(image, moved, search_range=6, kernel="oc")
    >>> bool(abs(float(field.dx.median()) + 2.5) < 0.05 and abs(float(field.dy.median()) - 1.25) < 0.05)
    True
    """
    from tracking.kernels.chips import track_chips
    from tracking.preprocess import prefilter
    from tracking.validate import apply_outlier_tests

    params = TrackingParameters.from_overrides(params, **overrides)
    kernel = get_kernel(params.kernel)
    reference = as_image(reference, "reference")
    secondary = as_image(secondary, "secondary")
    if reference.shape != secondary.shape:
        raise ParameterError(
            f"reference {reference.shape} and secondary {secondary.shape} images differ in shape: bring them onto "
            "one grid first (tracking.scenes.Pair.from_scenes does this for georeferenced scenes)."
        )
    params.check(reference.shape)
    _check_cancel(cancel)
    reference = prefilter(reference, params.prefilter, params.prefilter_size)
    secondary = prefilter(secondary, params.prefilter, params.prefilter_size)
    if kernel.kind == "chip":
        field = track_chips(kernel, reference, secondary, params, progress=progress, cancel=cancel)
    else:
        field = kernel.function(reference, secondary, params, progress=progress, cancel=cancel)
    _check_cancel(cancel)
    field = check_offsets(field, reference.shape, params.chip_size, params.step, kernel.name)
    field.attrs = {k: ("none" if v is None else v) for k, v in params.to_dict().items()}
    no_snr = bool(field["snr"].isnull().all())
    tested = apply_outlier_tests(field.drop_vars("snr") if no_snr else field, params)
    return field.assign(valid=tested["valid"])


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CancelledError("tracking was cancelled before it finished; no result was written.")
