"""Tests of tracking.params: parameter values to text and back (command line, URL, field attrs)."""

from __future__ import annotations

import pytest

from tracking.exceptions import ParameterError
from tracking.params import TrackingParameters, value_text


def test_text_round_trip():
    params = TrackingParameters.from_overrides(
        kernel="oc", step=24, prefilter="wallis", max_speed=None, fill_holes=False
    )
    texts = params.to_text()
    assert texts["step"] == "24" and texts["max_speed"] == "none" and texts["fill_holes"] == "false"
    assert texts["prefilter_size"] == "5.0" and texts["kernel"] == "oc"
    assert TrackingParameters.from_text(texts).to_dict() == params.to_dict()
    assert params.to_text(changed_only=True) == {
        "kernel": "oc",
        "step": "24",
        "prefilter": "wallis",
        "prefilter_size": "5.0",
        "fill_holes": "false",
    }


def test_parse_text_reads_what_people_write():
    parse = TrackingParameters.parse_text
    assert parse("max_speed", "None") is None and parse("max_speed", "off") is None
    assert parse("max_speed", "9000") == 9000.0 and parse("chip_size", "64") == 64
    assert parse("fill_holes", "True") is True and parse("fill_holes", "0") is False
    assert value_text(True) == "true" and value_text(None) == "none" and value_text(1.5) == "1.5"
    with pytest.raises(ParameterError, match="chip_size: not an integer: 'big'"):
        parse("chip_size", "big")
    with pytest.raises(ParameterError, match="min_peak: not a number"):
        parse("min_peak", "none")
    with pytest.raises(ParameterError, match="unknown tracking parameter 'speed'"):
        parse("speed", "1")
    with pytest.raises(ParameterError, match="Allowed range"):
        TrackingParameters.from_text({"chip_size": "4"})
