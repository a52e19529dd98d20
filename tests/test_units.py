"""planner.units: parsing quantities with units at the edge, formatting them for display."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.units import format_bytes, parse_bytes, parse_count, parse_rate


@pytest.mark.parametrize("text, expected", [
    ("141 GB", 141e9),          # decimal: H200 HBM as NVIDIA quotes it
    ("80 GiB", 80 * 2**30),     # binary, never confused with GB
    ("1.5 kB", 1500),
    (4096, 4096),               # bare numbers are bytes
])
def test_parse_bytes(text, expected):
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("128k", 128_000),
    ("1M", 1_000_000),          # decimal: "1M" is not 2**20
    ("1Mi", 2**20),
    ("14.8T", 14.8e12),         # DeepSeek-V3 pre-training tokens
    ("4096", 4096),
    (1048576, 1048576),
])
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("4.8 TB/s", 4.8e12),       # bytes per second
    ("400 Gb/s", 50e9),         # lower-case b: bits, a 400G NIC moves 50 GB/s
    ("2 PFLOP/s", 2e15),
])
def test_parse_rate(text, expected):
    assert parse_rate(text) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text", ["abc", "", "-1 GB", "GB", "1 XB"])
def test_parse_bytes_rejects(text):
    with pytest.raises(ValueError):
        parse_bytes(text)


@pytest.mark.parametrize("text", ["abc", "", "-1", "1x", "0.5", "1.1", True])
def test_parse_count_rejects(text):
    with pytest.raises(ValueError):
        parse_count(text)


@pytest.mark.parametrize("text", ["abc", "4.8 TB", "fast", ""])
def test_parse_rate_rejects(text):
    with pytest.raises(ValueError):
        parse_rate(text)


def test_format_bytes_is_decimal():
    assert format_bytes(5.28e9) == "5.28 GB"     # never GiB
    assert format_bytes(999) == "999 B"


@settings(max_examples=50, deadline=None)
@given(x=st.integers(min_value=0, max_value=10**18))
def test_format_bytes_parses_back(x):
    # 4 significant digits: the round trip is within 0.05% (tolerance 0.1%)
    assert parse_bytes(format_bytes(x)) == pytest.approx(x, rel=1e-3, abs=0.5)


def test_format_bytes_parses_back_above_1e19():
    x = 1.2345e19
    assert parse_bytes(format_bytes(x)) == pytest.approx(x, rel=1e-3)
