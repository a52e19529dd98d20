"""The one numeric-range policy: every number a user can give has a physically meaningful range.

Each kind of quantity has one ceiling, set far beyond any real or announced system (so no honest
what-if is refused) and far below where arithmetic breaks (integer products past a float's range,
a tuple per layer, counts that print with 30 digits). The schemas use the annotated types below,
the CLI's count options use `check_count`, and `planner schema` shows each range (pydantic puts it
in the JSON Schema as minimum/maximum, and `range_text` adds it to the description).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from planner.errors import InputError

# ceilings, by kind of quantity (the smallest, 0 or > 0, is set per field)
MAX_TOKENS = 10**10            # tokens in a context, prompt or output: 10^4 x today's 1M-token contexts
MAX_TRAIN_TOKENS = 10**20      # tokens of a training run (10^7 x DeepSeek-V3's 14.8T; the arithmetic stays finite)
MAX_DIM = 2**24                # a width, head count, rank, vocabulary or expert count of a model
MAX_LAYERS = 10_000            # decoder layers (the largest published models have ~100-200)
MAX_GPUS = 10**8               # GPUs in a cluster, a domain, a layout axis
MAX_BATCH = 10**7              # sequences or tokens per rank or step
MAX_RATE = 1e9                 # requests (or sessions, tokens per user) per second
MAX_SESSIONS = 10**12          # concurrent sessions
MAX_SECONDS = 1e10             # any time span, s (~300 years)
MAX_MS = MAX_SECONDS * 1e3     # a latency target, ms
MAX_US = 1e9                   # a fixed cost, µs
MAX_GB = 1e9                   # a capacity in GB, GiB or TB (an exabyte and beyond)
MAX_BANDWIDTH = 1e9            # a bandwidth in GB/s, Gb/s or TB/s per device
MAX_TFLOPS = 1e9               # a peak in TFLOP/s or TOPS per device (10^21 FLOP/s)
MAX_WATTS = 1e12               # watts (or kW) of one device, node, rack or cluster
MAX_PRICE = 1e6                # dollars per GPU-hour
MAX_DOLLARS = 1e15             # dollars per hour of a whole cluster
MAX_FACTOR = 1e6               # a multiplier or a count of repeats (turns per session, NICs per GPU)
MAX_DAYS = 1e6                 # a time budget in days


# the annotated types the schemas use: name = kind, lower bound (gt 0 or ge 0), ceiling
Tokens = Annotated[int, Field(gt=0, le=MAX_TOKENS)]
Tokens0 = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
Dim = Annotated[int, Field(gt=0, le=MAX_DIM)]
Dim0 = Annotated[int, Field(ge=0, le=MAX_DIM)]
Layers = Annotated[int, Field(gt=0, le=MAX_LAYERS)]
Layers0 = Annotated[int, Field(ge=0, le=MAX_LAYERS)]
Gpus = Annotated[int, Field(gt=0, le=MAX_GPUS)]
Count0 = Annotated[int, Field(ge=0, le=MAX_GPUS)]
Batch = Annotated[int, Field(gt=0, le=MAX_BATCH)]
Rate = Annotated[float, Field(gt=0, le=MAX_RATE)]
Sessions = Annotated[int, Field(gt=0, le=MAX_SESSIONS)]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS)]
Seconds0 = Annotated[float, Field(ge=0, le=MAX_SECONDS)]
Ms = Annotated[float, Field(gt=0, le=MAX_MS)]
Us0 = Annotated[float, Field(ge=0, le=MAX_US)]
GB = Annotated[float, Field(gt=0, le=MAX_GB)]
GB0 = Annotated[float, Field(ge=0, le=MAX_GB)]
Bandwidth = Annotated[float, Field(gt=0, le=MAX_BANDWIDTH)]
Bandwidth0 = Annotated[float, Field(ge=0, le=MAX_BANDWIDTH)]
Tflops = Annotated[float, Field(gt=0, le=MAX_TFLOPS)]
Watts = Annotated[float, Field(gt=0, le=MAX_WATTS)]
Price = Annotated[float, Field(gt=0, le=MAX_PRICE)]
Factor = Annotated[float, Field(gt=0, le=MAX_FACTOR)]
Dollars = Annotated[float, Field(gt=0, le=MAX_DOLLARS)]


def check_count(name: str, value: int, minimum: int, maximum: int) -> int:
    """A count given as a command-line option, inside its range; else an InputError."""
    if value < minimum:
        raise InputError(f"must be at least {minimum:,}", field=name)
    if value > maximum:
        raise InputError(f"must be at most {maximum:,}", field=name)
    return value


_KEYWORDS = {"gt": "exclusiveMinimum", "ge": "minimum", "le": "maximum", "lt": "exclusiveMaximum"}


def range_text(prop: dict[str, Any]) -> str | None:
    """'range: > 0, ≤ 1e+10' for a JSON Schema property with bounds (None without)."""
    for option in [prop, *prop.get("anyOf", [])]:
        parts = [f"{op} {option[k]:g}" for k, op in (("exclusiveMinimum", ">"), ("minimum", "≥"),
                                                     ("maximum", "≤"), ("exclusiveMaximum", "<")) if k in option]
        if parts:
            return "range: " + ", ".join(parts)
    return None


def describe_ranges(schema: dict[str, Any]) -> None:
    """JSON Schema hook of every input schema: append each bounded property's range to its description.

    Constraints behind a BeforeValidator (the token counts that parse '128k') reach the schema as
    pydantic's own gt/le keys; they are renamed to the JSON Schema keywords first."""
    for prop in schema.get("properties", {}).values():
        for option in [prop, *prop.get("anyOf", [])]:
            for short, keyword in _KEYWORDS.items():
                if short in option:
                    option[keyword] = option.pop(short)
        text = range_text(prop)
        if text is not None and text not in prop.get("description", ""):
            prop["description"] = f"{prop['description']} ({text})" if prop.get("description") else text
