"""Tests of tracking.estimate: chip counts, detectable speeds and the run-time model."""

from __future__ import annotations

import time

import numba
import pytest

from tracking import track_arrays
from tracking.estimate import (
    chip_count,
    estimated_seconds,
    format_duration,
    max_detectable_speed,
    min_useful_dt,
)
from tracking.exceptions import ParameterError
from tracking.params import TrackingParameters
from tracking.testing import synthetic_pair


def test_chip_count_matches_the_kernel_grid():
    params = TrackingParameters(chip_size=32, step=16, search_range=8)
    synth = synthetic_pair((160, 224), max_displacement=3.0, seed=1)
    field = track_arrays(synth.reference, synth.secondary, params)
    assert chip_count((160, 224), params) == field.sizes["row"] * field.sizes["col"] == 9 * 13
    assert chip_count((31, 1000), params) == 0
    assert chip_count((32, 32), params) == 1


def test_speed_and_time_rules():
    assert max_detectable_speed(20, 30.0, 16) == pytest.approx(20 * 30 / 16 * 365.25)
    assert max_detectable_speed(20, 30.0, 32) == pytest.approx(max_detectable_speed(20, 30.0, 16) / 2)
    assert min_useful_dt(30.0, 1000.0) == pytest.approx(2 * 30 / 1000 * 365.25)
    assert min_useful_dt(10.0, 1000.0, pixels=1.0) == pytest.approx(3.6525)
    # consistency: at the minimum useful dt the ice moves exactly `pixels` px
    dt = min_useful_dt(15.0, 2500.0)
    assert max_detectable_speed(2, 15.0, dt) == pytest.approx(2500.0)
    with pytest.raises(ParameterError):
        max_detectable_speed(20, 30.0, 0)
    with pytest.raises(ParameterError):
        min_useful_dt(30.0, 0.0)


def test_estimate_is_monotonic():
    p = TrackingParameters()
    assert estimated_seconds(0, p) == 0
    assert estimated_seconds(1000, p, threads=2) < estimated_seconds(2000, p, threads=2)
    small, large = TrackingParameters(chip_size=16), TrackingParameters(chip_size=64)
    assert estimated_seconds(1000, small, threads=2) < estimated_seconds(1000, large, threads=2)
    near, far = TrackingParameters(search_range=10), TrackingParameters(search_range=40)
    assert estimated_seconds(1000, near, threads=2) < estimated_seconds(1000, far, threads=2)
    one, two, four = (estimated_seconds(1000, p, threads=n) for n in (1, 2, 4))
    assert one > two > four > two / 2  # only the kernel runs in parallel, not the pre-filter
    with pytest.raises(ParameterError):
        estimated_seconds(-1, p)


def test_estimate_within_a_factor_3_of_a_measured_run():
    # One thread, timed by CPU time: a busy machine (other test runs) stretches wall time, not this.
    params = TrackingParameters(chip_size=32, search_range=10, step=16)
    synth = synthetic_pair((512, 512), max_displacement=5.0, seed=2)
    track_arrays(synth.reference[:160, :160], synth.secondary[:160, :160], params)  # warm-up (compilation)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            track_arrays(synth.reference, synth.secondary, params)
            best = min(best, time.process_time() - start)
    finally:
        numba.set_num_threads(threads)
    estimate = estimated_seconds(chip_count((512, 512), params), params, threads=1)
    assert best / 3 < estimate < best * 3


def test_format_duration():
    assert format_duration(0.42) == "0.4 s"
    assert format_duration(12.3) == "12 s"
    assert format_duration(200) == "3 min 20 s"
    assert format_duration(120) == "2 min"
    assert format_duration(59.6) == "1 min"
    assert format_duration(7380) == "2 h 3 min"
    assert format_duration(float("nan")) == "–"


def test_orientation_correlation_is_estimated_slower_than_ncc():
    from tracking.estimate import KERNEL_COST, estimated_seconds
    from tracking.params import TrackingParameters

    ncc = estimated_seconds(10_000, TrackingParameters(), threads=2)
    oc = estimated_seconds(10_000, TrackingParameters(kernel="oc"), threads=2)
    assert oc == pytest.approx(KERNEL_COST["oc"] * ncc)
