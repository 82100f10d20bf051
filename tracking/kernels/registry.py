"""The kernel registry: which matching functions ``TrackingParameters.kernel`` can name.

A kernel comes in one of two kinds:

``"grid"``
    ``function(reference, secondary, params, *, progress, cancel) -> xarray.Dataset``: matches every chip of
    the grid itself (the built-in kernels do, to batch the work) and returns `tracking.kernels.offsets_dataset`.
``"chip"``
    ``function(chip, window) -> (dx, dy, score)``: matches one reference chip inside its search window;
    `tracking.kernels.chips` loops it over the grid.

Either way `tracking.pipeline` pre-filters the images before `tracking.kernels.match`, and runs the outlier
tests after.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from tracking.exceptions import ParameterError
from tracking.params import BUILTIN_KERNELS, TrackingParameters

__all__ = ["KERNELS", "Kernel", "get_kernel", "register_kernel", "unregister_kernel"]

KernelKind = Literal["grid", "chip"]
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")


@dataclass(frozen=True)
class Kernel:
    """A registered kernel.

    Attributes
    ----------
    name : str
        The value of ``TrackingParameters.kernel`` that selects it.
    function : callable
        The matching function (see the module docstring for its signature, which depends on ``kind``).
    kind : {"grid", "chip"}
        Whole-grid function or chip-level ``match``.
    threads : int
        Chip kernels only: how many chips are matched at once, on that many threads (1: one after the other).
    """

    name: str
    function: Callable
    kind: KernelKind = "chip"
    threads: int = 1


_REGISTRY: dict[str, Kernel] = {}
#: The registered kernels, name -> `Kernel`: a live read-only view (``list(KERNELS)`` gives the names).
KERNELS = MappingProxyType(_REGISTRY)


def register_kernel(
    name: str,
    function: Callable,
    *,
    kind: KernelKind = "chip",
    threads: int = 1,
    replace: bool = False,
) -> Kernel:
    """Make ``function`` selectable as ``TrackingParameters(kernel=name)``.

    The name is added to the choices of the ``kernel`` parameter, so parameter sets, ``track`` and
    ``tracking.track_arrays`` accept it, and so do the dashboard and the command line when the kernel is registered
    before they start (register it at the import of your module).

    Parameters
    ----------
    name : str
        Lower-case name: letters, digits, ``_`` and ``-``, starting with a letter.
    function : callable
        With ``kind="chip"`` (the default): ``match(chip, window) -> (dx, dy, score)`` or
        ``(dx, dy, score, snr)``. ``chip`` is the pre-filtered ``chip_size`` x ``chip_size`` reference chip
        (float32, never NaN); ``window`` the pre-filtered secondary area it is searched in, ``chip_size + 2 *
        search_range`` px square and centred on the chip, NaN where it holds nodata or leaves the image. ``dx``
        (columns, + right) and ``dy`` (rows, + down) are the match's offset from the centred position, px, NaN
        for no match; ``score`` a similarity where higher is better, tested against ``min_peak`` (return 1.0
        if there is none); ``snr`` the ratio tested against ``min_snr`` (without it the SNR test is skipped).
        With ``kind="grid"``: ``function(reference, secondary, params, *, progress, cancel) -> Dataset`` built
        with `tracking.kernels.offsets_dataset` on the chips of `tracking.kernels.chip_grid`.
    kind : {"chip", "grid"}
        Which of the two signatures ``function`` has.
    threads : int
        Chip kernels: match this many chips at once on as many threads. Only for functions that are thread
        safe and release the GIL (OpenCV, most of scipy and scikit-image); plain Python gains nothing.
    replace : bool
        Allow replacing a registered kernel of the same name (never a built-in one).

    Returns
    -------
    Kernel
        The registered kernel.

    Raises
    ------
    ParameterError
        A bad name, kind or thread count, ``function`` not callable, or the name already taken.

    Examples
    --------
    A brute-force sum-of-absolute-differences matcher, plugged in and used:

    >>> import numpy as np
    >>> from tracking import track_arrays
    >>> from tracking.kernels import register_kernel, unregister_kernel
    >>> def sad(chip, window):
    ...     n, reach = chip.shape[0], (window.shape[0] - chip.shape[0]) // 2
    ...     cost = np.array([[np.abs(window[i:i + n, j:j + n] - chip).sum() for j in range(2 * reach + 1)]
    ...                      for i in range(2 * reach + 1)])
    ...     i, j = np.unravel_index(np.nanargmin(cost), cost.shape)
    ...     return j - reach, i - reach, 1.0
    >>> _ = register_kernel("sad", sad)
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(96, 96))
    >>> field = track_arrays(image, np.roll(image, (2, -3), axis=(0, 1)), kernel="sad", search_range=4)
    >>> float(field.dx.median()), float(field.dy.median())
    (-3.0, 2.0)
    >>> unregister_kernel("sad")
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ParameterError(
            f"kernel name {name!r}: use lower-case letters, digits, '_' and '-', starting with a letter."
        )
    if not callable(function):
        raise ParameterError(f"kernel {name!r}: {function!r} is not callable.")
    if kind not in ("grid", "chip"):
        raise ParameterError(f"kernel {name!r}: kind must be 'chip' or 'grid', not {kind!r}.")
    if not isinstance(threads, int) or threads < 1:
        raise ParameterError(f"kernel {name!r}: threads must be a positive integer, not {threads!r}.")
    if name in _REGISTRY and (not replace or name in BUILTIN_KERNELS):
        why = "is built in" if name in BUILTIN_KERNELS else "is already registered (pass replace=True)"
        raise ParameterError(f"kernel {name!r} {why}; registered kernels: {', '.join(_REGISTRY)}.")
    kernel = Kernel(name, function, kind, threads)
    _REGISTRY[name] = kernel
    _set_choices()
    return kernel


def unregister_kernel(name: str) -> None:
    """Remove a kernel added with `register_kernel` (built-in kernels stay).

    Raises
    ------
    ParameterError
        ``name`` is built in or not registered.
    """
    if name in BUILTIN_KERNELS or name not in _REGISTRY:
        raise ParameterError(
            f"kernel {name!r} cannot be removed: user kernels are "
            f"{', '.join(k for k in _REGISTRY if k not in BUILTIN_KERNELS) or 'none'}."
        )
    del _REGISTRY[name]
    _set_choices()


def get_kernel(name: str) -> Kernel:
    """The registered kernel called ``name``.

    Raises
    ------
    ParameterError
        No such kernel; the message lists the registered ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParameterError(
            f"kernel: unknown kernel {name!r}. Allowed values: {', '.join(_REGISTRY)} "
            "(add your own with tracking.kernels.register_kernel)."
        ) from None


def _set_choices() -> None:
    """Make the ``kernel`` parameter's choices the registered kernels, built-in ones first."""
    names = [*BUILTIN_KERNELS, *(k for k in _REGISTRY if k not in BUILTIN_KERNELS)]
    TrackingParameters.param["kernel"].objects = names
