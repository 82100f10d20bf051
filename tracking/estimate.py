"""Parameter physics: what a parameter set can measure and what it costs, before running anything.

- `chip_count`: how many chips (grid nodes) a run tracks on an image;
- `max_detectable_speed`: the fastest ice a search range can follow over a time span;
- `min_useful_dt`: the shortest time span over which ice moves enough to be measured;
- `estimated_seconds` / `format_duration`: a throughput model of icetrack's NCC kernel, calibrated by
  ``benchmarks/calibrate_estimate.py``.
"""

from __future__ import annotations

import math

from tracking.exceptions import ParameterError
from tracking.kernels import chip_grid
from tracking.kernels.ncc import coarse_factor
from tracking.params import SUBPIXEL_METHODS, TrackingParameters
from tracking.times import DAYS_PER_YEAR

__all__ = [
    "CALIBRATION",
    "CALIBRATION_THREADS",
    "KERNEL_COST",
    "chip_count",
    "coarse_ops",
    "estimated_seconds",
    "format_duration",
    "max_detectable_speed",
    "min_useful_dt",
]

#: The cost model of `tracking.track_arrays`, seconds, fitted by ``benchmarks/calibrate_estimate.py --sizes 512
#: 1024`` (non-negative least squares on relative error) on 2026-12-04 on the 2-core x86_64 development machine
#: (numba 0.68, 2 threads): best of 3 runs after a warm-up on 512 and 1024 px square
#: `tracking.testing.synthetic_pair` images (with their featureless and nodata patches), chips 16/32/64 x search
#: ranges 10/20/40 x the three sub-pixel methods (step 16, Wallis, oversampling 16), plus steps 8/32 and the other
#: pre-filters: 68 timings, model / measured 0.65-1.34, median 0.99 (about 20 000 - 50 000 chips/s at 1024 px,
#: step 16). Terms:
#:
#: - serial, not helped by threads: ``per_call`` + chips * step^2 * (``per_image_pixel`` +
#:   ``per_image_pixel_<prefilter>``): the pre-filter and per-image work, step^2 image pixels per chip;
#: - parallel (numba ``prange``), scaled by 2 / threads: chips * (``base_<method>`` + ``per_pixel_<method>`` *
#:   chip_size^2 + ``per_coarse_op`` * the coarse pass's multiply-adds per chip).
#:
#: Since the box-sum pre-filters the Gaussian high-pass costs next to nothing beside the per-image work.
CALIBRATION: dict[str, float] = {
    "base_parabolic": 9.769e-06,
    "base_oversampled": 1.967e-05,
    "base_lucas-kanade": 9.656e-06,
    "per_pixel_parabolic": 1.404e-09,
    "per_pixel_oversampled": 1.301e-09,
    "per_pixel_lucas-kanade": 5.168e-09,
    "per_coarse_op": 1.771e-10,
    "per_image_pixel": 3.562e-08,
    "per_image_pixel_gaussian_highpass": 0,
    "per_image_pixel_wallis": 7.512e-09,
    "per_image_pixel_naof": 1.574e-07,
    "per_call": 0.01153,
}
#: numba threads of the calibration run.
CALIBRATION_THREADS = 2


def chip_count(shape: tuple[int, int], params: TrackingParameters) -> int:
    """Number of chips (grid nodes) tracked on an image of ``shape``.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, cols)`` of the reference image, px.
    params : TrackingParameters
        Uses ``chip_size`` and ``step``.

    Returns
    -------
    int
        Chips on the grid of `tracking.kernels.ncc.chip_grid`; 0 when the image is smaller than a chip.

    Examples
    --------
    >>> chip_count((100, 70), TrackingParameters(chip_size=32, step=16))
    15
    >>> chip_count((20, 500), TrackingParameters(chip_size=32))
    0
    """
    rows, cols = (int(n) for n in shape)
    if rows < params.chip_size or cols < params.chip_size:
        return 0
    tops, lefts = chip_grid((rows, cols), params.chip_size, params.step)
    return int(tops.size * lefts.size)


def max_detectable_speed(search_range: float, pixel_size: float, dt_days: float) -> float:
    """The fastest motion a search range can follow, m/yr.

    Parameters
    ----------
    search_range : float
        Largest displacement looked for, each way, px.
    pixel_size : float
        Ground sampling distance, m.
    dt_days : float
        Time between the scenes, days; positive.

    Returns
    -------
    float
        ``search_range * pixel_size / dt_days * 365.25``, m/yr.

    Examples
    --------
    >>> max_detectable_speed(20, 30.0, 16)  # Landsat red band, default search range, one repeat cycle
    13696.875
    """
    if not dt_days > 0:
        raise ParameterError(
            f"dt_days must be positive, got {dt_days}: give the time between the scenes in days."
        )
    return float(search_range) * float(pixel_size) / float(dt_days) * DAYS_PER_YEAR


def min_useful_dt(pixel_size: float, speed: float, *, pixels: float = 2.0) -> float:
    """The shortest time span over which ice at ``speed`` moves ``pixels`` pixels, days.

    Below about two pixels (two ground sampling distances) of motion the sub-pixel noise of feature tracking
    (~0.1 - 0.2 px) is a large part of the signal.

    Parameters
    ----------
    pixel_size : float
        Ground sampling distance, m.
    speed : float
        Ice speed, m/yr; positive.
    pixels : float
        Motion needed, px.

    Returns
    -------
    float
        ``pixels * pixel_size / speed * 365.25``, days.

    Examples
    --------
    >>> min_useful_dt(30.0, 1000.0)  # 60 m at 1 km/yr
    21.915
    """
    if not speed > 0:
        raise ParameterError(f"speed must be positive, got {speed} m/yr.")
    return float(pixels) * float(pixel_size) / float(speed) * DAYS_PER_YEAR


def coarse_ops(params: TrackingParameters) -> float:
    """Multiply-adds per chip of the kernel's coarse pass (its reduction, reach and chip sharing)."""
    chip, search, step = params.chip_size, params.search_range, params.step
    factor = coarse_factor(search, chip)
    if factor == 1:
        coarse_chip, reach, stride = chip, search, 1
    else:
        coarse_chip, reach = max(chip // factor, 16), math.ceil(search / factor)
        stride = 2 if 2 * step <= chip else 1
    return float((2 * reach + 1) ** 2 * coarse_chip**2) / stride**2


def _model_seconds(
    n_chips: int, params: TrackingParameters, constants: dict[str, float] | None, threads: int
) -> float:
    """The cost model: a serial part (per call, per image pixel) plus the parallel kernel scaled by threads."""
    c = CALIBRATION if constants is None else constants
    method = params.subpixel if params.subpixel in SUBPIXEL_METHODS else "lucas-kanade"
    serial = c.get("per_call", 0.0) + n_chips * params.step**2 * (
        c["per_image_pixel"] + c.get(f"per_image_pixel_{params.prefilter}", 0.0)
    )
    kernel = n_chips * (
        c[f"base_{method}"]
        + c[f"per_pixel_{method}"] * params.chip_size**2
        + c["per_coarse_op"] * coarse_ops(params)
    )
    return serial + kernel * CALIBRATION_THREADS / threads


#: Run time of a kernel relative to NCC's (benchmarks/bench_kernel.py: orientation correlation ran at 0.05-0.43x
#: NCC's chips/s on the 2-core machine; 10 is the middle of that range). User kernels count as NCC.
KERNEL_COST = {"ncc": 1.0, "oc": 10.0}


def estimated_seconds(n_chips: int, params: TrackingParameters, *, threads: int | None = None) -> float:
    """Expected wall time of `tracking.track_arrays` for ``n_chips`` chips, s (numba compilation excluded).

    A cost model fitted to timings of the kernel (see `CALIBRATION`): a serial part (a fixed cost per call and
    the pre-filter, per image pixel) plus the parallel NCC kernel, assumed to scale perfectly with threads.
    Expect it within a factor of about two on an idle machine like the calibration's (2 cores); a busy machine
    can be several times slower, and images with much nodata or featureless snow run faster.

    Parameters
    ----------
    n_chips : int
        Chips to track (`chip_count`).
    params : TrackingParameters
        Uses ``chip_size``, ``search_range``, ``step``, ``subpixel``, ``prefilter`` and ``kernel`` (`KERNEL_COST`).
    threads : int, optional
        Threads the kernel runs on; default ``numba.get_num_threads()``.

    Returns
    -------
    float
        Seconds.
    """
    if n_chips < 0:
        raise ParameterError(f"n_chips must be 0 or more, got {n_chips}.")
    if threads is None:
        import numba

        threads = numba.get_num_threads()
    if threads < 1:
        raise ParameterError(f"threads must be 1 or more, got {threads}.")
    if n_chips == 0:
        return 0.0
    return _model_seconds(int(n_chips), params, None, int(threads)) * KERNEL_COST.get(params.kernel, 1.0)


def format_duration(seconds: float) -> str:
    """A short human duration: one decimal below 10 s, whole seconds below a minute, then minutes (and hours).

    Examples
    --------
    >>> format_duration(0.42), format_duration(12.3), format_duration(200), format_duration(7380)
    ('0.4 s', '12 s', '3 min 20 s', '2 h 3 min')
    """
    seconds = float(seconds)
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    if seconds < 9.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(whole, 3600)
    minutes = round(rest / 60)
    if minutes == 60:
        hours, minutes = hours + 1, 0
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
