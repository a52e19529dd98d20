"""Reference cases (published measurements and peer estimates) against our predictions.

A case names a model, a machine, a layout, a request shape and precisions, plus the reference
TTFT and TPOT. Cases live in `presets/validation/*.toml` as `[[case]]` tables with the command
that produced them, so anyone can re-run the comparison.
"""

from __future__ import annotations

import statistics
import tomllib
from dataclasses import dataclass
from importlib import resources

from pydantic import Field, PositiveFloat, PositiveInt

from planner.accuracy.predict import precision_sets
from planner.inputs import io
from planner.inputs.base import StrictModel
from planner.inputs.layout import Layout
from planner.perf.phases import decode_step, prefill
from planner.precision import Dtype


class Case(StrictModel):
    id: str
    model: str
    hardware: str
    tp: PositiveInt = 1
    dp: PositiveInt = 1
    ep: PositiveInt = 1
    pp: PositiveInt = 1
    batch: PositiveInt
    isl: PositiveInt
    osl: PositiveInt
    weights: Dtype = Dtype.bf16
    experts: Dtype | None = None
    kv: Dtype = Dtype.bf16
    expert_activations: Dtype | None = Field(None, description="GEMM inputs of the experts; default: as experts")
    ttft_ms: PositiveFloat | None = Field(None, description="the reference's own TTFT "
                                                            "(aiconfigurator: agg, queueing included)")
    tpot_ms: PositiveFloat | None = Field(None, description="the reference's own TPOT "
                                                            "(aiconfigurator: agg, mixed steps)")
    static_ttft_ms: PositiveFloat | None = Field(None, description="one pass prefilling the whole batch, no queueing")
    static_tpot_ms: PositiveFloat | None = Field(None, description="pure decode step at the batch")
    source: str
    command: str = ""
    note: str = ""
    tags: tuple[str, ...] = Field(default_factory=tuple)

    def overrides(self) -> dict[str, object]:
        """Precisions as `--set` keys (planner.accuracy.predict.precision_sets)."""
        return precision_sets(self.weights, self.experts, self.kv, expert_activations=self.expert_activations)


@dataclass(frozen=True)
class Comparison:
    """Our times for a case, against its static-mode reference: TTFT = one pass prefilling the
    whole batch (batch x ISL tokens per DP rank), TPOT = the decode step at the batch. Those are the
    physics both tools model; aiconfigurator's default (agg) TTFT multiplies by a queueing factor
    of 1.9-4x and its agg TPOT averages in mixed prefill+decode steps."""

    case: Case
    ttft_s: float
    tpot_s: float

    @property
    def ttft_error(self) -> float | None:
        """Signed relative error of our TTFT against the static reference."""
        ref = self.case.static_ttft_ms
        return self.ttft_s / (ref / 1e3) - 1 if ref else None

    @property
    def tpot_error(self) -> float | None:
        ref = self.case.static_tpot_ms
        return self.tpot_s / (ref / 1e3) - 1 if ref else None


def load_cases(name: str = "aiconfigurator") -> list[Case]:
    text = (resources.files("presets") / "validation" / f"{name}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return [io.validate(Case, c, f"presets/validation/{name}.toml", f"case[{i}]")
            for i, c in enumerate(data.get("case", []))]


def compare(case: Case) -> Comparison:
    sets = case.overrides()
    model = io.load_model(case.model, sets)
    hw = io.load_hardware(case.hardware)
    layout = Layout(tp=case.tp, dp=case.dp, ep=case.ep, pp=case.pp, batch=case.batch)
    ttft = prefill(model, hw, layout, case.isl, 0, requests=case.batch).time_s
    tpot = decode_step(model, hw, layout, case.isl + case.osl / 2).time_s
    return Comparison(case=case, ttft_s=ttft, tpot_s=tpot)


DENSE_FAMILIES = ("llama", "qwen3-32b")


def group_of(case: Case) -> str:
    """Validation groups: GPU generation x model family."""
    gen = {"h100-sxm": "hopper", "h200-sxm": "hopper", "h800-sxm": "hopper", "b200-hgx": "blackwell",
           "b300-hgx": "blackwell", "gb200-nvl72": "blackwell",
           "gb300-nvl72": "blackwell"}.get(case.hardware, case.hardware)
    kind = "dense" if case.model.startswith(DENSE_FAMILIES) else "moe"
    return f"{gen}/{kind}"


def median_abs(errors: list[float | None]) -> float | None:
    values = [abs(e) for e in errors if e is not None]
    return statistics.median(values) if values else None


# ---- bounds and summaries (planner validate) -------------------------------------------------------

GROUP_BOUND = 0.35          # no group (GPU generation x model family) may have a median |error| above this
OVERALL_TPOT_BOUND = 0.20   # median |TPOT error| over the whole shipped set
OVERALL_TTFT_BOUND = 0.25   # median |TTFT error| over the whole shipped set


@dataclass(frozen=True)
class GroupSummary:
    group: str
    cases: int
    tpot_median: float | None
    ttft_median: float | None
    tpot_worst: float | None
    ttft_worst: float | None
    bound: float

    @property
    def passed(self) -> bool:
        return all(v is None or v <= self.bound for v in (self.tpot_median, self.ttft_median))

    def to_dict(self) -> dict:
        return {"group": self.group, "cases": self.cases, "tpot_median_abs_error": self.tpot_median,
                "ttft_median_abs_error": self.ttft_median, "tpot_worst_abs_error": self.tpot_worst,
                "ttft_worst_abs_error": self.ttft_worst, "bound": self.bound, "passed": self.passed}


def _worst(errors: list[float | None]) -> float | None:
    values = [abs(e) for e in errors if e is not None]
    return max(values) if values else None


def summarize_groups(rows: list[Comparison]) -> list[GroupSummary]:
    groups: dict[str, list[Comparison]] = {}
    for r in rows:
        groups.setdefault(group_of(r.case), []).append(r)
    out = [GroupSummary(g, len(rs), median_abs([r.tpot_error for r in rs]), median_abs([r.ttft_error for r in rs]),
                        _worst([r.tpot_error for r in rs]), _worst([r.ttft_error for r in rs]), GROUP_BOUND)
           for g, rs in sorted(groups.items())]
    return out


@dataclass(frozen=True)
class ValidationReport:
    rows: tuple[Comparison, ...]
    groups: tuple[GroupSummary, ...]
    tpot_median: float | None
    ttft_median: float | None

    @property
    def passed(self) -> bool:
        overall = ((self.tpot_median or 0) <= OVERALL_TPOT_BOUND and (self.ttft_median or 0) <= OVERALL_TTFT_BOUND)
        return overall and all(g.passed for g in self.groups)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "overall": {"cases": len(self.rows), "tpot_median_abs_error": self.tpot_median,
                        "ttft_median_abs_error": self.ttft_median, "tpot_bound": OVERALL_TPOT_BOUND,
                        "ttft_bound": OVERALL_TTFT_BOUND},
            "groups": [g.to_dict() for g in self.groups],
            "cases": [{"id": r.case.id, "group": group_of(r.case), "source": r.case.source,
                       "ttft_s": r.ttft_s, "ttft_reference_s": (r.case.static_ttft_ms or 0) / 1e3,
                       "ttft_error": r.ttft_error, "tpot_s": r.tpot_s,
                       "tpot_reference_s": (r.case.static_tpot_ms or 0) / 1e3, "tpot_error": r.tpot_error}
                      for r in self.rows],
        }


def validate_all(name: str = "aiconfigurator") -> ValidationReport:
    """Every shipped reference case against our prediction, with group and overall medians."""
    rows = tuple(compare(c) for c in load_cases(name))
    return ValidationReport(rows=rows, groups=tuple(summarize_groups(list(rows))),
                            tpot_median=median_abs([r.tpot_error for r in rows]),
                            ttft_median=median_abs([r.ttft_error for r in rows]))

