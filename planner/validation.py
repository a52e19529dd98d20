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
from planner.estimate import estimate
from planner.layout import Layout
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
    ttft_ms: PositiveFloat | None = None
    tpot_ms: PositiveFloat | None = None
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
                "model.precision.expert_activations": experts.value if experts != Dtype.bf16 else "bf16",
                "model.precision.kv": self.kv.value}


@dataclass(frozen=True)
class Comparison:
    case: Case
    ttft_s: float
    tpot_s: float

    @property
    def ttft_error(self) -> float | None:
        """Signed relative error of our TTFT against the reference."""
        return self.ttft_s / (self.case.ttft_ms / 1e3) - 1 if self.case.ttft_ms else None

    @property
    def tpot_error(self) -> float | None:
        return self.tpot_s / (self.case.tpot_ms / 1e3) - 1 if self.case.tpot_ms else None


def load_cases(name: str = "aiconfigurator") -> list[Case]:
    text = (resources.files("presets") / "validation" / f"{name}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return [io.validate(Case, c, f"presets/validation/{name}.toml", f"case[{i}]") for i, c in enumerate(data.get("case", []))]


def compare(case: Case) -> Comparison:
    sets = case.overrides()
    model = io.load_model(case.model, sets)  # type: ignore[arg-type]
    hw = io.load_hardware(case.hardware)
    layout = Layout(tp=case.tp, dp=case.dp, ep=case.ep, pp=case.pp, batch=case.batch)
    e = estimate(model, hw, layout, isl=case.isl, osl=case.osl)
    return Comparison(case=case, ttft_s=e.ttft_s, tpot_s=e.tpot_s)


def median_abs(errors: list[float | None]) -> float | None:
    values = [abs(e) for e in errors if e is not None]
    return statistics.median(values) if values else None
