"""Robustness of icetrack's tracker against OpenCV loops, in one run, on a matrix of cases and every real fixture.

Trackers, all on the same chips (icetrack's grid; the nodes whose whole search area lies in the image):

- ``icetrack``: `tracking.kernels.track_arrays` with its defaults (and any ``--variant``), pre-filter included
  in its time;
- ``opencv``: an ``cv2.matchTemplate`` (``TM_CCOEFF_NORMED``) loop over 2 threads on the raw images, 3-point
  parabolic peak; its only rejection is a peak on the edge of the search area (as icetrack's);
- ``opencv+hp``: the same on Gaussian high-passed images (sigma 3 px), pre-filter time included;
- ``opencv+hp x16``: the same with the peak found on the correlation surface oversampled 16 x (bicubic).

Nodata (NaN) is set to 0 for OpenCV, after the pre-filter, as a user of ``matchTemplate`` would.

Cases:

- **synthetic**: a matrix of pairs with exactly known motion (`make_case`), each at ``--seeds`` seeds and chip
  32 and 64, search 20, step 16;
- **demo**: three 16-day spring pairs of the demo glacier (search 40), scored on fast ice (true speed > 3000 m/yr);
- **perito**: Perito Moreno (Sentinel-2, 22 dates, no reference): coverage of the glacier mask, noise on the
  off-glacier margin (chips wholly on data and at least 80% off the glacier; and every margin node, whose chips
  touching the black surround lock onto its edge, the same on every date), closure of 6 triplets,
  ``d13(x) = d12(x) + d23(x + d12(x))``;
- **s2-stable**: the Sentinel-2 pair with no motion (a global shift of about (-0.5, +1.65) px): stable-ground noise
  (GLAFT static-terrain metric) and coverage of vectors within 1 px of the shift;
- **s1-seaice**: the Sentinel-1 sea-ice pair (about 46 px of drift, search 64): coverage and agreement with a
  consensus field (the 7 x 7-node median of OpenCV + high-pass at chip 64).

chips/s, pre-filter included: on the synthetic matrix, the chips each tracker matched per second (icetrack:
every node of its grid, edge nodes whose search area leaves the image included; the OpenCV loops: the nodes
whose search area lies in the image, as they skip the others); on the real fixtures and the demo, the scored
nodes per second for every tracker. The scores always use the same nodes for every tracker.

Measures per case and tracker: ``correct %`` (the share of the case's evaluation nodes with a valid vector
within the case's tolerance of the truth), ``valid %``, ``RMSE`` (synthetic: over the nodes valid in both icetrack
and the tracker, errors under 2 px) or closure median / p90, ``gross %`` (valid vectors more than 2 px off),
``noise`` (NMAD of the speed on stable ground, px, or the GLAFT metric), ``chips/s`` (pre-filter included;
median of ``--repeat`` runs).

Run: ``python benchmarks/bench_robustness.py [--quick] [--only synthetic,demo,perito,s2-stable,s1-seaice]
[--variant name:key=value,key=value ...]``. Needs the ``bench`` extra (OpenCV). Real fixtures are read from
``../shared/fixtures/real`` (or ``$ICETRACK_FIXTURES/real``) and skipped when absent.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from tracking import track_arrays
from tracking.kernels import chip_grid
from tracking.params import TrackingParameters
from tracking.preprocess import gaussian_highpass
from tracking.quality import static_terrain_metric

FIXTURES = Path(
    os.environ.get("ICETRACK_FIXTURES", Path(__file__).resolve().parents[2] / "shared" / "fixtures")
)
REAL = FIXTURES / "real"
STEP = 16
THREADS = 2
GROSS_PX = 2.0
#: Triplets of the mostly cloud-free dates (chosen by looking at the images: 0106, 0108, 0116, 0118, 0121, 0212,
#: 0215, 0301, 0311, 0316 and 0318 are cloudy or hazy over much of the glacier).
PERITO_TRIPLETS = [
    ("20200101", "20200123", "20200131"),
    ("20200123", "20200131", "20200207"),
    ("20200131", "20200210", "20200222"),
    ("20200207", "20200210", "20200220"),
    ("20200210", "20200220", "20200222"),
    ("20200220", "20200222", "20200227"),
]
DEMO_PAIRS = ["2015-05-01", "2018-05-01", "2023-05-01"]

Tracker = Callable[[np.ndarray, np.ndarray, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


# --- trackers -----------------------------------------------------------------------------------------------------


def parabolic(minus: float, centre: float, plus: float) -> float:
    curvature = minus - 2 * centre + plus
    return 0.5 * (minus - plus) / curvature if curvature < 0 else 0.0


def oversampled(surface: np.ndarray, i: int, j: int, factor: int = 16) -> tuple[float, float] | None:
    """Peak of the 5 x 5 surface around (i, j) resampled bicubically 1/factor px apart; None near the edge."""
    import cv2

    if i < 2 or j < 2 or i > surface.shape[0] - 3 or j > surface.shape[1] - 3:
        return None
    patch = np.ascontiguousarray(surface[i - 2 : i + 3, j - 2 : j + 3], np.float32)
    size = 4 * factor + 1
    fine = cv2.resize(patch, (size, size), interpolation=cv2.INTER_CUBIC)
    # cv2.resize maps pixel centres: output u -> input (u + 0.5) * 5 / size - 0.5
    a, b = np.unravel_index(np.argmax(fine), fine.shape)
    scale = 5 / size
    return (a + 0.5) * scale - 0.5 - 2, (b + 0.5) * scale - 0.5 - 2


def opencv_tracker(highpass: bool, factor: int = 1) -> Tracker:
    """An OpenCV ``matchTemplate`` loop over THREADS threads; returns (dx, dy, found) on icetrack's node grid."""

    def run(reference: np.ndarray, secondary: np.ndarray, chip: int, search: int):
        import cv2

        cv2.setNumThreads(1)
        if highpass:
            reference, secondary = gaussian_highpass(reference, 3.0), gaussian_highpass(secondary, 3.0)
        ref = np.nan_to_num(reference, nan=0.0).astype(np.float32)
        sec = np.nan_to_num(secondary, nan=0.0).astype(np.float32)
        tops, lefts = chip_grid(ref.shape, chip, STEP)
        rows, cols = ref.shape

        def one_row(top: int) -> list[tuple[float, float]]:
            out = []
            for left in lefts:
                t0, l0 = top - search, left - search
                if t0 < 0 or l0 < 0 or t0 + chip + 2 * search > rows or l0 + chip + 2 * search > cols:
                    out.append((np.nan, np.nan))
                    continue
                template = ref[top : top + chip, left : left + chip]
                surface = cv2.matchTemplate(
                    sec[t0 : t0 + chip + 2 * search, l0 : l0 + chip + 2 * search],
                    template,
                    cv2.TM_CCOEFF_NORMED,
                )
                if not np.isfinite(surface).all() or template.std() == 0:
                    out.append((np.nan, np.nan))
                    continue
                i, j = np.unravel_index(np.argmax(surface), surface.shape)
                if i == 0 or j == 0 or i == surface.shape[0] - 1 or j == surface.shape[1] - 1:
                    out.append((np.nan, np.nan))
                    continue
                fine = oversampled(surface, i, j, factor) if factor > 1 else None
                if fine is None:
                    fine = (
                        parabolic(surface[i - 1, j], surface[i, j], surface[i + 1, j]),
                        parabolic(surface[i, j - 1], surface[i, j], surface[i, j + 1]),
                    )
                out.append((j + fine[1] - search, i + fine[0] - search))
            return out

        with ThreadPoolExecutor(THREADS) as pool:
            result = np.array(list(pool.map(one_row, tops)), dtype=np.float64)
        dx, dy = result[..., 0], result[..., 1]
        return dx, dy, np.isfinite(dx)

    return run


def icetrack_tracker(**overrides) -> Tracker:
    def run(reference: np.ndarray, secondary: np.ndarray, chip: int, search: int):
        field = track_arrays(
            reference, secondary, chip_size=chip, search_range=search, step=STEP, **overrides
        )
        return field.dx.values.astype(np.float64), field.dy.values.astype(np.float64), field.valid.values

    return run


PEERS = {
    "opencv": opencv_tracker(highpass=False),
    "opencv+hp": opencv_tracker(highpass=True),
    "opencv+hp x16": opencv_tracker(highpass=True, factor=16),
}


def trackers(variants: list[str], peers: list[str]) -> dict[str, Tracker]:
    found = {"icetrack": icetrack_tracker()}
    for text in variants:
        name, _, settings = text.partition(":")
        overrides = {}
        for item in filter(None, settings.split(",")):
            key, _, value = item.partition("=")
            kind = type(TrackingParameters.param[key].default)
            overrides[key] = value if kind in (str, type(None)) else kind(value)
        found[name] = icetrack_tracker(**overrides)
    found.update({name: PEERS[name] for name in peers})
    return found


def timed(tracker: Tracker, repeat: int, *args) -> tuple[float, tuple]:
    """Median seconds over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = tracker(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def inner(shape: tuple[int, int], chip: int, search: int) -> np.ndarray:
    """Nodes whose whole search area lies in the image (the chips every tracker is scored on)."""
    tops, lefts = chip_grid(shape, chip, STEP)
    ok_t = (tops >= search) & (tops + chip + search <= shape[0])
    ok_l = (lefts >= search) & (lefts + chip + search <= shape[1])
    return ok_t[:, None] & ok_l[None, :]


def node_centres(shape: tuple[int, int], chip: int) -> tuple[np.ndarray, np.ndarray]:
    tops, lefts = chip_grid(shape, chip, STEP)
    centre = (chip - 1) / 2
    return np.meshgrid(tops + centre, lefts + centre, indexing="ij")


def nmad(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) if values.size else float("nan")


# --- synthetic matrix ---------------------------------------------------------------------------------------------


@dataclass
class Case:
    """A synthetic pair with its exact motion and the nodes to score."""

    name: str
    reference: np.ndarray
    secondary: np.ndarray
    flow: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    textured: np.ndarray  # pixels with usable texture on both dates

    def truth(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Displacement of the feature at reference (rows, cols): fixed point of p = x0 + D(p)."""
        land_r, land_c = rows.astype(np.float64), cols.astype(np.float64)
        for _ in range(12):
            dx, dy = self.flow(land_r, land_c)
            land_r, land_c = rows + dy, cols + dx
        return land_c - cols, land_r - rows


def texture(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Band-limited multi-scale random texture, unit variance (crevasses to ogives)."""
    out = np.zeros(shape, np.float64)
    for sigma, weight in ((1.0, 1.0), (2.5, 0.9), (6.0, 0.7), (15.0, 0.5)):
        layer = ndimage.gaussian_filter(rng.standard_normal(shape), sigma)
        out += weight * layer / layer.std()
    return out / out.std()


def channel_flow(shape: tuple[int, int], peak: float, shear: float = 1.0, strain: float = 0.4):
    """An eastward channel, still outside, fast in the middle; ``shear`` sharpens its margins, ``strain`` stretches."""
    height, width = shape

    def flow(rows: np.ndarray, cols: np.ndarray):
        across = (rows - 0.5 * height) / (0.32 * height)
        power = 2 + 6 * shear
        profile = np.clip(1.0 - np.abs(across) ** power, 0.0, None)
        along = (1 - strain) + strain * cols / width
        dx = peak * profile * along
        dy = 0.15 * peak * profile * np.sin(2 * np.pi * cols / width)
        return dx, dy

    return flow


def make_case(name: str, seed: int, size: int = 1024, search: int = 20) -> Case:
    """One case of the synthetic matrix (see CASE_NAMES)."""
    rng = np.random.default_rng(seed)
    shape = (size, size)
    snr, gain, offset, peak, shear, strain = 5.0, 1.0, 0.0, 12.0, 1.0, 0.4
    if name.startswith("snr"):
        snr = float(name[3:])
    elif name == "held-out":  # the unseen synthetic pair: SNR 3.5, gain 1.2
        snr, gain = 3.5, 1.2
    elif name == "gain-offset":
        gain, offset = 1.8, 0.7
    elif name == "shear":
        shear = 3.0
    elif name == "strain":
        strain = 0.9
        peak = 16.0
    elif name == "large":
        peak = 0.9 * search
    flow = channel_flow(shape, peak, shear, strain)
    margin = int(np.ceil(peak)) + 16
    big = texture((size + 2 * margin, size + 2 * margin), rng)
    textured = np.ones(shape, bool)
    amplitude = np.ones_like(big)
    if name == "low-texture":  # patches where the texture is 10x weaker (fresh snow)
        blobs = ndimage.gaussian_filter(rng.standard_normal(big.shape), 40) > 0.35 * 0.006
        amplitude[blobs] = 0.1
    big *= amplitude
    coefficients = ndimage.spline_filter(big, order=3)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    dx, dy = flow(rows, cols)
    secondary = ndimage.map_coordinates(
        coefficients, [rows - dy + margin, cols - dx + margin], order=3, prefilter=False
    )
    reference = big[margin : margin + size, margin : margin + size].copy()
    if name == "low-texture":
        weak = amplitude[margin : margin + size, margin : margin + size] < 1
        textured &= ~weak
    sigma = 1.0 / snr
    reference = reference + sigma * rng.standard_normal(shape)
    secondary = gain * (secondary + sigma * rng.standard_normal(shape)) + offset
    if name == "gain-offset":  # plus a smooth illumination change across the scene
        secondary = secondary * (0.6 + 0.8 * cols / size) + 0.5 * rows / size
    reference, secondary = reference.astype(np.float32), secondary.astype(np.float32)
    if name == "clouds":
        for image in (reference, secondary):
            cloud = ndimage.gaussian_filter(rng.standard_normal(shape), 30) > 0.006
            image[cloud] = np.nan
            textured &= ~cloud
    if name == "quant8":  # 8-bit, with the texture spanning only ~40 levels (dark, low-contrast scene)
        reference, secondary = (
            np.round(np.clip(40 + 8 * x, 0, 255)).astype(np.float32) for x in (reference, secondary)
        )
    if name == "jpeg":
        reference, secondary = (jpeg(x, quality=30) for x in (reference, secondary))
    return Case(name, reference, secondary, flow, textured)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` stretched to 8 bits, JPEG-compressed at ``quality`` and decoded (8 x 8 blocking)."""
    from PIL import Image

    low, high = np.nanpercentile(image, [0.5, 99.5])
    scaled = np.clip((image - low) / (high - low) * 255, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(scaled).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer), dtype=np.float32)


CASE_NAMES = [
    "snr10",
    "snr5",
    "snr3",
    "snr2",
    "held-out",
    "gain-offset",
    "shear",
    "strain",
    "large",
    "low-texture",
    "clouds",
    "quant8",
    "jpeg",
]


def score_synthetic(case: Case, chip: int, search: int, results: dict, ours: set[str]) -> dict[str, dict]:
    shape = case.reference.shape
    rows, cols = node_centres(shape, chip)
    true_dx, true_dy = case.truth(rows, cols)
    use = inner(shape, chip, search)
    tops, lefts = chip_grid(shape, chip, STEP)
    middle = np.ix_(tops + chip // 2, lefts + chip // 2)
    textured = use & ndimage.minimum_filter(case.textured, size=chip, mode="constant", cval=False)[middle]
    moving = textured & (np.hypot(true_dx, true_dy) > 0.5)
    still = use & (np.hypot(true_dx, true_dy) < 0.01) & textured
    errors = {name: np.hypot(dx - true_dx, dy - true_dy) for name, (_, (dx, dy, _)) in results.items()}
    ours_valid = results["icetrack"][1][2]
    ours_ok = textured & ours_valid & (errors["icetrack"] < GROSS_PX)
    scores = {}
    for name, (seconds, (dx, dy, valid)) in results.items():
        err = errors[name]
        # RMSE on the nodes where this tracker and icetrack are both valid and neither is grossly off;
        # icetrack's own row on those it shares with the raw OpenCV loop (parabolic peak)
        peer = "opencv" if name == "icetrack" else name
        common = ours_ok & results[peer][1][2] & (errors[peer] < GROSS_PX)
        scores[name] = {
            "correct": 100 * (valid & (err <= 1.0))[moving].mean(),
            "valid": 100 * valid[textured].mean(),
            "rmse": float(np.sqrt(np.mean(err[common] ** 2))) if common.any() else np.nan,
            "gross": 100 * (err[valid & use] > GROSS_PX).mean() if (valid & use).any() else np.nan,
            "noise": max(nmad(dx[still & valid]), nmad(dy[still & valid])),
            "rate": (use.size if name in ours else use.sum()) / seconds,
        }
    return scores


# --- real fixtures ------------------------------------------------------------------------------------------------


def load_perito(date: str) -> np.ndarray:
    from PIL import Image

    rgb = np.asarray(Image.open(REAL / "giv-perito-moreno-s2" / f"{date}.jpg"), dtype=np.float32)
    grey = rgb.mean(axis=2)
    grey[rgb.sum(axis=2) < 15] = np.nan  # black outside the image footprint
    return grey


def perito_mask() -> np.ndarray:
    from PIL import Image

    mask = np.asarray(Image.open(REAL / "giv-perito-moreno-s2" / "mask.jpg"))
    return (mask[..., 0] if mask.ndim == 3 else mask) > 128


def chip_share(mask: np.ndarray, chip: int) -> np.ndarray:
    """Share of each node's chip where ``mask`` holds."""
    from tracking.kernels.ncc import data_share

    tops, lefts = chip_grid(mask.shape, chip, STEP)
    grid_t, grid_l = np.meshgrid(tops, lefts, indexing="ij")
    return data_share(mask, grid_t.ravel(), grid_l.ravel(), chip).reshape(grid_t.shape)


def at_nodes(image: np.ndarray, chip: int) -> np.ndarray:
    tops, lefts = chip_grid(image.shape, chip, STEP)
    return image[np.ix_(tops + (chip - 1) // 2, lefts + (chip - 1) // 2)]


def closure(first: tuple, second: tuple, long: tuple, chip: int) -> np.ndarray:
    """|d13(x) - d12(x) - d23(x + d12(x))| at each node, px; NaN where any vector is missing."""
    dx12, dy12, v12 = first
    dx23, dy23, v23 = second
    dx13, dy13, v13 = long
    step_rows = np.arange(dx12.shape[0], dtype=np.float64)[:, None] + dy12 / STEP
    step_cols = np.arange(dx12.shape[1], dtype=np.float64)[None, :] + dx12 / STEP

    def sample(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Bilinear interpolation over the valid nodes only (NaN where none of the four is valid)."""
        coords = [np.nan_to_num(step_rows, nan=-10), np.nan_to_num(step_cols, nan=-10)]
        ok = valid & np.isfinite(values)
        total = ndimage.map_coordinates(np.where(ok, values, 0.0), coords, order=1, mode="constant", cval=0.0)
        weight = ndimage.map_coordinates(ok.astype(np.float64), coords, order=1, mode="constant", cval=0.0)
        return np.where(weight > 1e-6, total / np.where(weight > 1e-6, weight, 1.0), np.nan)

    ex = dx13 - dx12 - sample(dx23, v23)
    ey = dy13 - dy12 - sample(dy23, v23)
    error = np.hypot(ex, ey)
    error[~(v12 & v13)] = np.nan
    return error


def run_perito(track: dict[str, Tracker], chip: int, repeat: int) -> dict[str, dict]:
    search = 20
    mask = perito_mask()
    per: dict[str, dict[str, list]] = {
        name: {
            "correct": [],
            "valid": [],
            "closure": [],
            "noise": [],
            "edge noise": [],
            "stable nodes": [],
            "rate": [],
        }
        for name in track
    }
    for dates in PERITO_TRIPLETS:
        images = {d: load_perito(d) for d in dates}
        shape = images[dates[0]].shape
        use = inner(shape, chip, search)
        data = np.isfinite(at_nodes(images[dates[0]], chip))
        ice = use & data & at_nodes(mask, chip)
        margin = use & data & ~at_nodes(mask, chip)
        # stable ground proper: chips wholly on data (a chip that touches the black surround locks onto the
        # footprint's edge, which is the same on every date) and at least 80% off the glacier mask
        clean = (
            margin & (chip_share(np.isfinite(images[dates[0]]), chip) == 1) & (chip_share(~mask, chip) >= 0.8)
        )
        for name, tracker in track.items():
            fields, seconds = {}, []
            for a, b in ((0, 1), (1, 2), (0, 2)):
                t, fields[a, b] = timed(
                    tracker,
                    repeat if (a, b) == (0, 2) else 1,
                    images[dates[a]],
                    images[dates[b]],
                    chip,
                    search,
                )
                seconds.append(t)
            error = closure(fields[0, 1], fields[1, 2], fields[0, 2], chip)
            dx, dy, valid = fields[0, 2]
            scores = per[name]
            scores["correct"].append(100 * np.mean((error < 1.0)[ice]))
            scores["valid"].append(100 * valid[ice].mean())
            scores["closure"].append(error[ice])
            scores["noise"].append(max(nmad(dx[clean & valid]), nmad(dy[clean & valid])))
            scores["edge noise"].append(max(nmad(dx[margin & valid]), nmad(dy[margin & valid])))
            scores["stable nodes"].append(int((clean & valid).sum()))
            scores["rate"].append(use.sum() / seconds[2])
    out = {}
    for name, scores in per.items():
        errors = np.concatenate(scores["closure"])
        errors = errors[np.isfinite(errors)]
        out[name] = {
            "correct": float(np.mean(scores["correct"])),
            "valid": float(np.mean(scores["valid"])),
            "closure": (float(np.median(errors)), float(np.percentile(errors, 90))),
            "noise": (float(np.median(scores["noise"])), float(np.median(scores["edge noise"]))),
            "stable": float(np.sum(scores["stable nodes"])),
            "rate": float(np.median(scores["rate"])),
        }
    return out


def load_s2_stable() -> tuple[np.ndarray, np.ndarray]:
    """The 05-29 image on the 06-08 grid (reference) and the 06-08 image, cloud-free window; 0 -> NaN."""
    import bench_real

    return bench_real.load_arosics()


def run_s2_stable(track: dict[str, Tracker], chip: int, repeat: int) -> dict[str, dict]:
    search = 20
    reference, secondary = load_s2_stable()
    shift = (-0.5, 1.65)
    use = inner(reference.shape, chip, search) & np.isfinite(at_nodes(reference, chip))
    out = {}
    for name, tracker in track.items():
        seconds, (dx, dy, valid) = timed(tracker, repeat, reference, secondary, chip, search)
        off = np.hypot(dx - shift[0], dy - shift[1])
        ok = valid & use
        metric = (
            static_terrain_metric(dx[ok], dy[ok])
            if ok.sum() > 10
            else {"metric_x": np.nan, "metric_y": np.nan}
        )
        out[name] = {
            "correct": 100 * (ok & (off <= 1.0))[use].mean(),
            "valid": 100 * ok[use].mean(),
            "gross": 100 * (off[ok] > GROSS_PX).mean(),
            "noise": (metric["metric_x"] + metric["metric_y"]) / 2,
            "rate": use.sum() / seconds,
        }
    return out


def run_seaice(track: dict[str, Tracker], chip: int, repeat: int, consensus: dict) -> dict[str, dict]:
    import rasterio

    search = 64
    images = []
    for path in sorted((REAL / "seaice-s1-ew").glob("*.tif")):
        with rasterio.open(path) as src:
            images.append(src.read(1).astype(np.float32))
    if "field" not in consensus:  # OpenCV + high-pass at chip 64, 7 x 7-node median: the reference drift
        dx, dy, found = opencv_tracker(highpass=True)(images[0], images[1], 64, search)
        with warnings.catch_warnings():  # windows off the image are all NaN: their median is NaN, as meant
            warnings.simplefilter("ignore", RuntimeWarning)
            consensus["field"] = tuple(
                ndimage.generic_filter(
                    np.where(found, v, np.nan), np.nanmedian, size=7, mode="constant", cval=np.nan
                )
                for v in (dx, dy)
            )
        consensus["rows"], consensus["cols"] = node_centres(images[0].shape, 64)
    ref_dx, ref_dy = consensus["field"]
    rows, cols = node_centres(images[0].shape, chip)
    coords = [(rows - consensus["rows"][0, 0]) / STEP, (cols - consensus["cols"][0, 0]) / STEP]
    truth_dx = ndimage.map_coordinates(ref_dx, coords, order=1, mode="constant", cval=np.nan)
    truth_dy = ndimage.map_coordinates(ref_dy, coords, order=1, mode="constant", cval=np.nan)
    use = inner(images[0].shape, chip, search) & np.isfinite(truth_dx)
    out = {}
    for name, tracker in track.items():
        seconds, (dx, dy, valid) = timed(tracker, repeat, images[0], images[1], chip, search)
        err = np.hypot(dx - truth_dx, dy - truth_dy)
        ok = valid & use
        out[name] = {
            "correct": 100 * (ok & (err <= 1.5))[use].mean(),
            "valid": 100 * ok[use].mean(),
            "rmse": float(np.median(err[ok])),
            "gross": 100 * (err[ok] > 3.0).mean(),
            "rate": use.sum() / seconds,
        }
    return out


def run_demo(track: dict[str, Tracker], chip: int, repeat: int) -> dict[str, dict]:
    from tracking.scenes import Pair
    from tracking.sources import demo

    search = 40
    per: dict[str, dict[str, list]] = {
        name: {"correct": [], "valid": [], "rel": [], "rate": []} for name in track
    }
    for t0 in DEMO_PAIRS:
        reference, secondary = demo.demo_pair(t0, dt_days=16, band="red")
        pair = Pair.from_scenes(reference, secondary)
        a, b = pair.reference.values, pair.secondary.values
        tops, lefts = chip_grid(a.shape, chip, STEP)
        centre = (chip - 1) / 2
        transform = pair.transform
        xs = transform.c + transform.a * (lefts + centre + 0.5)
        ys = transform.f + transform.e * (tops + centre + 0.5)
        truth = demo.true_velocity_field(reference, secondary, x=xs, y=ys)
        v_true = truth.v.values
        seen = np.isfinite(at_nodes(a, chip)) & np.isfinite(at_nodes(b, chip))
        fast = inner(a.shape, chip, search) & seen & (v_true > 3000)
        years = pair.dt_days / 365.25
        for name, tracker in track.items():
            seconds, (dx, dy, valid) = timed(tracker, repeat, a, b, chip, search)
            speed = np.hypot(dx * transform.a, dy * transform.e) / years
            with np.errstate(divide="ignore", invalid="ignore"):  # still ice: v_true 0, never on fast ice
                rel = np.abs(speed - v_true) / v_true
            per[name]["correct"].append(100 * (valid & (rel <= 0.05))[fast].mean())
            per[name]["valid"].append(100 * valid[fast].mean())
            per[name]["rel"].append(
                100 * float(np.median(rel[fast & valid])) if (fast & valid).any() else np.nan
            )
            per[name]["rate"].append(inner(a.shape, chip, search).sum() / seconds)
    return {
        name: {
            "correct": p["correct"],
            "valid": p["valid"],
            "rel": p["rel"],
            "rate": float(np.median(p["rate"])),
        }
        for name, p in per.items()
    }


# --- report -------------------------------------------------------------------------------------------------------


def fmt(value, digits: int = 1) -> str:
    if isinstance(value, tuple):
        return " / ".join(fmt(v, digits) for v in value)
    if isinstance(value, list):
        return " / ".join(fmt(v, digits) for v in value)
    return (
        "—"
        if value is None or (isinstance(value, float) and not np.isfinite(value))
        else f"{value:.{digits}f}"
    )


def table(title: str, columns: list[tuple[str, str, int]], rows: list[tuple[str, dict]]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(["case", "tracker", *(c[0] for c in columns)]) + " |")
    print("|" + "---|" * (len(columns) + 2))
    for label, scores in rows:
        for name, s in scores.items():
            cells = [fmt(s.get(key), digits) for _, key, digits in columns]
            print(f"| {label} | {name} | " + " | ".join(cells) + " |")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="synthetic,demo,perito,s2-stable,s1-seaice")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement (median)")
    parser.add_argument("--chips", default="32,64")
    parser.add_argument("--cases", default=",".join(CASE_NAMES))
    parser.add_argument("--quick", action="store_true", help="one seed, 768 px, one timed run")
    parser.add_argument("--peers", default=",".join(PEERS), help="the OpenCV loops to run (opencv is needed)")
    parser.add_argument(
        "--no-compile", dest="compile", action="store_false", help="skip the compile-time runs"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="another icetrack configuration, 'name:key=value,key=value'",
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.size, args.repeat = 1, 768, 1
    wanted = args.only.split(",")
    chips = [int(c) for c in args.chips.split(",")]
    track = trackers(args.variant, args.peers.split(","))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_real

    print(f"{bench_real.machine_facts()}, {time.strftime('%Y-%m-%d')}")
    if args.compile:
        import bench_kernel

        cold, warm = bench_kernel.compile_seconds()
        print(
            f"compile: first call {cold:.1f} s with an empty Numba cache, {warm:.2f} s with the cache filled "
            "(not in the rates below)"
        )
    icetrack_tracker()(*make_case("snr5", 0, 256, 8).reference[None].repeat(2, 0), 32, 8)  # compile first
    summary: dict[str, dict[str, list]] = {}
    if "synthetic" in wanted:
        for chip in chips:
            rows = []
            for case_name in args.cases.split(","):
                per_seed = []
                for seed in range(args.seeds):
                    case = make_case(case_name, seed, args.size)
                    results = {
                        name: timed(t, args.repeat, case.reference, case.secondary, chip, 20)
                        for name, t in track.items()
                    }
                    per_seed.append(score_synthetic(case, chip, 20, results, set(track) - set(PEERS)))
                merged = {
                    name: {k: float(np.nanmedian([s[name][k] for s in per_seed])) for k in per_seed[0][name]}
                    for name in track
                }
                rows.append((case_name, merged))
                for name, s in merged.items():
                    summary.setdefault(f"{name} {chip}", {}).setdefault("rate", []).append(s["rate"])
            table(
                f"Synthetic matrix, chip {chip}, search 20, step 16, {args.size} px, median of {args.seeds} seeds",
                [
                    ("correct % (moving, <= 1 px)", "correct", 1),
                    ("valid % (textured)", "valid", 1),
                    ("RMSE px (nodes shared with icetrack)", "rmse", 3),
                    ("gross % of valid", "gross", 2),
                    ("stable NMAD px", "noise", 3),
                    ("chips/s", "rate", 0),
                ],
                rows,
            )
        print(
            "\nchips/s over the matrix (median, 25th-75th percentile), and the ratio of medians to the raw OpenCV loop:"
        )
        for chip in chips:
            base = np.median(summary[f"opencv {chip}"]["rate"])
            for name in track:
                rates = summary[f"{name} {chip}"]["rate"]
                q1, q3 = np.percentile(rates, [25, 75])
                print(
                    f"- chip {chip}, {name}: {np.median(rates):,.0f} ({q1:,.0f}-{q3:,.0f}), "
                    f"{np.median(rates) / base:.2f}x"
                )
    have = REAL.is_dir()
    if "demo" in wanted:
        rows = [(f"demo 16 d, chip {chip}", run_demo(track, chip, 1)) for chip in chips]
        table(
            f"Demo glacier, 16-day pairs {', '.join(DEMO_PAIRS)}, search 40, fast ice (> 3000 m/yr)",
            [
                ("correct % (within 5%)", "correct", 1),
                ("valid %", "valid", 1),
                ("median speed error % of valid", "rel", 2),
                ("chips/s", "rate", 0),
            ],
            rows,
        )
    if "perito" in wanted and have:
        rows = [(f"perito chip {chip}", run_perito(track, chip, args.repeat)) for chip in chips]
        table(
            "Perito Moreno, 6 triplets, search 20: glacier mask",
            [
                ("closure-consistent % (< 1 px)", "correct", 1),
                ("valid % (t1-t3)", "valid", 1),
                ("closure median / p90 px", "closure", 3),
                ("stable NMAD px: clean margin / all margin nodes", "noise", 3),
                ("clean nodes", "stable", 0),
                ("chips/s", "rate", 0),
            ],
            rows,
        )
    if "s2-stable" in wanted and have:
        rows = [(f"s2 stable chip {chip}", run_s2_stable(track, chip, args.repeat)) for chip in chips]
        table(
            "Sentinel-2 stable pair, search 20",
            [
                ("correct % (within 1 px of the shift)", "correct", 1),
                ("valid %", "valid", 1),
                ("gross % of valid", "gross", 2),
                ("GLAFT metric px", "noise", 3),
                ("chips/s", "rate", 0),
            ],
            rows,
        )
    if "s1-seaice" in wanted and have:
        consensus: dict = {}
        rows = [
            (f"s1 sea ice chip {chip}", run_seaice(track, chip, args.repeat, consensus)) for chip in chips
        ]
        table(
            "Sentinel-1 sea ice, search 64",
            [
                ("agreeing % (<= 1.5 px of consensus)", "correct", 1),
                ("valid %", "valid", 1),
                ("median diff px", "rmse", 3),
                ("gross % (> 3 px)", "gross", 2),
                ("chips/s", "rate", 0),
            ],
            rows,
        )
    if not have:
        print(f"\nreal fixtures skipped: {REAL} is absent")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
