"""planner against the published-measurement reference set (`presets/validation/measured/`):
every case predicted through the serving engine (`planner.accuracy.predict`), errors summarised
per group (prefill, decode, latency, end-to-end, capacity), and the error bands the headline
ranges of `estimate` and `size` use.

Errors are signed rates, e = predicted rate / measured rate - 1 (a time counts as its inverse), so
e > 0 means planner is optimistic whatever was measured. A band is the 10th-90th percentile of e
over the cases of one kind of prediction, taken outward to the nearest case (so at least 80% of
the cases it came from fall inside):
- ttft: prefill-only throughput and TTFT cases;
- tpot: decode-only throughput and batch-1 latency (tokens/s per user, TPOT) cases;
- throughput: end-to-end output tokens/s per GPU;
- capacity: KV-cache tokens an engine reports.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import lru_cache

from planner.accuracy.measured import Group, MeasuredCase, load_measured
from planner.accuracy.predict import Prediction, predict

GROUPS: tuple[Group, ...] = ("prefill", "decode", "latency", "end_to_end", "capacity")
BAND_OF_GROUP = {"prefill": "ttft", "decode": "tpot", "latency": "tpot", "end_to_end": "throughput",
                 "capacity": "capacity"}
OVERALL_BOUND = 0.20      # median |error| over the whole set
GROUP_BOUND = 0.25        # median |error| in each group
COVERAGE_BOUND = 0.80     # share of measured values inside their band's range


def band_of(case: MeasuredCase) -> str:
    if case.metric == "ttft_ms":
        return "ttft"
    if case.metric in ("tpot_ms", "tokens_per_s_per_user"):
        return "tpot"
    return BAND_OF_GROUP[case.group]


def outward_quantiles(values: list[float], low: float = 0.1, high: float = 0.9) -> tuple[float, float]:
    """(q_low, q_high) at the nearest ranks outside the quantile positions."""
    v = sorted(values)
    n = len(v) - 1
    return v[math.floor(low * n)], v[math.ceil(high * n)]


@dataclass(frozen=True)
class GroupSummary:
    group: str
    cases: int
    median_abs_error: float
    median_error: float
    q10: float
    q90: float
    coverage: float           # share of the group's measured values inside their band's range

    @property
    def passed(self) -> bool:
        return self.median_abs_error <= GROUP_BOUND

    def to_dict(self) -> dict:
        return {"group": self.group, "cases": self.cases, "median_abs_error": self.median_abs_error,
                "median_error": self.median_error, "q10": self.q10, "q90": self.q90, "coverage": self.coverage,
                "bound": GROUP_BOUND, "passed": self.passed}


@dataclass(frozen=True)
class PublishedReport:
    rows: tuple[Prediction, ...]
    groups: tuple[GroupSummary, ...]
    bands: dict[str, tuple[float, float]]

    @property
    def median_abs_error(self) -> float:
        return statistics.median(abs(r.error) for r in self.rows)

    @property
    def coverage(self) -> float:
        return sum(self.covered(r) for r in self.rows) / len(self.rows)

    def covered(self, row: Prediction) -> bool:
        q10, q90 = self.bands[band_of(row.case)]
        return q10 <= row.error <= q90

    @property
    def passed(self) -> bool:
        return (self.median_abs_error <= OVERALL_BOUND and self.coverage >= COVERAGE_BOUND
                and all(g.passed for g in self.groups))

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "overall": {"cases": len(self.rows), "median_abs_error": self.median_abs_error, "bound": OVERALL_BOUND,
                        "coverage": self.coverage, "coverage_bound": COVERAGE_BOUND},
            "groups": [g.to_dict() for g in self.groups],
            "bands": {k: {"q10": lo, "q90": hi} for k, (lo, hi) in self.bands.items()},
            "cases": [{"id": r.case.id, "group": r.case.group, "source": r.case.source, "date": r.case.date,
                       "framework": r.case.framework, "hardware": r.case.hardware, "model": r.case.model,
                       "layout": r.inputs.layout.label(), "batch": r.inputs.layout.batch,
                       "batch_from": r.inputs.batch_source, "metric": r.case.metric, "measured": r.case.value,
                       "predicted": r.value, "error": r.error, "dominant": r.dominant, "in_range": self.covered(r)}
                      for r in self.rows],
        }


def summarize(rows: list[Prediction]) -> PublishedReport:
    bands: dict[str, tuple[float, float]] = {}
    for kind in sorted({band_of(r.case) for r in rows}):
        bands[kind] = outward_quantiles([r.error for r in rows if band_of(r.case) == kind])
    groups = []
    for g in GROUPS:
        rs = [r for r in rows if r.case.group == g]
        if not rs:
            continue
        errors = [r.error for r in rs]
        q10, q90 = outward_quantiles(errors)
        covered = sum(bands[band_of(r.case)][0] <= r.error <= bands[band_of(r.case)][1] for r in rs)
        groups.append(GroupSummary(g, len(rs), statistics.median(abs(e) for e in errors), statistics.median(errors),
                                   q10, q90, covered / len(rs)))
    return PublishedReport(rows=tuple(rows), groups=tuple(groups), bands=bands)


@lru_cache(maxsize=1)
def validate_published() -> PublishedReport:
    """Every published case against planner's prediction (cached: the set is fixed data)."""
    return summarize([predict(c) for c in load_measured()])
