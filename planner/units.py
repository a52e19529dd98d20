"""Parse and format quantities with units. Everything inside the library is in base units:
bytes, FLOP, seconds, bytes/s, FLOP/s, watts, tokens.

Capacities: decimal (GB = 1e9) and binary (GiB = 2**30) are both accepted and never confused;
pydantic's ByteSize does the byte parsing. Rates are decimal. Token counts accept k/M/B/T
suffixes with decimal meaning ("128k" = 128,000) except where the caller asks for binary
context sizes ("1M" context = 2**20 is *not* assumed: write 1048576 or "1Mi").
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import ByteSize, TypeAdapter, ValidationError

_BYTES = TypeAdapter(ByteSize)


def finite(x: float | None) -> float | None:
    """x, or None when it is missing, infinite or NaN (an unbounded capacity, a ratio over zero)."""
    return x if x is not None and math.isfinite(x) else None


def finite_tree(value: Any) -> Any:
    """A JSON-like tree with every non-finite float replaced by None (JSON and TOML have no inf)."""
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, dict):
        return {k: finite_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_tree(v) for v in value]
    return value
_COUNT_SUFFIX = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12,
                 "ki": 2**10, "mi": 2**20, "gi": 2**30}
_NUMBER = r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)"
_COUNT_RE = re.compile(rf"^\s*{_NUMBER}\s*([a-z]*)\s*$", re.IGNORECASE)
_RATE_RE = re.compile(rf"^\s*{_NUMBER}\s*([kmgtp]?)(b|bit|flop|flops)?\s*/\s*s\s*$", re.IGNORECASE)
_SI = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}


def flat_record(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested result as one flat row: nested keys joined by dots, lists kept as they are
    (pandas.DataFrame([flat_record(d)]) takes it directly)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict):
            out.update(flat_record(item, name))
        else:
            out[name] = item
    return out


def parse_bytes(text: str | int | float) -> int:
    """'141 GB' -> 141_000_000_000; '80 GiB' -> 85_899_345_920; numbers are bytes."""
    if isinstance(text, (int, float)):
        if text < 0 or not math.isfinite(text):
            raise ValueError(f"byte count must be a finite non-negative number, got {text}")
        return int(text)
    try:
        return int(_BYTES.validate_python(text.strip()))
    except ValidationError:
        raise ValueError(f"not a byte size: {text!r} (try '141 GB' or '80 GiB')") from None


def parse_count(text: str | int | float) -> int:
    """Token and GPU counts: '128k' -> 128_000, '1M' -> 1_000_000, '1Mi' -> 1_048_576, '14.8T'."""
    if isinstance(text, bool):
        raise ValueError("expected a count, got a boolean")
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = _COUNT_RE.match(text)
        if not match or match.group(2).lower() not in _COUNT_SUFFIX:
            raise ValueError(f"not a count: {text!r} (try 4096, '128k', '1M' or '1Mi')")
        value = float(match.group(1)) * _COUNT_SUFFIX[match.group(2).lower()]
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"count must be finite and non-negative, got {text!r}")
    if value != int(value):
        raise ValueError(f"count must be a whole number, got {text!r}")
    return int(value)


def parse_rate(text: str | int | float) -> float:
    """Bandwidth or FLOP rate: '4.8 TB/s' -> 4.8e12 bytes/s, '400 Gb/s' -> 5e10 bytes/s,
    '2.25 PFLOP/s' -> 2.25e15 FLOP/s. Bare numbers are taken as base units."""
    if isinstance(text, (int, float)):
        return float(text)
    match = _RATE_RE.match(text)
    if not match:
        raise ValueError(f"not a rate: {text!r} (try '4.8 TB/s', '400 Gb/s' or '2 PFLOP/s')")
    value = float(match.group(1)) * _SI[match.group(2).lower()]
    unit = match.group(3) or ""
    if unit == "b" or unit.lower() == "bit":  # lower-case b: bits
        value /= 8
    return value


def _scaled(value: float, steps: tuple[tuple[float, str], ...], unit: str, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if abs(value) >= steps[0][0] * 1000:   # beyond the largest prefix: plain scientific notation
        return f"{value:.{digits}e} {unit}"
    for scale, prefix in steps:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


_DECIMAL = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def format_bytes(value: float, digits: int = 4) -> str:
    """Decimal units, always: '5.28 GB' means 5.28e9 bytes (never GiB)."""
    return _scaled(value, _DECIMAL, "B", digits)


def format_gib(value: float, digits: int = 4) -> str:
    return f"{value / 2**30:.{digits}g} GiB"


def format_rate(value: float, digits: int = 4) -> str:
    return _scaled(value, _DECIMAL, "B/s", digits)


def format_flops(value: float, digits: int = 4) -> str:
    return _scaled(value, _DECIMAL, "FLOP/s", digits)


def format_flop(value: float, digits: int = 4) -> str:
    return _scaled(value, _DECIMAL, "FLOP", digits)


def format_count(value: float, digits: int = 4) -> str:
    return _scaled(value, ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")), "", digits).strip()


def format_seconds(value: float, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value >= 86400 * 2:
        return f"{value / 86400:.{digits}g} days"
    if value >= 3600:
        return f"{value / 3600:.{digits}g} h"
    if value >= 1:
        return f"{value:.{digits}g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.{digits}g} ms"
    return f"{value * 1e6:.{digits}g} µs"
