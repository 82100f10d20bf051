"""The ``oc`` kernel: orientation correlation (Fitch et al. 2002; Haug et al. 2010), computed by FFT.

Each image is replaced by its *orientation image*, the direction of its intensity gradient as a unit complex
number, ``o = sign(dI/dx + i dI/dy)`` with ``sign(z) = z / |z|`` (0 where the gradient vanishes or touches
nodata). Orientations ignore how strong an edge is and keep only where it points, so a change of illumination,
contrast or gain between the dates (sun angle, haze, fresh snow) barely changes them: any increasing brightness
transform keeps them exactly. ImGRAFT offers orientation correlation and recommends it "in most cases"; GIV and
GLAFT use the related NAOF orientation pre-filter (``prefilter="naof"`` here).

For each chip the kernel correlates the reference orientation chip with the secondary orientation window over
every offset of the search range at once, by FFT, batched over blocks of chips (``scipy.fft``, all cores)::

    C(k) = Re sum_n conj(o_ref(n)) o_sec(n + k) / sqrt(N_ref N_sec(k))

where the N count the pixels with an orientation in the chip and in the secondary window at offset k. ``C`` is
the mean cosine of the angle between matched gradient directions: 1 for identical images, about 0 for
unrelated ones (it plays the part NCC plays for ``min_peak``).

The integer peak is refined to sub-pixel precision by ``params.subpixel``:

- ``lucas-kanade`` (the default): the gain- and offset-invariant image fit of the NCC tracker, started from the
  OC peak; the most accurate;
- ``oversampled``: the correlation surface oversampled by ``params.oversampling`` around the peak with a
  matrix-multiply DFT of the cross-power spectrum (Guizar-Sicairos et al. 2008, as in ampcor and scikit-image's
  ``phase_cross_correlation``): band-limited interpolation, precise to 1 / oversampling px;
- ``parabolic``: a three-point Gaussian fit along each axis, which suits OC's sharp peak better than a
  parabola (the NCC kernel fits a parabola).

The Lucas-Kanade fit works on intensities (gain- and offset-invariant, but not invariant to nonlinear
changes), so on pairs whose brightness changed nonlinearly and that are not pre-filtered, ``parabolic`` or
``oversampled`` keep OC's robustness down to the sub-pixel (benchmarks/RESULTS.md).

Unlike the coarse-to-fine NCC, the search is exhaustive over the whole range at full resolution, so a chip
cannot be led astray by a coarse guess; the price is speed (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import threading

import numpy as np
import xarray as xr
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft

from tracking.kernels import _ncc, _refine
from tracking.kernels.grid import chip_grid, offsets_dataset
from tracking.kernels.ncc import centre_weights
from tracking.params import TrackingParameters
from tracking.progress import ProgressCallback, check_cancel

__all__ = ["oc_offsets", "orientation_image", "upsampled_peaks"]

#: Memory for the FFT arrays of one block of chips, bytes (the block size follows from it).
_BLOCK_BYTES = 48 * 2**20


def orientation_image(image: np.ndarray) -> np.ndarray:
    """The orientation image ``sign(dI/dx + i dI/dy)`` of ``image``, complex64.

    Gradients are central differences (one-sided at the border). Pixels whose gradient is zero (flat areas) or
    touches nodata get 0, so they take no part in the correlation.

    Parameters
    ----------
    image : ndarray of float, shape (rows, cols)
        NaN marks nodata.

    Returns
    -------
    ndarray of complex64, shape (rows, cols)
        Unit complex numbers pointing up the gradient (real part: + columns, imaginary part: + rows), or 0.

    Examples
    --------
    >>> orientation_image(np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]))[0, 1]
    np.complex64(1+0j)
    """
    image = np.asarray(image, dtype=np.float32)
    if min(image.shape) < 2:
        return np.zeros(image.shape, np.complex64)
    gy, gx = np.gradient(image)
    z = (gx + 1j * gy).astype(np.complex64)
    magnitude = np.abs(z)
    finite = np.isfinite(magnitude)
    scale = float(magnitude[finite].max()) if finite.any() else 0.0
    usable = finite & (magnitude > 1e-6 * scale)
    out = np.zeros(image.shape, np.complex64)
    np.divide(z, magnitude, out=out, where=usable)
    return out


def _box_sums(values: np.ndarray, size: int) -> np.ndarray:
    """Sums of ``values`` over every ``size`` x ``size`` window (top-left indexed), exact for counts."""
    total = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    np.cumsum(np.cumsum(values, axis=0, dtype=np.float64), axis=1, out=total[1:, 1:])
    return total[size:, size:] - total[:-size, size:] - total[size:, :-size] + total[:-size, :-size]


def _scale(oriented: np.ndarray, nodata: np.ndarray, size: int) -> np.ndarray:
    """``1 / sqrt(count of oriented pixels)`` of every ``size`` window, float32; NaN over nodata or no pixels."""
    count = _box_sums(oriented.astype(np.float32) - 2.0 * size * size * nodata, size)
    scale = np.full(count.shape, np.nan, np.float32)
    np.divide(1.0, np.sqrt(count, where=count > 0.5, out=count), out=scale, where=count > 0.5)
    return scale


def upsampled_peaks(spectrum: np.ndarray, guesses: np.ndarray, factor: int) -> np.ndarray:
    """Peaks of correlation surfaces oversampled ``factor`` times within +-1 px of a guess, by DFT.

    The surfaces are evaluated at ``guess + (-factor .. factor) / factor`` along each axis straight from the
    cross-power spectrum with two matrix products (Guizar-Sicairos, Thurman & Fienup 2008), which is
    band-limited (sinc) interpolation of the circular correlation at a cost that does not grow with the FFT.

    Parameters
    ----------
    spectrum : ndarray of complex, shape (n_chips, n, n)
        Cross-power spectra ``conj(F(chip)) F(window)``; their inverse FFT is the circular correlation.
    guesses : ndarray of float, shape (n_chips, 2)
        Lags (rows, cols) near each peak, in cells of the correlation (0 = no shift of the window).
    factor : int
        Cells per pixel of the oversampled surface.

    Returns
    -------
    ndarray of float32, shape (n_chips, 2)
        Lags of the oversampled peaks, on a 1 / factor px lattice around the guesses.
    """
    chips, n = spectrum.shape[0], spectrum.shape[-1]
    if chips == 0:
        return np.empty((0, 2), np.float32)
    frequencies = fft.fftfreq(n) * n
    lattice = np.arange(-factor, factor + 1) / factor
    m = lattice.size
    # exp(2 pi i f (guess + l) / n) = exp(2 pi i f guess / n) exp(2 pi i f l / n): the guesses become phase ramps
    # on the spectra, and the lattice one constant matrix, so the work is two large matrix products
    ramp = np.exp((2j * np.pi / n) * guesses[:, :, None] * frequencies).astype(np.complex64)  # (chips, 2, n)
    shifted = spectrum * ramp[:, 0, :, None] * ramp[:, 1, None, :]
    dft = np.exp((2j * np.pi / n) * lattice[:, None] * frequencies).astype(np.complex64)  # (m, n)
    rows = dft @ shifted.transpose(1, 0, 2).reshape(n, chips * n)  # (m, chips * n)
    rows = rows.reshape(m, chips, n).transpose(1, 0, 2).reshape(chips * m, n)
    surface = (rows @ dft.T).real.reshape(chips, m, m)
    best = surface.reshape(chips, -1).argmax(axis=1)
    a, b = np.unravel_index(best, (m, m))
    return (guesses + np.stack([lattice[a], lattice[b]], axis=1)).astype(np.float32)


def oc_offsets(
    reference: np.ndarray,
    secondary: np.ndarray,
    params: TrackingParameters,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> xr.Dataset:
    """The ``oc`` grid kernel: match every chip of the pre-filtered images by orientation correlation.

    Parameters
    ----------
    reference, secondary : ndarray of float32, shape (rows, cols)
        Pre-filtered images on one grid, NaN = nodata (`tracking.pipeline.track_arrays` prepares them).
    params : TrackingParameters
        ``chip_size``, ``search_range``, ``step``, ``subpixel`` and ``oversampling`` are used.
    progress : callable, optional
        Called as ``progress(done, total)`` with chip counts after each block of chips.
    cancel : threading.Event, optional
        When set, matching stops at the next block of chips and raises `CancelledError`.

    Returns
    -------
    xarray.Dataset
        `tracking.kernels.offsets_dataset`, before the outlier tests: ``peak`` is the normalized orientation
        correlation C at the integer peak (mean cosine of the gradient-direction differences, -1 to 1), ``snr``
        the peak over the highest C at least two cells away from it, ``valid`` the chips that matched (no nodata
        in the chip or in the matched window, peak not on the edge of the search range).
    """
    chip, reach = params.chip_size, params.search_range
    width, size = 2 * reach + 1, chip + 2 * reach
    n_fft = fft.next_fast_len(size, real=False)
    tops, lefts = chip_grid(reference.shape, chip, params.step)
    grid_t, grid_l = (g.ravel() for g in np.meshgrid(tops, lefts, indexing="ij"))
    total = grid_t.size

    o_ref = orientation_image(reference)
    o_sec = np.pad(orientation_image(secondary), reach)
    # C's normalization 1 / sqrt(N): per chip for the reference, per chip and offset (a window of box sums) for
    # the secondary; NaN where the chip or the window holds nodata or no orientation, so the offset cannot win
    ref_scale = _scale(o_ref != 0, np.isnan(reference), chip)[grid_t, grid_l]
    sec_nodata = np.pad(np.isnan(secondary), reach, constant_values=True)
    sec_scale = sliding_window_view(_scale(o_sec != 0, sec_nodata, chip), (width, width))
    ref_chips = sliding_window_view(o_ref, (chip, chip))
    sec_windows = sliding_window_view(o_sec, (size, size))

    offsets = np.full((total, 2), np.nan, np.float32)
    peaks = np.full(total, np.nan, np.float32)
    ratios = np.full(total, np.nan, np.float32)
    status = np.ones(total, np.int8)
    method = _ncc.SUBPIXEL_CODES[params.subpixel]
    weights = centre_weights(chip)
    oversample = method == _ncc.SUBPIXEL_CODES["oversampled"]
    block = int(max(1, min(total, _BLOCK_BYTES // (3 * 8 * n_fft * n_fft))))
    for start in range(0, total, block):
        check_cancel(cancel)
        part = slice(start, min(start + block, total))
        t, left = grid_t[part], grid_l[part]
        # the chip fills only `chip` of the n_fft rows, and only `width` lags are wanted: prune those FFTs
        spectrum = fft.fft(
            fft.fft(ref_chips[t, left], n_fft, axis=2, workers=-1),
            n_fft,
            axis=1,
            workers=-1,
            overwrite_x=True,
        )
        np.conjugate(spectrum, out=spectrum)
        spectrum *= fft.fft2(sec_windows[t, left], s=(n_fft, n_fft), workers=-1, overwrite_x=True)
        lags = fft.ifft(spectrum, axis=1, workers=-1)[:, :width]
        correlation = fft.ifft(lags, axis=2, workers=-1, overwrite_x=True)[:, :, :width].real
        surfaces = correlation.astype(np.float32) * ref_scale[part, None, None]
        surfaces *= sec_scale[t, left]
        _refine.surface_peaks(
            surfaces,
            reference,
            secondary,
            t,
            left,
            chip,
            reach,
            0 if oversample else method,
            True,
            params.oversampling,
            weights,
            offsets[part],
            peaks[part],
            ratios[part],
            status[part],
        )
        if oversample and params.oversampling > 1:
            matched = np.flatnonzero(status[part] == 0)
            offsets[start + matched] = (
                upsampled_peaks(spectrum[matched], offsets[start + matched] + reach, params.oversampling)
                - reach
            )
        if progress is not None:
            progress(part.stop, total)
    return offsets_dataset(
        tops, lefts, chip, offsets[:, 1], offsets[:, 0], peaks, ratios, np.isin(status, (0, 3))
    )
