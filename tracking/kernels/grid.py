"""The chip grid and the offsets Dataset every kernel returns: helpers shared by all kernels.

A kernel matches square chips of the reference image, laid on a regular grid (`chip_grid`), against the
secondary image, and returns one vector per chip in an `offsets_dataset`. `check_offsets` holds a kernel's
result to that contract, so a user kernel that returns something else fails with a message that says what.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from tracking.exceptions import KernelError, ParameterError

__all__ = [
    "OFFSET_VARIABLES",
    "as_image",
    "check_offsets",
    "chip_grid",
    "offsets_dataset",
]

#: The variables of a kernel's result, with their dtypes.
OFFSET_VARIABLES = {
    "dx": np.float32,
    "dy": np.float32,
    "peak": np.float32,
    "snr": np.float32,
    "valid": np.bool_,
}


def chip_grid(shape: tuple[int, int], chip_size: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners of the chips along rows and along columns.

    Chips start at multiples of ``step`` and lie wholly inside the image, so grids of different images with the
    same parameters line up.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` of the reference image.
    chip_size, step : int
        Chip size and grid spacing, px.

    Returns
    -------
    tops, lefts : ndarray of int64
        First row and first column of each chip; chip centres are ``tops + (chip_size - 1) / 2``.

    Examples
    --------
    >>> chip_grid((100, 70), 32, 16)
    (array([ 0, 16, 32, 48, 64]), array([ 0, 16, 32]))
    """
    rows, cols = shape
    tops = np.arange(0, rows - chip_size + 1, step, dtype=np.int64)
    lefts = np.arange(0, cols - chip_size + 1, step, dtype=np.int64)
    return tops, lefts


def as_image(values: np.ndarray, name: str) -> np.ndarray:
    """``values`` as a C-contiguous float32 2-D image in which NaN (and only NaN) marks nodata.

    Raises
    ------
    ParameterError
        Not 2-D, or not real numbers.
    """
    image = np.asarray(values)
    if image.ndim != 2:
        raise ParameterError(f"{name} must be a 2-D image (rows, cols); got shape {image.shape}.")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise ParameterError(f"{name} must hold real numbers; got dtype {image.dtype}.")
    image = image.astype(np.float32, copy=False)
    if not np.isfinite(image).all():
        image = np.where(np.isfinite(image), image, np.float32(np.nan))
    return np.ascontiguousarray(image)


def offsets_dataset(
    tops: np.ndarray,
    lefts: np.ndarray,
    chip_size: int,
    dx: np.ndarray,
    dy: np.ndarray,
    peak: np.ndarray,
    snr: np.ndarray,
    valid: np.ndarray,
) -> xr.Dataset:
    """Build a kernel's result: one vector per chip on dims ``(row, col)``.

    Parameters
    ----------
    tops, lefts : ndarray of int
        Top-left corners of the chips (`chip_grid`).
    chip_size : int
        Chip size, px; the coordinates are the chip centres, ``tops + (chip_size - 1) / 2``.
    dx, dy : array_like, shape (tops.size, lefts.size)
        Offsets, px (+ columns right, + rows down); NaN where no match.
    peak, snr : array_like, same shape
        Similarity at the match (tested against ``min_peak``) and peak-to-second-peak ratio (``min_snr``).
    valid : array_like of bool, same shape
        The kernel found a match (before the outlier tests).

    Returns
    -------
    xarray.Dataset
        ``dx``, ``dy``, ``peak``, ``snr`` (float32) and ``valid`` (bool) with ``row``/``col`` coordinates.
    """
    shape = (len(tops), len(lefts))
    centre = (chip_size - 1) / 2
    data = {"dx": dx, "dy": dy, "peak": peak, "snr": snr, "valid": valid}
    field = xr.Dataset(
        {
            name: (("row", "col"), np.asarray(data[name], dtype=dtype).reshape(shape))
            for name, dtype in OFFSET_VARIABLES.items()
        },
        coords={"row": np.asarray(tops) + centre, "col": np.asarray(lefts) + centre},
    )
    field["dx"].attrs.update(units="pixel", long_name="offset along columns (+ right)")
    field["dy"].attrs.update(units="pixel", long_name="offset along rows (+ down)")
    field["peak"].attrs.update(long_name="similarity at the match peak")
    field["snr"].attrs.update(long_name="correlation peak over the strongest other peak")
    field["valid"].attrs.update(long_name="matched and passed the outlier tests")
    return field


def check_offsets(
    field: object, shape: tuple[int, int], chip_size: int, step: int, kernel: str
) -> xr.Dataset:
    """Hold a kernel's result to the contract of `offsets_dataset`; return it with the contract's dtypes.

    Parameters
    ----------
    field : object
        What the kernel returned.
    shape : tuple of int
        ``(rows, cols)`` of the images.
    chip_size, step : int
        The run's chip size and grid spacing, which fix the expected chip centres.
    kernel : str
        The kernel's name, for the messages.

    Raises
    ------
    KernelError
        Not a Dataset, a variable missing, other dims, or coordinates other than the chip centres.
    """
    where = f"kernel {kernel!r} broke the kernel contract (see tracking.kernels)"
    if not isinstance(field, xr.Dataset):
        raise KernelError(f"{where}: it returned {type(field).__name__}, not an xarray.Dataset.")
    missing = [name for name in OFFSET_VARIABLES if name not in field]
    if missing:
        raise KernelError(
            f"{where}: variables {', '.join(missing)} are missing; it must return "
            f"{', '.join(OFFSET_VARIABLES)} (tracking.kernels.offsets_dataset builds them)."
        )
    tops, lefts = chip_grid(shape, chip_size, step)
    centre = (chip_size - 1) / 2
    expected = {"row": tops + centre, "col": lefts + centre}
    for name in OFFSET_VARIABLES:
        if field[name].dims != ("row", "col"):
            raise KernelError(f"{where}: {name} has dims {field[name].dims}, not ('row', 'col').")
    for dim, centres in expected.items():
        values = field[dim].values if dim in field.coords else None
        if values is None or values.shape != centres.shape or not np.allclose(values, centres):
            got = "none" if values is None else f"{values.size} values"
            raise KernelError(
                f"{where}: its {dim} coordinate ({got}) is not the {centres.size} chip centres of "
                f"chip_grid({shape}, {chip_size}, {step}) + {centre}."
            )
    return field.assign(
        {name: field[name].astype(dtype, copy=False) for name, dtype in OFFSET_VARIABLES.items()}
    )
