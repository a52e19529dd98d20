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

from planner import io
from planner.base import StrictModel
from planner.layout import Layout
from planner.perf import decode_step, prefill
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
    ttft_ms: PositiveFloat | None = Field(None, description="the reference's own TTFT (aiconfigurator: agg, queueing included)")
    tpot_ms: PositiveFloat | None = Field(None, description="the reference's own TPOT (aiconfigurator: agg, mixed steps)")
    static_ttft_ms: PositiveFloat | None = Field(None, description="one pass prefilling the whole batch, no queueing")
    static_tpot_ms: PositiveFloat | None = Field(None, description="pure decode step at the batch")
    source: str
    command: str = ""
    note: str = ""
    tags: tuple[str, ...] = Field(default_factory=tuple)

    def overrides(self) -> dict[str, object]:
        """Precisions as `--set` keys: W8A8 for fp8, W4A4 for nvfp4 (ModelOpt), BF16 otherwise."""
        experts = self.experts or self.weights
        return {"model.precision.weights": self.weights.value,
                "model.precision.activations": "fp8" if self.weights == Dtype.fp8 else self.weights.value,
                "model.precision.experts": experts.value,
                "model.precision.expert_activations": (self.expert_activations or experts).value,
                "model.precision.kv": self.kv.value}


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
    return [io.validate(Case, c, f"presets/validation/{name}.toml", f"case[{i}]") for i, c in enumerate(data.get("case", []))]


def compare(case: Case) -> Comparison:
    sets = case.overrides()
    model = io.load_model(case.model, sets)  # type: ignore[arg-type]
    hw = io.load_hardware(case.hardware)
    layout = Layout(tp=case.tp, dp=case.dp, ep=case.ep, pp=case.pp, batch=case.batch)
    ttft = prefill(model, hw, layout, case.isl, 0, requests=case.batch).time_s
    tpot = decode_step(model, hw, layout, case.isl + case.osl / 2).time_s
    return Comparison(case=case, ttft_s=ttft, tpot_s=tpot)


DENSE_FAMILIES = ("llama", "qwen3-32b")


def group_of(case: Case) -> str:
    """Validation groups: GPU generation x model family."""
    gen = {"h100-sxm": "hopper", "h200-sxm": "hopper", "h800-sxm": "hopper", "b200-hgx": "blackwell",
           "b300-hgx": "blackwell", "gb200-nvl72": "blackwell", "gb300-nvl72": "blackwell"}.get(case.hardware, case.hardware)
    kind = "dense" if case.model.startswith(DENSE_FAMILIES) else "moe"
    return f"{gen}/{kind}"


def median_abs(errors: list[float | None]) -> float | None:
    values = [abs(e) for e in errors if e is not None]
    return statistics.median(values) if values else None
